"""The Mesa agents of alliance-sim. They hold state and call ``sim.mechanisms``; no equations."""

from agents.adversary import Adversary
from agents.ally import Ally
from agents.united_states import UnitedStates

__all__ = ["Adversary", "Ally", "UnitedStates"]
