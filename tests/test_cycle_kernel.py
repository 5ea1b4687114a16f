"""The tracker's per-cycle bookkeeping kernels (ext/cycle.pyx, and ext/tracking.pyx's
``level_rows`` behind ``LevelFilter.absorb``) against the numpy code they replaced in
``Tracker._absorb``, ``_pair`` and ``_kinematics``, kept here as the reference: to the bit,
on random cycles over a random table (tentative and confirmed rows, known and unknown
identities, SDPS rates, levels with and without a report, late reports), and on the edge
cases (empty, repeated rows, nothing changed, bad input)."""

from __future__ import annotations

import numpy as np
import pytest

from gateway import _cycle
from gateway.associate.filter import LevelFilter
from gateway.associate.tracks import (
    ADDRESS,
    CALLSIGN,
    CODE,
    CONFIRMED,
    LEVEL_COV,
    LEVEL_LAST,
    LEVEL_STATE,
    LEVEL_T,
    TENTATIVE,
    TrackTable,
)

CAP, H, M = 64, 4, 40

# -- the reference: the numpy code the kernels replaced ------------------------------------


def ref_absorb(tr: TrackTable, rows: np.ndarray, idx: np.ndarray, m: dict[str, np.ndarray],
               sdps: bool, source: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``Tracker._absorb``'s former body but the texts, plans and level; and ``_pair``'s
    test.  Returns (moved rows, renamed positions, positions to pair)."""
    tm = m["t"][idx]
    tr.t_update[rows] = np.fmax(tr.t_update[rows], tm)
    tent = (tr.state[rows] == TENTATIVE).nonzero()[0]
    if len(tent):
        r = rows[tent]
        tr.n_updates[r] += 1
        hits = tr.hit_t[r]
        hits[:, :-1] = hits[:, 1:]
        hits[:, -1] = tm[tent]
        tr.hit_t[r] = hits
    before = tr.ident[rows]
    mi = m["ident"][idx]
    ident = np.where(mi >= 0, mi, before)
    changed = ident != before
    moved = np.zeros(0, dtype=np.int64)
    renamed = np.zeros(0, dtype=np.int64)
    if changed.any():
        tr.ident[rows] = ident
        renamed = (changed[:, CALLSIGN]).nonzero()[0]
        moved = rows[changed[:, ADDRESS] | changed[:, CODE]]
    trn_m = m["track_number"][idx]
    # _pair's test (it ran after the rest, which does not touch the pairings)
    paired = ((trn_m >= 0) & (trn_m != tr.trn[rows, source])).nonzero()[0]
    tr.tracked[rows[trn_m >= 0]] = True
    if sdps:
        tr.sdps[rows] = True
        roc = m["roc"][idx]
        tr.roc_sdps[rows] = np.where(np.isfinite(roc), roc, tr.roc_sdps[rows])
    return moved, renamed, paired


def ref_level(level_filter: LevelFilter, level: np.ndarray, rows: np.ndarray,
              fl: np.ndarray, tm: np.ndarray) -> None:
    """``Tracker._absorb``'s former level step."""
    has_fl = (fl == fl).nonzero()[0]
    if len(has_fl):
        if len(has_fl) == len(fl):
            r, z, t = rows, fl, tm
        else:
            r, z, t = rows[has_fl], fl[has_fl], tm[has_fl]
        L = level[r]
        dt = t - L[:, LEVEL_T]
        dt[dt != dt] = 0.0
        level_filter.step(L[:, LEVEL_STATE], L[:, LEVEL_COV].reshape(-1, 2, 2), dt, z)
        L[:, LEVEL_T] = np.fmax(L[:, LEVEL_T], t)
        L[:, LEVEL_LAST] = np.where(dt >= 0, z, L[:, LEVEL_LAST])
        level[r] = L


def ref_advance(t: np.ndarray, rows: np.ndarray, dt: np.ndarray) -> int:
    """``Tracker._kinematics``' former time bookkeeping."""
    back = int((dt < 0).sum())
    t[rows] = np.fmax(t[rows], t[rows] + dt)
    return back


# -- random tables and cycles --------------------------------------------------------------


def _table(rng: np.random.Generator) -> TrackTable:
    tr = TrackTable(capacity=CAP, hits=H)
    tr.ensure_sources(3)
    tr.new(CAP)
    tr.state[:] = rng.choice([TENTATIVE, CONFIRMED, 2], CAP).astype(np.int8)
    tr.t_update[:] = np.where(rng.random(CAP) < 0.1, np.nan, rng.uniform(0, 100, CAP))
    tr.t[:] = rng.uniform(0, 100, CAP)
    tr.n_updates[:] = rng.integers(0, 5, CAP)
    tr.hit_t[:] = np.where(rng.random((CAP, H)) < 0.3, np.nan, rng.uniform(0, 100, (CAP, H)))
    tr.ident[:] = np.where(rng.random((CAP, 4)) < 0.4, -1, rng.integers(0, 6, (CAP, 4)))
    tr.tracked[:] = rng.random(CAP) < 0.5
    tr.sdps[:] = rng.random(CAP) < 0.5
    tr.roc_sdps[:] = np.where(rng.random(CAP) < 0.5, np.nan, rng.normal(0, 1000, CAP))
    tr.trn[:] = np.where(rng.random((CAP, 3)) < 0.5, -1, rng.integers(0, 8, (CAP, 3)))
    fresh = rng.random(CAP) < 0.2  # no level yet
    tr.level[:, 0] = rng.uniform(0, 400, CAP)
    tr.level[:, 1] = rng.normal(0, 0.3, CAP)
    P = rng.normal(0, 1, (CAP, 2, 2))
    P = P @ P.transpose(0, 2, 1) + 0.1 * np.eye(2)
    tr.level[:, 2:6] = P.reshape(CAP, 4)
    tr.level[:, LEVEL_T] = rng.uniform(0, 100, CAP)
    tr.level[:, LEVEL_LAST] = rng.uniform(0, 400, CAP)
    tr.level[fresh] = np.nan
    return tr


def _measurements(rng: np.random.Generator, strided: bool) -> dict[str, np.ndarray]:
    num = rng.uniform(0, 110, (M, 3))
    num[:, 1] = np.where(rng.random(M) < 0.3, np.nan, rng.normal(0, 2000, M))
    num[:, 2] = np.where(rng.random(M) < 0.3, np.nan, rng.uniform(0, 400, M))
    ident = np.where(rng.random((M, 4)) < 0.5, -1, rng.integers(0, 6, (M, 4)))
    m = {"t": num[:, 0], "roc": num[:, 1], "fl": num[:, 2], "ident": ident,
         "track_number": np.where(rng.random(M) < 0.3, -1, rng.integers(0, 8, M))}
    if not strided:
        m = {k: np.ascontiguousarray(v) for k, v in m.items()}
    return m


def _copy(tr: TrackTable) -> TrackTable:
    c = TrackTable(capacity=CAP, hits=H)
    for name in ("state", "t_update", "t", "n_updates", "hit_t", "ident", "tracked", "sdps",
                 "roc_sdps", "trn", "level", "owner"):
        setattr(c, name, getattr(tr, name).copy())
    return c


def _same(a: TrackTable, b: TrackTable) -> None:
    for name in ("state", "t_update", "t", "n_updates", "hit_t", "ident", "tracked", "sdps",
                 "roc_sdps", "trn", "level"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype
        assert x.tobytes() == y.tobytes(), name  # to the bit, nan included


def _kernel(tr: TrackTable, rows: np.ndarray, idx: np.ndarray, m: dict[str, np.ndarray],
            sdps: bool, source: int, viewed: bool = False,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if viewed:  # through the table's views (what the tracker calls)
        view = _cycle.AbsorbTable(tr.state, tr.t_update, tr.n_updates, tr.hit_t, tr.ident,
                                  tr.tracked, tr.sdps, tr.roc_sdps)
        return _cycle.absorb_view(view, rows, idx, m["t"], m["ident"], m["track_number"],
                                  m["roc"], sdps, tr.trn[:, source])
    return _cycle.absorb(rows, idx, m["t"], m["ident"], m["track_number"], m["roc"], sdps,
                         tr.state, tr.t_update, tr.n_updates, tr.hit_t, tr.ident, tr.tracked,
                         tr.sdps, tr.roc_sdps, tr.trn[:, source])


@pytest.mark.parametrize("viewed", [False, True])
@pytest.mark.parametrize("seed", range(40))
def test_absorb_is_the_numpy_code(seed: int, viewed: bool) -> None:
    rng = np.random.default_rng(seed)
    tr = _table(rng)
    m = _measurements(rng, strided=seed % 2 == 0)
    n = int(rng.integers(0, 30))
    repeated = seed % 4 == 1  # repeated rows: numpy's last one stands
    rows = (rng.integers(0, CAP, n) if repeated
            else rng.permutation(CAP)[:n]).astype(np.int64)
    idx = rng.integers(0, M, n).astype(np.int64)
    sdps, source = bool(seed % 3 == 0), int(seed % 3)
    ref = _copy(tr)
    expected = ref_absorb(ref, rows, idx, m, sdps, source)
    got = _kernel(tr, rows, idx, m, sdps, source, viewed)
    _same(tr, ref)
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == np.int64
        assert g.tolist() == e.tolist()


@pytest.mark.parametrize("seed", range(40))
def test_absorb_view_with_the_level_step_is_the_numpy_code(seed: int) -> None:
    """``absorb_view`` given the level filter's parameters (what the tracker calls) also
    steps the level rows: the bookkeeping's reference, then the level's on the
    gathered reports, to the bit."""
    rng = np.random.default_rng(200 + seed)
    tr = _table(rng)
    m = _measurements(rng, strided=seed % 2 == 0)
    n = int(rng.integers(0, 30))
    rows = (rng.integers(0, CAP, n) if seed % 4 == 1
            else rng.permutation(CAP)[:n]).astype(np.int64)
    idx = rng.integers(0, M, n).astype(np.int64)
    sdps, source = bool(seed % 3 == 0), int(seed % 3)
    f = LevelFilter()
    ref = _copy(tr)
    expected = ref_absorb(ref, rows, idx, m, sdps, source)
    ref_level(f, ref.level, rows, m["fl"][idx], m["t"][idx])
    view = _cycle.AbsorbTable(tr.state, tr.t_update, tr.n_updates, tr.hit_t, tr.ident,
                              tr.tracked, tr.sdps, tr.roc_sdps, tr.level)
    assert f.kernel() is not None
    got = _cycle.absorb_view(view, rows, idx, m["t"], m["ident"], m["track_number"],
                             m["roc"], sdps, tr.trn[:, source], m["fl"], f.kernel())
    _same(tr, ref)
    for g, e in zip(got, expected, strict=True):
        assert g.tolist() == e.tolist()


def test_absorb_view_level_step_checks_its_input() -> None:
    rng = np.random.default_rng(3)
    tr = _table(rng)
    m = _measurements(rng, strided=False)
    rows, idx = np.array([1, 2], dtype=np.int64), np.array([0, 1], dtype=np.int64)
    args = (rows, idx, m["t"], m["ident"], m["track_number"], m["roc"], False, tr.trn[:, 0])
    bare = _cycle.AbsorbTable(tr.state, tr.t_update, tr.n_updates, tr.hit_t, tr.ident,
                              tr.tracked, tr.sdps, tr.roc_sdps)
    with pytest.raises(ValueError, match="no level rows"):
        _cycle.absorb_view(bare, *args, m["fl"], LevelFilter().kernel())
    view = _cycle.AbsorbTable(tr.state, tr.t_update, tr.n_updates, tr.hit_t, tr.ident,
                              tr.tracked, tr.sdps, tr.roc_sdps, tr.level)
    with pytest.raises(ValueError, match="shapes"):
        _cycle.absorb_view(view, *args, m["fl"][:3], LevelFilter().kernel())


def test_a_changed_level_filter_has_no_kernel() -> None:
    """The tracker steps the level rows in its bookkeeping kernel only for the plain
    filter: a subclass with its own ``step`` or ``absorb`` gets its own code called."""

    class Stepped(LevelFilter):
        def step(self, s: np.ndarray, P: np.ndarray, dt: np.ndarray, z: np.ndarray) -> None:
            s[:, 0] = z

    class Absorbed(LevelFilter):
        def absorb(self, level: np.ndarray, rows: np.ndarray, z: np.ndarray,
                   t: np.ndarray) -> None:
            pass

    assert LevelFilter(q=0.01).kernel() == (0.01, 0.3, 2000.0 / 6000.0)
    assert Stepped().kernel() is None
    assert Absorbed().kernel() is None


@pytest.mark.parametrize("seed", range(40))
def test_level_rows_is_the_numpy_code(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    tr = _table(rng)
    m = _measurements(rng, strided=False)
    n = int(rng.integers(0, 30))
    rows = (rng.integers(0, CAP, n) if seed % 4 == 1
            else rng.permutation(CAP)[:n]).astype(np.int64)
    idx = rng.integers(0, M, n)
    fl, tm = m["fl"][idx], m["t"][idx]
    if seed % 5 == 0:  # every report has a level (SDPS, Mode S)
        fl = np.where(fl == fl, fl, 100.0)
    f = LevelFilter()
    level = tr.level.copy()
    ref_level(f, level, rows, fl, tm)
    f.absorb(tr.level, rows, fl, tm)
    assert tr.level.tobytes() == level.tobytes()


def test_level_absorb_falls_back_to_a_changed_step() -> None:
    """A level filter with its own ``step`` gets the numpy code with that step."""

    class Halved(LevelFilter):
        def step(self, s: np.ndarray, P: np.ndarray, dt: np.ndarray, z: np.ndarray) -> None:
            s[:, 0] = z / 2

    rng = np.random.default_rng(7)
    tr = _table(rng)
    rows = np.array([1, 2, 3], dtype=np.int64)
    Halved().absorb(tr.level, rows, np.array([100.0, np.nan, 300.0]), np.full(3, 200.0))
    assert tr.level[[1, 3], 0].tolist() == [50.0, 150.0]


@pytest.mark.parametrize("seed", range(20))
def test_advance_is_the_numpy_code(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    t = np.where(rng.random(CAP) < 0.1, np.nan, rng.uniform(0, 100, CAP))
    n = int(rng.integers(0, 30))
    rows = (rng.integers(0, CAP, n) if seed % 4 == 1
            else rng.permutation(CAP)[:n]).astype(np.int64)
    dt = np.where(rng.random(n) < 0.1, np.nan, rng.normal(0, 3, n))
    ref = t.copy()
    expected = ref_advance(ref, rows, dt)
    assert _cycle.advance(t, rows, dt) == expected
    assert t.tobytes() == ref.tobytes()


def test_nothing_changed_writes_nothing() -> None:
    rng = np.random.default_rng(3)
    tr = _table(rng)
    m = _measurements(rng, strided=False)
    m["ident"][:] = -1
    m["track_number"][:] = -1
    ref = _copy(tr)
    got = _kernel(tr, np.zeros(0, np.int64), np.zeros(0, np.int64), m, True, 0)
    assert all(len(g) == 0 for g in got)
    _same(tr, ref)
    rows, idx = np.array([4, 5], dtype=np.int64), np.array([0, 1], dtype=np.int64)
    moved, renamed, paired = _kernel(tr, rows, idx, m, False, 0)
    assert len(moved) == len(renamed) == len(paired) == 0
    assert tr.ident.tobytes() == ref.ident.tobytes()


def test_bad_input_is_refused() -> None:
    rng = np.random.default_rng(5)
    tr = _table(rng)
    m = _measurements(rng, strided=False)
    with pytest.raises(IndexError):
        _kernel(tr, np.array([CAP], dtype=np.int64), np.array([0], dtype=np.int64), m,
                False, 0)
    with pytest.raises(IndexError):
        _kernel(tr, np.array([0], dtype=np.int64), np.array([M], dtype=np.int64), m,
                False, 0)
    with pytest.raises(ValueError):
        _kernel(tr, np.array([0, 1], dtype=np.int64), np.array([0], dtype=np.int64), m,
                False, 0)
    with pytest.raises(IndexError):
        _cycle.advance(tr.t, np.array([-1], dtype=np.int64), np.zeros(1))
    with pytest.raises(ValueError):
        _cycle.advance(tr.t, np.array([0], dtype=np.int64), np.zeros(2))


@pytest.mark.parametrize("seed", range(10))
def test_census_counts_what_numpy_counts(seed: int) -> None:
    """``_publish``'s common-case test: the counts its numpy tests were about."""
    rng = np.random.default_rng(300 + seed)
    tr = _table(rng)
    tr.published[:] = rng.random(CAP) < 0.7
    rows = rng.integers(0, CAP, int(rng.integers(0, 30))).astype(np.int64)
    state = tr.state[rows]
    assert _cycle.census(tr.state, tr.published, rows, TENTATIVE, 2) == (
        int((state == TENTATIVE).sum()), int((state == 2).sum()),
        int((~tr.published[rows]).sum()))
    with pytest.raises(IndexError):
        _cycle.census(tr.state, tr.published, np.array([CAP], np.int64), TENTATIVE, 2)


def ref_spans(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``Tracker._publish``'s former grouping of a batch several sources fed."""
    order = np.argsort(rows, kind="stable")
    rows = rows[order]
    first = (np.r_[True, rows[1:] != rows[:-1]]).nonzero()[0]
    starts, ends = first, np.r_[first[1:], len(rows)]
    return order, rows[first], starts, ends


@pytest.mark.parametrize("n", [1, 2, 7, 60, 1500])
def test_spans_are_the_numpy_code(n: int) -> None:
    rng = np.random.default_rng(n)
    for high in (n // 3 + 1, 3 * n + 1):  # many repeats, few
        rows = rng.integers(0, high, n).astype(np.int64)
        for g, w in zip(_cycle.spans(rows), ref_spans(rows), strict=True):
            assert g.dtype == w.dtype == np.int64
            assert g.tolist() == w.tolist()
    assert all(len(a) == 0 for a in _cycle.spans(np.zeros(0, np.int64)))
    with pytest.raises(IndexError):
        _cycle.spans(np.array([3, -1], np.int64))


@pytest.mark.parametrize("seed", range(20))
def test_bounds_are_numpys_reductions(seed: int) -> None:
    """``bounds`` is (np.minimum.reduce, np.maximum.reduce), nan included, strided too."""
    rng = np.random.default_rng(300 + seed)
    n = int(rng.integers(1, 40))
    t = rng.uniform(-10, 1000, (n, 2))[:, 0]  # a column: strided
    if seed % 4 == 0:
        t[rng.integers(0, n)] = np.nan
    if seed % 5 == 0:
        t[:] = t[0]  # all equal
    lo, hi = _cycle.bounds(t)
    for got, want in ((lo, np.minimum.reduce(t)), (hi, np.maximum.reduce(t))):
        assert np.float64(got).tobytes() == np.float64(want).tobytes()


def test_bounds_of_no_time_is_an_error_as_numpys() -> None:
    with pytest.raises(ValueError):
        np.minimum.reduce(np.zeros(0))
    with pytest.raises(ValueError):
        _cycle.bounds(np.zeros(0))


def ref_sources(refs: dict[int, object], index: np.ndarray, track_number: np.ndarray,
                idx: np.ndarray, out: list[object]) -> np.ndarray:
    """``Tracker.update``'s former gathering of a cycle's message indices and sources."""
    out.extend(map(refs.__getitem__, track_number[idx].tolist()))
    return index[idx]


class _Made(dict[int, object]):
    """A dict that makes what it lacks, as measurements.py's ``_Refs`` does."""

    def __missing__(self, key: int) -> object:
        made = self[key] = ("made", key)
        return made


@pytest.mark.parametrize("seed", range(20))
def test_sources_are_the_numpy_code(seed: int) -> None:
    """The same index array and the same objects appended in the same order, whether the
    dict has the key or makes it (then once: the second lookup finds it); strided
    columns, repeated and empty selections."""
    rng = np.random.default_rng(500 + seed)
    n = int(rng.integers(1, 40))
    index = rng.integers(0, 100, (n, 2)).astype(np.int64)[:, 0]  # strided
    track_number = rng.integers(-1, 12, n).astype(np.int64)
    idx = rng.integers(0, n, int(rng.integers(0, 2 * n))).astype(np.int64)
    if seed % 3 == 0:
        idx = idx[::-1]
    made, want_made = _Made({3: ("kept", 3)}), _Made({3: ("kept", 3)})
    got_out: list[object] = ["before"]
    want_out: list[object] = ["before"]
    got = _cycle.sources(made, index, track_number, idx, got_out)
    want = ref_sources(want_made, index, track_number, idx, want_out)
    assert got.dtype == want.dtype == np.int64
    assert got.tolist() == want.tolist()
    assert got_out == want_out
    assert dict(made) == dict(want_made)
    # every appended object is the dict's own (made once, shared)
    assert all(o is made[k] for o, k in zip(got_out[1:], track_number[idx].tolist(),
                                              strict=True))


def test_sources_refuses_bad_input() -> None:
    index, tn = np.arange(3, dtype=np.int64), np.zeros(3, np.int64)
    out: list[object] = []
    for bad in ([3], [-1]):
        with pytest.raises(IndexError):
            _cycle.sources({0: "a"}, index, tn, np.array(bad, np.int64), out)
    with pytest.raises(ValueError):
        _cycle.sources({0: "a"}, index, tn[:2], np.zeros(1, np.int64), out)
    with pytest.raises(TypeError):
        _cycle.sources([("a",)], index, tn, np.zeros(1, np.int64), out)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="int64"):
        _cycle.sources({0: "a"}, index.astype(np.int32), tn, np.zeros(1, np.int64), out)
    with pytest.raises(TypeError, match="numpy"):
        _cycle.sources({0: "a"}, index, tn, [0], out)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="byte order"):  # its bytes are not int64's here
        _cycle.sources({0: "a"}, index.astype(">i8"), tn, np.zeros(1, np.int64), out)
    assert out == []
