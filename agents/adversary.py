"""The adversary: optional endogenous threat with Richardson arms-race dynamics."""

from __future__ import annotations

from mesa import Agent

from sim.dynamics import adversary_update


class Adversary(Agent):
    """An adversary whose military effort answers allied capability (mechanism 1, endogenous).

    Attributes:
        effort: Effort relative to the start year (1 = start).
    """

    def __init__(self, model):
        """Create the adversary at its start-year effort.

        Args:
            model: The alliance model.
        """
        super().__init__(model)
        self.effort = 1.0

    def respond(self, capability_ratio: float) -> None:
        """Arm or relax in answer to allied capability relative to the start.

        Args:
            capability_ratio: Allied capability last year over its start value.
        """
        self.effort = float(adversary_update(self.effort, capability_ratio, self.model.p))
