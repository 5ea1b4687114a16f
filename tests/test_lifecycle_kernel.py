"""The deleter's Cython kernel (ext/lifecycle.pyx) against the numpy code it replaced in
``TimeoutDeleter.observe`` and ``missed``, kept here as the reference: the scan-period
bookkeeping (latest plot time per row and radar, the intervals of a batch, their median)
and the count of missed scans, to the bit, on random batches and on the edge cases (empty,
one row, nan times, repeated rows, a row another track had, given periods), and the
deleter's cached answers (misses to end, first miss, shortest silence) against the rules
computed afresh."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from gateway import _lifecycle
from gateway.associate import ConformalFrame, TrackerParameters
from gateway.associate.coverage import Coverage, RadarCoverage
from gateway.associate.lifecycle import MofNInitiator, TimeoutDeleter
from gateway.associate.tracks import (
    ADDRESS,
    CODE,
    CONFIRMED,
    LEVEL_LAST,
    LEVEL_T,
    MODE3A,
    TENTATIVE,
    TrackTable,
)
from gateway.units import FT

MIN_S, MAX_S = TimeoutDeleter.MIN_PERIOD_S, TimeoutDeleter.MAX_PERIOD_S


# -- the reference: the numpy code the kernel replaced -------------------------------------

def ref_median(values: np.ndarray) -> float:
    """The deleter's former in-place median (np.median's number)."""
    values.sort()
    n = len(values)
    half = n // 2
    if n % 2:
        return float(values[half])
    return float((values[half - 1] + values[half]) / 2.0)


def ref_scan_period(owner: np.ndarray, last: np.ndarray, rows: np.ndarray, uid: np.ndarray,
                    t: np.ndarray, site: int, known: float, collect: bool) -> float:
    """``observe``'s former body, from its uids on (nan: no interval, the period stays)."""
    fresh = owner[rows] != uid
    if fresh.any():
        last[rows[fresh]] = np.nan
        owner[rows[fresh]] = uid[fresh]
    dt = t - last[rows, site]
    last[rows, site] = np.fmax(t, last[rows, site])
    if not collect:
        return float("nan")
    dt = dt[(dt >= MIN_S) & (dt <= MAX_S)]
    if len(dt) == 0:
        return float("nan")
    if not np.isfinite(known):
        return ref_median(dt)
    scans = np.fmax(np.rint(dt / known), 1.0)
    return ref_median(dt / scans)


def ref_missed(seen: np.ndarray, silent: np.ndarray, period: np.ndarray,
               ) -> tuple[np.ndarray, np.ndarray]:
    """``missed``'s former count, after the coverage."""
    with np.errstate(invalid="ignore"):
        scans = np.floor(silent[:, None] / period[None, :] - 0.5)
    k = np.where(seen & np.isfinite(scans), np.fmax(scans, 0.0), 0.0).sum(axis=1)
    return k, np.asarray(seen.any(axis=1), dtype=bool)


def ref_due(state: np.ndarray, t_update: np.ndarray, t_hidden: np.ndarray, rows: np.ndarray,
            after: np.ndarray, reviewed: float) -> float:
    """``due``'s former earliest time (before the recheck)."""
    state = state[rows]
    since = np.where(state == TENTATIVE, t_update[rows], np.fmax(t_update[rows], t_hidden[rows]))
    at = np.concatenate([since + a.take(state) for a in after])
    at = at[at >= reviewed]
    return float(at.min()) if len(at) else float("inf")


def ref_predicted(x: np.ndarray, t: np.ndarray, level: np.ndarray, rows: np.ndarray,
                  now: float, default_h: float) -> tuple[np.ndarray, ...]:
    """``_predicted``'s former numpy code."""
    x = x[rows]
    dt = now - t[rows]
    level = level[rows]
    fl = level[:, LEVEL_LAST]
    rate = level[:, 1]
    rate = np.where(rate == rate, rate, 0.0) * 100.0 * FT
    since = now - level[:, LEVEL_T]
    since = np.where(since == since, since, 0.0)
    h = np.where(fl == fl, np.fmax(fl * 100.0 * FT + rate * since, 0.0), default_h)
    return (x[:, 0] + x[:, 2] * dt, x[:, 1] + x[:, 3] * dt, x[:, 2], x[:, 3], h, rate)


def same(a: float, b: float) -> bool:
    return (a != a and b != b) or a == b


# -- scan_period -----------------------------------------------------------------------------

def _check_batch(owner: np.ndarray, last: np.ndarray, rows: np.ndarray, uid: np.ndarray,
                 t: np.ndarray, site: int, known: float, collect: bool = True) -> None:
    o_ref, l_ref = owner.copy(), last.copy()
    expected = ref_scan_period(o_ref, l_ref, rows, uid, t, site, known, collect)
    got = _lifecycle.scan_period(owner, last, rows, uid, t, site, known, collect, MIN_S, MAX_S)
    assert same(got, expected), (got, expected)
    assert np.array_equal(owner, o_ref)
    assert np.array_equal(last, l_ref, equal_nan=True)


@pytest.mark.parametrize("known", [float("nan"), 4.6, 12.0])
def test_scan_period_is_the_numpy_code(known: float) -> None:
    """Random batches of one radar, some rows missing scans, some given to a new track,
    against the former numpy code, the state carried from batch to batch."""
    rng = np.random.default_rng(11)
    cap, sites = 40, 3
    owner = np.full(cap, -1, np.int64)
    last = np.full((cap, sites), np.nan)
    uid = np.arange(cap, dtype=np.int64)
    t = rng.uniform(0.0, 12.0, cap)
    for _batch in range(200):
        site = int(rng.integers(sites))
        rows = rng.choice(cap, int(rng.integers(0, 25)), replace=False).astype(np.int64)
        if rng.random() < 0.1 and len(rows):  # a row freed and given to a new track
            uid[rows[0]] = uid.max() + 1
        t = t + rng.choice([0.3, 12.0, 24.0, 90.0], cap) + rng.normal(0.0, 0.05, cap)
        _check_batch(owner, last, rows, uid[rows], t[rows], site, known,
                     collect=bool(rng.random() < 0.9))


