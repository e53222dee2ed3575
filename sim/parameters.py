"""The model's parameters: one definition read by scenarios, the CLI, sweeps and the app.

Every behavioural coefficient has a default, a unit, an allowed range and a source. "DOMAIN §n"
refers to the project's domain notes (facts with their published sources); "assumption" marks a
prior value. The parameters fitted to the 2015-2022 hindcast (``alliance calibrate``) take their
defaults from ``scenarios/calibration.toml``, written by the calibration and never by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType

import numpy as np

from sim.spec_checks import SpecError, read_toml

CATEGORIES: tuple[str, ...] = (
    "air_missile_defence",
    "long_range_strike",
    "logistics",
    "land_formations",
    "command_control",
)
"""The five capability categories of the 2025 capability targets (DOMAIN §3)."""


@dataclass(frozen=True)
class Parameter:
    """One model coefficient.

    Attributes:
        name: Identifier used in scenario files, the CLI and sweeps.
        default: Value used when a scenario does not set it.
        unit: Unit of the value ("" for dimensionless).
        low: Smallest allowed value (inclusive).
        high: Largest allowed value (inclusive).
        source: Where the default comes from.
        description: One line saying what it does.
        integer: Whether only whole numbers are allowed.
    """

    name: str
    default: float
    unit: str
    low: float
    high: float
    source: str
    description: str
    integer: bool = False

    def check(self, value: object) -> str | None:
        """Return why ``value`` is not allowed, or None if it is."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expected a number, got {type(value).__name__}"
        if self.integer and not (isinstance(value, int) or float(value).is_integer()):
            return f"expected a whole number, got {value}"
        if not math.isfinite(value):
            return f"must be finite, got {value}"
        if not self.low <= value <= self.high:
            return f"{value} is outside the allowed range [{self.low:g}, {self.high:g}]"
        return None

    def describe(self) -> str:
        """Three lines for ``alliance parameters``: value, unit and range; meaning; source."""
        unit = f" {self.unit}" if self.unit else " (no unit)"
        kind = ", whole numbers" if self.integer else ""
        return (
            f"{self.name} = {self.default:g}{unit}, range [{self.low:g}, {self.high:g}]{kind}\n"
            f"    {self.description}\n    Source: {self.source}"
        )

    def coerce(self, value: float) -> float:
        """``value`` as the model uses it: ``int`` for whole-number parameters, else ``float``."""
        return int(value) if self.integer else float(value)


def _p(name, default, unit, low, high, source, description, integer=False) -> Parameter:
    return Parameter(name, default, unit, low, high, source, description, integer)


