"""The gating kernel (ext/gating.pyx, through gateway/associate/gating.py and assignment.py)
against the numpy code it replaced, kept here as the reference: on random cases (identities
drawn from a few values so that they agree, differ and are unknown in every combination;
distances around the gates), with empty batches, no tracks, NaN and infinite values, all
pairs in the gate, both candidate searches (all against all, and the x-sorted strip); and
hostile inputs (indices out of range, shapes that do not match) that must raise, never
read out of bounds.  Results must be equal, floats to the bit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gateway import _gating
from gateway.associate import TrackerParameters
from gateway.associate.assignment import GlobalNearestNeighbour
from gateway.associate.gating import Hypotheses, IdentityGater, _kept
from gateway.associate.tracks import ADDRESS, CODE, TENTATIVE

SEEDS = range(40)


# -- the reference: the numpy code the kernel replaced -----------------------------------------

def ref_continuing(owner, number, mident, tident, mt, tt, mxy, mR):
    row = owner[np.where(number < 0, 0, number)]
    row[number < 0] = -1
    cand = (row >= 0).nonzero()[0]
    r = row[cand]
    mi, tk = mident[cand], tident[r]
    adr = (mi[:, ADDRESS] == tk[:, ADDRESS]) & (mi[:, ADDRESS] >= 0)
    code = ((mi[:, CODE] == tk[:, CODE]) & (mi[:, CODE] >= 0) & (mi[:, ADDRESS] < 0)
            & (tk[:, ADDRESS] < 0))
    agree = (adr | code).nonzero()[0]
    cand, r, adr = cand[agree], r[agree], adr[agree]
    return cand, r, adr, mt[cand] - tt[r], mxy[cand], mR[cand]


def ref_continuing_verdict(p: TrackerParameters, cand, adr, d2, nu, dt, n, sdps):
    settled = np.zeros(n, dtype=np.int8)
    gate = p.identity_gate_chi2 + (p.modes_gate_chi2 - p.identity_gate_chi2) * adr
    cap2 = p.cap_m ** 2 + (p.modes_cap_m ** 2 - p.cap_m ** 2) * adr
    ok = (d2 <= gate) & ((nu * nu).sum(axis=1) <= cap2)
    settled[cand[ok]] = 1
    diverged = np.zeros(n, dtype=bool)
    if sdps:
        diverged[cand[~ok & ~adr]] = True
    late = np.zeros(n, dtype=bool)
    is_late = ok & (dt < -p.late_window_s)
    late[cand[is_late]] = True
    k = (ok > is_late).nonzero()[0]
    bonus = p.continuity_bonus + p.code_bonus + (p.modes_bonus - p.code_bonus) * adr[k]
    return k, d2[k] - bonus, (settled < 1).nonzero()[0], late, diverged


def ref_strip_pairs(tx, ty, mx, my, radius):
    order = np.argsort(tx, kind="stable")
    xs = tx[order]
    lo = np.searchsorted(xs, mx - radius, side="left")
    hi = np.searchsorted(xs, mx + radius, side="right")
    counts = hi - lo
    total = int(counts.sum())
    if total == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z
    j = np.repeat(np.arange(len(mx)), counts)
    starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
    i = order[starts + np.arange(total)]
    near = np.abs(ty[i] - my[j]) <= radius
    return i[near], j[near]


def ref_candidates(X, t, alive, mt_all, mxy, mR, which, reach, max_speed, dense):
    ti, j = ref_pairs(X, t, alive, mt_all, mxy, which, reach, max_speed, dense)
    return ti, j, mt_all[j] - t[ti], mxy[j], mR[j]


def ref_pairs(X, t, alive, mt_all, mxy, which, reach, max_speed, dense):
    z = np.zeros(0, dtype=np.int64)
    if len(which) == 0 or len(t) == 0:
        return z, z
    mt, mx, my = mt_all[which], mxy[which, 0], mxy[which, 1]
    t_max, t_min = mt.max(), mt.min()
    radius = reach + max_speed * float(t_max - t_min)
    lead = t_max - t
    with np.errstate(invalid="ignore"):
        tx = X[:, 0] + X[:, 2] * lead
        ty = X[:, 1] + X[:, 3] * lead
        x_lo, x_hi, y_lo, y_hi = mx.min(), mx.max(), my.min(), my.max()
        box = ((np.abs(tx - 0.5 * (x_lo + x_hi)) <= 0.5 * (x_hi - x_lo) + radius)
               & (np.abs(ty - 0.5 * (y_lo + y_hi)) <= 0.5 * (y_hi - y_lo) + radius)
               & alive).nonzero()[0]
        if len(box) * len(which) <= dense:
            i, j = np.nonzero((np.abs(tx[box][:, None] - mx) <= radius)
                              & (np.abs(ty[box][:, None] - my) <= radius))
        else:
            i, j = ref_strip_pairs(tx[box], ty[box], mx, my, radius)
    return box[i], which[j]


def ref_search_verdict(p: TrackerParameters, ti, j, d2, nu, dt, mident, number, tident,
                       tnumber, state, tracked, alive, which, late):
    n = len(mident)
    w_equal = np.array([-p.modes_bonus, -p.code_bonus, -p.callsign_bonus])
    w_differ = np.array([0.0, p.code_mismatch_penalty, p.callsign_mismatch_penalty])
    mi, tk = mident[j, :3], tident[ti, :3]
    known = mi >= 0
    equal = (mi == tk) & known
    differ = (mi != tk) & known & (tk >= 0)
    adr_eq = equal[:, ADDRESS]
    trn = number[j]
    cont = (tnumber[ti] == trn) & (trn >= 0)
    anonymous = (tk[:, ADDRESS] < 0) & (tk[:, CODE] < 0) & (known[:, ADDRESS] | known[:, CODE])
    vouched = equal.any(axis=1) | cont
    gate = (p.gate_chi2 + (p.identity_gate_chi2 - p.gate_chi2) * vouched
            + (p.modes_gate_chi2 - p.identity_gate_chi2) * adr_eq)
    cap2 = p.cap_m ** 2 + (p.modes_cap_m ** 2 - p.cap_m ** 2) * adr_eq
    clutter = (state[ti] == TENTATIVE) & ~tracked[ti]
    ok = ((d2 <= gate) & ((nu * nu).sum(axis=1) <= cap2) & ~differ[:, ADDRESS]
          & ~(differ[:, CODE] & ~(adr_eq | cont)) & ~(clutter & (anonymous | (trn >= 0))))
    owned = np.zeros(n, dtype=bool)
    owned[j[ok & adr_eq]] = True
    ok &= owned[j] <= adr_eq
    conflict = np.zeros(n, dtype=bool)
    orphans = which[owned[which] < (mident[which, ADDRESS] >= 0)]
    if len(orphans):
        addresses = np.sort(tident[alive.nonzero()[0], ADDRESS])
        if len(addresses):
            at = np.minimum(np.searchsorted(addresses, mident[orphans, ADDRESS]),
                            len(addresses) - 1)
            conflict[orphans] = addresses[at] == mident[orphans, ADDRESS]
    ok &= ~conflict[j]
    late[j[ok & (dt < -p.late_window_s)]] = True
    ok &= ~late[j]
    duplicate = np.zeros(n, dtype=bool)
    duplicate[j[ok & (adr_eq | equal[:, CODE])]] = True
    k = ok.nonzero()[0]
    e, d = equal[k], differ[k]
    cost = (d2[k] + w_equal[0] * e[:, 0] + w_equal[1] * e[:, 1] + w_equal[2] * e[:, 2]
            + w_differ[1] * d[:, 1] + w_differ[2] * d[:, 2] - p.continuity_bonus * cont[k]
            + p.anonymous_track_penalty * anonymous[k])
    return k, cost, conflict, duplicate


def ref_leftover(n, idx, late, duplicate, conflict, diverged):
    left = np.ones(n, dtype=bool)
    left[idx] = False
    dropped = late | duplicate | conflict
    if diverged is not None:
        dropped = dropped | diverged
    counts = None
    if dropped.any():
        n_late, n_conflict, n_div = int(late.sum()), int(conflict.sum()), 0
        left &= ~late
        n_dup = int((left & duplicate).sum())
        left &= ~duplicate
        if diverged is not None:
            n_div = int((left & diverged).sum())
            left &= ~diverged
        counts = (n_late, n_conflict, n_dup, n_div)
    return left.nonzero()[0], counts


def ref_alone(track, meas, cost, miss_cost):
    alone = (np.bincount(track)[track] == 1) & (np.bincount(meas)[meas] == 1)
    return (alone & (cost < miss_cost)).nonzero()[0], (~alone).nonzero()[0]


# -- random cases ---------------------------------------------------------------------------------

PARAMETERS = [TrackerParameters(),
              dataclasses.replace(TrackerParameters(), gate_chi2=9.2, identity_gate_chi2=41.3,
                                  modes_gate_chi2=333.3, cap_m=7_777.7, modes_cap_m=23_456.7,
                                  late_window_s=0.7, anonymous_track_penalty=3.3,
                                  code_mismatch_penalty=0.1, callsign_bonus=7.7)]


def _ident(rng: np.random.Generator, n: int) -> np.ndarray:
    """Identities from a few values (-1: unknown), so that they often agree; half without
    an address (else most measurements are address conflicts)."""
    ident = rng.integers(-1, 3, size=(n, 4)).astype(np.int64)
    ident[rng.random(n) < 0.5, ADDRESS] = -1
    return ident


def _table(rng: np.random.Generator, T: int, spread: float = 50_000.0):
    x = np.column_stack([rng.uniform(-spread, spread, (T, 2)), rng.uniform(-250, 250, (T, 2))])
    t = rng.uniform(-5.0, 5.0, T)
    return x, t, rng.random(T) < 0.8


def _batch(rng: np.random.Generator, n: int, spread: float = 50_000.0):
    mt = rng.uniform(-1.0, 6.0, n)
    mxy = rng.uniform(-spread, spread, (n, 2))
    R = rng.uniform(10.0, 1000.0, (n, 2, 2))
    return mt, mxy, R


def _hostile(rng: np.random.Generator, a: np.ndarray, share: float = 0.1) -> np.ndarray:
    """a with some values NaN or infinite."""
    a = a.copy()
    flat = a.reshape(-1)
    bad = rng.random(flat.size) < share
    flat[bad] = rng.choice([np.nan, np.inf, -np.inf], int(bad.sum()))
    return a


def _imm_case(seed: int):  # type: ignore[no-untyped-def]
    """A seed's random generator, parameters, their IMM filter and its kernel constants."""
    from gateway.associate.tracker import motion_filter

    p = PARAMETERS[seed % 2]
    f = motion_filter(p)
    imm = f.imm_kernel()
    assert imm is not None
    return np.random.default_rng(seed), p, f, imm