def test_scan_period_edge_cases() -> None:
    owner = np.full(4, -1, np.int64)
    last = np.full((4, 2), np.nan)
    empty = np.zeros(0, np.int64)
    _check_batch(owner, last, empty, empty, np.zeros(0), 0, 5.0)  # empty batch
    one = np.array([2], np.int64)
    _check_batch(owner, last, one, one, np.array([100.0]), 1, float("nan"))  # first plot
    _check_batch(owner, last, one, one, np.array([105.0]), 1, float("nan"))  # one interval
    _check_batch(owner, last, one, one, np.array([np.nan]), 1, 5.0)  # nan time
    _check_batch(owner, last, one, one, np.array([110.0]), 1, 5.0)
    _check_batch(owner, last, one, one, np.array([109.0]), 1, 5.0)  # out of order
    rows = np.array([0, 1, 0, 3], np.int64)  # a row twice: the last time stays
    _check_batch(owner, last, rows, rows, np.array([1.0, 2.0, 3.0, 4.0]), 0, 5.0)
    _check_batch(owner, last, rows, rows, np.array([6.0, 7.0, 5.5, 9.0]), 0, 5.0)
    _check_batch(owner, last, rows, rows, np.array([16.0, 17.0, 15.0, 19.0]), 0, 5.0)
    other = np.array([7, 1, 7, 3], np.int64)  # row 0 now another track's: afresh
    _check_batch(owner, last, rows, other, np.array([21.0, 22.0, 20.0, 24.0]), 0, 5.0)
    # even and odd counts, ties, intervals exactly at the bounds
    for dt in ([MIN_S, MAX_S], [MIN_S - 1e-9, MAX_S + 1e-9], [5.0, 5.0, 4.0],
               [5.0, 4.0, 4.0, 5.0]):
        n = len(dt)
        rows = np.arange(n, dtype=np.int64)
        o, la = np.full(n, -1, np.int64), np.full((n, 1), np.nan)
        _check_batch(o, la, rows, rows, np.zeros(n), 0, float("nan"))
        _check_batch(o, la, rows, rows, np.array(dt), 0, float("nan"))


def test_scan_period_refuses_bad_input() -> None:
    owner = np.full(2, -1, np.int64)
    last = np.full((2, 1), np.nan)
    rows = np.array([2], np.int64)
    with pytest.raises(IndexError):
        _lifecycle.scan_period(owner, last, rows, rows, np.zeros(1), 0, 5.0, True, MIN_S, MAX_S)
    with pytest.raises(IndexError):
        _lifecycle.scan_period(owner, last, rows[:0], rows[:0], np.zeros(0), 1, 5.0, True,
                               MIN_S, MAX_S)
    with pytest.raises(ValueError):
        _lifecycle.scan_period(owner, last, rows, rows, np.zeros(2), 0, 5.0, True, MIN_S, MAX_S)


def test_median_is_numpys() -> None:
    """The kernel's median of a batch's intervals is np.median's number, to the bit, for
    odd and even lengths, ties and unsorted input."""
    rng = np.random.default_rng(3)
    cases = [np.array([4.6]), np.array([5.0, 4.0]), np.array([3.0, 1.0, 2.0]),
             np.array([1.0, 1.0, 2.0, 2.0]), np.array([1.1, 1.2, 1.7, 1.3])]
    cases += [rng.uniform(1.0, 60.0, n) for n in (2, 3, 10, 11, 100, 101)]
    for values in cases:
        n = len(values)
        rows = np.arange(n, dtype=np.int64)
        owner, last = rows.copy(), np.zeros((n, 1))
        got = _lifecycle.scan_period(owner, last, rows, rows, values, 0, float("nan"), True,
                                     MIN_S, MAX_S)
        assert got == float(np.median(values)), (values, got)


# -- missed_scans ----------------------------------------------------------------------------

def test_missed_scans_is_the_numpy_code() -> None:
    rng = np.random.default_rng(5)
    for n, m in [(0, 3), (1, 1), (1, 0), (7, 4), (300, 8)]:
        seen = rng.random((n, m)) < 0.6
        silent = rng.uniform(0.0, 200.0, n)
        if n > 2:
            silent[:3] = [np.nan, np.inf, 0.0]
        period = rng.uniform(1.0, 13.0, m)
        if m > 1:
            period[0] = np.nan  # not known yet
        k, covered = _lifecycle.missed_scans(seen, silent, period)
        k_ref, covered_ref = ref_missed(seen, silent, period)
        assert k.dtype == k_ref.dtype and covered.dtype == covered_ref.dtype
        assert np.array_equal(k, k_ref) and np.array_equal(covered, covered_ref)


# -- earliest, predicted -------------------------------------------------------------------

def test_earliest_is_the_numpy_code() -> None:
    rng = np.random.default_rng(8)
    cap = 50
    for n, rules in [(0, 1), (1, 1), (1, 3), (30, 1), (30, 3), (50, 3)]:
        state = rng.integers(0, 3, cap).astype(np.int8)
        t_update = rng.uniform(0.0, 100.0, cap)
        t_hidden = np.where(rng.random(cap) < 0.3, rng.uniform(0.0, 120.0, cap), np.nan)
        t_update[:2] = np.nan
        rows = np.sort(rng.choice(cap, n, replace=False)).astype(np.int64)
        after = rng.uniform(0.0, 60.0, (rules, 3))
        after[-1, 0] = np.inf  # a rule that never applies to a state
        for reviewed in (-np.inf, 50.0, 1e9):
            got = _lifecycle.earliest(state, t_update, t_hidden, rows, after, reviewed)
            assert same(got, ref_due(state, t_update, t_hidden, rows, after, reviewed))
    with pytest.raises(IndexError):
        _lifecycle.earliest(np.array([3], np.int8), np.zeros(1), np.zeros(1),
                            np.zeros(1, np.int64), np.zeros((1, 3)), 0.0)


