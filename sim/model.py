"""AllianceModel: the reference Mesa model of the allies' spending, builds and capabilities."""

from __future__ import annotations

import numpy as np
from mesa import DataCollector, Model

from agents import Adversary, Ally, UnitedStates
from sim.indicators import allies_at_or_above, burden_gdp_spearman, mean_burden, us_share
from sim.initial import build_initial_state
from sim.mechanisms.delivery import delivery_fill, ramp_capacity
from sim.mechanisms.pledge import pledge_path, review_factor
from sim.mechanisms.pressure import lagging_share
from sim.mechanisms.spending import spill_in
from sim.mechanisms.targets import capability_gap
from sim.mechanisms.threat import threat_level
from sim.parameters import requirement_shares
from sim.scenario import Scenario, load_scenario
from sim.shocks import draw_shocks

ALLY_COLUMNS = (
    "gdp_usd_bn",
    "core_pct_gdp",
    "related_pct_gdp",
    "total_pct_gdp",
    "spending_usd_bn",
    "personnel_k",
    "fulfil_air_missile_defence",
    "fulfil_long_range_strike",
    "fulfil_logistics",
    "fulfil_land_formations",
    "fulfil_command_control",
    "fulfil_overall",
)
"""Per-ally measures recorded each year (agent attributes of the same names)."""

ALLIANCE_COLUMNS = (
    "threat",
    "us_pressure",
    "us_retrenchment",
    "allies_ge_2pct",
    "allies_ge_3_5pct_core",
    "allies_ge_5pct_total",
    "capability_gap",
    "us_share_of_spending",
    "mean_core_pct_gdp",
    "burden_gdp_spearman",
)
"""Alliance measures recorded each year (model attributes of the same names)."""


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
        year: The current year (``spec.start_year + time``).
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
        return np.array([getattr(a, attr) for a in self.by_index])

    @property
    def _commitment(self) -> np.ndarray:
        return np.where(self.initial.is_us, 1.0 - self.us.us_retrenchment, 1.0)

    def _observe(self) -> None:
        """Summarise the alliance as it stands (last year's state for the coming decisions)."""
        s = self.initial
        core, gdp = self._array("core_pct_gdp"), self._array("gdp_usd_bn")
        self.spill = spill_in(core / 100 * gdp, gdp, self._commitment)
        self.mean_burden = float(mean_burden(core, s.has_forces))
        demand = self.spec.us_demand
        demanded_total = pledge_path(
            self.year,
            self.spec.start_year,
            s.core + s.related,
            demand.core_pct * self.review + demand.related_pct,
            demand.year,
        )
        self.lagging = float(
            lagging_share(
                self._array("total_pct_gdp"),
                demanded_total,
                self.p["us_lag_tolerance_pp"],
                s.lagging_counted,
            )
        )
        self.capability_ratio = float(self._array("stock").sum() / self._stock0)

    # --- reported measures -----------------------------------------------------------------
    @property
    def us_pressure(self) -> float:
        """US pressure on the allies, in [0, 1]."""
        return self.us.us_pressure

    @property
    def us_retrenchment(self) -> float:
        """Share of US capability withdrawn from Europe, in [0, 1]."""
        return self.us.us_retrenchment

    @property
    def allies_ge_2pct(self) -> int:
        """Allies with core spending of at least 2% of GDP."""
        return int(allies_at_or_above(self._array("core_pct_gdp"), 2.0, self.initial.has_forces))

    @property
    def allies_ge_3_5pct_core(self) -> int:
        """Allies with core spending of at least 3.5% of GDP."""
        return int(allies_at_or_above(self._array("core_pct_gdp"), 3.5, self.initial.has_forces))

    @property
    def allies_ge_5pct_total(self) -> int:
        """Allies with core plus related spending of at least 5% of GDP."""
        return int(allies_at_or_above(self._array("total_pct_gdp"), 5.0, self.initial.has_forces))

    @property
    def capability_gap(self) -> float:
        """Share of all capability targets not met (withdrawn US forces do not count)."""
        stock = np.stack(self._array_rows("stock"))
        targets = np.stack(self._array_rows("targets"))
        return float(capability_gap(stock, targets, self._commitment))

    def _array_rows(self, attr: str) -> list[np.ndarray]:
        return [getattr(a, attr) for a in self.by_index]

    @property
    def us_share_of_spending(self) -> float:
        """US share of the alliance's core defence spending."""
        return float(us_share(self._array("spending_usd_bn"), self.initial.is_us))

    @property
    def mean_core_pct_gdp(self) -> float:
        """Unweighted mean core share (% GDP) of allies with forces."""
        return float(mean_burden(self._array("core_pct_gdp"), self.initial.has_forces))

    @property
    def burden_gdp_spearman(self) -> float:
        """Spearman correlation of GDP and core share (Olson-Zeckhauser's test)."""
        return burden_gdp_spearman(
            self._array("gdp_usd_bn"), self._array("core_pct_gdp"), self.initial.has_forces
        )

    # --- dynamics --------------------------------------------------------------------------
    def step(self) -> None:
        """Advance one year."""
        p, spec = self.p, self.spec
        lagging, capability_ratio = self.lagging, self.capability_ratio
        self.year += 1
        self.us.apply_pressure(lagging)
        path = self.path("threat")
        if self.adversary is not None:
            self.adversary.respond(capability_ratio)
            path = self.spec.path_value("threat", spec.start_year) * self.adversary.effort
        self.threat, self._threat_deviation = (
            float(x)
            for x in threat_level(
                path,
                self._threat_deviation,
                self.shocks.threat[self.year_index],
                p["threat_persistence"],
                p["threat_noise_sd"],
                p["threat_scale"],
            )
        )
        if spec.targets_adoption_year == self.year and self.year > spec.start_year:
            self.allies.do("scale_targets", 1 + p["target_uplift"])
        if spec.review_year == self.year:
            self.review = float(
                review_factor(
                    self.threat,
                    self.initial.threat_ref,
                    p["review_threat_elasticity"],
                    p["review_max_change"],
                )
            )
            self.allies.do("scale_targets", self.review)

        self.allies.do("grow")
        self.allies.do("choose_spending")
        self.allies.do("place_orders")
        demand = sum(a.due + a.backlog for a in self.by_index)
        self.fill = delivery_fill(demand, self.capacity)
        self.capacity = ramp_capacity(
            self.capacity, demand, p["industrial_ramp_rate"], p["capacity_decline_rate"]
        )
        self.allies.do("take_delivery")
        self.allies.do("recruit")

        self._observe()
        self.datacollector.collect(self)
        if self.year >= spec.end_year:
            self.running = False