def _imm_table(rng: np.random.Generator, f, T: int):  # type: ignore[no-untyped-def]
    """A table of T live IMM tracks: random states and covariances, most with per-model
    states, the others fresh (no per-model states yet)."""
    from gateway.associate.tracks import TrackTable

    table = TrackTable(capacity=T, models=f.models)
    table.new(T)
    x, t, _ = _table(rng, T)
    table.x[:], table.t[:] = x, t
    A = rng.normal(size=(T, 4, 4))
    table.P[:] = 1e3 * (A @ A.transpose(0, 2, 1) + 0.1 * np.eye(4))
    old = rng.random(T) < 0.7  # the others fresh: no per-model states yet
    M = f.models
    table.xm[old] = table.x[old][:, None] + rng.normal(0, 30, (int(old.sum()), M, 4))
    table.Pm[old] = table.P[old][:, None] * rng.uniform(0.5, 2.0, (int(old.sum()), M, 1, 1))
    table.mu[old] = rng.dirichlet(np.ones(M), int(old.sum()))
    return table


def _equal(got, want) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        if w is None:
            assert g is None
            continue
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        np.testing.assert_array_equal(g, w)  # floats to the bit (NaN where NaN)


@pytest.mark.parametrize("seed", SEEDS)
def test_continuing_as_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, T = int(rng.integers(0, 40)), int(rng.integers(1, 60))
    owner = np.where(rng.random(64) < 0.6, rng.integers(0, T, 64), -1).astype(np.int64)
    number = rng.integers(-2, 64, n).astype(np.int64)
    mident, tident = _ident(rng, n), _ident(rng, T)
    mt, mxy, mR = _batch(rng, n)
    tt = rng.uniform(-5, 5, T)
    if seed % 4 == 0:
        mt, mxy = _hostile(rng, mt), _hostile(rng, mxy)
    want = ref_continuing(owner, number, mident, tident, mt, tt, mxy, mR)
    got = _gating.continuing(owner, number, mident, tident, mt, tt, mxy, mR)
    _equal(got, want)
    cand, _, adr = got[:3]

    p = PARAMETERS[seed % 2]
    c = len(cand)
    d2 = rng.uniform(0.0, 400.0, c)
    nu = rng.uniform(-25_000.0, 25_000.0, (c, 2))
    dt = rng.uniform(-4.0, 4.0, c)
    if seed % 3 == 0:
        d2, nu, dt = _hostile(rng, d2), _hostile(rng, nu), _hostile(rng, dt)
    for sdps in (False, True):
        got = _gating.continuing_verdict(cand, adr, d2, nu, dt, n, sdps,
                                         IdentityGater(p)._continuing_p)
        _equal(got, ref_continuing_verdict(p, cand, adr, d2, nu, dt, n, sdps))