# fmt: off
_DEFINITIONS = [
    # --- 1. threat ---------------------------------------------------------------------------
    _p("threat_scale", 1.0, "× path", 0.0, 3.0, "scenario lever",
       "Multiplies the scenario's threat path (1 = the path as written)."),
    _p("threat_persistence", 0.6, "", 0.0, 0.99, "assumption",
       "AR(1) coefficient of the threat's deviation from its path."),
    _p("threat_noise_sd", 0.05, "threat units", 0.0, 0.5,
       "assumption, the mean fits' value; calibrated to the threat path's yearly changes "
       "(sim/shock_volatility.py)",
       "Standard deviation of the yearly threat innovation."),
    _p("threat_reach_km", 5870.0, "km", 1000.0, 10000.0,
       "DOMAIN §5: burden change 2014-25 = 4.77 - 0.55 ln(km) is zero at exp(4.77/0.55) km",
       "Distance from Russia/Belarus beyond which an ally perceives no direct threat."),
    _p("threat_near_km", 100.0, "km", 10.0, 1000.0, "DOMAIN §5 (normalisation)",
       "Distance at which proximity reaches 1 (a front-line capital)."),
    _p("threat_border_exposure", 0.32, "proximity", 0.0, 1.0,
       "own calc (ed2026, 29 European allies): rise 2014-25 = 3.50 - 0.384 ln(km) + 0.50 border "
       "+ 0.19 coast (R^2 0.65; sim.ally_inputs.exposure_regression); 0.50 / (0.384 ln(58.7))",
       "Proximity added for a land border with Russia or Belarus (Norway, Finland, Poland...)."),
    _p("threat_sea_exposure", 0.12, "proximity", 0.0, 1.0,
       "own calc (same regression): 0.19 / (0.384 ln(5870/100))",
       "Proximity added for a Baltic or Black Sea coast."),
    _p("rivalry_pp", 1.0, "pp GDP", 0.0, 3.0,
       "assumption: Greece's burden ran about 1 pp above the European median (2014: 2.24% "
       "against 1.16%, 2026 edition); Kollias & Makrydakis 1997: Greek and Turkish burdens 'the "
       "highest in NATO'",
       "Core share a documented secondary rivalry adds to the security requirement."),
    _p("retrenchment_threat_gain", 0.5, "", 0.0, 2.0, "assumption",
       "Rise in perceived threat per unit of US retrenchment."),
    _p("adversary_response", 0.05, "1/yr", 0.0, 0.5,
       "DOMAIN §4.3: Richardson defence coefficients 0.03-0.05 (US-USSR fit)",
       "Adversary effort gained per unit rise of allied capability (Adversary mode)."),
    _p("adversary_fatigue", 0.04, "1/yr", 0.0, 0.5,
       "DOMAIN §4.3: Richardson fatigue coefficients 0.034-0.042 (US-USSR fit)",
       "Adversary effort lost per year per unit of effort (Adversary mode)."),
    _p("adversary_effort_cap", 1.5, "× start", 1.0, 5.0, "assumption (economic limit)",
       "Largest adversary effort its economy sustains, relative to the start (Adversary mode)."),
    # --- 2. US pressure ---------------------------------------------------------------------
    _p("us_pressure_start", 0.5, "", 0.0, 1.0, "scenario lever",
       "US pressure in the start year (0 none, 1 maximal)."),
    _p("us_pressure_strength", 1.0, "", 0.0, 1.0, "scenario lever",
       "Pressure the US applies when every ally lags (its stance)."),
    _p("us_pressure_adjust", 0.5, "1/yr", 0.0, 1.0, "assumption",
       "Share of the gap to its desired pressure the US closes each year."),
    _p("us_lag_tolerance_pp", 0.1, "pp GDP", 0.0, 2.0, "assumption",
       "How far below the demanded path an ally may be before the US counts it as lagging."),
    _p("retrenchment_threshold", 0.6, "", 0.0, 1.0, "assumption",
       "US pressure above which lagging allies lead to US retrenchment."),
    _p("retrenchment_rate", 0.2, "1/yr", 0.0, 1.0, "assumption",
       "Retrenchment added per year per unit of excess pressure times the lagging share."),
    _p("retrenchment_start_year", 2014, "year", 2014, 2100,
       "policy lever; default 2014, the first start year with data, so retrenchment may build "
       "from the start of any run as before (DOMAIN §5: threats to withdraw troops were among "
       "the most effective US levers, RAND via Cato)",
       "First year US retrenchment may build (a withdrawal threat's deadline); scenario floors "
       "apply from the start.", True),
    _p("us_pressure_capability_weight", 0.0, "share", 0.0, 1.0,
       "policy lever; default 0, pressure on spending as before (DOMAIN §1: The Hague's 3.5% is "
       "'to meet the NATO Capability Targets'; Spain holds 2.1% meets its targets)",
       "Share of US pressure aimed at capability-target shortfalls rather than spending."),
    _p("us_demand_scale", 1.0, "× demand", 0.0, 2.0,
       "policy lever; default 1, the scenario's us_demand (DOMAIN §1: the White House insisted "
       "every European ally reach 5%, 3.5% core of it)",
       "Multiplies the core share the US demands (the scenario's us_demand, by default its "
       "pledge)."),
    _p("us_demand_delay", 0, "yr", -5, 10,
       "policy lever; default 0, the scenario's us_demand year (DOMAIN §1: the White House "
       "insisted every European ally reach 5%, agreed 'by 2035'; Rutte's draft said 2032)",
       "Years the deadline of the US demand is moved (negative: earlier); the allies' own "
       "pledge keeps its year.", True),
    # --- 3. spending choice ------------------------------------------------------------------
    _p("adjustment_speed", 0.35, "1/yr", 0.05, 1.0,
       "DOMAIN §4.4 (partial adjustment, kappa); assumption",
       "Share of the gap to its desired core share an ally closes each year."),
    _p("threat_response_pp", 4.0, "% GDP", 0.0, 8.0,
       "DOMAIN §5: burden 2025 about 2 + 2.24 = 4.2% for a capital 100 km from Russia",
       "Core share an ally requires per unit of perceived threat (its security floor)."),
    _p("pledge_commitment", 0.5, "", 0.0, 1.0, "DOMAIN §4.4 (nu); assumption",
       "Share of its shortfall against its own pledge path an ally wants to close."),
    _p("us_pressure_response", 0.5, "", 0.0, 1.0,
       "DOMAIN §5 (negotiated pledges work, harsh criticism less); assumption",
       "Share of the shortfall against the US-demanded path closed at full US pressure."),
    _p("capability_response_pp", 2.0, "pp GDP", 0.0, 10.0, "assumption",
       "Desired core share added per unit rise of the capability-target shortfall."),
    _p("free_riding", 0.3, "pp/pp", 0.0, 1.0,
       "DOMAIN §4.1-4.2: Olson-Zeckhauser reaction slope in (-1, 0); George & Sandler 2018",
       "Fall in desired share per point rise of allies' burden, for a small, distant ally."),
    _p("peer_conformity", 0.2, "", 0.0, 1.0,
       "DOMAIN §5: Odehnal et al. 2021, members follow the NATO average burden",
       "Rise in desired share per point rise of the alliance's mean burden."),
    _p("plan_delivery", 0.77, "", 0.0, 1.0,
       "own calc: NATO's June-2024 estimates of 2024 against the Aug-2025 edition's 2024, rise "
       "from 2023, summed over the 24 allies with an estimated rise; Poland 2023-24 0.75-0.85 "
       "(docs/plans.md)",
       "Share of an announced change of its core share (national plan) an ally delivers."),
    _p("pledge_enforcement", 1.0, "", 0.0, 1.0,
       "assumption, set after the 2025 step's residuals (docs/plans.md): in 2025 the allies "
       "below 2% announced 2% for the year (national_plans.csv)",
       "Share of an overdue pledge's shortfall closed per year per unit of US pressure."),
    _p("consolidation_response_pp", 0.04, "pp GDP per % GDP lost", 0.0, 0.5,
       "docs/plans.md: 2009-14, Europe -11 to -12.5% real on a 4-5% output loss; Greece -1.1 pp "
       "on ~26% (EDA, SIPRI via press; part general knowledge)",
       "Cut of the desired core share per percent of GDP lost to a recession, after a lag."),
    _p("consolidation_lag", 2, "yr", 0, 5,
       "docs/plans.md: cuts from 1 yr (small, constrained allies) to 2 yr (UK SDSR 2010) after",
       "Years from a recession's output loss to the budget consolidation it brings.", True),
    _p("spending_noise_sd", 0.05, "pp GDP", 0.0, 0.5,
       "DOMAIN §4.4: implementation shortfalls (Poland 2024 planned 4.2, spent 3.8); the "
       "mean fits' value; calibrated to the model's 1-3 year forecast errors (sim/noise_fit.py)",
       "Standard deviation of the yearly error of the core share (implementation and the "
       "model's own error): the forecasts' spread."),
    _p("fiscal_max_rise_pp", 0.6, "pp GDP/yr", 0.05, 2.0,
       "data: largest yearly rises 2022-25 (LTU +1.15, POL +0.7 pp)",
       "Largest yearly rise of the core share for an ally with full fiscal space."),
    _p("fiscal_max_cut_pp", 0.3, "pp GDP/yr", 0.0, 2.0, "assumption",
       "Largest yearly fall of the core share."),
    _p("debt_threshold_pct", 60.0, "% GDP", 0.0, 200.0, "EU Maastricht debt reference value",
       "Government debt below which fiscal space is full."),
    _p("debt_ceiling_pct", 150.0, "% GDP", 61.0, 300.0, "assumption",
       "Government debt at which fiscal space falls to its floor."),
    _p("fiscal_space_floor", 0.25, "", 0.0, 1.0,
       "DOMAIN §5: Christie 2019 (fiscal capacity), Becker 2019; assumption",
       "Smallest fiscal space, for the most indebted allies."),
    _p("related_adjust", 0.5, "1/yr", 0.0, 1.0, "assumption",
       "Share of the gap to its related-spending path an ally closes each year."),
    _p("related_start_pct", 0.5, "% GDP", 0.0, 2.0,
       "assumption (range 0.3-1.0): no cross-ally estimate exists; scenarios/data/"
       "related_spending.csv gives the allies with a documented value",
       "Related spending counted toward the 1.5% in 2025, for allies with no documented value."),
    # --- 4-5. build choice, delivery --------------------------------------------------------
    _p("build_shortfall_focus", 2.0, "", 0.0, 10.0, "assumption",
       "How strongly orders favour the categories furthest from their targets."),
    _p("lead_time_air_missile_defence", 3, "yr", 1, 8, "DOMAIN §6: IRIS-T, Patriot 1-3 yr",
       "Years from order to delivery: air and missile defence.", True),
    _p("lead_time_long_range_strike", 4, "yr", 1, 8, "DOMAIN §6: Kiel, delays of 3+ yr",
       "Years from order to delivery: long-range strike.", True),
    _p("lead_time_logistics", 2, "yr", 1, 8, "DOMAIN §6: munitions and enablers 1-2 yr",
       "Years from order to delivery: logistics.", True),
    _p("lead_time_land_formations", 3, "yr", 1, 8, "DOMAIN §6: major platforms, mean ~3 yr",
       "Years from order to delivery: land manoeuvre formations.", True),
    _p("lead_time_command_control", 2, "yr", 1, 8, "DOMAIN §6 (synthesis)",
       "Years from order to delivery: command and control.", True),
    _p("industrial_ramp_rate", 0.2, "1/yr", 0.0, 1.0,
       "DOMAIN §6: PAC-3 MSE output +20%/yr (2024-25)",
       "Largest yearly growth of industrial capacity under a full order book."),
    _p("capacity_decline_rate", 0.05, "1/yr", 0.0, 0.5, "assumption",
       "Largest yearly shrinkage of idle industrial capacity."),
    _p("capacity_headroom", 0.1, "", 0.0, 1.0, "assumption",
       "Spare industrial capacity in the start year, as a share of deliveries then."),
    _p("depreciation_rate", 0.05, "1/yr", 0.0, 0.2, "assumption (20-year mean service life)",
       "Share of the capability stock retired each year."),
    # --- 7. capability targets --------------------------------------------------------------
    _p("target_uplift", 0.30, "share", 0.0, 1.0,
       "DOMAIN §3: targets raised by 'around 30%' (dpa)",
       "Value-weighted mean rise of the capability targets in the adoption year."),
    _p("initial_shortfall", 0.30, "", 0.0, 0.9, "DOMAIN §3: 'a gap of 30%' on the old targets",
       "Value-weighted mean share of its (pre-uplift) targets an ally lacks in the start year."),
    _p("requirement_share_air_missile_defence", 0.03, "", 0.01, 1.0,
       "docs/categories.md: value share of the old requirement, so the mean uplift is ~30% "
       "(assumption)", "Weight of the category in the requirement (its value share)."),
    _p("requirement_share_long_range_strike", 0.03, "", 0.01, 1.0,
       "docs/categories.md: value share of the old requirement, so the mean uplift is ~30% "
       "(assumption)", "Weight of the category in the requirement (its value share)."),
    _p("requirement_share_logistics", 0.07, "", 0.01, 1.0,
       "docs/categories.md: value share of the old requirement, so the mean uplift is ~30% "
       "(assumption)", "Weight of the category in the requirement (its value share)."),
    _p("requirement_share_land_formations", 0.6, "", 0.01, 1.0,
       "docs/categories.md: value share of the old requirement, so the mean uplift is ~30% "
       "(assumption)", "Weight of the category in the requirement (its value share)."),
    _p("requirement_share_command_control", 0.27, "", 0.01, 1.0,
       "docs/categories.md: value share of the old requirement, so the mean uplift is ~30% "
       "(assumption)", "Weight of the category in the requirement (its value share)."),
    _p("uplift_weight_air_missile_defence", 4.0, "", 0.0, 20.0,
       "docs/categories.md: air defence units 293 -> 1,467 (requirements "
       "leaked Oct 2024); Rutte (9 Jun 2025): 'a 400% increase'",
       "Relative rise of the category's target in the adoption year (``category_uplifts``)."),
    _p("uplift_weight_long_range_strike", 1.0, "", 0.0, 20.0,
       "docs/categories.md: a named priority with no public figure; "
       "as logistics (assumption)",
       "Relative rise of the category's target in the adoption year (``category_uplifts``)."),
    _p("uplift_weight_logistics", 1.0, "", 0.0, 20.0,
       "DOMAIN §3; docs/categories.md: Rutte (9 Jun 2025): 'double our enabling capabilities'",
       "Relative rise of the category's target in the adoption year (``category_uplifts``)."),
    _p("uplift_weight_land_formations", 0.15, "", 0.0, 20.0,
       "docs/categories.md: brigades 82 -> 131 on about a quarter of "
       "the category's value (assumption)",
       "Relative rise of the category's target in the adoption year (``category_uplifts``)."),
    _p("uplift_weight_command_control", 0.15, "", 0.0, 20.0,
       "docs/categories.md: division HQs 24 -> 38, corps 6 -> 15, on a "
       "small core (assumption)",
       "Relative rise of the category's target in the adoption year (``category_uplifts``)."),
    _p("shortfall_weight_air_missile_defence", 0.35, "", 0.0, 5.0,
       "docs/categories.md: new-target fulfilment 0.20 (FT May 2024: under "
       "5% of eastern-flank needs; Germany 9 Patriot units, needs x4)",
       "Relative start-year shortfall of the category (``category_shortfalls``)."),
    _p("shortfall_weight_long_range_strike", 1.4, "", 0.0, 5.0,
       "docs/categories.md: new-target fulfilment 0.30 (IISS 2025: only "
       "France and the UK field 1,000 km missiles; assumption)",
       "Relative start-year shortfall of the category (``category_shortfalls``)."),
    _p("shortfall_weight_logistics", 1.1, "", 0.0, 5.0,
       "docs/categories.md: new-target fulfilment 0.35 (old targets 70% met, then doubled)",
       "Relative start-year shortfall of the category (``category_shortfalls``)."),
    _p("shortfall_weight_land_formations", 1.0, "", 0.0, 5.0,
       "docs/categories.md: new-target fulfilment 0.60 (old targets 60-80% met, ANSA Jun 2025)",
       "Relative start-year shortfall of the category (``category_shortfalls``)."),
    _p("shortfall_weight_command_control", 1.0, "", 0.0, 5.0,
       "docs/categories.md: new-target fulfilment 0.60 (as land formations; assumption)",
       "Relative start-year shortfall of the category (``category_shortfalls``)."),
    _p("review_threat_elasticity", 0.5, "", 0.0, 2.0, "DOMAIN §1 (2029 review); assumption",
       "Elasticity of the pledge and targets to the threat's change at the review."),
    _p("review_max_change", 0.5, "", 0.0, 0.9, "assumption",
       "Largest revision of the pledge and targets at the review, either way."),
    _p("review_delay", 0, "yr", -3, 6,
       "policy lever; default 0, the scenario's review year (DOMAIN §1: The Hague's review "
       "'in 2029')",
       "Years the scheduled review of the pledge and targets is moved (negative: earlier).",
       True),
    _p("pledge_core_scale", 1.0, "× pledge", 0.5, 2.0,
       "policy lever; default 1, each ally's core pledge as the scenario sets it (DOMAIN §1: "
       "'at least 3.5% of GDP' core by 2035; Spain held 2.1% meets its targets)",
       "Multiplies every ally's own core pledge (its share and path; the related share and the "
       "US demand stay the scenario's)."),
    _p("pledge_delay", 0, "yr", -5, 10,
       "policy lever; default 0, the scenario's pledge year (DOMAIN §1: Rutte's draft set 2032, "
       "Italy, the UK and others won 2035)",
       "Years the allies' pledge deadline is moved, core and related paths alike (negative: "
       "earlier); the US demand keeps its year.", True),
    # --- 6. personnel -----------------------------------------------------------------------
    _p("recruit_rate", 0.03, "1/yr", 0.0, 0.15,
       "DOMAIN §6: net growth ~1.5%/yr today, 3-5%/yr with Germany's new service",
       "Largest yearly net growth of active personnel."),
    _p("personnel_attrition_max", 0.05, "1/yr", 0.0, 0.3, "DOMAIN §6 (~20k of 181k leave/yr)",
       "Largest yearly net fall of active personnel."),
    _p("personnel_goal_uplift", 0.30, "", 0.0, 1.0,
       "DOMAIN §3: Germany +50,000-60,000 on ~184,000 (+27-33%)",
       "Rise of every ally's personnel goal over its start strength."),
    # --- 8. economy -------------------------------------------------------------------------
    _p("gdp_growth_noise_sd", 0.01, "1/yr", 0.0, 0.05,
       "assumption, the mean fits' value; calibrated to growth around trend since 2015 "
       "(sim/shock_volatility.py)",
       "Standard deviation of yearly real GDP growth around trend (projected years only)."),
]
# fmt: on

