"""Scenarios: TOML files that set the years, pledges, paths, parameters and per-ally values.

A scenario file may name a ``base`` scenario and override only what differs. Everything a user
supplies is checked against the definitions here and in ``sim.parameters``; a problem raises
``ScenarioError`` whose message is one line: ``FILE: FIELD: what is wrong``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sim.data import (
    DEFAULT_EDITION,
    EDITIONS,
    FIRST_YEAR,
    LAST_YEAR,
    NO_FORCES,
    initial_allies,
    load_reference,
)
from sim.parameters import (
    DEFAULTS,
    PARAMETERS,
    calibration_file,
    check_calibration,
    check_parameter_set,
    posterior_file,
)
from sim.spec_checks import (
    SpecError,
    printable,
    range_problem,
    read_toml,
    type_problem,
    unknown_problem,
)

PATHS = {
    "threat": (0.0, 5.0, "threat level (1 = the 2022-25 level)"),
    "us_retrenchment": (0.0, 1.0, "floor on US retrenchment (share withdrawn from Europe)"),
    "gdp_growth_shock_pp": (-20.0, 20.0, "shock to every ally's real GDP growth (pp)"),
    "fiscal_space_factor": (0.0, 2.0, "multiplies every ally's fiscal space"),
}
"""Exogenous yearly paths: name -> (low, high, meaning). A path holds its value until the next
year listed; before the first year listed it takes the first value."""

ALLY_FIELDS = {
    "core_pct_start": (0.0, 15.0, "core share in the start year (% GDP)"),
    "equipment_share_pct": (0.0, 100.0, "equipment share of core spending (%)"),
    "personnel_k_start": (0.0, 5000.0, "active personnel in the start year (thousands)"),
    "personnel_goal_k": (0.0, 5000.0, "personnel goal (thousands)"),
    "recruit_rate": (
        PARAMETERS["recruit_rate"].low,
        PARAMETERS["recruit_rate"].high,
        "largest yearly net personnel growth (replaces the parameter for this ally)",
    ),
    "sovereign_cap_pct": (0.0, 15.0, "a declared ceiling on the core share (% GDP)"),
    "pledge_core_pct": (0.0, 15.0, "the ally's own core pledge target (% GDP)"),
    "fiscal_space": (0.0, 1.0, "fiscal space, replacing the debt-based value"),
    "initial_shortfall": (0.0, 0.9, "start-year shortfall against the old targets"),
    "gdp_growth_pct": (-10.0, 15.0, "trend real GDP growth (%/yr)"),
    "plan": (0.0, 15.0, "the ally's own plan: a table of year = % GDP, or 'none'"),
}
"""Per-ally values a scenario may set: name -> (low, high, meaning)."""

_FORCE_FIELDS = set(ALLY_FIELDS) - {"fiscal_space", "gdp_growth_pct"}
PLAN_SOURCES = ("national", "none")
"""A scenario's ``plans``: the allies' announced national plans, or none."""
MAX_CORE_PCT = 15.0
"""Upper bound on any core share (% GDP)."""


class ScenarioError(SpecError):
    """A scenario is unknown or invalid; the message is ``FILE: FIELD: problem``."""


@dataclass(frozen=True)
class Pledge:
    """A spending goal: core and defence-related shares (% GDP) to reach by a year."""

    core_pct: float
    related_pct: float
    year: int


@dataclass(frozen=True)
class Scenario:
    """A fully resolved, validated scenario.

    Attributes:
        name: Short name (the file's stem).
        description: One line saying what it represents.
        start_year: First year (its state is the reference data).
        end_year: Last year simulated.
        pledge: The allies' pledge.
        us_demand: What the US demands (the pledge unless set).
        review_year: Year the pledge and targets are revised to the threat, or None.
        targets_adoption_year: Year the capability-target uplift applies, or None.
        threat_mode: "path" (exogenous) or "adversary" (endogenous, Richardson).
        paths: Exogenous yearly paths by name (see ``PATHS``).
        parameters: Every parameter's value (defaults filled in).
        allies: Per-ally values by ISO3 code (see ``ALLY_FIELDS``).
        plans: ``"national"`` (the allies' announced plans, ``sim.plans``) or ``"none"``.
        plans_known_by: The date up to which announced plans count, or None for 31 December of
            the start year (a forecast as of 1 January of the next year). A later date runs
            with hindsight: the validation's 2025 step with the plans decided during 2025.
        data_edition: Edition of NATO's reference tables the start state and validation use
            (one of ``sim.data.EDITIONS``; ``DEFAULT_EDITION`` unless the file sets it).
        source: File it came from.
    """

    name: str
    description: str
    start_year: int
    end_year: int
    pledge: Pledge
    us_demand: Pledge
    review_year: int | None
    targets_adoption_year: int | None
    threat_mode: str
    paths: MappingProxyType
    parameters: MappingProxyType
    allies: MappingProxyType
    data_edition: str = DEFAULT_EDITION
    plans: str = "national"
    plans_known_by: date | None = None
    source: str = field(default="", compare=False)

    def __getstate__(self) -> dict[str, Any]:
        """Picklable state (for worker processes): read-only mappings as plain dicts."""
        return {f.name: _thaw(getattr(self, f.name)) for f in fields(self)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild from ``__getstate__``, mappings read-only again."""
        for name, value in state.items():
            object.__setattr__(self, name, _freeze(value))

    @property
    def years(self) -> range:
        """Every year of the run, start included."""
        return range(self.start_year, self.end_year + 1)

    def path_value(self, name: str, year: int) -> float:
        """Value of an exogenous path in ``year`` (its neutral value when the path is unset)."""
        points = self.paths.get(name)
        if not points:
            return {"threat": 1.0, "fiscal_space_factor": 1.0}.get(name, 0.0)
        past = [y for y in points if y <= year]
        return points[max(past)] if past else points[min(points)]

    @property
    def plans_as_of(self) -> date:
        """The date up to which announced national plans count (``plans_known_by``)."""
        return self.plans_known_by or date(self.start_year, 12, 31)

    def with_parameters(self, **overrides: float) -> Scenario:
        """A copy with some parameters changed (validated like a file's)."""
        src = Path(self.source).name if self.source else self.name
        params = dict(self.parameters)
        for name, value in overrides.items():
            params[name] = _check_parameter(src, name, value)
        _check_consistency(src, params)
        return replace(self, parameters=MappingProxyType(params))

    def with_data_edition(self, edition: str) -> Scenario:
        """A copy that starts from (and is validated against) another edition of the data.

        Raises:
            ScenarioError: ``edition`` is not one of ``sim.data.EDITIONS``.
        """
        src = Path(self.source).name if self.source else self.name
        edition = _check_edition(src, edition)
        _check_caps(src, _thaw(self.allies), self.start_year, edition)
        return replace(self, data_edition=edition)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready form (for manifests)."""
        return {
            "name": self.name,
            "description": self.description,
            "start_year": self.start_year,
            "end_year": self.end_year,
            "pledge": vars(self.pledge),
            "us_demand": vars(self.us_demand),
            "review_year": self.review_year,
            "targets_adoption_year": self.targets_adoption_year,
            "threat_mode": self.threat_mode,
            "paths": {k: {str(y): v for y, v in p.items()} for k, p in self.paths.items()},
            "parameters": dict(self.parameters),
            "allies": _thaw(self.allies),
            "data_edition": self.data_edition,
            "plans": self.plans,
            # only when set, so manifests (and fingerprints) of earlier runs stay the same
            **({"plans_known_by": self.plans_known_by.isoformat()} if self.plans_known_by else {}),
        }


def scenarios_dir() -> Path:
    """Folder holding the named scenarios."""
    return Path(str(files("scenarios")))


def _named_files() -> list[Path]:
    """The named scenarios' files: every TOML file in ``scenarios/`` but the fitted ones."""
    skip = {calibration_file().name, posterior_file().name}
    return sorted(p for p in scenarios_dir().glob("*.toml") if p.name not in skip)


def list_scenarios() -> list[tuple[str, str]]:
    """Every named scenario as (name, description), sorted by name."""
    return [(p.stem, load_scenario(p).description) for p in _named_files()]


def _resolve(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(text)
        if not path.is_absolute() and relative_to is not None and (relative_to / path).exists():
            path = relative_to / path
        if not path.is_file():
            raise ScenarioError(text, "", "no such scenario file")
        return path
    path = scenarios_dir() / f"{text}.toml"
    if path not in _named_files():
        known = ", ".join(p.stem for p in _named_files())
        raise ScenarioError(text, "", f"unknown scenario (known: {known})")
    return path


def _read_raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a file and merge it over its base, checking structure as it goes."""
    src = path.name
    if path.resolve() in seen:
        raise ScenarioError(src, "base", "scenarios inherit from each other in a loop")
    raw = read_toml(path, ScenarioError, src)
    _check_structure(src, raw)
    base = raw.pop("base", None)
    if base is None:
        return raw
    try:
        base_path = _resolve(base, relative_to=path.parent)
    except ScenarioError as exc:
        raise ScenarioError(src, "base", exc.problem) from None
    merged = _read_raw(base_path, (*seen, path.resolve()))
    for key, value in raw.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


_TOP = {
    "description": str,
    "base": str,
    "start_year": int,
    "end_year": int,
    "threat_mode": str,
    "data_edition": str,
    "plans": str,
    "plans_known_by": date,
    "pledge": dict,
    "us_demand": dict,
    "targets": dict,
    "paths": dict,
    "parameters": dict,
    "allies": dict,
}
_PLEDGE = {"core_pct": float, "related_pct": float, "year": int, "review_year": int}
_DEMAND = {"core_pct": float, "related_pct": float, "year": int}
_TARGETS = {"adoption_year": int}


def _thaw(value: Any) -> Any:
    if isinstance(value, MappingProxyType | dict):
        return {k: _thaw(v) for k, v in value.items()}
    return value


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    return value


def _check_table(src: str, where: str, table: dict, schema: dict[str, type]) -> None:
    for key, value in table.items():
        problem = unknown_problem(key, schema) or type_problem(value, schema[key])
        if problem:
            raise ScenarioError(src, f"{where}{key}", problem)


def _check_range(src: str, where: str, value: float, low: float, high: float) -> None:
    problem = range_problem(value, low, high)
    if problem:
        raise ScenarioError(src, where, problem)


def _check_edition(src: str, edition: Any) -> str:
    """Validate a data edition (``sim.data.EDITIONS``) and return it."""
    if not isinstance(edition, str) or edition not in EDITIONS:
        allowed = " or ".join(repr(e) for e in EDITIONS)
        raise ScenarioError(src, "data_edition", f"expected {allowed}, got {edition!r}")
    return edition


def _check_plan(src: str, where: str, value: Any) -> None:
    """Validate an ally's own plan: ``"none"`` or a table of year = core % GDP."""
    if value == "none":
        return
    if not isinstance(value, dict) or not value:
        raise ScenarioError(src, where, "expected 'none' or a table of year = % GDP")
    for year, share in value.items():
        if not year.isdigit() or not FIRST_YEAR <= int(year) <= 2100:
            raise ScenarioError(src, f"{where}.{year}", "expected a year as key")
        problem = type_problem(share, float)
        if problem:
            raise ScenarioError(src, f"{where}.{year}", problem)
        _check_range(src, f"{where}.{year}", share, 0.0, MAX_CORE_PCT)


def _check_parameter(src: str, name: str, value: Any) -> float:
    """Validate one parameter value and return it coerced to the parameter's type."""
    param = PARAMETERS.get(name)
    if param is None:
        raise ScenarioError(src, f"parameters.{name}", "unknown parameter")
    problem = param.check(value)
    if problem:
        raise ScenarioError(src, f"parameters.{name}", problem)
    return param.coerce(value)


def _check_consistency(src: str, params: dict[str, float]) -> None:
    problem = check_parameter_set(params)
    if problem:
        raise ScenarioError(src, f"parameters.{problem[0]}", problem[1])


def _check_structure(src: str, raw: dict[str, Any]) -> None:
    """Check names, types and ranges of everything in one file."""
    if "data_edition" in raw:  # before the type check, so the message names the editions
        _check_edition(src, raw["data_edition"])
    _check_table(src, "", raw, _TOP)
    if raw.get("threat_mode", "path") not in ("path", "adversary"):
        raise ScenarioError(src, "threat_mode", "expected 'path' or 'adversary'")
    if raw.get("plans", "national") not in PLAN_SOURCES:
        raise ScenarioError(src, "plans", "expected 'national' or 'none'")
    if isinstance(raw.get("plans_known_by"), datetime):
        raise ScenarioError(src, "plans_known_by", "expected a date (2025-12-31), not a time")
    if "plans_known_by" in raw and raw.get("plans", "national") == "none":
        raise ScenarioError(src, "plans_known_by", "has no effect with plans = 'none'")
    for key in ("start_year", "end_year"):
        if key in raw:
            _check_range(src, key, raw[key], FIRST_YEAR, 2100)
    _check_table(src, "pledge.", raw.get("pledge", {}), _PLEDGE)
    _check_table(src, "us_demand.", raw.get("us_demand", {}), _DEMAND)
    _check_table(src, "targets.", raw.get("targets", {}), _TARGETS)
    for section in ("pledge", "us_demand"):
        for key in ("core_pct", "related_pct"):
            if key in raw.get(section, {}):
                _check_range(src, f"{section}.{key}", raw[section][key], 0.0, MAX_CORE_PCT)
    for name, points in raw.get("paths", {}).items():
        if name not in PATHS:
            raise ScenarioError(
                src, f"paths.{name}", f"unknown path (expected one of {', '.join(PATHS)})"
            )
        if not isinstance(points, dict) or not points:
            raise ScenarioError(src, f"paths.{name}", "expected a table of year = value")
        low, high, _ = PATHS[name]
        for year, value in points.items():
            where = f"paths.{name}.{year}"
            if not year.isdigit() or not 1900 <= int(year) <= 2200:
                raise ScenarioError(src, where, "expected a year as key")
            problem = type_problem(value, float)
            if problem:
                raise ScenarioError(src, where, problem)
            _check_range(src, where, value, low, high)
    for name, value in raw.get("parameters", {}).items():
        _check_parameter(src, name, value)
    codes = set(load_reference().allies.index)
    for iso, values in raw.get("allies", {}).items():
        if iso not in codes:
            raise ScenarioError(
                src,
                f"allies.{iso}",
                f"unknown ally code (expected one of {', '.join(sorted(codes))})",
            )
        if not isinstance(values, dict):
            raise ScenarioError(src, f"allies.{iso}", "expected a table of field = value")
        for key, value in values.items():
            where = f"allies.{iso}.{key}"
            problem = unknown_problem(key, ALLY_FIELDS)
            if problem:
                raise ScenarioError(src, where, problem)
            if iso in NO_FORCES and key in _FORCE_FIELDS:
                raise ScenarioError(src, where, "this ally has no armed forces")
            if key == "plan":
                _check_plan(src, where, value)
                continue
            problem = type_problem(value, float)
            if problem:
                raise ScenarioError(src, where, problem)
            _check_range(src, where, value, *ALLY_FIELDS[key][:2])


def _scenario_name(path: Path) -> str:
    """The scenario's name, its file's stem, refused unless it is safe as a folder name.

    The name labels the tables and names the default results folder (``results/<name>``), so
    it must be text (UTF-8) and one folder name: not empty, ``.`` or ``..``, and no separator.
    """
    src, name = path.name, path.stem
    if printable(name) != name:
        raise ScenarioError(src, "", "the file name is not valid UTF-8 (rename the file)")
    if not name.strip() or name in (".", "..") or "/" in name or "\\" in name:
        problem = (
            f"the file name gives no usable scenario name ({name!r}; it names the results "
            "folder): rename the file"
        )
        raise ScenarioError(src, "", problem)
    return name


def _check_caps(src: str, allies: dict[str, Any], start_year: int, edition: str) -> None:
    """Refuse a ``sovereign_cap_pct`` below the ally's start share, which it would rewrite.

    The start share is the ally's ``core_pct_start`` when set, else the share observed in
    ``start_year`` in the ``edition`` of the reference data.
    """
    capped = {iso: v for iso, v in allies.items() if "sovereign_cap_pct" in v}
    if not capped:
        return
    observed = None
    for iso, values in capped.items():
        cap, where = values["sovereign_cap_pct"], f"allies.{iso}.sovereign_cap_pct"
        if "core_pct_start" in values:
            if values["core_pct_start"] > cap:
                problem = (
                    f"{cap:g} is below this ally's core_pct_start {values['core_pct_start']:g}"
                )
                raise ScenarioError(src, where, problem)
            continue
        if observed is None:
            observed = initial_allies(load_reference(edition=edition), start_year)
        share = float(observed.loc[iso, "core_pct"])
        if share > cap:
            problem = (
                f"{cap:g} is below {observed.loc[iso, 'name']}'s observed {start_year} core "
                f"share {share:g}% GDP ({edition} data); raise the cap or set core_pct_start"
            )
            raise ScenarioError(src, where, problem)


def load_scenario(name_or_path: str | Path, **overrides: float) -> Scenario:
    """Load, merge and validate a scenario.

    Args:
        name_or_path: A named scenario (``hague-2035``) or a path to a TOML file.
        **overrides: Parameter values that replace the scenario's.

    Returns:
        The resolved scenario.

    Raises:
        ScenarioError: Unknown scenario, unreadable file or any invalid field.
        CalibrationFileError: ``scenarios/calibration.toml`` exists but is invalid.
    """
    check_calibration()
    path = _resolve(name_or_path)
    src = path.name
    name = _scenario_name(path)
    raw = _read_raw(path)
    for key in ("description", "start_year", "end_year", "pledge"):
        if key not in raw:
            raise ScenarioError(src, key, "missing (set it here or in a base scenario)")
    start, end = raw["start_year"], raw["end_year"]
    if start > LAST_YEAR:
        raise ScenarioError(
            src, "start_year", f"{start} is after the last year with data ({LAST_YEAR})"
        )
    if end < start:
        raise ScenarioError(src, "end_year", f"{end} is before start_year {start}")
    if end == start:
        raise ScenarioError(src, "end_year", f"must be after start_year {start}, got {end}")
    pledge_raw = raw["pledge"]
    for key in ("core_pct", "related_pct", "year"):
        if key not in pledge_raw:
            raise ScenarioError(src, f"pledge.{key}", "missing")
    pledge = Pledge(
        float(pledge_raw["core_pct"]), float(pledge_raw["related_pct"]), pledge_raw["year"]
    )
    if pledge.year < start:
        raise ScenarioError(src, "pledge.year", f"{pledge.year} is before start_year {start}")
    demand = Pledge(
        float(raw.get("us_demand", {}).get("core_pct", pledge.core_pct)),
        float(raw.get("us_demand", {}).get("related_pct", pledge.related_pct)),
        raw.get("us_demand", {}).get("year", pledge.year),
    )
    if demand.year < start:
        raise ScenarioError(src, "us_demand.year", f"{demand.year} is before start_year {start}")
    for where, year in (
        ("pledge.review_year", pledge_raw.get("review_year")),
        ("targets.adoption_year", raw.get("targets", {}).get("adoption_year")),
    ):
        if year is not None and year < start:
            raise ScenarioError(src, where, f"{year} is before start_year {start}")
    for iso, values in raw.get("allies", {}).items():
        for year in values.get("plan", {}) if isinstance(values.get("plan"), dict) else ():
            if int(year) <= start:
                problem = f"{year} is not after start_year {start} (a plan is for years ahead)"
                raise ScenarioError(src, f"allies.{iso}.plan.{year}", problem)
    params = dict(DEFAULTS) | {
        key: PARAMETERS[key].coerce(value) for key, value in raw.get("parameters", {}).items()
    }
    _check_consistency(src, params)
    edition = raw.get("data_edition", DEFAULT_EDITION)
    _check_caps(src, raw.get("allies", {}), start, edition)
    scenario = Scenario(
        name=name,
        description=raw["description"].strip(),
        start_year=start,
        end_year=end,
        pledge=pledge,
        us_demand=demand,
        review_year=pledge_raw.get("review_year"),
        targets_adoption_year=raw.get("targets", {}).get("adoption_year"),
        threat_mode=raw.get("threat_mode", "path"),
        data_edition=edition,
        plans=raw.get("plans", "national"),
        plans_known_by=raw.get("plans_known_by"),
        paths=MappingProxyType(
            {
                k: MappingProxyType({int(y): float(v) for y, v in p.items()})
                for k, p in raw.get("paths", {}).items()
            }
        ),
        parameters=MappingProxyType(params),
        allies=MappingProxyType({k: _freeze(dict(v)) for k, v in raw.get("allies", {}).items()}),
        source=str(path),
    )
    return scenario.with_parameters(**overrides) if overrides else scenario
