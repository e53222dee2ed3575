import numpy as np
import pandas as pd
import pytest
from pytest import approx

from sim.discovery import discover


def test_prim_and_cart_find_a_planted_box():
    """The outcome holds exactly where a > 0.6 and b < 0.4; c is noise."""
    rng = np.random.default_rng(1)
    x = pd.DataFrame(rng.random((600, 3)), columns=["a", "b", "c"])
    y = ((x["a"] > 0.6) & (x["b"] < 0.4)).to_numpy()
    found = discover(x, y)
    box = found.box.set_index("parameter")
    assert set(box.index) == {"a", "b"}
    assert box.loc["a", "low"] == approx(0.6, abs=0.05) and box.loc["b", "high"] == approx(
        0.4, abs=0.05
    )
    assert found.coverage >= 0.8 and found.density > 0.9
    assert found.cases == int(y.sum()) and found.points == 600
    leaf = found.cart[found.cart["density"] > 0.9]
    assert set(leaf["parameter"]) >= {"a", "b"}


def test_discovery_needs_both_outcomes():
    x = pd.DataFrame({"a": np.linspace(0, 1, 10)})
    with pytest.raises(ValueError, match="10 of 10"):
        discover(x, np.ones(10, dtype=bool))