PRIORS: MappingProxyType[str, float] = MappingProxyType({p.name: p.default for p in _DEFINITIONS})
"""Every parameter's documented value before calibration (the calibration's starting point)."""

MEAN_FIT: MappingProxyType[str, float] = MappingProxyType(
    {name: PRIORS[name] for name in ("spending_noise_sd", "threat_noise_sd", "gdp_growth_noise_sd")}
)
"""Values the mean-fitting stages run with (``alliance calibrate``, its ABC, the rolling refits):
the implementation noise and the exogenous shocks' volatility at their documented priors. Their
calibrated values are set after them, from the model's forecast errors (``sim.noise_fit``) and
the shocks' own history (``sim.shock_volatility``), so no fit depends on a value an earlier
calibration wrote."""


class CalibrationFileError(SpecError):
    """The calibration file is unreadable or names an unknown parameter or a value out of range."""


def calibration_file() -> Path:
    """The file holding the calibrated parameter values (``scenarios/calibration.toml``)."""
    return Path(str(files("scenarios") / "calibration.toml"))


def posterior_file() -> Path:
    """The posterior forecasts draw parameters from (``scenarios/posterior.toml``, ``sim.abc``)."""
    return Path(str(files("scenarios") / "posterior.toml"))


def read_calibration(path: Path | None = None) -> dict:
    """Read and check a calibration file.

    Args:
        path: The file; ``calibration_file()`` by default. A missing file means no calibration.

    Returns:
        The file's tables; ``{}`` when it does not exist. ``["parameters"]`` maps names to values.

    Raises:
        CalibrationFileError: Invalid TOML, unknown parameter or value outside its range.
    """
    path = path or calibration_file()
    if not path.exists():
        return {}
    data = read_toml(path, CalibrationFileError)
    for key in ("date", "command"):
        if key not in data:
            raise CalibrationFileError(str(path), key, "missing (who made these values, and when)")
    values = data.get("parameters")
    if not isinstance(values, dict) or not values:
        raise CalibrationFileError(str(path), "parameters", "missing or empty table")
    definitions = {p.name: p for p in _DEFINITIONS}
    for name, value in values.items():
        if name not in definitions:
            raise CalibrationFileError(str(path), f"parameters.{name}", "unknown parameter")
        problem = definitions[name].check(value)
        if problem:
            raise CalibrationFileError(str(path), f"parameters.{name}", problem)
    return data


