"""Scenario discovery: which parameter ranges explain a yes/no outcome (PRIM and CART).

Both come from the EMA Workbench (``ema_workbench.analysis``): PRIM (Friedman & Fisher 1999)
peels the sampled space down to a box where the outcome is dense; CART gives a tree's leaves as a
second view. EMA 3.0.0's PRIM fails on integer columns under pandas 3 (EMA issue #448), so the
samples are passed as floats.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_COVERAGE = 0.8
"""The reported PRIM box is the densest one on the peeling trajectory that still holds this
share of the cases (the usual coverage-density trade-off; the whole trajectory is kept)."""


@dataclass(frozen=True)
class DiscoveryResult:
    """PRIM's peeling trajectory and chosen box, and CART's boxes.

    Attributes:
        cases: Design points where the outcome holds.
        points: Design points.
        trajectory: PRIM peeling steps: ``coverage, density, mass, res_dim``.
        box: The chosen box: ``parameter, low, high`` of the restricted parameters.
        coverage: Share of all cases inside the box.
        density: Share of points in the box that are cases.
        cart: CART leaves where the outcome dominates: ``leaf, parameter, low, high, coverage,
            density, mass``.
    """

    cases: int
    points: int
    trajectory: pd.DataFrame
    box: pd.DataFrame
    coverage: float
    density: float
    cart: pd.DataFrame


def _ema():
    with warnings.catch_warnings():  # ema_workbench warns that ipyparallel is missing
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import cart, prim
    return prim, cart


def discover(x: pd.DataFrame, y: np.ndarray) -> DiscoveryResult:
    """Find the parameter ranges that explain ``y``.

    Args:
        x: Design points, one column per parameter.
        y: Whether the outcome holds at each point.

    Returns:
        The PRIM trajectory and box and the CART leaves.

    Raises:
        ValueError: The outcome never or always holds (nothing to discover).
    """
    y = np.asarray(y, dtype=bool)
    if y.all() or not y.any():
        raise ValueError(f"the outcome holds in {int(y.sum())} of {len(y)} points")
    prim, cart = _ema()
    x = x.astype(float).reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        box = prim.Prim(x, y, peel_alpha=0.05).find_box()
    trajectory = box.peeling_trajectory[["coverage", "density", "mass", "res_dim"]].copy()
    eligible = trajectory[trajectory["coverage"] >= MIN_COVERAGE]
    step = int(eligible["density"].idxmax()) if len(eligible) else 0
    lims = box.box_lims[step]
    full = box.box_lims[0]
    restricted = [c for c in x.columns if not np.allclose(lims[c], full[c])]
    limits = pd.DataFrame(
        {"parameter": restricted, "low": [lims[c][0] for c in restricted],
         "high": [lims[c][1] for c in restricted]}
    )  # fmt: skip
    return DiscoveryResult(
        cases=int(y.sum()),
        points=len(y),
        trajectory=trajectory.reset_index(drop=True),
        box=limits,
        coverage=float(trajectory.loc[step, "coverage"]),
        density=float(trajectory.loc[step, "density"]),
        cart=_cart_leaves(cart, x, y),
    )


def _cart_leaves(cart, x: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
    tree = cart.CART(x, y, mass_min=max(0.05, 1 / len(y)))  # a leaf holds at least one point
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree.build_tree()
    rows = []
    full = x.agg(["min", "max"])
    for leaf, (lims, stats) in enumerate(zip(tree.boxes, tree.stats, strict=True)):
        if stats["density"] < 0.5:
            continue
        for c in x.columns:
            low, high = float(lims[c].iloc[0]), float(lims[c].iloc[1])
            if low > full.loc["min", c] + 1e-12 or high < full.loc["max", c] - 1e-12:
                rows.append(
                    {"leaf": leaf, "parameter": c, "low": low, "high": high,
                     "coverage": float(stats["coverage"]), "density": float(stats["density"]),
                     "mass": float(stats["mass"])}
                )  # fmt: skip
    return pd.DataFrame(
        rows, columns=["leaf", "parameter", "low", "high", "coverage", "density", "mass"]
    )