@pytest.mark.parametrize("seed", SEEDS)
def test_candidates_as_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, T = int(rng.integers(0, 60)), int(rng.integers(0, 300))
    x, t, alive = _table(rng, T)
    mt, mxy, mR = _batch(rng, n)
    which = np.sort(rng.choice(n, int(rng.integers(0, n + 1)), replace=False)).astype(np.int64)
    if seed % 5 == 1:
        x = _hostile(rng, x, 0.05)
    if seed % 5 == 2:
        t = _hostile(rng, t, 0.05)
    if seed % 5 == 3:
        mxy = _hostile(rng, mxy, 0.02)
    if seed % 7 == 0 and T:  # duplicated positions: ties in the strip's order
        x[: T // 2] = x[0]
    reach = float(rng.choice([0.0, 2_000.0, 20_000.0, 1e9]))
    for dense in (0, 100, 20_000):  # the strip, either, all against all
        got = _gating.candidates(x, t, alive, mt, mxy, mR, which, reach, 350.0, dense)
        _equal(got, ref_candidates(x, t, alive, mt, mxy, mR, which, reach, 350.0, dense))


@pytest.mark.parametrize("seed", SEEDS)
def test_search_verdict_as_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, T = int(rng.integers(0, 30)), int(rng.integers(1, 50))
    k = int(rng.integers(0, 3 * n + 1)) if n else 0
    ti = rng.integers(0, T, k).astype(np.int64)
    j = rng.integers(0, n, k).astype(np.int64) if n else np.zeros(0, np.int64)
    order = np.lexsort((ti, j))  # candidates come by measurement, never twice the same pair
    pairs = np.unique(np.column_stack([j[order], ti[order]]), axis=0)
    j, ti = pairs[:, 0].copy(), pairs[:, 1].copy()
    k = len(j)
    p = PARAMETERS[seed % 2]
    all_in = seed % 6 == 5  # every pair inside every gate
    d2 = rng.uniform(0.0, 5.0 if all_in else 120.0, k)
    nu = rng.uniform(-50.0 if all_in else -12_000.0, 50.0 if all_in else 12_000.0, (k, 2))
    dt = rng.uniform(-3.0, 3.0, k)
    if seed % 4 == 0:
        d2, nu, dt = _hostile(rng, d2), _hostile(rng, nu), _hostile(rng, dt)
    mident, tident = _ident(rng, n), _ident(rng, T)
    number = rng.integers(-1, 4, n).astype(np.int64)
    trn = rng.integers(-1, 4, (T, 3)).astype(np.int64)  # a table's [row, source] numbers
    state = rng.integers(0, 3, T).astype(np.int8)
    tracked, alive = rng.random(T) < 0.5, rng.random(T) < 0.8
    which = np.sort(rng.choice(n, int(rng.integers(0, n + 1)), replace=False)).astype(np.int64)
    which = np.union1d(which, j).astype(np.int64)  # the searched include every pair's
    late0 = rng.random(n) < 0.1
    late = late0.copy()
    got = _gating.search_verdict(ti, j, d2, nu, dt, mident, number, tident, trn[:, 1], state,
                                 tracked, alive, which, late, IdentityGater(p)._search_p)
    want_late = late0.copy()
    want = ref_search_verdict(p, ti, j, d2, nu, dt, mident, number, tident, trn[:, 1], state,
                              tracked, alive, which, want_late)
    _equal(got, want)
    np.testing.assert_array_equal(late, want_late)


@pytest.mark.parametrize("seed", SEEDS)
def test_take_join_as_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    na, nb = int(rng.integers(0, 20)), int(rng.integers(0, 20))

    def side(k: int, models: bool) -> tuple:
        return (rng.integers(0, 99, k), rng.integers(0, 99, k), rng.normal(size=k),
                rng.normal(size=k), rng.normal(size=k), rng.normal(size=(k, 4)),
                rng.normal(size=(k, 4, 4)), rng.normal(size=(k, 2)),
                rng.normal(size=(k, 2, 2)), rng.normal(size=(k, 63)) if models else None)

    a, b = side(na, seed % 2 == 0), side(nb, seed % 3 == 0)
    keep = np.sort(rng.choice(na, int(rng.integers(0, na + 1)), replace=False))
    _equal(_gating.take(keep, a), tuple(None if v is None else v[keep] for v in a))
    want = [np.concatenate([u, v]) if u is not None and v is not None
            else u if u is not None and nb == 0 else v if v is not None and na == 0 else None
            for u, v in zip(a, b, strict=True)]
    _equal(_gating.join(a, b), want)
    # through Hypotheses: verdicts of the second, pairs of both
    ha = Hypotheses(*a[:4], np.zeros(3, bool), np.zeros(3, bool), np.zeros(3, bool), *a[4:9],
                    models=a[9])
    hb = Hypotheses(*b[:4], np.ones(3, bool), np.ones(3, bool), np.ones(3, bool), *b[4:9],
                    models=b[9])
    joined = Hypotheses.join(ha, hb)
    assert joined.late is hb.late and joined.diverged is None
    _equal(joined._columns(), want)


@pytest.mark.parametrize("seed", SEEDS)
def test_alone_as_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(0, 50))
    track = rng.integers(0, 1 + int(rng.integers(0, 60)), k).astype(np.int64)
    meas = rng.integers(0, 1 + int(rng.integers(0, 60)), k).astype(np.int64)
    cost = _hostile(rng, rng.uniform(-150.0, 60.0, k)) if seed % 3 == 0 \
        else rng.uniform(-150.0, 60.0, k)
    if k:
        _equal(_gating.alone(track, meas, cost, 20.0), ref_alone(track, meas, cost, 20.0))
    if not np.isfinite(cost).all():  # the solver refuses NaN and -inf (as before)
        return
    chosen = GlobalNearestNeighbour(20.0).associate(track, meas, cost)
    assert len(np.unique(track[chosen])) == len(chosen) == len(np.unique(meas[chosen]))