def _with_calibration(definitions: list[Parameter], calibration: dict) -> list[Parameter]:
    values = calibration.get("parameters", {})
    note = f"calibrated {calibration.get('date')} (scenarios/calibration.toml)"
    return [
        replace(
            p, default=p.coerce(values[p.name]), source=f"{note}; prior {p.default:g}, {p.source}"
        )
        if p.name in values
        else p
        for p in definitions
    ]


def _calibration_at_import() -> tuple[dict, CalibrationFileError | None]:
    """The calibration the defaults take, and why the file cannot be used (None if it can)."""
    try:
        return read_calibration(), None
    except CalibrationFileError as exc:
        return {}, exc


_CALIBRATION, _CALIBRATION_PROBLEM = _calibration_at_import()


def check_calibration() -> str | None:
    """Whether the defaults are calibrated: raise if the calibration file cannot be used.

    An invalid file is reported when parameters are used (``load_scenario``, every command but
    ``alliance calibrate``), not when this module is imported, so ``--help`` still works.

    Returns:
        None when the defaults come from the calibration file; a one-line notice when there is
        no file and the defaults are the uncalibrated priors.

    Raises:
        CalibrationFileError: The file exists but is not a valid calibration.
    """
    if _CALIBRATION_PROBLEM:
        bad = _CALIBRATION_PROBLEM
        hint = "(fix it, or delete it and rerun `alliance calibrate`)"
        raise CalibrationFileError(bad.source, bad.where, f"{bad.problem} {hint}")
    if not _CALIBRATION:
        return (
            f"{calibration_file()}: not found; parameters take their uncalibrated priors "
            "(`alliance calibrate` writes the file)"
        )
    return None


