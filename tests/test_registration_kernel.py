"""Radar registration's per-cycle kernel (ext/registration.pyx, through
gateway/associate/registration.py) against the numpy code it replaced, kept here as the
reference: which plots of a cycle are learnt from (Mode S plots, and in dense traffic the
hashed share of addresses) and their tracks' velocities; on random cases, empty cycles, a
single plot, NaN variances, sparse and dense traffic; and hostile inputs (indices out of
range, shapes that do not match) that must raise, never read out of bounds.  Results must
be equal, floats to the bit."""

from __future__ import annotations

import numpy as np
import pytest

from gateway._registration import modes_share, velocities
from gateway.associate.measurements import MODES

SEEDS = range(40)


# -- the reference: the numpy code the kernel replaced -----------------------------------------

def ref_modes_share(kind, icao24, idx, rate, per_cycle):
    sel = kind[idx] == MODES
    n = int(sel.sum())
    if n == 0:
        return np.zeros(0, dtype=np.int64), rate
    rate += 0.05 * (n - rate)
    share = per_cycle / rate
    if share < 1.0:
        hashed = (icao24[idx] * 2654435761) & 0xFFFFFFFF
        sel &= hashed < share * 2.0 ** 32
    return sel.nonzero()[0], rate


def ref_velocities(x, P, rows, keep):
    v = x[rows, 2:4]
    vvar = np.fmax(P[rows, 2, 2], P[rows, 3, 3])
    return v[keep], vvar[keep]


def case(seed: int, n_plots: int | None = None):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 60)) if n_plots is None else n_plots
    kind = rng.integers(0, 4, n).astype(np.int64)
    ident = np.stack([rng.integers(-1, 1 << 24, n), rng.integers(-1, 4096, n)], axis=1)
    icao24 = ident[:, 0]  # a strided view, as Measurements.icao24 is
    idx = np.sort(rng.choice(n, int(rng.integers(0, n + 1)), replace=False)).astype(np.int64)
    T = 50
    x = rng.normal(0, 200, (T, 4))
    A = rng.normal(0, 10, (T, 4, 4))
    P = A @ A.transpose(0, 2, 1)
    P[rng.random(T) < 0.1, 2, 2] = np.nan
    P[rng.random(T) < 0.1, 3, 3] = np.nan
    rows = rng.integers(0, T, len(idx)).astype(np.int64)
    rate = float(rng.uniform(0.0, 40.0))
    per_cycle = float(rng.choice([1.0, 4.0, 8.0, 100.0]))
    return kind, icao24, idx, x, P, rows, rate, per_cycle


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("seed", SEEDS)
def test_modes_share_and_velocities_are_numpys(seed: int) -> None:
    kind, icao24, idx, x, P, rows, rate, per_cycle = case(seed)
    keep, r = modes_share(kind, icao24, idx, MODES, rate, per_cycle)
    keep_ref, r_ref = ref_modes_share(kind, icao24, idx, rate, per_cycle)
    assert same(keep, keep_ref)
    assert r == r_ref  # to the bit
    v, w = velocities(x, P, rows, keep)
    v_ref, w_ref = ref_velocities(x, P, rows, keep_ref)
    assert same(v, v_ref) and same(w, w_ref)


def test_dense_traffic_keeps_a_share_of_addresses() -> None:
    """Above the rate the hash leaves some out (the case the random ones may miss)."""
    n = 200
    kind = np.full(n, MODES, dtype=np.int64)
    icao24 = np.arange(0x400000, 0x400000 + n, dtype=np.int64)
    idx = np.arange(n, dtype=np.int64)
    keep, rate = modes_share(kind, icao24, idx, MODES, 100.0, 8.0)
    keep_ref, rate_ref = ref_modes_share(kind, icao24, idx, 100.0, 8.0)
    assert 0 < len(keep) < n and same(keep, keep_ref) and rate == rate_ref


def test_empty_single_and_no_modes() -> None:
    x, P = np.zeros((3, 4)), np.zeros((3, 4, 4))
    z = np.zeros(0, dtype=np.int64)
    keep, rate = modes_share(z, z, z, MODES, 5.0, 8.0)
    assert len(keep) == 0 and keep.dtype == np.int64 and rate == 5.0  # unchanged
    v, w = velocities(x, P, z, z)
    assert v.shape == (0, 2) and w.shape == (0,)
    kind = np.array([MODES], dtype=np.int64)
    one = np.zeros(1, dtype=np.int64)
    keep, rate = modes_share(kind, np.array([0xABCDEF]), one, MODES, 0.0, 8.0)
    assert keep.tolist() == [0] and rate == 0.05
    keep, rate = modes_share(kind + 1, np.array([0xABCDEF]), one, MODES, 3.0, 8.0)
    assert len(keep) == 0 and rate == 3.0  # no Mode S plot: the rate stays
    P[0, 2, 2], P[0, 3, 3] = np.nan, 4.0
    v, w = velocities(x, P, one, one)
    assert w.tolist() == [4.0]  # numpy's fmax: a nan loses
    P[0, 3, 3] = np.nan
    assert np.isnan(velocities(x, P, one, one)[1][0])


def test_hostile_inputs_raise() -> None:
    kind = np.full(3, MODES, dtype=np.int64)
    icao = np.arange(3, dtype=np.int64)
    with pytest.raises(IndexError):
        modes_share(kind, icao, np.array([3], dtype=np.int64), MODES, 1.0, 8.0)
    with pytest.raises(IndexError):
        modes_share(kind, icao, np.array([-1], dtype=np.int64), MODES, 1.0, 8.0)
    with pytest.raises(ValueError):
        modes_share(kind, icao[:2], np.zeros(1, dtype=np.int64), MODES, 1.0, 8.0)
    x, P = np.zeros((3, 4)), np.zeros((3, 4, 4))
    rows = np.array([0, 5], dtype=np.int64)
    with pytest.raises(IndexError):  # a track row outside the table
        velocities(x, P, rows, np.array([1], dtype=np.int64))
    with pytest.raises(IndexError):  # a position outside rows
        velocities(x, P, rows, np.array([2], dtype=np.int64))
    with pytest.raises(ValueError):
        velocities(x[:, :3], P, rows, np.zeros(1, dtype=np.int64))
    with pytest.raises(ValueError):
        velocities(x, P[:2], rows, np.zeros(1, dtype=np.int64))
