"""Hypothesis strategies shared by the tests."""

from hypothesis import strategies as st

from sim.parameters import PARAMETERS


@st.composite
def parameter_sets(draw, max_size: int = 12):
    """Random values, within range, for a random subset of the parameters."""
    names = draw(st.lists(st.sampled_from(sorted(PARAMETERS)), max_size=max_size, unique=True))
    values = {}
    for name in names:
        p = PARAMETERS[name]
        if p.integer:
            values[name] = draw(st.integers(int(p.low), int(p.high)))
        else:
            values[name] = draw(st.floats(p.low, p.high, allow_nan=False))
    return values