PARAMETERS: MappingProxyType[str, Parameter] = MappingProxyType(
    {p.name: p for p in _with_calibration(_DEFINITIONS, _CALIBRATION)}
)
"""Every parameter by name, defaults calibrated where ``scenarios/calibration.toml`` says so."""

DEFAULTS: MappingProxyType[str, float] = MappingProxyType(
    {name: p.default for name, p in PARAMETERS.items()}
)
"""Default value of every parameter."""


ORDERED = (("debt_threshold_pct", "debt_ceiling_pct"), ("threat_near_km", "threat_reach_km"))
"""Pairs of parameters whose first must stay below the second."""


def check_parameter_set(params: dict[str, float]) -> tuple[str, str] | None:
    """Return (name, problem) for the first inconsistency between parameters, or None."""
    for low, high in ORDERED:
        if params[low] >= params[high]:
            return high, f"{params[high]:g} must exceed {low} ({params[low]:g})"
    return None


def lead_times(params: dict[str, float]) -> tuple[int, ...]:
    """Lead time (years) of each category, in ``CATEGORIES`` order."""
    return tuple(int(params[f"lead_time_{c}"]) for c in CATEGORIES)


def _added(values: list):
    """The values added in order.

    Python's ``sum`` compensates rounding for floats (3.12+) but not for arrays, so a run with
    its own parameter array would get a different last digit than the same parameter as a float.
    """
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total


