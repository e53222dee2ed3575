"""sim.arrays: the array helpers both engines share, against plain numpy."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sim.arrays import by_category, per_category, sum_allies, sum_last

FLOATS = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)
SHAPES = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=10)


def _same_bits(a, b) -> bool:
    """Whether two float arrays hold the very same numbers, bit for bit."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


@settings(max_examples=100, deadline=None)
@given(values=hnp.arrays(np.float64, SHAPES, elements=FLOATS))
def test_sum_last_is_numpys_sum_over_the_last_axis_bit_for_bit(values):
    """Same shape and the very same numbers as ``values.sum(axis=-1)`` (C order, as the model)."""
    before = values.copy()
    got = sum_last(values)
    assert _same_bits(got, values.sum(axis=-1))
    np.testing.assert_array_equal(values, before)  # the input is left alone


@settings(max_examples=100, deadline=None)
@given(values=hnp.arrays(np.float64, SHAPES, elements=FLOATS))
def test_sum_last_gives_the_same_numbers_whatever_the_memory_order(values):
    """A Fortran-ordered copy or a strided view sums to the C-ordered array's numbers."""
    want = sum_last(values)
    assert _same_bits(sum_last(np.asfortranarray(values)), want)
    doubled = np.repeat(values, 2, axis=-1)[..., ::2]  # the same values, every other element
    assert not doubled.flags.c_contiguous or values.shape[-1] == 1
    assert _same_bits(sum_last(doubled), want)


@settings(max_examples=100, deadline=None)
@given(
    values=hnp.arrays(
        np.float64, hnp.array_shapes(min_dims=2, max_dims=4, max_side=10), elements=FLOATS
    ),
    order=st.sampled_from("CF"),
)
def test_sum_allies_is_numpys_sum_over_the_allies_axis_bit_for_bit(values, order):
    """Same shape and the very same numbers as ``values.sum(axis=-2)``, any layout."""
    values = np.asarray(values, order=order)
    before = values.copy()
    assert _same_bits(sum_allies(values), values.sum(axis=-2))
    np.testing.assert_array_equal(values, before)


@settings(max_examples=50, deadline=None)
@given(values=hnp.arrays(np.int64, SHAPES, elements=st.integers(-1000, 1000)))
def test_sum_last_adds_integers_exactly(values):
    """Integer arrays sum exactly, as numpy's sum does."""
    np.testing.assert_array_equal(sum_last(values), values.sum(axis=-1))


def test_sum_last_of_a_pipeline_shaped_array_and_of_lists():
    """A (runs, allies, categories, lead years) pipeline, and a nested list, as numpy sums them."""
    pipeline = np.random.default_rng(3).random((50, 32, 5, 4))
    got = sum_last(pipeline)
    assert got.shape == (50, 32, 5)
    assert _same_bits(got, pipeline.sum(axis=-1))
    assert sum_last([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).tolist() == [6.0, 15.0]
    assert sum_last(np.array([0.1, 0.2, 0.3])) == np.array([0.1, 0.2, 0.3]).sum()


def test_by_category_stacks_floats_into_one_axis_last():
    """Floats only: one value per category, in order."""
    out = by_category([0.1, 0.2, 0.3, 0.4, 0.5])
    assert out.shape == (5,)
    np.testing.assert_array_equal(out, [0.1, 0.2, 0.3, 0.4, 0.5])


@settings(max_examples=50, deadline=None)
@given(runs=st.integers(1, 6), data=st.data())
def test_by_category_broadcasts_per_run_arrays_and_puts_categories_last(runs, data):
    """Floats and (runs, 1) arrays give (runs, 1, categories), each float repeated per run."""
    per_run = [data.draw(st.booleans()) for _ in range(5)]
    values = [
        np.array(data.draw(st.lists(FLOATS, min_size=runs, max_size=runs)))[:, None]
        if arrayed
        else data.draw(FLOATS)
        for arrayed in per_run
    ]
    out = by_category(values)
    shape = (runs, 1, 5) if any(per_run) else (5,)
    assert out.shape == shape
    for c, value in enumerate(values):
        np.testing.assert_array_equal(out[..., c], np.broadcast_to(value, shape[:-1]))


def test_per_category_leaves_a_float_alone_and_lines_a_per_run_array_up_with_categories():
    """A float is returned as is; a (runs, 1) array becomes (runs, 1, 1)."""
    assert per_category(0.25) == 0.25
    values = np.array([[0.1], [0.2], [0.3]])
    lined_up = per_category(values)
    assert lined_up.shape == (3, 1, 1)
    stock = np.ones((3, 32, 5))
    scaled = lined_up * stock
    assert scaled.shape == (3, 32, 5)
    for r in range(3):
        np.testing.assert_array_equal(scaled[r], values[r, 0] * stock[r])
