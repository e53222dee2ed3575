import numpy as np
import pandas as pd
import pytest
from pytest import approx
from SALib.test_functions import Ishigami

from sim.designs import analyse, sample
from sim.experiment import Varied

PI = float(np.pi)
ISHIGAMI = [Varied(f"x{i}", -PI, PI, None, False) for i in (1, 2, 3)]


def _run(design, varied, f, **kw):
    x = sample(design, varied, seed=3, baseline={v.name: v.low for v in varied}, **kw)
    y = pd.Series(f(x.to_numpy()), index=x.index)
    return x, y


def test_sobol_recovers_the_ishigami_indices():
    """Known values (Ishigami & Homma 1990): S1 = .314, .442, 0; ST = .558, .442, .244."""
    x, y = _run("sobol", ISHIGAMI, Ishigami.evaluate, samples=4096, levels=4)
    assert len(x) == 4096 * (3 + 2)
    shuffled = y.sample(frac=1.0, random_state=0)  # arrival order must not matter
    si = analyse("sobol", ISHIGAMI, x, shuffled, levels=4, seed=1).set_index("parameter")
    assert si["S1"].to_numpy() == approx([0.314, 0.442, 0.0], abs=0.03)
    assert si["ST"].to_numpy() == approx([0.558, 0.442, 0.244], abs=0.03)
    assert (si["S1_conf"] > 0).all() and (si["ST_conf"] < 0.1).all()


def test_morris_gives_the_slopes_of_a_linear_function():
    """f = 3 x1 + x2 on [0, 1]^3: mu* = 3, 1, 0 and sigma = 0."""
    varied = [Varied(f"x{i}", 0.0, 1.0, None, False) for i in (1, 2, 3)]
    x, y = _run("morris", varied, lambda a: 3 * a[:, 0] + a[:, 1], samples=10, levels=4)
    assert len(x) == 10 * 4
    si = analyse("morris", varied, x, y, levels=4, seed=1).set_index("parameter")
    assert si["mu_star"].to_numpy() == approx([3.0, 1.0, 0.0])
    assert si["sigma"].to_numpy() == approx([0.0, 0.0, 0.0], abs=1e-9)


def test_grid_oat_and_lhs_points():
    a = Varied("a", 0.0, 1.0, (0.0, 0.5, 1.0), False)
    b = Varied("b", 1.0, 8.0, None, True)
    grid = sample("grid", [a, b], samples=0, levels=3, seed=1, baseline={})
    assert len(grid) == 9 and set(grid["b"]) == {1.0, 4.0, 8.0}  # 4.5 rounds to 4 (even)
    oat = sample("oat", [a, b], samples=0, levels=3, seed=1, baseline={"a": 0.5, "b": 3})
    assert oat.iloc[0].tolist() == [0.5, 3.0] and len(oat) == 1 + 2 + 3
    assert ((oat["a"] != 0.5) & (oat["b"] != 3)).sum() == 0  # one at a time
    lhs = sample("lhs", [Varied("c", 2.0, 4.0, None, False)], samples=10, levels=4, seed=7,
                 baseline={})  # fmt: skip
    strata = np.floor((lhs["c"] - 2.0) / 0.2).astype(int)
    assert sorted(strata) == list(range(10))  # one point per stratum
    again = sample("lhs", [Varied("c", 2.0, 4.0, None, False)], samples=10, levels=4, seed=7,
                   baseline={})  # fmt: skip
    pd.testing.assert_frame_equal(lhs, again)


def test_designs_without_indices_and_missing_outputs():
    x, y = _run("lhs", ISHIGAMI, Ishigami.evaluate, samples=8, levels=4)
    assert analyse("lhs", ISHIGAMI, x, y, levels=4, seed=1) is None
    x, y = _run("morris", ISHIGAMI, Ishigami.evaluate, samples=4, levels=4)
    with pytest.raises(ValueError, match="missing"):
        analyse("morris", ISHIGAMI, x, y.iloc[:-1], levels=4, seed=1)
