"""An ally: one NATO member choosing each year what to spend and what to build."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from mesa import Agent

from sim.dynamics import (
    ally_measures,
    chosen_spending,
    delivered_stock,
    grown_gdp,
    placed_orders,
    recruited,
    spending_usd,
)
from sim.mechanisms.targets import fulfilment
from sim.parameters import CATEGORIES

if TYPE_CHECKING:
    from sim.model import AllianceModel


class Ally(Agent):
    """A NATO ally.

    Each year, in phases the model runs for all allies before the next (so no ally sees another's
    choice of the same year): ``grow`` (GDP), ``choose_spending`` (core and related shares),
    ``place_orders`` (equipment budget into the pipeline), ``take_delivery`` (what industry
    delivers), ``recruit`` (personnel).

    Attributes are named as the output columns they feed (``core_pct_gdp``, ``personnel_k``...);
    the derived ones (total, spending, fulfilment) are set by ``observe`` at each collection.
    """

    model: AllianceModel

    def __init__(self, model: AllianceModel, index: int):
        """Create the ally from row ``index`` of the model's initial state.

        Args:
            model: The alliance model.
            index: The ally's position in ``model.initial``.
        """
        super().__init__(model)
        s = model.initial
        self.index = index
        self.start = s.ally(index)
        self.iso3 = str(s.iso3[index])
        self.name = str(s.names[index])
        self.has_forces = bool(s.has_forces[index])
        self.gdp_usd_bn = float(s.gdp[index])
        self.core_pct_gdp = float(s.core[index])
        self.related_pct_gdp = float(s.related[index])
        self.equipment_share = float(s.equipment_share[index])
        self.personnel_k = float(s.personnel[index])
        self.stock = s.stock[index].copy()
        self.targets = s.targets[index].copy()
        self.pipeline = s.pipeline[index].copy()
        self.backlog = np.zeros(len(CATEGORIES))
        self.due = np.zeros(len(CATEGORIES))
        self.budget_surprise = 1.0
        self.observe()

    @property
    def shortfall(self) -> float:
        """Share of the capability targets not met, as they stand now."""
        return 1.0 - float(fulfilment(self.stock, self.targets)[1])

    def observe(self) -> None:
        """Set the measures the data collector reads (``ally_measures``, one per column)."""
        measures = ally_measures(
            self.gdp_usd_bn,
            self.core_pct_gdp,
            self.related_pct_gdp,
            self.personnel_k,
            self.stock,
            self.targets,
        )
        for name, value in measures.items():
            setattr(self, name, float(value))

    def grow(self) -> None:
        """Grow GDP (mechanism 8)."""
        m, i, k = self.model, self.index, self.model.year_index
        gdp, surprise = grown_gdp(
            self.gdp_usd_bn,
            self.start.growth[k],
            self.start.observed_growth[k],
            m.shocks.gdp[k, i],
            m.path("gdp_growth_shock_pp"),
            self.start.trend_growth,
            m.p,
        )
        self.gdp_usd_bn, self.budget_surprise = float(gdp), float(surprise)

    def choose_spending(self) -> None:
        """Choose this year's core and related shares (mechanism 3)."""
        m, i = self.model, self.index
        core, related = chosen_spending(
            self.core_pct_gdp,
            self.related_pct_gdp,
            self.shortfall,
            s=self.start,
            spec=m.spec,
            year=m.year,
            threat=m.threat,
            retrenchment=m.us_retrenchment,
            pressure=m.us_pressure,
            spill=m.spill[i],
            burden=m.mean_core_pct_gdp,
            review=m.review,
            fiscal_factor=m.path("fiscal_space_factor"),
            surprise=self.budget_surprise,
            innovation=m.shocks.spending[m.year_index, i],
            p=m.p,
        )
        self.core_pct_gdp, self.related_pct_gdp = float(core), float(related)

    def place_orders(self) -> None:
        """Order equipment by category shortfall and advance the pipeline (mechanisms 4-5)."""
        self.due, self.pipeline = placed_orders(
            spending_usd(self.core_pct_gdp, self.gdp_usd_bn),
            self.equipment_share,
            self.stock,
            self.pipeline,
            self.backlog,
            self.targets,
            self.model.profile,
            self.model.p,
        )

    def take_delivery(self) -> None:
        """Receive what industry delivers this year; retire old equipment (mechanism 5)."""
        self.stock, self.backlog = delivered_stock(
            self.due, self.backlog, self.stock, self.model.fill, self.model.p
        )

    def recruit(self) -> None:
        """Grow or shrink personnel toward the goal (mechanism 6)."""
        self.personnel_k = float(
            recruited(
                self.personnel_k, self.core_pct_gdp, self.equipment_share, self.start, self.model.p
            )
        )

    def scale_targets(self, factor: float) -> None:
        """Raise or lower every capability target (uplift, review) (mechanism 7)."""
        self.targets = self.targets * factor
