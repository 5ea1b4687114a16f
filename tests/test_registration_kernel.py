"""Radar registration's per-cycle kernel (ext/registration.pyx's ``keep_cycle``, through
gateway/associate/registration.py) against the numpy code it replaced, kept here as the
reference: which plots of a cycle are learnt from (Mode S plots, and in dense traffic the
hashed share of addresses), their tracks' velocities, the test of their geometry and the
records ``_work`` made of them; on random cases, empty cycles, a single plot, NaN
variances and geometries, sparse and dense traffic, cycles written after earlier ones;
and hostile inputs (indices out of range, shapes that do not match, buffers too small)
that must raise, never read out of bounds.  Results must be equal, floats to the bit."""

from __future__ import annotations

import numpy as np
import pytest

from gateway._registration import keep_cycle
from gateway.associate.measurements import MODES
from gateway.associate.registration import REFERENCE_M

SEEDS = range(40)
KEPT = 15  # the record (12), velocity x, y, its variance


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


def ref_records(cols, noise):
    """``Registration._records`` as it was: from (t, x, y, line of sight x, y, slant,
    ground, scale) and the radar's (range, azimuth) noise variances."""
    k = cols[:, 7]
    u = cols[:, 3:5]
    w = np.stack([u[:, 1], -u[:, 0]], axis=1)
    slant, ground = cols[:, 5], cols[:, 6] * k
    f = np.fmax(slant * k / ground, 1.0)
    rec = np.empty((len(cols), 12))
    rec[:, :3] = cols[:, :3]
    h = np.empty((len(cols), 2, 3))
    h[:, :, 0] = (f * k)[:, None] * u
    h[:, :, 1] = (f * k * slant / REFERENCE_M)[:, None] * u
    h[:, :, 2] = (ground / REFERENCE_M)[:, None] * w
    rec[:, 3:9] = h.reshape(-1, 6)
    along, across = noise[:, 0] * (f * k) ** 2, noise[:, 1] * ground ** 2
    rec[:, 9] = along * u[:, 0] ** 2 + across * w[:, 0] ** 2
    rec[:, 10] = along * u[:, 0] * u[:, 1] + across * w[:, 0] * w[:, 1]
    rec[:, 11] = along * u[:, 1] ** 2 + across * w[:, 1] ** 2
    return rec


def ref_cycle(source, noise, kind, icao24, idx, rate, per_cycle, rows, x, P, plots):
    """``Registration.after`` then ``_work`` in numpy: the plots chosen, their velocities,
    those of usable geometry and their records.  Returns (rows [m, 15], ids [m, 2], the
    count chosen, the rate)."""
    keep, rate = ref_modes_share(kind, icao24, idx, rate, per_cycle)
    v, vvar = ref_velocities(x, P, rows, keep)
    j = idx[keep]
    t, xy, los_x, los_y, slant, ground, k = plots
    cols = np.stack([t[j], xy[j, 0], xy[j, 1], los_x[j], los_y[j], slant[j], ground[j],
                     k[j]], axis=1)
    ok = np.isfinite(cols).all(axis=1) & (cols[:, 5] > 0) & (cols[:, 6] > 0)
    cols, v, vvar, address = cols[ok], v[ok], vvar[ok], icao24[j][ok]
    rec = ref_records(cols, np.tile(noise, (len(cols), 1)))
    num = np.concatenate([rec, v, vvar[:, None]], axis=1)
    ids = np.stack([np.full(len(cols), source), address], axis=1).astype(np.int64)
    return num, ids, len(keep), rate


def plots_of(rng: np.random.Generator, n: int):
    """A cycle's columns as Measurements holds them, with nan, zero and negative ranges
    and slant shorter than ground (the factor's floor)."""
    t = rng.uniform(0, 100, n)
    xy = rng.normal(0, 1e5, (n, 2))
    az = rng.uniform(0, 2 * np.pi, n)
    los_x, los_y = np.sin(az), np.cos(az)
    ground = rng.uniform(1e3, 2e5, n)
    slant = ground * rng.uniform(0.9, 1.1, n)
    k = rng.uniform(0.999, 1.001, n)
    for col in (t, xy[:, 0], los_x, slant, ground, k):
        col[rng.random(n) < 0.05] = np.nan
    slant[rng.random(n) < 0.05] = 0.0
    ground[rng.random(n) < 0.05] = -1.0
    xy[rng.random(n) < 0.03, 1] = np.inf
    return t, xy, los_x, los_y, slant, ground, k


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


def run(num, ids, at, source, noise, kind, icao24, idx, rate, per_cycle, rows, x, P,
        plots):
    """keep_cycle with the addresses as Measurements.ident's first column."""
    ident = np.stack([icao24, np.full_like(icao24, 77)], axis=1)
    return keep_cycle(num, ids, at, source, noise[0], noise[1], kind, ident, idx, MODES,
                      rate, per_cycle, rows, x, P, *plots)


@pytest.mark.parametrize("seed", SEEDS)
def test_keep_cycle_is_numpys(seed: int) -> None:
    """Several cycles written one after another into the same buffers, each as numpy
    would have kept it."""
    rng = np.random.default_rng(1000 + seed)
    num, ids = np.full((400, KEPT), -7.0), np.full((400, 2), -7, dtype=np.int64)
    at, rate, want_num, want_ids = 0, float(rng.uniform(0.0, 40.0)), [], []
    for cycle in range(int(rng.integers(1, 6))):
        kind, icao24, idx, x, P, rows, _rate, per_cycle = case(seed * 10 + cycle)
        plots = plots_of(rng, len(kind))
        source = int(rng.integers(0, 8))
        noise = (float(rng.uniform(100, 3000)), float(rng.uniform(1e-8, 1e-6)))
        want = ref_cycle(source, noise, kind, icao24, idx, rate, per_cycle, rows, x, P,
                         plots)
        got = run(num, ids, at, source, noise, kind, icao24, idx, rate, per_cycle, rows, x,
                  P, plots)
        assert got[1] == want[2] and got[2] == want[3]  # chosen, the rate to the bit
        assert got[0] == at + len(want[0])
        at, rate = got[0], got[2]
        want_num.append(want[0])
        want_ids.append(want[1])
    assert same(num[:at], np.concatenate(want_num).reshape(-1, KEPT))
    assert same(ids[:at], np.concatenate(want_ids).reshape(-1, 2))
    assert (num[at:] == -7.0).all() and (ids[at:] == -7).all()  # nothing written beyond


