"""Seeds of every run, and the random shocks of one run drawn up front from its own generator.

One root seed per batch (or sweep). Scenario (or design point) i gets
``SeedSequence(seed).spawn(n)[i]`` and its replication r gets that sequence's r-th child, so
adding scenarios or replications never changes the seeds of existing runs.

A chunk of runs needs thousands of seed sequences, and NumPy builds each one in a Python loop.
``_mixed_pools`` and ``_generated`` run NumPy's own ``SeedSequence`` hash (O'Neill's
``seed_seq``, ``numpy/random/bit_generator.pyx``) on arrays of runs at once: the same words,
so the same seeds and the same generators (tests compare them with ``SeedSequence`` and
``default_rng`` on many seeds). Values outside its domain (negative, not integers, run seeds
of 2**64 or more, root seeds of 2**128 or more, indices of 2**32 or more) go to NumPy itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.random.bit_generator import ISeedSequence


@dataclass(frozen=True)
class Shocks:
    """Standard normal draws for every stochastic term of one run.

    Attributes:
        threat: Threat innovations, one per simulated year.
        spending: Core-share implementation errors, years x allies.
        gdp: GDP growth innovations, years x allies.
    """

    threat: np.ndarray
    spending: np.ndarray
    gdp: np.ndarray


def draw_shocks(rng: np.random.Generator, n_years: int, n_allies: int) -> Shocks:
    """Draw a run's shocks in one call, so any engine seeded alike sees the same numbers.

    Args:
        rng: The run's generator (``numpy.random.default_rng(seed)``).
        n_years: Simulated years (the start year is observed, not simulated).
        n_allies: Number of allies.

    Returns:
        The run's shocks.
    """
    return _split(rng.standard_normal(_shape(n_years, n_allies)), n_allies)


def _shape(n_years: int, n_allies: int) -> tuple[int, int]:
    """Every draw of one run: years x (threat, spending per ally, GDP per ally)."""
    return n_years, 1 + 2 * n_allies


def _split(z: np.ndarray, n_allies: int) -> Shocks:
    """The shocks in draws laid out as ``_shape``'s (with any leading axes)."""
    return Shocks(threat=z[..., 0], spending=z[..., 1 : 1 + n_allies], gdp=z[..., 1 + n_allies :])


def stack_shocks(seeds: Sequence[int], n_years: int, n_allies: int) -> Shocks:
    """Every run's shocks, each drawn by ``draw_shocks`` from its own seed, stacked runs first.

    Run r sees exactly the numbers ``AllianceModel(rng=seeds[r])`` draws: its generator is
    ``default_rng(seeds[r])``'s PCG64, seeded from the words ``_pcg64_seeds`` computes for
    every run at once.
    """
    z = np.empty((len(seeds), *_shape(n_years, n_allies)))
    for out, seed_seq in zip(z, _pcg64_seeds(seeds), strict=True):
        np.random.Generator(np.random.PCG64(seed_seq)).standard_normal(out=out)
    return _split(z, n_allies)


class _Words(ISeedSequence):
    """A seed sequence whose state words are already known (``_pcg64_seeds``)."""

    __slots__ = ("words",)

    def __init__(self, words: np.ndarray):
        self.words = words

    def generate_state(self, n_words, dtype=np.uint32):
        """The four 64-bit words PCG64 asks for (the only request it makes)."""
        if n_words != len(self.words) or np.dtype(dtype) != self.words.dtype:
            raise ValueError(f"holds {len(self.words)} {self.words.dtype} words")
        return self.words


def _pcg64_seeds(seeds: Sequence[int]) -> list[ISeedSequence]:
    """Each run's PCG64 seed as ``default_rng(seed)`` makes it.

    ``SeedSequence(seed).generate_state(4, uint64)``, computed for seeds in [0, 2**64) at once
    (a seed of one or two 32-bit words hashes as if padded with zeros to the pool's four);
    other seeds keep their own ``SeedSequence``.
    """
    fast = [_is_int(seed) and 0 <= int(seed) < 2**64 for seed in seeds]
    values = np.array([int(s) if ok else 0 for s, ok in zip(seeds, fast, strict=True)], np.uint64)
    words = np.zeros((len(values), _POOL), np.uint32)
    words[:, 0] = values & np.uint64(_MASK32)
    words[:, 1] = values >> np.uint64(32)
    state = _generated(_mixed_pools(words), 2 * _POOL).astype(np.uint64)
    pairs = state[:, 0::2] | (state[:, 1::2] << np.uint64(32))  # little-endian, as NumPy
    return [
        _Words(pair) if ok else np.random.SeedSequence(seed)
        for seed, ok, pair in zip(seeds, fast, pairs, strict=True)
    ]


