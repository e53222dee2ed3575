"""Sweep designs and sensitivity indices, from SALib and ``scipy.stats.qmc``.

Samples are rows in a fixed order: row i is design point i, and analysis reads outputs by that
index, never by the order in which runs finish (SALib's Sobol analysis uses only the order of Y).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample
from scipy.stats import qmc

from sim.experiment import Varied

INDEX_COLUMNS = {
    "sobol": ("S1", "S1_conf", "ST", "ST_conf"),
    "morris": ("mu_star", "mu_star_conf", "sigma"),
}
"""The indices each design yields, as ``indices.csv`` columns."""

CONFIDENCE = 0.95


def problem(varied: Sequence[Varied]) -> dict:
    """SALib's problem definition of the varied parameters (uniform ranges)."""
    return {
        "num_vars": len(varied),
        "names": [v.name for v in varied],
        "bounds": [[v.low, v.high] for v in varied],
    }


def _levels(v: Varied, levels: int) -> tuple[float, ...]:
    if v.values is not None:
        return v.values
    points = np.linspace(v.low, v.high, levels)
    return tuple(np.unique(np.round(points)) if v.integer else points)


def design_size(design: str, varied: Sequence[Varied], *, samples: int, levels: int) -> int:
    """How many points ``sample`` gives (at most, for ``oat``), without drawing them."""
    k = len(varied)
    if design == "grid":
        return math.prod(len(_levels(v, levels)) for v in varied)
    if design == "oat":
        return 1 + sum(len(_levels(v, levels)) for v in varied)
    return {"lhs": samples, "sobol": samples * (k + 2), "morris": samples * (k + 1)}[design]


def sample(
    design: str,
    varied: Sequence[Varied],
    *,
    samples: int,
    levels: int,
    seed: int,
    baseline: Mapping[str, float],
) -> pd.DataFrame:
    """The design's points.

    Args:
        design: ``grid`` (full factorial), ``oat`` (one at a time around ``baseline``),
            ``lhs`` (``scipy.stats.qmc.LatinHypercube``), ``sobol`` (SALib's Saltelli scheme,
            first and total order: N(k+2) points) or ``morris`` (SALib, N(k+1) points).
        varied: The parameters.
        samples: Points (lhs), N (sobol), trajectories (morris).
        levels: Values per range (grid, oat) or Morris grid levels.
        seed: Seed of the sampler.
        baseline: Values of the parameters when not varied (oat).

    Returns:
        One row per design point (index ``sample``), one column per parameter; whole-number
        parameters rounded.
    """
    names = [v.name for v in varied]
    if design == "grid":
        x = np.array(list(itertools.product(*(_levels(v, levels) for v in varied))), dtype=float)
    elif design == "oat":
        rows = [[float(baseline[n]) for n in names]]
        for i, v in enumerate(varied):
            for value in _levels(v, levels):
                if value != rows[0][i]:
                    rows.append([*rows[0][:i], float(value), *rows[0][i + 1 :]])
        x = np.array(rows)
    elif design == "lhs":
        unit = qmc.LatinHypercube(d=len(varied), seed=seed).random(samples)
        x = qmc.scale(unit, [v.low for v in varied], [v.high for v in varied])
    elif design == "sobol":
        x = sobol_sample.sample(problem(varied), samples, calc_second_order=False, seed=seed)
    elif design == "morris":
        x = morris_sample.sample(problem(varied), samples, num_levels=levels, seed=seed)
    else:
        raise ValueError(f"unknown design {design!r}")
    frame = pd.DataFrame(x, columns=names).rename_axis("sample")
    for v in varied:
        if v.integer:
            frame[v.name] = frame[v.name].round()
    return frame


def analyse(
    design: str,
    varied: Sequence[Varied],
    x: pd.DataFrame,
    y: pd.Series,
    *,
    levels: int,
    seed: int,
) -> pd.DataFrame | None:
    """Sensitivity indices of one output, or None for designs without them (grid, oat, lhs).

    Args:
        design: The design that produced ``x``.
        varied: The parameters.
        x: ``sample``'s points.
        y: The output per design point, indexed by sample like ``x``.
        levels: Morris grid levels.
        seed: Seed of the bootstrap.

    Returns:
        One row per parameter: ``parameter`` and ``INDEX_COLUMNS[design]``.
    """
    if design not in INDEX_COLUMNS:
        return None
    values = y.reindex(x.index).to_numpy(dtype=float)  # by sample index, never arrival order
    if np.isnan(values).any():
        raise ValueError("an output is missing for some design points")
    spec = problem(varied)
    if design == "sobol":
        si = sobol_analyze.analyze(
            spec, values, calc_second_order=False, conf_level=CONFIDENCE, seed=seed
        )
    else:
        si = morris_analyze.analyze(
            spec, x.to_numpy(), values, conf_level=CONFIDENCE, num_levels=levels, seed=seed
        )
    table = pd.DataFrame({c: np.asarray(si[c], dtype=float) for c in INDEX_COLUMNS[design]})
    table.insert(0, "parameter", spec["names"])
    return table
