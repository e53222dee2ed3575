"""The posterior over the fitted parameters: its file, and the draw a forecast run takes from it.

``scenarios/posterior.toml`` is written by the Bayesian calibration (``sim.abc``) and never by
hand. It holds weighted samples of the parameters (``[samples]``: one array per parameter and
``weight``), the settings that reproduce them (``command``, ``[seeds]``) and how they were made
(method, library version, summary statistics, distance, epsilon schedule, held-out fit). Reading
it checks every field; any problem is one ``PosteriorFileError`` line naming the file and field.

A forecast run with seed ``s`` uses draw ``draw(posterior, [s])[0]``: the draw depends on the
posterior and the seed alone, so a run stays reproducible from (scenario, seed) and can record
which draw it used.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from sim.parameters import PARAMETERS, posterior_file
from sim.spec_checks import SpecError, read_toml
from sim.store import atomic_write

WEIGHT = "weight"
"""The key of the weights in ``[samples]`` (no parameter has this name)."""

REQUIRED: Mapping[str, type] = {
    "date": date,
    "command": str,
    "method": str,
    "library": str,
    "library_version": str,
    "summary_statistics": str,
    "distance": str,
    "seeds": dict,
    "schedule": dict,
    "fit": dict,
    "samples": dict,
}
"""Top-level fields every posterior file has, and their TOML types."""

DRAW_STREAM = 0x50_4F_53_54  # "POST"
"""Mixed with a run's seed to choose its draw, so the choice is independent of the run's shocks
(which ``numpy.random.default_rng(seed)`` draws)."""


class PosteriorFileError(SpecError):
    """A posterior file cannot be used (one line naming the file and the field)."""


@dataclass(frozen=True)
class Posterior:
    """Weighted samples of some parameters.

    Attributes:
        names: The parameters, in the order of the columns of ``samples``.
        samples: One row per draw, one column per parameter (n, k).
        weights: Each draw's weight, positive and summing to 1 (n,).
        metadata: Every other field of the file (date, command, method, seeds, schedule, fit...).
    """

    names: tuple[str, ...]
    samples: np.ndarray
    weights: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)

    def values(self, index: int) -> dict[str, float]:
        """The parameter values of draw ``index``."""
        return {n: float(v) for n, v in zip(self.names, self.samples[index], strict=True)}

    def interval(self, q: float = 0.9) -> dict[str, tuple[float, float]]:
        """Each parameter's central credible interval of mass ``q`` (weighted quantiles)."""
        ends = [(1 - q) / 2, (1 + q) / 2]
        return {
            name: tuple(float(v) for v in weighted_quantiles(column, self.weights, ends))
            for name, column in zip(self.names, self.samples.T, strict=True)
        }

    def width_vs_prior(self, q: float = 0.9) -> dict[str, float]:
        """Each parameter's central interval of mass ``q`` over its uniform prior's (q x range).

        Issue #13 calls a parameter clearly narrower than its prior at 0.5 or less.
        """
        return {
            name: (high - low) / (q * (PARAMETERS[name].high - PARAMETERS[name].low))
            for name, (low, high) in self.interval(q).items()
        }


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """Quantiles ``q`` of weighted samples (the inverse of their weighted empirical CDF)."""
    return np.quantile(values, q, weights=weights, method="inverted_cdf")


def draw(posterior: Posterior, seeds: Sequence[int]) -> np.ndarray:
    """The draw each seed's run uses: an index into ``posterior.samples``, chosen by weight.

    Each seed gets a uniform number from its own generator (``default_rng([DRAW_STREAM,
    seed])``) and the draw where the cumulative weight first exceeds it, so the index depends on
    the posterior and that seed only, and a draw of weight w is chosen by a share w of seeds.

    Args:
        posterior: The posterior.
        seeds: Run seeds (non-negative integers).

    Returns:
        One index per seed (int64).
    """
    u = np.array([np.random.default_rng([DRAW_STREAM, int(s)]).random() for s in seeds])
    cumulative = np.cumsum(posterior.weights)
    index = np.searchsorted(cumulative, u * cumulative[-1], side="right")
    return np.minimum(index, len(cumulative) - 1).astype("int64")


def _fail(path: Path, where: str, problem: str) -> PosteriorFileError:
    return PosteriorFileError(str(path), where, problem)


def _load(path: Path) -> dict[str, Any]:
    """The file's TOML, or a ``PosteriorFileError``."""
    if not path.exists():
        raise _fail(path, "", "not found (`alliance calibrate --method abc` writes it)")
    return read_toml(path, PosteriorFileError)


