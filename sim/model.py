"""AllianceModel: the reference Mesa model of the allies' spending, builds and capabilities."""

from __future__ import annotations

import numpy as np
from mesa import DataCollector, Model

from agents import Adversary, Ally, UnitedStates
from sim.columns import ALLIANCE_COLUMNS, ALLY_COLUMNS
from sim.dynamics import (
    alliance_measures,
    alliance_view,
    industry_update,
    target_factors,
    threat_update,
)
from sim.initial import build_initial_state
from sim.parameters import requirement_shares
from sim.scenario import Scenario, load_scenario
from sim.shocks import draw_shocks


class AllianceModel(Model):
    """NATO's allies, year by year, from a scenario's start year to its end year.

    Each year: the US updates its pressure from last year's laggards; the threat moves; then, in
    phases run for every ally before the next, allies grow, choose spending, place orders, take
    delivery from alliance-wide industry, and recruit. Decisions read only last year's alliance
    state, so the order of the allies cannot change the result. Every random number is drawn up
    front from ``rng``: a (scenario, parameters, seed) triple fixes the run.

    Attributes:
        spec: The resolved scenario (Mesa reserves ``scenario`` for its own Scenario class).
        p: Every parameter's value.
        seed: The seed given as ``rng``.
        year: The current year (``spec.start_year + time``), held at the end year.
        datacollector: Model- and ally-level series, collected at the start and every year.
    """

    def __init__(
        self, scenario: str | Scenario = "hague-2035", rng: int | None = None, **parameters: float
    ):
        """Build the model in its start year.

        Args:
            scenario: A scenario name, a TOML path, or a loaded ``Scenario``.
            rng: Seed of the run's random numbers (None draws fresh entropy).
            **parameters: Parameter values that replace the scenario's.

        Raises:
            ScenarioError: Unknown scenario or invalid parameter.
        """
        super().__init__(rng=rng)
        self.seed = rng
        spec = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.spec = spec.with_parameters(**parameters) if parameters else spec
        self.p = dict(self.spec.parameters)
        self.year = self.spec.start_year
        self.initial = build_initial_state(self.spec)
        n_years, n_allies = len(self.spec.years) - 1, len(self.initial.iso3)
        self.shocks = draw_shocks(self.rng, n_years, n_allies)
        self.profile = np.array(requirement_shares(self.p))
        self.capacity = self.initial.capacity.copy()
        self.fill = np.ones_like(self.capacity)
        self.review = 1.0
        self.threat = self.p["threat_scale"] * self.path("threat")
        self._threat_deviation = 0.0

        self.by_index: list[Ally] = [
            (UnitedStates if us else Ally)(self, i) for i, us in enumerate(self.initial.is_us)
        ]
        self.allies = self.agents.select(agent_type=Ally) | self.agents.select(
            agent_type=UnitedStates
        )
        self.us = next(a for a in self.by_index if isinstance(a, UnitedStates))
        self.adversary = Adversary(self) if self.spec.threat_mode == "adversary" else None
        self._stock0 = self._array("stock").sum()
        self._observe()

        reporters = {name: name for name in ALLY_COLUMNS}
        self.datacollector = DataCollector(
            model_reporters={name: name for name in ("year", *ALLIANCE_COLUMNS)},
            agenttype_reporters={Ally: reporters, UnitedStates: reporters},
        )
        self.running = self.spec.end_year > self.year
        self.datacollector.collect(self)

    # --- helpers ---------------------------------------------------------------------------
    @property
    def year_index(self) -> int:
        """Row of this year in the per-simulated-year arrays (shocks, growth)."""
        return self.year - self.spec.start_year - 1

    def path(self, name: str) -> float:
        """This year's value of a scenario path."""
        return self.spec.path_value(name, self.year)

    def _array(self, attr: str) -> np.ndarray:
        """An ally attribute stacked over allies (allies first)."""
        return np.array([getattr(a, attr) for a in self.by_index])

    def _observe(self) -> None:
        """Summarise the alliance as it stands: the measures reported and next year's inputs."""
        self.allies.do("observe")
        core, total, gdp = (self._array(a) for a in ("core_pct_gdp", "total_pct_gdp", "gdp_usd_bn"))
        stock, targets = self._array("stock"), self._array("targets")
        retrenchment = self.us.us_retrenchment
        s = self.initial
        self.spill, lagging, ratio = alliance_view(
            core,
            total,
            gdp,
            stock,
            targets,
            retrenchment,
            self.review,
            self.year,
            s,
            self.spec,
            self.p,
            self._stock0,
        )
        self.lagging, self.capability_ratio = float(lagging), float(ratio)
        measures = alliance_measures(core, total, gdp, stock, targets, retrenchment, s)
        for name, value in measures.items():
            setattr(self, name, value.item())

    # --- reported measures (the rest are set by ``_observe``) ------------------------------
    @property
    def us_pressure(self) -> float:
        """US pressure on the allies, in [0, 1]."""
        return self.us.us_pressure

    @property
    def us_retrenchment(self) -> float:
        """Share of US capability withdrawn from Europe, in [0, 1]."""
        return self.us.us_retrenchment

    # --- dynamics --------------------------------------------------------------------------
    def step(self) -> None:
        """Advance one year; past the scenario's end year, do nothing (``running`` is False)."""
        if not self.running:
            return
        p, spec = self.p, self.spec
        self.year += 1
        self.us.apply_pressure(self.lagging)
        path = self.path("threat")
        if self.adversary is not None:
            self.adversary.respond(self.capability_ratio)
            path = spec.path_value("threat", spec.start_year) * self.adversary.effort
        threat, self._threat_deviation = threat_update(
            path, self._threat_deviation, self.shocks.threat[self.year_index], p
        )
        self.threat = float(threat)
        for kind, factor in target_factors(
            self.year, spec, self.threat, self.initial.threat_ref, p
        ):
            if kind == "review":
                self.review = float(self.review * factor)
            self.allies.do("scale_targets", factor)

        self.allies.do("grow")
        self.allies.do("choose_spending")
        self.allies.do("place_orders")
        self.fill, self.capacity = industry_update(
            self._array("due"), self._array("backlog"), self.capacity, p
        )
        self.allies.do("take_delivery")
        self.allies.do("recruit")

        self._observe()
        self.datacollector.collect(self)
        if self.year >= spec.end_year:
            self.running = False