@pytest.mark.parametrize("seed", SEEDS)
def test_leftover_as_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 40))
    idx = np.sort(rng.choice(n, int(rng.integers(0, n + 1)), replace=False)).astype(np.int64)
    share = float(rng.choice([0.0, 0.05, 0.3]))
    late, duplicate, conflict, diverged = (rng.random((4, n)) < share)
    for div in (None, diverged):
        got = _gating.leftover(n, idx, late, duplicate, conflict, div)
        want = ref_leftover(n, idx, late, duplicate, conflict, div)
        np.testing.assert_array_equal(got[0], want[0])
        assert got[0].dtype == want[0].dtype and got[1] == want[1]


# -- hostile inputs -----------------------------------------------------------------------------

def test_out_of_range_indices_raise() -> None:
    i1, f1 = np.array([5], np.int64), np.zeros(1)
    ident = np.zeros((1, 4), np.int64)
    with pytest.raises(IndexError):  # the owner names a row the table does not have
        _gating.continuing(np.array([3], np.int64), np.array([0], np.int64), ident, ident,
                           f1, f1, np.zeros((1, 2)), np.zeros((1, 2, 2)))
    with pytest.raises(IndexError):
        _gating.continuing_verdict(i1, np.ones(1, bool), f1, np.zeros((1, 2)), f1, 1, True,
                                   IdentityGater(TrackerParameters())._continuing_p)
    with pytest.raises(IndexError):
        _gating.candidates(np.zeros((1, 4)), f1, np.ones(1, bool), f1, np.zeros((1, 2)),
                           np.zeros((1, 2, 2)), i1, 1.0, 1.0, 10)
    with pytest.raises(IndexError):
        _gating.search_verdict(np.array([1], np.int64), np.array([0], np.int64), f1,
                               np.zeros((1, 2)), f1, ident, np.zeros(1, np.int64), ident,
                               np.zeros(1, np.int64), np.zeros(1, np.int8), np.ones(1, bool),
                               np.ones(1, bool), np.zeros(1, np.int64), np.zeros(1, bool),
                               IdentityGater(TrackerParameters())._search_p)
    with pytest.raises(IndexError):
        _gating.take(np.array([-1], np.int64), (np.arange(3),))
    with pytest.raises(IndexError):
        _gating.take(np.array([3], np.int64), (np.arange(3),))
    with pytest.raises(ValueError):
        _gating.alone(np.array([-1], np.int64), np.array([0], np.int64), f1, 1.0)
    flags = np.zeros(1, bool)
    with pytest.raises(IndexError):
        _gating.leftover(1, i1, flags, flags, flags, None)
    with pytest.raises(ValueError):
        _gating.leftover(2, i1[:0], flags, flags, flags, flags)


