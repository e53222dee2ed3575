"""Array helpers the mechanisms share (one place, so both engines add up alike).

Also the array engine's allocator setting (``keep_freed_memory``).
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
"""glibc's ``mallopt`` parameters (``malloc.h``)."""


@functools.cache
def keep_freed_memory() -> bool:
    """Let glibc's allocator keep freed memory for reuse; a no-op without glibc.

    The array engine's temporaries are large (1.3 MB for 1,000 runs x 32 allies x 5
    categories) and short-lived. By default glibc serves blocks above its mmap threshold
    (128 KiB at first) from fresh mappings and trims the free top of its heap, so temporaries
    keep landing on pages the kernel must fault in anew: about a fifth of ``simulate_points``'s
    time on a 1,000-run chunk. With blocks up to 32 MiB (glibc's largest threshold) taken from
    the heap, and up to 128 MiB of free heap kept, they reuse warm pages. Numbers do not
    change, only where they live.

    Returns:
        Whether the allocator took both settings.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    mmap = mallopt(_M_MMAP_THRESHOLD, 32 * 2**20)
    trim = mallopt(_M_TRIM_THRESHOLD, 128 * 2**20)
    return bool(mmap and trim)


def sum_last(values):
    """``values.sum(axis=-1)``, bit for bit, but fast on the model's short axes.

    NumPy reduces a short contiguous last axis slowly: summing the lead-time axis of a
    (1000, 32, 5, 4) order pipeline takes about ten times as long as adding its four slices.
    Below 8 elements NumPy adds them in order, so adding the slices in order gives the same
    numbers, whatever the memory order; longer axes (and 1-D arrays) go to ``np.sum`` on a
    C-ordered copy, as NumPy sums a contiguous axis pairwise and a strided one in order.
    """
    values = np.asarray(values)
    n = values.shape[-1] if values.ndim else 0
    if values.ndim < 2 or n < 2 or n >= 8:
        return np.ascontiguousarray(values).sum(axis=-1)
    total = values[..., 0] + values[..., 1]
    for i in range(2, n):
        total += values[..., i]
    total += 0  # NumPy starts from 0: a sum of negative zeros is +0
    return total


def sum_allies(values):
    """``values.sum(axis=-2)``, bit for bit, but fast on arrays of runs x allies x categories.

    NumPy adds along the allies axis of a C-ordered array one ally after the other, but slowly
    when the last axis is short (five categories); adding the allies' slices in order gives the
    same numbers. Other arrays (and a last axis of one, which NumPy sums pairwise) go to
    ``np.sum``.
    """
    values = np.asarray(values)
    if values.ndim < 3 or not values.flags.c_contiguous or min(values.shape[-2:]) < 2:
        return values.sum(axis=-2)
    total = values[..., 0, :] + values[..., 1, :]
    for i in range(2, values.shape[-2]):
        total += values[..., i, :]
    total += 0  # NumPy starts from 0: a sum of negative zeros is +0
    return total


def by_category(values) -> np.ndarray:
    """Per-category values (one float or per-run array each) as one array, categories last."""
    return np.stack(np.broadcast_arrays(*values), axis=-1)


def per_category(value):
    """A parameter as it meets arrays with categories last.

    A per-run (runs, 1) array gains an axis to line up with (runs, allies, categories).
    """
    return np.expand_dims(value, -1) if np.ndim(value) else value