def test_aged_is_the_numpy_code() -> None:
    """``review``'s former first step: the rows old enough, their age, silence, state."""
    rng = np.random.default_rng(10)
    cap = 60
    state = rng.integers(0, 3, cap).astype(np.int8)
    t_update = rng.uniform(0.0, 100.0, cap)
    t_update[:3] = np.nan
    t_hidden = np.where(rng.random(cap) < 0.3, rng.uniform(0.0, 120.0, cap), np.nan)
    for n in (0, 1, 25, cap):
        rows = np.sort(rng.choice(cap, n, replace=False)).astype(np.int64)
        for shortest in (-np.inf, 0.0, 30.0, np.inf):
            age = 110.0 - t_update[rows]
            old = age >= shortest
            r = rows[old]
            expected = (r, age[old], 110.0 - np.fmax(t_update[r], t_hidden[r]), state[r])
            got = _lifecycle.aged(state, t_update, t_hidden, rows, 110.0, shortest)
            for g, e in zip(got, expected, strict=True):
                assert g.dtype == e.dtype and np.array_equal(g, e, equal_nan=True)


def test_predicted_is_the_numpy_code() -> None:
    rng = np.random.default_rng(9)
    cap = 40
    x = rng.normal(0.0, 1e5, (cap, 4))
    t = rng.uniform(0.0, 100.0, cap)
    level = rng.uniform(-5.0, 400.0, (cap, 8))
    level[::3, LEVEL_LAST] = np.nan  # no level: the default height
    level[::4, 1] = np.nan  # no rate
    level[::5, LEVEL_T] = np.nan
    level[1, LEVEL_LAST] = -50.0  # below the ground: 0
    for n in (0, 1, 17, cap):
        rows = rng.choice(cap, n, replace=False).astype(np.int64)
        got = _lifecycle.predicted(x, t, level, rows, 120.0, LEVEL_T, LEVEL_LAST, FT, 600.0)
        expected = ref_predicted(x, t, level, rows, 120.0, 600.0)
        for g, e in zip(got, expected, strict=True):
            assert np.array_equal(g, e, equal_nan=True)


def ref_verdicts(rows: np.ndarray, state: np.ndarray, age: np.ndarray, silent: np.ndarray,
                 look: np.ndarray, k: np.ndarray, covered: np.ndarray, need: np.ndarray,
                 p: TrackerParameters) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``review``'s former last step, after the coverage (silent as the gaps left it)."""
    tentative = state == TENTATIVE
    drop = tentative & (age > p.tentative_timeout_s)
    over = ~tentative & (silent > p.end_after_s)
    ended = 0
    if len(look):
        s, tent = silent[look], tentative[look]
        gone = k >= need
        ended = int(np.count_nonzero(gone & ~tent & (s <= p.end_after_s)))
        over[look] = np.where(covered, ~tent & (gone | (s > p.end_max_s)), over[look])
        drop[look] |= tent & gone
    coast = rows[(state == CONFIRMED) & (age > p.coast_after_s) & ~over]
    return coast, rows[over], rows[drop], ended


def test_review_steps_are_the_numpy_code() -> None:
    """``review``'s rows to look at (gaps, misses) and its verdicts, against its former
    numpy masks, on random rows with ages and silences round every rule's limit."""
    rng = np.random.default_rng(16)
    p = TrackerParameters()
    limits = np.array([p.tentative_timeout_s, p.coast_after_s, p.end_after_s, p.end_min_s,
                       p.end_max_s, p.hidden_max_s, 6.9])
    for n in (0, 1, 7, 60, 400):
        rows = rng.choice(1000, n, replace=False).astype(np.int64)
        state = rng.integers(0, 3, n).astype(np.int8)
        age = np.where(rng.random(n) < 0.5, rng.choice(limits, n), rng.uniform(0, 400, n))
        silent = np.where(rng.random(n) < 0.3, age, rng.uniform(0, 1, n) * age)
        silent[rng.random(n) < 0.2] = 0.0  # hidden now
        silent = np.where(rng.random(n) < 0.3, rng.choice(limits, n), silent)
        age[::13] = np.nan
        tent = state == TENTATIVE
        hide = _lifecycle.hide_look(state, age, p.coast_after_s, p.hidden_max_s)
        assert np.array_equal(hide, (~tent & (age > p.coast_after_s)
                                     & (age <= p.hidden_max_s)).nonzero()[0])
        for first in (6.9, 0.0, np.inf):
            drop = tent & (age > p.tentative_timeout_s)
            look = _lifecycle.miss_look(state, age, silent, p.tentative_timeout_s, first,
                                        p.end_min_s)
            expected = ((tent & ~drop & (silent >= first))
                        | (~tent & (silent >= p.end_min_s))).nonzero()[0]
            assert look.dtype == np.int64 and np.array_equal(look, expected)
            m = len(look)
            k = rng.integers(0, 25, m).astype(np.float64)
            need = rng.choice([2.0, 6.0, 7.0, 20.0, np.inf], m)
            covered = rng.random(m) < 0.7
            got = _lifecycle.verdicts(rows, state, age, silent, look, k, covered, need,
                                      p.tentative_timeout_s, p.coast_after_s, p.end_after_s,
                                      p.end_max_s)
            want = ref_verdicts(rows, state, age, silent, look, k, covered, need, p)
            for g, e in zip(got[:3], want[:3], strict=True):
                assert g.dtype == e.dtype and np.array_equal(g, e)
            assert got[3] == want[3]
    with pytest.raises(ValueError):
        _lifecycle.verdicts(np.zeros(2, np.int64), np.zeros(2, np.int8), np.zeros(2),
                            np.zeros(2), np.zeros(1, np.int64), np.zeros(2),
                            np.zeros(1, bool), np.zeros(1), 1.0, 1.0, 1.0, 1.0)
    with pytest.raises(IndexError):
        _lifecycle.verdicts(np.zeros(2, np.int64), np.zeros(2, np.int8), np.zeros(2),
                            np.zeros(2), np.array([5]), np.zeros(1), np.zeros(1, bool),
                            np.zeros(1), 1.0, 1.0, 1.0, 1.0)