def test_numbers_outside_the_owner_table_feed_no_track() -> None:
    ident = np.zeros((2, 4), np.int64)
    got = _gating.continuing(np.array([0], np.int64), np.array([1 << 40, -5], np.int64),
                             ident, ident, np.zeros(2), np.zeros(2), np.zeros((2, 2)),
                             np.zeros((2, 2, 2)))
    assert all(len(a) == 0 for a in got)


def test_shapes_that_do_not_match_raise() -> None:
    f1, i1 = np.zeros(1), np.zeros(1, np.int64)
    with pytest.raises(ValueError):
        _gating.continuing_verdict(i1, np.ones(1, bool), f1, np.zeros((1, 2)), f1, 1, False,
                                   np.zeros(3))
    with pytest.raises(ValueError):
        _gating.continuing(i1, i1, np.zeros((1, 4), np.int64), np.zeros((1, 4), np.int64),
                           f1, f1, np.zeros((1, 3)), np.zeros((1, 2, 2)))
    with pytest.raises(ValueError):
        _gating.candidates(np.zeros((2, 4)), f1, np.ones(2, bool), f1, np.zeros((1, 2)),
                           np.zeros((1, 2, 2)), i1, 1.0, 1.0, 10)
    with pytest.raises(ValueError):
        _gating.join((i1, f1), (i1, np.zeros(1, np.int64)))
    with pytest.raises(ValueError):
        _gating.alone(i1, np.zeros(2, np.int64), f1, 1.0)


def test_no_tracks_and_empty_batches() -> None:
    empty_t = np.zeros(0)
    got = _gating.candidates(np.zeros((0, 4)), empty_t, np.zeros(0, bool), np.zeros(3),
                             np.zeros((3, 2)), np.zeros((3, 2, 2)), np.arange(3), 1e4, 300.0,
                             20_000)
    assert all(len(a) == 0 for a in got)
    got = _gating.candidates(np.zeros((4, 4)), np.zeros(4), np.ones(4, bool), empty_t,
                             np.zeros((0, 2)), np.zeros((0, 2, 2)), np.zeros(0, np.int64), 1e4,
                             300.0, 20_000)
    assert all(len(a) == 0 for a in got)
    k, cost, slow, late, diverged = _gating.continuing_verdict(
        np.zeros(0, np.int64), np.zeros(0, bool), empty_t, np.zeros((0, 2)), empty_t, 0, True,
        IdentityGater(TrackerParameters())._continuing_p)
    assert len(k) == len(cost) == len(slow) == len(late) == len(diverged) == 0
    assert len(_gating.alone(np.zeros(0, np.int64), np.zeros(0, np.int64), empty_t,
                             1.0)[0]) == 0


