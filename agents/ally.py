"""An ally: one NATO member choosing each year what to spend and what to build."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from mesa import Agent

from sim.mechanisms.build import allocate_orders
from sim.mechanisms.delivery import advance_pipeline, depreciate, receive
from sim.mechanisms.economy import grow_gdp
from sim.mechanisms.personnel import affordable_personnel, update_personnel
from sim.mechanisms.pledge import pledge_path
from sim.mechanisms.spending import adjust_core_share, adjust_related_share, desired_core_share
from sim.mechanisms.targets import fulfilment
from sim.mechanisms.threat import perceived_threat
from sim.parameters import CATEGORIES, lead_times

if TYPE_CHECKING:
    from sim.model import AllianceModel


class Ally(Agent):
    """A NATO ally.

    Each year, in phases the model runs for all allies before the next (so no ally sees another's
    choice of the same year): ``grow`` (GDP), ``choose_spending`` (core and related shares),
    ``place_orders`` (equipment budget into the pipeline), ``take_delivery`` (what industry
    delivers), ``recruit`` (personnel).

    Attributes are named as the output columns they feed (``core_pct_gdp``, ``personnel_k``...).
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
        self._update_fulfilment()

    @property
    def total_pct_gdp(self) -> float:
        """Core plus defence-related spending (% GDP)."""
        return self.core_pct_gdp + self.related_pct_gdp

    @property
    def spending_usd_bn(self) -> float:
        """Core defence spending (USD bn, constant 2024 prices)."""
        return self.core_pct_gdp / 100 * self.gdp_usd_bn

    @property
    def shortfall(self) -> float:
        """Share of the capability targets not met."""
        return 1.0 - self.fulfil_overall

    def _update_fulfilment(self) -> None:
        per_category, overall = fulfilment(self.stock, self.targets)
        for name, value in zip(CATEGORIES, per_category, strict=True):
            setattr(self, f"fulfil_{name}", float(value))
        self.fulfil_overall = float(overall)

    def grow(self) -> None:
        """Grow GDP (mechanism 8)."""
        m, i, k = self.model, self.index, self.model.year_index
        s = m.initial
        noise = 0.0 if s.observed_growth[k, i] else m.p["gdp_growth_noise_sd"] * m.shocks.gdp[k, i]
        self.gdp_usd_bn = float(
            grow_gdp(self.gdp_usd_bn, s.growth[k, i], m.path("gdp_growth_shock_pp"), noise)
        )

    def choose_spending(self) -> None:
        """Choose this year's core and related shares (mechanism 3)."""
        m, i, p, s = self.model, self.index, self.model.p, self.model.initial
        space = s.fiscal_space[i] * m.path("fiscal_space_factor")
        pledge, demand = m.spec.pledge, m.spec.us_demand
        related_path = pledge_path(
            m.year, m.spec.start_year, s.related[i], pledge.related_pct, pledge.year
        )
        self.related_pct_gdp = float(
            adjust_related_share(self.related_pct_gdp, related_path, p["related_adjust"], space)
        )
        if not self.has_forces:
            return
        desired = desired_core_share(
            anchor=s.core[i],
            perceived_threat=perceived_threat(
                m.threat, s.proximity[i], m.us_retrenchment, p["retrenchment_threat_gain"]
            ),
            perceived_threat_ref=s.perceived_threat_ref[i],
            threat_response=p["threat_response_pp"],
            shortfall=self.shortfall,
            shortfall_ref=s.shortfall_ref[i],
            capability_response=p["capability_response_pp"],
            spill=m.spill[i],
            spill_ref=s.spill_ref[i],
            free_riding=s.free_riding[i],
            mean_burden=m.mean_burden,
            mean_burden_ref=s.mean_burden_ref,
            conformity=p["peer_conformity"],
            pledge_path=pledge_path(
                m.year, m.spec.start_year, s.core[i], s.pledge_core[i] * m.review, pledge.year
            ),
            pledge_commitment=p["pledge_commitment"],
            demand_path=pledge_path(
                m.year, m.spec.start_year, s.core[i], demand.core_pct * m.review, demand.year
            ),
            pressure=m.us_pressure,
            pressure_response=p["us_pressure_response"],
        )
        self.core_pct_gdp = float(
            adjust_core_share(
                self.core_pct_gdp,
                desired,
                p["adjustment_speed"],
                space * p["fiscal_max_rise_pp"],
                p["fiscal_max_cut_pp"],
                p["spending_noise_sd"] * m.shocks.spending[m.year_index, i],
                s.cap[i],
            )
        )

    def place_orders(self) -> None:
        """Order equipment by category shortfall and advance the pipeline (mechanisms 4-5)."""
        p = self.model.p
        budget = self.spending_usd_bn * self.equipment_share
        position = self.stock + self.pipeline.sum(axis=-1) + self.backlog
        orders = allocate_orders(
            budget, position, self.targets, self.model.profile, p["build_shortfall_focus"]
        )
        self.due, self.pipeline = advance_pipeline(self.pipeline, orders, lead_times(p))

    def take_delivery(self) -> None:
        """Receive what industry delivers this year; retire old equipment (mechanism 5)."""
        delivered, self.backlog = receive(self.due, self.backlog, self.model.fill)
        self.stock = depreciate(self.stock, delivered, self.model.p["depreciation_rate"])
        self._update_fulfilment()

    def recruit(self) -> None:
        """Grow or shrink personnel toward the goal (mechanism 6)."""
        s, i, p = self.model.initial, self.index, self.model.p
        affordable = affordable_personnel(
            s.personnel[i],
            self.core_pct_gdp,
            s.core[i],
            self.equipment_share,
            s.equipment_share[i],
        )
        self.personnel_k = float(
            update_personnel(
                self.personnel_k,
                s.personnel_goal[i],
                affordable,
                s.recruit_rate[i],
                p["personnel_attrition_max"],
            )
        )

    def scale_targets(self, factor: float) -> None:
        """Raise or lower every capability target (uplift, review) (mechanism 7)."""
        self.targets = self.targets * factor
        self._update_fulfilment()