def test_misses_needed_is_the_numpy_code() -> None:
    """``misses_to_end``'s former numpy: the table read by tentative and transponder."""
    rng = np.random.default_rng(17)
    tracks = TrackTable(hits=3)
    rows = tracks.new(50)
    tracks.state[rows] = rng.integers(0, 3, 50)
    tracks.ident[rows, ADDRESS] = np.where(rng.random(50) < 0.4, 0x123456, -1)
    tracks.ident[rows, MODE3A] = np.where(rng.random(50) < 0.4, 0o1234, -1)
    table = np.array([20.0, 6.0, 7.0, 2.0])
    for n in (0, 1, 50):
        r = rng.choice(rows, n, replace=False).astype(np.int64)
        transponder = (tracks.icao24[r] >= 0) | (tracks.mode3a[r] >= 0)
        expected = table.take((tracks.state[r] == TENTATIVE) * 2 + transponder)
        got = _lifecycle.misses_needed(tracks.ident, tracks.state, r, ADDRESS, MODE3A, table)
        assert got.dtype == expected.dtype and np.array_equal(got, expected)
    with pytest.raises(IndexError):
        _lifecycle.misses_needed(tracks.ident, tracks.state, np.array([10**6]), ADDRESS,
                                 MODE3A, table)


def ref_confirm(init: MofNInitiator, tracks: TrackTable, rows: np.ndarray) -> np.ndarray:
    """``MofNInitiator.confirm``'s former numpy (the rule, then ``plausible``)."""
    tentative = rows[tracks.state[rows] == TENTATIVE]
    if len(tentative) == 0:
        return tentative
    init._room(tracks.capacity)
    p = init.p
    identity = ((tracks.icao24[tentative] >= 0) | (tracks.code[tentative] >= 0)
                | tracks.sdps[tentative])
    extra = np.where(identity, 0, init._extra[tentative])
    plain_need = np.where(tracks.tracked[tentative] & (extra == 0),
                          min(p.confirm_updates_tracked, p.confirm_updates_position),
                          p.confirm_updates_position + extra)
    address = tracks.icao24[tentative]
    keyed = tracks.sdps[tentative] | (address >= 0)
    if (address >= 0).any():
        live = tracks.active()
        taken = tracks.icao24[live[tracks.state[live] != TENTATIVE]]
        keyed &= tracks.sdps[tentative] | ~np.isin(address, taken[taken >= 0])
    need = np.where(keyed, p.confirm_updates_modes,
                    np.where(identity, p.confirm_updates_identity, plain_need))
    window = p.confirm_window_s * np.where(
        identity, 1.0, np.fmax(need / p.confirm_updates_position, 1.0))
    oldest = tracks.hit_t[tentative, tracks.hits - need]
    ok = (tracks.n_updates[tentative] >= need) & (
        tracks.t_update[tentative] - oldest <= window)
    plain = (ok & ~identity).nonzero()[0]
    if len(plain):
        passed = init.plausible(tracks, tentative[plain])
        ok[plain] = passed
        init.counters["initiation-gated"] += int(np.count_nonzero(~passed))
    done = tentative[ok]
    tracks.state[done] = CONFIRMED
    return done


@pytest.mark.parametrize("seed", range(6))
def test_confirm_is_the_numpy_code(seed: int) -> None:
    """Random tentative and confirmed rows (addresses, some a confirmed track's, codes,
    SDPS, tracked, cells asking more, hits in and out of the window, nan hits, plausible
    and implausible states): the rows confirmed, the states and the counters are the
    former numpy's."""
    p = TrackerParameters()
    a_init, b_init = MofNInitiator(p), MofNInitiator(p)
    a, b = TrackTable(hits=a_init.hits), TrackTable(hits=b_init.hits)
    n = 60
    for tracks, init in ((a, a_init), (b, b_init)):
        r = np.random.default_rng(seed)
        rows = tracks.new(n)
        init._room(tracks.capacity)
        tracks.state[rows] = np.where(r.random(n) < 0.7, TENTATIVE, CONFIRMED)
        tracks.ident[rows, ADDRESS] = np.where(r.random(n) < 0.3, r.integers(0, 5, n), -1)
        tracks.ident[rows, CODE] = np.where(r.random(n) < 0.2, 0o1234, -1)
        tracks.sdps[rows] = r.random(n) < 0.1
        tracks.tracked[rows] = r.random(n) < 0.3
        tracks.n_updates[rows] = r.integers(0, 7, n)
        tracks.t_update[rows] = 100.0 + r.uniform(0.0, 5.0, n)
        tracks.hit_t[rows] = 100.0 - r.uniform(0.0, 40.0, (n, tracks.hits))
        tracks.hit_t[rows[r.random(n) < 0.1], 0] = np.nan
        tracks.t_first[rows] = 100.0 - r.uniform(0.0, 30.0, n)
        tracks.t[rows] = tracks.t_update[rows]
        tracks.x[rows] = r.normal(0.0, 1.0, (n, 4)) * [1e4, 1e4, 150.0, 150.0]
        tracks.P[rows] = np.eye(4) * r.uniform(1.0, 400.0, (n, 1, 1))
        init._x0[rows] = r.normal(0.0, 1e4, (n, 2))
        init._r0[rows] = np.where(r.random(n) < 0.1, np.nan, r.uniform(100.0, 1e4, n))
        init._extra[rows] = r.integers(0, p.clutter_max_extra_hits + 1, n)
    for k in (0, 1, 5, n):
        rows = np.random.default_rng(k).choice(n, k, replace=False).astype(np.int64)
        got, expected = a_init.confirm(a, rows), ref_confirm(b_init, b, rows)
        assert got.dtype == expected.dtype and np.array_equal(got, expected)
        assert np.array_equal(a.state, b.state)
        assert a_init.counters == b_init.counters
    assert (a.state == CONFIRMED).sum() > 20