@pytest.mark.parametrize("models", [(True, True), (True, False), (False, True), (False, False)])
def test_join_without_found_pairs_and_kept_as_numpy(models: tuple[bool, bool]) -> None:
    """The shortcuts the gater takes for speed give what the copies gave: a join whose
    second side has no pairs (a's arrays themselves), a verdict that keeps every pair
    (the arrays themselves), and one that keeps some (their rows)."""
    rng = np.random.default_rng(7)

    def side(k: int, with_models: bool) -> tuple:
        return (rng.integers(0, 99, k), rng.integers(0, 99, k), rng.normal(size=k),
                rng.normal(size=k), rng.normal(size=k), rng.normal(size=(k, 4)),
                rng.normal(size=(k, 4, 4)), rng.normal(size=(k, 2)),
                rng.normal(size=(k, 2, 2)), rng.normal(size=(k, 63)) if with_models else None)

    for na in (0, 1, 5):
        a, b = side(na, models[0]), side(0, models[1])
        ha = Hypotheses(*a[:4], np.zeros(3, bool), np.zeros(3, bool), np.zeros(3, bool),
                        *a[4:9], models=a[9])
        hb = Hypotheses(*b[:4], np.ones(3, bool), np.ones(3, bool), np.ones(3, bool),
                        *b[4:9], models=b[9])
        joined = Hypotheses.join(ha, hb)
        assert joined.late is hb.late and joined.conflict is hb.conflict
        _equal(joined._columns(), _gating.join(a, b))
        everything = np.arange(na, dtype=np.int64)
        _equal(_kept(everything, a), _gating.take(everything, a))
        some = everything[::2]
        _equal(_kept(some, a), tuple(None if v is None else v[some] for v in a))


def replaced_continuing(f, owner, number, mident, tident, mt, mxy, mR, table, sdps, p):
    """What IdentityGater._continuing did with an IMM before ``continuing_imm``: three
    gating kernels around the filter's prediction and innovation, the kept pairs
    gathered (None: no candidate)."""
    n = len(number)
    cand, r, adr, dt, z, R = _gating.continuing(owner, number, mident, tident, mt, table.t,
                                                mxy, mR)
    if len(cand) == 0:
        return None
    x, P, models = f.predict_tracks(table, r, dt)
    nu, s_inv, d2 = f.innovation(x, P, z, R)
    k, cost, slow, late, diverged = _gating.continuing_verdict(cand, adr, d2, nu, dt, n,
                                                               sdps, p)
    track, meas, d2, dt, x, P, nu, s_inv, models = _kept(
        k, (r, cand, d2, dt, x, P, nu, s_inv, models))
    return track, meas, d2, cost, dt, x, P, nu, s_inv, models, slow, late, diverged


@pytest.mark.parametrize("seed", SEEDS)
def test_continuing_imm_is_the_steps_it_fuses(seed: int) -> None:
    """The fused continuing step (pairs, the IMM's prediction and innovation, verdict,
    kept columns) gives what the separate kernels and the filter gave, to the bit: fresh
    and old tracks, pairs that gate and do not, late ones, NaN and infinite values."""
    rng, p, f, imm = _imm_case(seed)
    n, T = int(rng.integers(0, 40)), int(rng.integers(1, 60))
    table = _imm_table(rng, f, T)
    tident = _ident(rng, T)
    owner = np.where(rng.random(64) < 0.6, rng.integers(0, T, 64), -1).astype(np.int64)
    number = rng.integers(-2, 64, n).astype(np.int64)
    mident = _ident(rng, n)
    mt, _, mR = _batch(rng, n)
    mR = mR + mR.transpose(0, 2, 1) + 2000.0 * np.eye(2)
    # near the track its number feeds, some far
    near = owner[np.clip(number, 0, 63)]
    mxy = table.x[np.maximum(near, 0), :2] + rng.normal(0, 300, (n, 2)) \
        * np.where(rng.random(n) < 0.8, 1.0, 100.0)[:, None]
    if seed % 5 == 0:
        mt, mxy = _hostile(rng, mt, 0.05), _hostile(rng, mxy, 0.05)
    gp = IdentityGater(p)._continuing_p
    for sdps in (False, True):
        got = _gating.continuing_imm(owner, number, mident, tident, mt, table.t, mxy, mR,
                                     table.x, table.P, table.xm, table.Pm, table.mu, imm,
                                     sdps, gp)
        want = replaced_continuing(f, owner, number, mident, tident, mt, mxy, mR, table,
                                   sdps, gp)
        view = _gating.ImmTable(table.x, table.P, table.xm, table.Pm, table.mu, table.t,
                                tident, imm)
        viewed = _gating.continuing_imm_view(view, owner, number, mident, mt, mxy, mR,
                                             sdps, gp)
        if want is None:
            assert got is None and viewed is None
        else:
            assert got is not None and viewed is not None
            _equal(got, want)
            _equal(viewed, want)