def _column(path: Path, name: str, raw: object, n: int | None) -> np.ndarray:
    """One ``[samples]`` array as floats, checked for type, length and finiteness."""
    where = f"samples.{name}"
    if not isinstance(raw, list) or not raw:
        raise _fail(path, where, "expected a non-empty array of numbers")
    bad = next((v for v in raw if isinstance(v, bool) or not isinstance(v, int | float)), None)
    if bad is not None:
        raise _fail(path, where, f"expected numbers, got {type(bad).__name__}")
    if n is not None and len(raw) != n:
        raise _fail(path, where, f"{len(raw)} values, but {WEIGHT} has {n}")
    values = np.asarray(raw, dtype=float)
    nonfinite = np.flatnonzero(~np.isfinite(values))
    if nonfinite.size:
        i = int(nonfinite[0])
        raise _fail(path, f"{where}[{i}]", f"must be finite, got {values[i]}")
    return values


def _checked_samples(path: Path, table: dict) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Names, samples and normalised weights of a ``[samples]`` table."""
    if WEIGHT not in table:
        raise _fail(path, f"samples.{WEIGHT}", "missing")
    weights = _column(path, WEIGHT, table[WEIGHT], None)
    low = np.flatnonzero(weights <= 0)
    if low.size:
        i = int(low[0])
        raise _fail(path, f"samples.{WEIGHT}[{i}]", f"must be positive, got {weights[i]}")
    names = tuple(k for k in table if k != WEIGHT)
    if not names:
        raise _fail(path, "samples", "no parameter")
    columns = []
    for name in names:
        p = PARAMETERS.get(name)
        if p is None:
            raise _fail(path, f"samples.{name}", "unknown parameter")
        if p.integer:
            raise _fail(path, f"samples.{name}", "a whole-number parameter cannot be sampled")
        values = _column(path, name, table[name], len(weights))
        outside = np.flatnonzero((values < p.low) | (values > p.high))
        if outside.size:
            i = int(outside[0])
            raise _fail(
                path,
                f"samples.{name}[{i}]",
                f"{values[i]} is outside the allowed range [{p.low:g}, {p.high:g}]",
            )
        columns.append(values)
    return names, np.column_stack(columns), weights / weights.sum()


def read_posterior(path: Path | None = None) -> Posterior:
    """Read and check a posterior file.

    Args:
        path: The file; ``posterior_file()`` by default.

    Returns:
        The posterior, weights normalised to sum to 1.

    Raises:
        PosteriorFileError: Missing or unreadable file, invalid TOML, a missing field or one of
            the wrong type, arrays of different lengths, non-finite values, weights that are not
            positive, unknown parameters or values outside a parameter's range.
    """
    path = Path(path) if path is not None else posterior_file()
    data = _load(path)
    for key, kind in REQUIRED.items():
        if key not in data:
            raise _fail(path, key, "missing")
        value = data[key]
        if not _has_type(value, kind):
            raise _fail(path, key, f"expected {_toml_type(kind)}, got {_toml_name(value)}")
    names, samples, weights = _checked_samples(path, data["samples"])
    metadata = {k: v for k, v in data.items() if k != "samples"}
    return Posterior(names, samples, weights, metadata)


def _has_type(value: object, kind: type) -> bool:
    """Whether a TOML value is of ``kind`` (a date-time is not a date)."""
    return type(value) is date if kind is date else isinstance(value, kind)


def _toml_type(kind: type) -> str:
    return {date: "a date", str: "a string", dict: "a table"}[kind]


def _toml_name(value: object) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _value(value: object) -> str:
    """``value`` as TOML: strings, booleans, numbers, dates and arrays of them."""
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value} to a posterior file")
        return repr(float(value))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | np.ndarray):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to a posterior file")


def posterior_toml(posterior: Posterior, header: Sequence[str] = ()) -> str:
    """The posterior as the text of a posterior file.

    Args:
        posterior: Samples, weights and metadata (scalars and arrays at the top, tables of them
            one level deep).
        header: Comment lines put first (without ``#``).

    Returns:
        TOML text that ``read_posterior`` reads back to the same posterior.
    """
    scalars = {k: v for k, v in posterior.metadata.items() if not isinstance(v, Mapping)}
    tables = {k: v for k, v in posterior.metadata.items() if isinstance(v, Mapping)}
    lines = [f"# {line}" if line else "#" for line in header]
    lines += [f"{k} = {_value(v)}" for k, v in scalars.items()]
    for name, table in tables.items():
        lines += ["", f"[{name}]", *(f"{k} = {_value(v)}" for k, v in table.items())]
    lines += ["", "[samples]", f"{WEIGHT} = {_value(posterior.weights)}"]
    lines += [f"{n} = {_value(posterior.samples[:, j])}" for j, n in enumerate(posterior.names)]
    return "\n".join(lines) + "\n"


def write_posterior(
    posterior: Posterior, path: Path | None = None, header: Sequence[str] = ()
) -> Path:
    """Write a posterior file atomically (``posterior_file()`` by default); return its path."""
    path = Path(path) if path is not None else posterior_file()
    text = posterior_toml(posterior, header)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    return path