# -- the deleter's cached answers --------------------------------------------------------------

FRAME = ConformalFrame()


def test_cached_rules_are_the_rules() -> None:
    """misses_to_end's table, the first miss and the shortest silence, read from what
    ``observe`` made, equal the rules computed afresh from the parameters and periods."""
    p = dataclasses.replace(TrackerParameters(), tentative_end_probability=0.0)
    sites = [RadarCoverage(30.0, -104.0, 300.0, key=(1, 1)),
             RadarCoverage(30.0, -104.0, 300.0, key=(1, 2), period_s=9.0)]
    d = TimeoutDeleter(p, Coverage(FRAME, sites))
    tracks = TrackTable(hits=3)
    rows = tracks.new(8)
    tracks.state[rows] = [TENTATIVE, CONFIRMED] * 4
    tracks.ident[rows[:4], 0] = 0x123456  # an address (icao24) on half of them
    with np.errstate(divide="ignore"):
        pd = np.where((tracks.icao24[rows] >= 0) | (tracks.mode3a[rows] >= 0),
                      p.detection_probability, p.detection_probability_primary)
        prob = np.where(tracks.state[rows] == TENTATIVE, p.tentative_end_probability,
                        p.end_probability)
        expected = np.ceil(np.log(prob) / np.log1p(-pd) * (1.0 - 1e-9))
    assert np.array_equal(d.misses_to_end(tracks, rows), expected)

    def fresh() -> tuple[float, float]:
        known = d.period[np.isfinite(d.period)]
        first = 1.5 * float(known.min()) if len(known) else float("inf")
        return first, min(p.tentative_timeout_s, p.coast_after_s, p.end_after_s,
                          p.end_min_s, first)

    assert (d._first_miss(), d.shortest) == fresh() == (13.5, min(13.5, p.end_min_s,
                                                                    p.coast_after_s))
    t = np.linspace(0.0, 3.0, len(rows))
    for scan in range(4):
        d.observe(tracks, rows, (1, 1), t + 4.5 * scan)
        assert (d._first_miss(), d.shortest) == fresh()
    assert abs(d.period[0] - 4.5) < 1e-9 and d._first_miss() == 1.5 * d.period[0]


def test_cached_rules_follow_every_period() -> None:
    """The cached first miss and shortest silence follow the least period whichever
    radar's period moves: one slower than the least (kept), the least itself moving up
    past another's, a radar's first period below the least (made again)."""
    p = TrackerParameters()
    sites = [RadarCoverage(30.0, -104.0, 300.0, key=(1, j)) for j in range(4)]
    d = TimeoutDeleter(p, Coverage(FRAME, sites))
    tracks = TrackTable(hits=3)
    rows = tracks.new(6)
    t = np.linspace(0.0, 0.5, len(rows))

    def fresh() -> tuple[float, float]:
        known = d.period[np.isfinite(d.period)]
        first = 1.5 * float(known.min()) if len(known) else float("inf")
        return first, min(p.tentative_timeout_s, p.coast_after_s, p.end_after_s,
                          p.end_min_s, first)

    clock = 0.0
    for site, scan in ((0, 5.0), (1, 8.0), (0, 5.0), (1, 7.0), (0, 9.0), (0, 12.0),
                       (2, 3.0), (1, 6.5), (3, 20.0), (2, 6.0), (2, 9.0), (3, 2.0)):
        for _ in range(3):
            clock += scan
            d.observe(tracks, rows, (1, site), t + clock)
            assert (d._first_miss(), d.shortest) == fresh()
            assert d._after[1, 0] == d._first_miss()


# -- the initiator's writes: the kernel against the numpy code of _start --------------------

class _Plots:
    """What ``MofNInitiator.initiate`` reads of a batch of measurements (random)."""

    def __init__(self, rng: np.random.Generator, n: int, source: int) -> None:
        self.source = source
        self.xy = rng.normal(0.0, 3e5, (n, 2))
        a, d = rng.uniform(1e2, 1e6, n), rng.uniform(1e2, 1e6, n)
        b = rng.uniform(-1.0, 1.0, n) * np.sqrt(a * d)
        self.R = np.stack([np.stack([a, b], 1), np.stack([b, d], 1)], 1)
        self.R[::7, 0, 1] = self.R[::7, 1, 0] = 0.0
        self.R[::7, 1, 1] = self.R[::7, 0, 0]  # a circle: a - d = 0
        self.t = rng.uniform(0.0, 600.0, n)
        self.ground_m = rng.uniform(0.0, 4e5, n)
        self.los_x, self.los_y = rng.normal(0.0, 1e5, n), rng.normal(0.0, 1e5, n)
        self.los_x[::9] = np.nan  # no geometry: no cell
        self.v = rng.normal(0.0, 150.0, (n, 2))
        self.v_var = np.where(rng.random(n) < 0.4, np.nan, rng.uniform(1.0, 900.0, n))
        self.v_var[::11] = np.inf  # not finite: at rest, as nan

    def __len__(self) -> int:
        return len(self.t)

    def velocity(self, frame: ConformalFrame) -> tuple[np.ndarray, np.ndarray]:
        v = self.v.copy()
        v[~np.isfinite(self.v_var)] = np.nan
        return v, self.v_var