def test_continuing_imm_refuses_what_does_not_match() -> None:
    """A track row outside the table or shapes that differ raise, never read out of
    bounds; a filter whose prediction is other code gets no fused step."""
    from gateway.associate.filter import InteractingMultipleModel
    from gateway.associate.tracker import motion_filter
    from gateway.associate.tracks import TrackTable

    f = motion_filter(TrackerParameters())
    imm = f.imm_kernel()
    assert imm is not None
    table = TrackTable(capacity=4, models=f.models)
    table.new(4)
    gp = IdentityGater(TrackerParameters())._continuing_p
    ident = np.full((1, 4), -1, dtype=np.int64)
    ident[0, CODE] = 1
    tident = np.repeat(ident, 4, 0)
    args = (np.array([9], dtype=np.int64), np.array([0], dtype=np.int64), ident, tident,
            np.zeros(1), table.t, np.zeros((1, 2)), np.ones((1, 2, 2)), table.x, table.P,
            table.xm, table.Pm, table.mu, imm, False, gp)
    with pytest.raises(IndexError):
        _gating.continuing_imm(*args)
    with pytest.raises(ValueError):
        _gating.continuing_imm(*args[:8], table.x[:3], *args[9:])

    class Other(InteractingMultipleModel):
        def predict_tracks(self, tracks, rows, dt):  # type: ignore[no-untyped-def]
            return super().predict_tracks(tracks, rows, dt)

    assert Other().imm_kernel() is None


@pytest.mark.parametrize("seed", SEEDS)
def test_search_imm_is_the_filters_two_calls(seed: int) -> None:
    """The search's fused step (the IMM's prediction of each candidate pair, then its
    innovation) gives what the filter's ``predict_tracks`` and ``innovation`` gave, to the
    bit: fresh and old tracks, repeated rows, no pairs, NaN and infinite values."""
    from gateway.associate.tracker import motion_filter

    rng = np.random.default_rng(seed)
    f = motion_filter(PARAMETERS[seed % 2])
    imm = f.imm_kernel()
    assert imm is not None
    k, T = int(rng.integers(0, 40)), int(rng.integers(1, 60))
    table = _imm_table(rng, f, T)
    rows = rng.integers(0, T, k).astype(np.int64)
    dt = rng.uniform(-2.0, 8.0, k)
    z = table.x[rows, :2] + rng.normal(0, 500, (k, 2))
    _, _, R = _batch(rng, k)
    R = R + R.transpose(0, 2, 1) + 2000.0 * np.eye(2)
    if seed % 5 == 0:
        dt, z = _hostile(rng, dt, 0.05), _hostile(rng, z, 0.05)
    got = _gating.search_imm(rows, dt, z, R, table.x, table.P, table.xm, table.Pm,
                             table.mu, imm)
    x, P, models = f.predict_tracks(table, rows, dt)
    nu, s_inv, d2 = f.innovation(x, P, z, R)
    _equal(got, (x, P, models, nu, s_inv, d2))
    view = _gating.ImmTable(table.x, table.P, table.xm, table.Pm, table.mu, table.t,
                            table.ident, imm)
    _equal(_gating.search_imm_view(view, rows, dt, z, R), (x, P, models, nu, s_inv, d2))
    with pytest.raises(ValueError):
        _gating.search_imm(np.array([T], dtype=np.int64), np.zeros(1), np.zeros((1, 2)),
                           np.ones((1, 2, 2)), table.x, table.P, table.xm, table.Pm,
                           table.mu, imm)
    with pytest.raises(ValueError):
        _gating.search_imm(rows, dt[:-1] if k else np.zeros(1), z, R, table.x, table.P,
                           table.xm, table.Pm, table.mu, imm)


def test_the_gaters_table_view_follows_the_table() -> None:
    """The gater's views of the table (``IdentityGater._imm_view``) are the table's
    current arrays: kept while the table keeps them, made again when it grows or is
    another table; and they read what is written into the table after they were made."""
    from gateway.associate.tracker import motion_filter
    from gateway.associate.tracks import TrackTable

    p = TrackerParameters()
    f = motion_filter(p)
    imm = f.imm_kernel()
    assert imm is not None
    gater = IdentityGater(p)
    table = TrackTable(capacity=2, models=f.models)
    table.new(2)
    view = gater._imm_view(table, imm)
    assert gater._imm_view(table, imm) is view
    table.new(5)  # grows: new arrays
    grown = gater._imm_view(table, imm)
    assert grown is not view and grown.x is table.x and grown.mu is table.mu
    other = TrackTable(capacity=7, models=f.models)
    assert gater._imm_view(other, imm) is not grown
    table.x[:, :2] = [[1.0, 2.0]]
    table.t[:] = 0.0
    rows = np.arange(3, dtype=np.int64)
    got = _gating.search_imm_view(gater._imm_view(table, imm), rows, np.ones(3),
                                  np.ones((3, 2)), np.tile(np.eye(2), (3, 1, 1)))
    want = _gating.search_imm(rows, np.ones(3), np.ones((3, 2)),
                              np.tile(np.eye(2), (3, 1, 1)), table.x, table.P, table.xm,
                              table.Pm, table.mu, imm)
    _equal(got, want)


