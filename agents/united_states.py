"""The United States: an ally that also presses the others and may retrench from Europe."""

from __future__ import annotations

from agents.ally import Ally
from sim.dynamics import us_update


class UnitedStates(Ally):
    """The US ally plus its pressure on the others (mechanism 2).

    Attributes:
        us_pressure: Pressure U in [0, 1] this year.
        us_retrenchment: Share R in [0, 1] of US capability withdrawn from Europe.
    """

    def __init__(self, model, index: int):
        """Create the US from row ``index`` of the model's initial state.

        Args:
            model: The alliance model.
            index: The US's position in ``model.initial``.
        """
        super().__init__(model, index)
        self.us_pressure = float(model.p["us_pressure_start"])
        self.us_retrenchment = float(model.path("us_retrenchment"))

    def apply_pressure(self, lagging: float) -> None:
        """Update pressure and retrenchment from last year's share of lagging allies.

        Args:
            lagging: Share of allies behind the demanded path last year.
        """
        pressure, retrenchment = us_update(
            self.us_pressure,
            self.us_retrenchment,
            lagging,
            self.model.path("us_retrenchment"),
            self.model.year,
            self.model.p,
        )
        self.us_pressure, self.us_retrenchment = float(pressure), float(retrenchment)