def requirement_shares(params: dict[str, float]) -> tuple[float, ...]:
    """Requirement weights of the categories, normalised to sum to 1, in ``CATEGORIES`` order."""
    raw = [params[f"requirement_share_{c}"] for c in CATEGORIES]
    total = _added(raw)
    return tuple(w / total for w in raw)


def _weighted(params: dict[str, float], prefix: str, mean, cap: float) -> tuple:
    """Per-category values from relative weights, scaled to a requirement-weighted mean.

    ``mean`` (one value per ally) and the parameters (one per run) may be arrays: each
    category's value is then an array.
    """
    shares = requirement_shares(params)
    weights = [params[f"{prefix}_{c}"] for c in CATEGORIES]
    norm = _added([s * w for s, w in zip(shares, weights, strict=True)])
    ok = np.asarray(norm) > 0  # no weight at all: every category takes the mean
    divisor = np.where(ok, norm, 1.0)
    return tuple(np.where(ok, np.minimum(cap, mean * w / divisor), mean) for w in weights)


def category_uplifts(params: dict[str, float]) -> tuple[float, ...]:
    """Rise of each category's target in the adoption year, in ``CATEGORIES`` order.

    u_c = u * w_c / sum_k s_k w_k

    Rutte's statements (a 400% rise in air and missile defence, double the enablers, brigades
    80 -> 120-130; DOMAIN §3) rank the categories; dpa's "around 30%" is their mean weighted by
    the requirement's value shares s_k. Both cannot hold at face value, so the weights w_c keep
    the ranking and ``target_uplift`` (u) the mean.
    """
    return _weighted(params, "uplift_weight", params["target_uplift"], math.inf)


def category_shortfalls(params: dict[str, float], mean) -> tuple:
    """Start-year shortfall of each category against the old targets, in ``CATEGORIES`` order.

    g_c = min(0.9, g * v_c / sum_k s_k v_k), with g the mean shortfall (``initial_shortfall``
    or an ally's own value; an array gives one array per category) and v_c the category's
    relative weight.
    """
    return _weighted(params, "shortfall_weight", mean, 0.9)