def replaced_search(view, ti, j, dt, z, R, hx, hy, mident, number, tident, trn, state,
                    tracked, alive, which, late, p):
    """What IdentityGater._search did with an IMM after ``candidates`` before
    ``search_view``: the shift of z, ``search_imm_view``, ``search_verdict`` and the kept
    pairs gathered (``_kept``)."""
    z = z.copy()
    if hx is not None:
        z[:, 0] += hx
        z[:, 1] += hy
    x, P, models, nu, s_inv, d2 = _gating.search_imm_view(view, ti, dt, z, R)
    k, cost, conflict, duplicate = _gating.search_verdict(
        ti, j, d2, nu, dt, mident, number, tident, trn, state, tracked, alive, which, late, p)
    track, meas, d2, dt, x, P, nu, s_inv, models = _kept(
        k, (ti, j, d2, dt, x, P, nu, s_inv, models))
    return track, meas, d2, cost, dt, x, P, nu, s_inv, models, conflict, duplicate


@pytest.mark.parametrize("seed", SEEDS)
def test_search_view_is_the_steps_it_fuses(seed: int) -> None:
    """The search's fused step after the candidates (the primaries' shift, the IMM's
    prediction and innovation, the identity rules, the kept pairs gathered) gives what
    the separate kernels gave, to the bit, late marks included: fresh and old tracks,
    pairs in and out of the gates, with and without a shift, NaN and infinite values."""
    rng, p, f, imm = _imm_case(seed)
    n, T = int(rng.integers(1, 30)), int(rng.integers(1, 50))
    table = _imm_table(rng, f, T)
    tident = _ident(rng, T)
    table.ident[:] = tident
    k = int(rng.integers(0, 3 * n + 1))
    pairs = np.unique(np.column_stack([rng.integers(0, n, k), rng.integers(0, T, k)]), axis=0)
    j, ti = pairs[:, 0].astype(np.int64).copy(), pairs[:, 1].astype(np.int64).copy()
    k = len(j)
    dt = rng.uniform(-3.0, 6.0, k)
    scale = np.where(rng.random(k) < 0.7, 1.0, 30.0)[:, None]
    z = table.x[ti, :2] + rng.normal(0, 300, (k, 2)) * scale
    _, _, R = _batch(rng, k)
    R = R + R.transpose(0, 2, 1) + 2000.0 * np.eye(2)
    if seed % 5 == 0:
        dt, z = _hostile(rng, dt, 0.05), _hostile(rng, z, 0.05)
    shift = seed % 3 != 0
    hx = rng.normal(0, 400, k) if shift else None
    hy = rng.normal(0, 400, k) if shift else None
    mident = _ident(rng, n)
    number = rng.integers(-1, 4, n).astype(np.int64)
    trn = rng.integers(-1, 4, (T, 3)).astype(np.int64)
    table.state[:] = rng.integers(0, 3, T).astype(np.int8)
    table.tracked[:] = rng.random(T) < 0.5
    table.alive[:] = rng.random(T) < 0.8
    which = np.union1d(rng.choice(n, int(rng.integers(0, n + 1)), replace=False),
                       j).astype(np.int64)
    late0 = rng.random(n) < 0.1
    gp = IdentityGater(p)._search_p
    view = _gating.ImmTable(table.x, table.P, table.xm, table.Pm, table.mu, table.t,
                            table.ident, imm)
    z0 = z.copy()
    late = late0.copy()
    got = _gating.search_view(view, ti, j, dt, z, R, hx, hy, mident, number, trn[:, 1],
                              table.state, table.tracked, table.alive, which, late, gp)
    np.testing.assert_array_equal(z, z0)  # z is read, not shifted in place
    want_late = late0.copy()
    want = replaced_search(view, ti, j, dt, z, R, hx, hy, mident, number, table.ident,
                           trn[:, 1], table.state, table.tracked, table.alive, which,
                           want_late, gp)
    _equal(got, want)
    np.testing.assert_array_equal(late, want_late)
    if k:
        with pytest.raises(ValueError):
            _gating.search_view(view, ti, j, dt, z, R, np.zeros(k + 1), np.zeros(k + 1),
                                mident, number, trn[:, 1], table.state, table.tracked,
                                table.alive, which, late, gp)
        with pytest.raises(IndexError):
            _gating.search_view(view, ti, j + n, dt, z, R, None, None, mident, number,
                                trn[:, 1], table.state, table.tracked, table.alive, which,
                                late, gp)