@pytest.mark.parametrize("seed", range(6))
def test_start_rows_is_the_numpy_code(seed: int) -> None:
    """``initiate`` by ``_lifecycle.start_rows`` writes what ``_start`` (numpy and the
    filter's own ``initiate``) writes, to the bit, in every column it touches, and counts
    the same rows started in clutter; on a map with learnt clutter (extra hits)."""
    from gateway.associate.filter import ConstantVelocity

    class Generic(ConstantVelocity):  # another initiate: the numpy path
        def initiate(self, z: np.ndarray, R: np.ndarray, v: np.ndarray,
                     v_var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return super().initiate(z, R, v, v_var)

    p = dataclasses.replace(TrackerParameters(), clutter_plots_per_extra_hit=0.05)
    out = []
    for model in (ConstantVelocity(p.q, p.initial_speed_sigma_mps),
                  Generic(p.q, p.initial_speed_sigma_mps)):
        r = np.random.default_rng(seed)
        init = MofNInitiator(p, ConformalFrame())
        tracks = TrackTable(hits=init.hits, models=3)
        learnt = _Plots(r, 400, 1)
        cell = init.clutter.cells(learnt)
        init.clutter.learn(np.full(400, 1, np.int64), cell, learnt.t,
                           r.uniform(0.0, 3.0, 400))
        for _ in range(5):
            m = _Plots(r, int(r.integers(1, 40)), int(r.integers(0, 3)))
            init.initiate(tracks, m, model)  # type: ignore[arg-type]
        out.append((tracks, init))
    (a, ia), (b, ib) = out
    assert ia.counters["track-started-in-clutter"] > 0
    assert ia.counters == ib.counters
    for name in ("x", "P", "t", "t_first", "state", "alive"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), strict=True)
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes(), name
    for name in ("_x0", "_r0", "_source", "_cell", "_extra"):
        assert getattr(ia, name).dtype == getattr(ib, name).dtype
        assert getattr(ia, name).tobytes() == getattr(ib, name).tobytes(), name


def test_start_rows_refuses_bad_input() -> None:
    z, R, v, f = np.zeros((1, 2)), np.zeros((1, 2, 2)), np.zeros((1, 2)), np.zeros(1)
    i = np.zeros(1, np.int64)
    x, P, t, s = np.zeros((2, 4)), np.zeros((2, 4, 4)), np.zeros(2), np.zeros(2, np.int8)
    x0, r0, si = np.zeros((2, 2)), np.zeros(2), np.zeros(2, np.int64)
    args = [i, z, R, v, f, 1.0, f, i, f, 0, 0.5, 2.0, x, P, t, t.copy(), s, 0, x0, r0, si,
            si.copy(), si.copy()]
    assert _lifecycle.start_rows(*args) == 0
    with pytest.raises(IndexError):
        _lifecycle.start_rows(np.array([2]), *args[1:])
    with pytest.raises(ValueError):
        _lifecycle.start_rows(np.zeros(2, np.int64), *args[1:])
    with pytest.raises(ValueError):
        _lifecycle.start_rows(*args[:12], np.zeros((2, 3)), *args[13:])


# -- review: the rows whose missed scans are counted ----------------------------------------