def run_seeds(seed: int, n_scenarios: int, replications: int) -> list[list[tuple[int, tuple]]]:
    """(seed, spawn key) of every run, by scenario then replication.

    Args:
        seed: The batch's root seed.
        n_scenarios: Scenarios in the batch.
        replications: Runs per scenario.

    Returns:
        ``out[i][r]`` for scenario i, replication r.
    """
    return [point_seeds(seed, i, replications) for i in range(n_scenarios)]


def point_seeds(seed: int, index: int, replications: int) -> list[tuple[int, tuple]]:
    """(seed, spawn key) of each replication of scenario (or design point) ``index``.

    Its ``SeedSequence`` is ``SeedSequence(seed).spawn(n)[index]`` for any n > ``index``
    (entropy ``seed``, spawn key ``(index,)``), so a worker can make a point's seeds alone.
    Replication r's seed is the first 64 bits its child (spawn key ``(index, r)``) generates,
    shifted right by one (63 bits).
    """
    seeds = points_seeds(seed, [index], replications)[0].tolist()
    return [(run_seed, (index, r)) for r, run_seed in enumerate(seeds)]


def replication_seeds(seed: int, index: int, replications: int) -> list[int]:
    """The seeds alone of ``point_seeds``: one per replication of scenario or point ``index``."""
    return points_seeds(seed, [index], replications)[0].tolist()


def points_seeds(seed: int, indices: Sequence[int], replications: int) -> np.ndarray:
    """``replication_seeds`` of several points at once.

    Returns:
        (points, replications) int64 array: row i is ``replication_seeds(seed, indices[i], .)``.
    """
    fast = (
        len(indices) * replications >= _FEW
        and _is_int(seed)
        and 0 <= seed < 2**128
        and _is_int(replications)
        and 0 <= replications <= 2**32
        and all(_is_int(i) and 0 <= i < 2**32 for i in indices)
    )
    if not fast:
        children = [
            np.random.SeedSequence(seed, spawn_key=(index,)).spawn(replications)
            for index in indices
        ]
        state = [[child.generate_state(1, np.uint64)[0] >> 1 for child in c] for c in children]
        return np.array(state, dtype=np.int64).reshape(len(children), replications)
    words = np.empty((len(indices) * replications, _POOL + 2), np.uint32)
    words[:, :_POOL] = [(int(seed) >> (32 * k)) & _MASK32 for k in range(_POOL)]
    words[:, _POOL] = np.repeat(np.array(indices, dtype=np.uint32), replications)
    words[:, _POOL + 1] = np.tile(np.arange(replications, dtype=np.uint32), len(indices))
    state = _generated(_mixed_pools(words), 2).astype(np.uint64)
    first = state[:, 0] | (state[:, 1] << np.uint64(32))
    return (first >> np.uint64(1)).astype(np.int64).reshape(len(indices), replications)


def _is_int(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


_FEW = 16
"""Runs below which NumPy's own ``SeedSequence`` is the quicker (arrays cost a fixed ~0.2 ms)."""
_MASK32 = 0xFFFFFFFF
_POOL = 4
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R = 0xCA01F9DD, 0x4973F715


class _Hash:
    """``SeedSequence``'s hashmix on arrays of words; its multiplier moves on at every call."""

    def __init__(self, start: int, mult: int):
        self.const, self.mult = start, mult

    def __call__(self, value: np.ndarray) -> np.ndarray:
        value = value ^ np.uint32(self.const)
        self.const = (self.const * self.mult) & _MASK32
        value = value * np.uint32(self.const)
        return value ^ (value >> np.uint32(16))


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    result = np.uint32(_MIX_MULT_L) * x - np.uint32(_MIX_MULT_R) * y
    return result ^ (result >> np.uint32(16))


def _mixed_pools(words: np.ndarray) -> list[np.ndarray]:
    """``SeedSequence.mix_entropy`` of each row of entropy words (rows, at least 4 words)."""
    hashmix = _Hash(_INIT_A, _MULT_A)
    pool = [hashmix(words[:, i]) for i in range(_POOL)]
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = _mix(pool[dst], hashmix(pool[src]))
    for src in range(_POOL, words.shape[1]):
        for dst in range(_POOL):
            pool[dst] = _mix(pool[dst], hashmix(words[:, src]))
    return pool


def _generated(pool: list[np.ndarray], n_words: int) -> np.ndarray:
    """``SeedSequence.generate_state(n_words, uint32)`` of each pool: (rows, n_words)."""
    hashmix = _Hash(_INIT_B, _MULT_B)
    return np.stack([hashmix(pool[i % _POOL]) for i in range(n_words)], axis=1)