def test_dense_traffic_keeps_a_share_of_addresses() -> None:
    """Above the rate the hash leaves some out (the case the random ones may miss)."""
    n = 200
    kind = np.full(n, MODES, dtype=np.int64)
    icao24 = np.arange(0x400000, 0x400000 + n, dtype=np.int64)
    idx = np.arange(n, dtype=np.int64)
    x, P = np.ones((n, 4)), np.ones((n, 4, 4))
    plots = plots_of(np.random.default_rng(5), n)
    num, ids = np.empty((n, KEPT)), np.empty((n, 2), dtype=np.int64)
    at, chosen, rate = run(num, ids, 0, 2, (1.0, 1.0), kind, icao24, idx, 100.0, 8.0, idx,
                           x, P, plots)
    want = ref_cycle(2, (1.0, 1.0), kind, icao24, idx, 100.0, 8.0, idx, x, P, plots)
    assert 0 < chosen < n and chosen == want[2] and rate == want[3]
    assert same(num[:at], want[0]) and same(ids[:at], want[1])


def test_empty_single_and_no_modes() -> None:
    x, P = np.zeros((3, 4)), np.zeros((3, 4, 4))
    z = np.zeros(0, dtype=np.int64)
    num, ids = np.full((2, KEPT), -1.0), np.zeros((2, 2), dtype=np.int64)
    e = np.zeros(0)
    assert run(num, ids, 0, 0, (1.0, 1.0), z, z, z, 5.0, 8.0, z, x, P,
               (e, np.zeros((0, 2)), e, e, e, e, e)) == (0, 0, 5.0)  # the rate unchanged
    kind = np.array([MODES], dtype=np.int64)
    one = np.zeros(1, dtype=np.int64)
    good = (np.array([1.0]), np.array([[2.0, 3.0]]), np.array([0.6]), np.array([0.8]),
            np.array([1e5]), np.array([9e4]), np.array([1.0]))
    P[0, 2, 2], P[0, 3, 3] = np.nan, 4.0
    got = run(num, ids, 1, 0, (1.0, 1.0), kind, np.array([0xABCDEF]), one, 0.0, 8.0, one,
              x, P, good)
    assert got == (2, 1, 0.05) and num[1, 14] == 4.0  # numpy's fmax: a nan loses
    assert ids[1].tolist() == [0, 0xABCDEF] and (num[0] == -1.0).all()
    got = run(num, ids, 0, 0, (1.0, 1.0), kind + 1, np.array([0xABCDEF]), one, 3.0, 8.0,
              one, x, P, good)
    assert got == (0, 0, 3.0)  # no Mode S plot: the rate stays
    bad = (*good[:4], np.array([np.nan]), *good[5:])
    got = run(num, ids, 0, 0, (1.0, 1.0), kind, np.array([0xABCDEF]), one, 0.0, 8.0, one,
              x, P, bad)
    assert got == (0, 1, 0.05)  # chosen, but no usable geometry: counted, not kept


def test_hostile_inputs_raise() -> None:
    kind = np.full(3, MODES, dtype=np.int64)
    icao = np.arange(3, dtype=np.int64)
    plots = plots_of(np.random.default_rng(0), 3)
    x, P = np.zeros((3, 4)), np.zeros((3, 4, 4))
    num, ids = np.empty((4, KEPT)), np.empty((4, 2), dtype=np.int64)
    one, two = np.zeros(1, dtype=np.int64), np.array([0, 5], dtype=np.int64)

    def go(idx=one, rows=one, kind=kind, icao=icao, x=x, P=P, num=num, ids=ids, at=0,
           plots=plots):
        run(num, ids, at, 0, (1.0, 1.0), kind, icao, idx, 1.0, 8.0, rows, x, P, plots)

    with pytest.raises(IndexError):
        go(idx=np.array([3], dtype=np.int64))
    with pytest.raises(IndexError):
        go(idx=np.array([-1], dtype=np.int64))
    with pytest.raises(IndexError):  # a track row outside the table
        go(idx=np.array([0, 1], dtype=np.int64), rows=two)
    with pytest.raises(ValueError):  # rows and idx differ
        go(rows=two)
    with pytest.raises(ValueError):
        go(icao=icao[:2])
    with pytest.raises(ValueError):  # no address column
        keep_cycle(num, ids, 0, 0, 1.0, 1.0, kind, np.zeros((3, 0), dtype=np.int64), one,
                   MODES, 1.0, 8.0, one, x, P, *plots)
    with pytest.raises(ValueError):
        go(x=x[:, :3])
    with pytest.raises(ValueError):
        go(P=P[:2])
    with pytest.raises(ValueError):  # a column short
        go(plots=(*plots[:3], plots[3][:2], *plots[4:]))
    with pytest.raises(ValueError):  # no room
        go(at=4)
    with pytest.raises(ValueError):
        go(num=np.empty((4, KEPT - 1)))
    with pytest.raises(ValueError):
        go(ids=ids[:3])