def ref_review(d: TimeoutDeleter, tracks: TrackTable, rows: np.ndarray, now: float,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``review``'s former body, which counted the missed scans of every row it looked at
    (``_lifecycle.may_end`` now leaves out those whose count cannot change a verdict)."""
    p = d.p
    rows, age, silent, state = _lifecycle.aged(tracks.state, tracks.t_update,
                                               tracks.t_hidden, rows, now, d.shortest)
    d._recheck = float("inf")
    d._reviewed = now
    if len(rows) == 0:
        return rows, rows, rows
    if d.modelled:
        look = _lifecycle.hide_look(state, age, p.coast_after_s, p.hidden_max_s)
        if len(look):
            r = rows[look]
            hidden = d._hidden(tracks, r, now, p.hidden_max_s - age[look])
            if hidden.any():
                newly = r[hidden & ~(tracks.t_hidden[r] >= tracks.t_update[r])]
                d.counters["track-hidden"] += len(newly)
                tracks.t_hidden[r[hidden]] = now
                silent[look[hidden]] = 0.0
            d._recheck = now + p.hidden_review_s
    first = d._first_miss()
    look = np.zeros(0, np.int64)
    k, covered, need = np.zeros(0), np.zeros(0, bool), np.zeros(0)
    if d.counting and first < np.inf:
        look = _lifecycle.miss_look(state, age, silent, p.tentative_timeout_s, first,
                                    p.end_min_s)
        if len(look):
            r = rows[look]
            k, covered = d.missed(tracks, r, now, silent[look])
            need = d.misses_to_end(tracks, r)
            d._recheck = min(d._recheck, now + p.hidden_review_s)
    coast, end, drop, by_misses = _lifecycle.verdicts(
        rows, state, age, silent, look, k, covered, need, p.tentative_timeout_s,
        p.coast_after_s, p.end_after_s, p.end_max_s)
    if len(look):
        d.counters["track-ended-by-misses"] += by_misses
    return coast, end, drop


def _review_case(rng: np.random.Generator, p: TrackerParameters, n: int,
                 ) -> tuple[TimeoutDeleter, TrackTable, np.ndarray]:
    """A deleter over four radars (periods 4.6 to 12 s, one not known) and ``n`` tracks
    round them, silent for times round every rule's limit."""
    sites = [RadarCoverage(30.0, -104.0, 300.0, key=(1, 1), period_s=4.6),
             RadarCoverage(31.0, -103.0, 300.0, key=(1, 2), period_s=12.0),
             RadarCoverage(30.5, -105.0, 300.0, key=(1, 3), period_s=6.0),
             RadarCoverage(29.5, -104.5, 300.0, key=(1, 4))]
    coverage = Coverage(FRAME, sites)
    d = TimeoutDeleter(p, coverage)
    tracks = TrackTable(hits=3)
    rows = tracks.new(n)
    tracks.state[rows] = rng.integers(0, 3, n)
    tracks.ident[rows, ADDRESS] = np.where(rng.random(n) < 0.3, 0x123456, -1)
    tracks.ident[rows, MODE3A] = np.where(rng.random(n) < 0.3, 0o1234, -1)
    limits = np.array([p.tentative_timeout_s, p.coast_after_s, p.end_after_s, p.end_min_s,
                       p.end_max_s, 6.9, 13.0, 18.0, 36.0])
    silence = np.where(rng.random(n) < 0.4, rng.choice(limits, n) + rng.normal(0, 1, n),
                       rng.uniform(0, 150, n))
    now = 1000.0
    tracks.t_update[rows] = now - silence
    tracks.t_hidden[rows] = np.where(rng.random(n) < 0.2, now - rng.uniform(0, 1, n) * silence,
                                     np.nan)
    tracks.t[rows] = tracks.t_update[rows]
    # round the radars, out to beyond their range (some seen by none, or by several)
    at = rng.integers(0, len(sites), n)
    bearing, dist = rng.uniform(0, 2 * np.pi, n), rng.uniform(0, 600e3, n)
    tracks.x[rows, 0] = coverage.x[at] + dist * np.cos(bearing)
    tracks.x[rows, 1] = coverage.y[at] + dist * np.sin(bearing)
    tracks.x[rows, 2:4] = rng.normal(0, 150, (n, 2))
    tracks.level[rows, LEVEL_LAST] = np.where(rng.random(n) < 0.8, rng.uniform(0, 400, n),
                                              np.nan)
    tracks.level[rows, LEVEL_T] = tracks.t_update[rows]
    tracks.level[rows, 1] = rng.normal(0, 0.3, n)
    return d, tracks, rows


@pytest.mark.parametrize("seed", range(6))
def test_review_counting_some_is_counting_all(seed: int) -> None:
    """``review``, which counts the missed scans only of the rows whose count could change
    their verdict, against its former body that counted them all: the same verdicts,
    counters, hidden times and recheck, on random tracks round four radars, with the
    parameters that end tracks by misses, and with end_max_s below end_after_s."""
    rng = np.random.default_rng(seed)
    p = TrackerParameters()
    if seed % 2:
        p = dataclasses.replace(p, end_max_s=40.0, end_probability=1e-3)
    for n in (0, 1, 30, 300):
        d, tracks, rows = _review_case(rng, p, n)
        d_ref, tracks_ref = copy.deepcopy(d), copy.deepcopy(tracks)
        got = d.review(tracks, rows, 1000.0)
        want = ref_review(d_ref, tracks_ref, rows, 1000.0)
        for g, e in zip(got, want, strict=True):
            assert g.dtype == e.dtype and np.array_equal(g, e)
        assert d.counters == d_ref.counters
        assert d._recheck == d_ref._recheck
        assert np.array_equal(tracks.t_hidden, tracks_ref.t_hidden, equal_nan=True)


def test_may_end_refuses_bad_input() -> None:
    """Shapes, columns and indices are checked."""
    ident, state = np.full((4, 4), -1, np.int64), np.zeros(4, np.int8)
    table, period = np.ones(4), np.array([5.0])
    look, rows, silent = np.array([0], np.int64), np.array([2], np.int64), np.array([9.0])
    kept, need = _lifecycle.may_end(look, rows, silent, ident, state, ADDRESS, MODE3A,
                                    table, period, 60.0)
    assert np.array_equal(kept, look) and np.array_equal(need, [1.0])
    with pytest.raises(ValueError):
        _lifecycle.may_end(look, rows, np.zeros(2), ident, state, ADDRESS, MODE3A, table,
                           period, 60.0)
    with pytest.raises(IndexError):
        _lifecycle.may_end(np.array([1], np.int64), rows, silent, ident, state, ADDRESS,
                           MODE3A, table, period, 60.0)
    with pytest.raises(IndexError):
        _lifecycle.may_end(look, np.array([9], np.int64), silent, ident, state, ADDRESS,
                           MODE3A, table, period, 60.0)


# -- TrackTable.new's reset of a row (``_lifecycle.RowFill``) --------------------------------

def ref_new(table: TrackTable, n: int) -> np.ndarray:
    """``TrackTable.new`` as it was in numpy: one assignment per column."""
    from gateway.associate.tracks import _COLUMNS
    while len(table._free) < n:
        table._grow(max(2 * table.capacity, 64))
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    rows = np.array([table._free.pop() for _ in range(n)], dtype=np.int64)
    at: int | np.ndarray = int(rows[0]) if n == 1 else rows
    for name, (_shape, _dtype, fill) in _COLUMNS.items():
        getattr(table, name)[at] = fill
    table.hit_t[at] = np.nan
    table.mu[at] = np.nan
    table.trn[at] = -1
    for r in rows.tolist():
        table.label[r] = None
        table.callsign_text[r] = None
        table.fpl[r] = None
    table.alive[at] = True
    table.uid[at] = table._next_uid if n == 1 else np.arange(table._next_uid,
                                                             table._next_uid + n)
    table._next_uid += n
    return rows


def _scribble(table: TrackTable, rows: np.ndarray, rng: np.random.Generator) -> None:
    """Writes random bytes over every column of ``rows`` (a track's life), nan and
    negative zero among them."""
    from gateway.associate.tracks import _COLUMNS
    for name in [*_COLUMNS, "hit_t", "mu", "trn", "xm", "Pm"]:
        a = getattr(table, name)
        shape = (len(rows), *a.shape[1:])
        if a.dtype == np.float64:
            v = rng.choice([np.nan, -0.0, 1.5, -3.0, np.inf], size=shape)
        elif a.dtype == np.bool_:
            v = rng.random(shape) < 0.5
        else:
            v = rng.integers(-5, 100, size=shape).astype(a.dtype)
        a[rows] = v
    for r in rows.tolist():
        table.label[r] = f"T{r}"
        table.fpl[r] = None


def _same_table(a: TrackTable, b: TrackTable) -> None:
    from gateway.associate.tracks import _COLUMNS
    for name in [*_COLUMNS, "hit_t", "mu", "trn", "owner", "xm", "Pm"]:
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape and x.dtype == y.dtype, name
        assert x.tobytes() == y.tobytes(), name  # to the bit: nan's and -0.0's too
    assert a.label == b.label and a.callsign_text == b.callsign_text and a.fpl == b.fpl
    assert a._free == b._free and a._next_uid == b._next_uid


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("models", [0, 2])
def test_new_resets_rows_as_numpy(seed: int, models: int) -> None:
    """Rows made, scribbled over, freed and made again (growing the table and its sources
    on the way) come out of ``new`` as the numpy code made them."""
    rng = np.random.default_rng(seed)
    kernel = TrackTable(capacity=4, hits=3, models=models)
    numpy_ = TrackTable(capacity=4, hits=3, models=models)
    live: list[int] = []
    for step in range(60):
        if step % 17 == 5:
            more = kernel.n_sources + int(rng.integers(1, 3))
            kernel.ensure_sources(more)
            numpy_.ensure_sources(more)
        n = int(rng.choice([0, 1, 1, 1, 2, 5]))
        got, want = kernel.new(n), ref_new(numpy_, n)
        np.testing.assert_array_equal(got, want)
        _same_table(kernel, numpy_)
        state = rng.bit_generator.state
        _scribble(kernel, got, rng)
        rng.bit_generator.state = state
        _scribble(numpy_, want, rng)
        live += got.tolist()
        if live and rng.random() < 0.5:
            k = int(rng.integers(1, len(live) + 1))
            gone = np.array(live[:k], dtype=np.int64)
            live = live[k:]
            kernel.free(gone)
            numpy_.free(gone)
    _same_table(kernel, numpy_)


def test_row_fill_checks() -> None:
    """The kernel refuses a column it cannot write a row of, and a row out of range."""
    a = np.zeros((4, 2))
    with pytest.raises(ValueError):
        _lifecycle.RowFill([a], [b"\0" * 8])  # not one row
    with pytest.raises(ValueError):
        _lifecycle.RowFill([a[:, :1]], [b"\0" * 8])  # not contiguous
    with pytest.raises(ValueError):
        _lifecycle.RowFill([a, np.zeros(3)], [b"\0" * 16, b"\0" * 8])  # rows differ
    fill = _lifecycle.RowFill([a], [np.full((1, 2), np.nan).tobytes()])
    with pytest.raises(IndexError):
        fill.reset(np.array([4], dtype=np.int64))
    fill.reset(np.array([1, 3], dtype=np.int64))
    assert np.isnan(a[[1, 3]]).all() and (a[[0, 2]] == 0).all()


def test_new_of_a_copy_writes_the_copy() -> None:
    """A deep copy (or unpickled table) resets its own rows, not the original's."""
    import pickle
    table = TrackTable(capacity=4)
    rows = table.new(4)
    table.x[rows] = 7.0
    table.free(rows)
    for other in (copy.deepcopy(table), pickle.loads(pickle.dumps(table))):
        row = other.new(1)
        assert (other.x[row] == 0.0).all()
        assert (table.x[row] == 7.0).all()


def ref_plain_rows(tracks: TrackTable, rows: np.ndarray) -> np.ndarray:
    """``MofNInitiator.dropped``'s position-only rows as they were in numpy."""
    return rows[(tracks.icao24[rows] < 0) & (tracks.code[rows] < 0)
                & ~tracks.sdps[rows] & ~tracks.tracked[rows]]


@pytest.mark.parametrize("seed", range(8))
def test_plain_rows_as_numpy(seed: int) -> None:
    """The kernel's position-only rows are numpy's, in order, repeated rows too."""
    rng = np.random.default_rng(seed)
    tracks = TrackTable(capacity=64)
    tracks.ident[:] = rng.choice([-1, -1, 0, 0x3A2B, 7], size=tracks.ident.shape)
    tracks.sdps[:] = rng.random(64) < 0.2
    tracks.tracked[:] = rng.random(64) < 0.3
    for n in (0, 1, 2, 5, 40, 100):
        rows = rng.integers(0, 64, size=n).astype(np.int64)
        got = _lifecycle.plain_rows(rows, tracks.ident, ADDRESS, CODE, tracks.sdps,
                                    tracks.tracked)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, ref_plain_rows(tracks, rows))
    with pytest.raises(IndexError):
        _lifecycle.plain_rows(np.array([64]), tracks.ident, ADDRESS, CODE, tracks.sdps,
                              tracks.tracked)


