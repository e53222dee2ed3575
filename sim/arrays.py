"""Array helpers the mechanisms share (one place, so both engines add up alike)."""

from __future__ import annotations

import numpy as np


def sum_last(values):
    """``values.sum(axis=-1)``, bit for bit, but fast on the model's short axes.

    NumPy reduces a short contiguous last axis slowly: summing the lead-time axis of a
    (1000, 32, 5, 4) order pipeline takes about ten times as long as adding its four slices.
    Below 8 elements NumPy adds them in order, so adding the slices in order gives the same
    numbers; longer axes (and 1-D arrays) go to ``np.sum``.
    """
    values = np.asarray(values)
    n = values.shape[-1] if values.ndim else 0
    if values.ndim < 2 or n < 2 or n >= 8:
        return values.sum(axis=-1)
    total = values[..., 0] + values[..., 1]
    for i in range(2, n):
        total += values[..., i]
    return total


def by_category(values) -> np.ndarray:
    """Per-category values (one float or per-run array each) as one array, categories last."""
    return np.stack(np.broadcast_arrays(*values), axis=-1)


def per_category(value):
    """A parameter as it meets arrays with categories last.

    A per-run (runs, 1) array gains an axis to line up with (runs, allies, categories).
    """
    return np.expand_dims(value, -1) if np.ndim(value) else value