def test_kernels_read_by_pointer_refuse_what_a_memoryview_refused() -> None:
    """The kernels that read their arrays by pointer (ext/views.pxi) refuse, as the typed
    memoryviews they replaced did, arrays of another type or number of dimensions, and
    byte-swapped ones (whose raw bytes are not the numbers); a read-only array where they
    write."""
    owner = np.full(2, -1, np.int64)
    last = np.full((2, 1), np.nan)
    rows = np.array([1], np.int64)
    t = np.zeros(1)
    # the arrays it takes (no earlier plot: no interval)
    assert np.isnan(_lifecycle.scan_period(owner, last, rows, rows, t, 0, 5.0, True, MIN_S,
                                           MAX_S))
    for bad in (t.astype(">f8"), t.astype(np.float32), t[:, None]):
        with pytest.raises(ValueError):
            _lifecycle.scan_period(owner, last, rows, rows, bad, 0, 5.0, True, MIN_S, MAX_S)
    with pytest.raises(TypeError):
        _lifecycle.scan_period(owner, last, rows, rows, [0.0], 0, 5.0, True, MIN_S, MAX_S)
    frozen = last.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError):
        _lifecycle.scan_period(owner, frozen, rows, rows, t, 0, 5.0, True, MIN_S, MAX_S)
    state, times = np.zeros(2, np.int8), np.zeros(2)
    with pytest.raises(ValueError):
        _lifecycle.aged(state.astype(np.int64), times, times, rows, 1.0, 0.0)
    with pytest.raises(ValueError):
        _lifecycle.earliest(state, times.astype(">f8"), times, rows, np.zeros((1, 3)), 0.0)
