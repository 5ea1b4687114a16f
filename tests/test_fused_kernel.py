"""gateway._fused: the Fused structs it builds are those the tracker's Python construction
made (values, None for nan and unknown identities, track 360 -> 0, flags, sources), and a
bad index is refused rather than read."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from gateway._fused import fused_messages, row_columns, track_figures
from gateway.associate.filter import max_eigen2
from gateway.associate.parameters import TrackerParameters
from gateway.associate.tracker import _ENDED, _STATES, FPM_PER_FL_S, KT
from gateway.associate.tracks import ADDRESS, COASTING, LEVEL_LAST, MODE3A
from gateway.messages import ICAO24_TEXT, MODE3A_TEXT, FlightPlan, Fused, SourceRef

NAN = np.nan


def _plan(callsign: str) -> FlightPlan:
    return FlightPlan(callsign=callsign, dep="KELP", dst="MMMX", cfl=350.0, type="B738",
                      wtc="M")


def _table(n_rows: int) -> tuple[list[str | None], list[str | None], list[FlightPlan | None]]:
    labels = [f"T{r:06d}" if r % 4 else None for r in range(n_rows)]
    callsigns = [f"ABC{r}" if r % 3 else None for r in range(n_rows)]
    plans = [_plan(f"ABC{r}") if r % 5 == 0 else None for r in range(n_rows)]
    return labels, callsigns, plans


def _columns() -> dict[str, np.ndarray]:
    """Rows with every kind of missing value: no level, no speed (then no track either),
    a track of exactly 360 (rounded up), no rate of climb, no code or address."""
    return {
        "t": np.array([10.0, 11.5, 12.25, 13.0, 14.0, 15.0]),
        "lat": np.array([30.1, 31.2, 29.5, 28.0, 32.0, 30.0]),
        "lon": np.array([-100.0, -101.5, -99.25, -105.0, -110.0, -98.0]),
        "fl": np.array([350.0, NAN, 120.5, 0.0, NAN, 410.0]),
        "gs": np.array([420.5, 380.0, NAN, 250.0, 0.0, 300.0]),
        "trk": np.array([90.0, 360.0, 45.0, 359.999999, NAN, 0.0]),
        "roc": np.array([0.0, NAN, -1500.0, 2000.0, NAN, NAN]),
        "pos_sigma": np.array([55.0, 120.0, 80.0, 1000.0, 35.5, 60.0]),
        "mode3a": np.array([0o1234, -1, 0o7000, 0, -1, 0o4321], dtype=np.int64),
        "address": np.array([0xABCDEF, 0x000001, -1, -1, 0x123456, 0xFFFFFF], dtype=np.int64),
        "rows": np.array([3, 0, 7, 5, 1, 2], dtype=np.int64),
        "state": np.array([1, 2, 0, 1, 3, 2], dtype=np.int64),
    }


def _reference(c: dict[str, np.ndarray], labels: list, callsigns: list, plans: list,
               groups: list[list[SourceRef]] | None, extrapolated: bool,
               hidden: np.ndarray | None) -> list[Fused]:
    """The Python construction the tracker had before the kernel (tracker._messages)."""
    out = []
    for n, (r, tt, la, lo, fl, g, tk, rc, m3a, adr, sig) in enumerate(zip(
            c["rows"].tolist(), c["t"].tolist(), c["lat"].tolist(), c["lon"].tolist(),
            c["fl"].tolist(), c["gs"].tolist(), c["trk"].tolist(), c["roc"].tolist(),
            c["mode3a"].tolist(), c["address"].tolist(), c["pos_sigma"].tolist(),
            strict=True)):
        out.append(Fused(
            t=tt, id=labels[r], state=_STATES[int(c["state"][n])], lat=la, lon=lo,
            fl=None if fl != fl else fl, gs_kt=None if g != g else g,
            trk_deg=None if g != g else (tk if tk < 360.0 else 0.0),
            roc_fpm=None if rc != rc else rc,
            mode3a=MODE3A_TEXT[m3a], icao24=ICAO24_TEXT[adr], callsign=callsigns[r],
            pos_sigma_m=sig,
            sources=groups[n] if groups is not None else [], fpl=plans[r]))
    if extrapolated:
        out = [msgspec.structs.replace(m, extrapolated=True) for m in out]
    if hidden is not None:
        for n in hidden.nonzero()[0].tolist():
            out[n] = msgspec.structs.replace(out[n], hidden=True)
    return out


def _call(c: dict[str, np.ndarray], labels: list, callsigns: list, plans: list,
          refs: list[SourceRef] | None = None, order: np.ndarray | None = None,
          starts: np.ndarray | None = None, ends: np.ndarray | None = None,
          extrapolated: bool = False, hidden: np.ndarray | None = None) -> list[Fused]:
    return fused_messages(Fused, c["t"], c["lat"], c["lon"], c["fl"], c["gs"], c["trk"],
                          c["roc"], c["pos_sigma"], c["mode3a"], c["address"], c["rows"],
                          c["state"], _STATES, labels, callsigns, plans, MODE3A_TEXT,
                          ICAO24_TEXT, refs, order, starts, ends, extrapolated, hidden)


def _same(got: list[Fused], expected: list[Fused]) -> None:
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g == e
        # byte-identical on the wire (field order, float repr, None)
        assert msgspec.json.encode(g) == msgspec.json.encode(e)


def test_no_sources_matches_reference() -> None:
    c = _columns()
    labels, callsigns, plans = _table(8)
    got = _call(c, labels, callsigns, plans)
    _same(got, _reference(c, labels, callsigns, plans, None, False, None))
    assert got[1].fl is None and got[1].trk_deg == 0.0 and got[1].roc_fpm is None
    assert got[2].gs_kt is None and got[2].trk_deg is None and got[2].icao24 is None
    assert got[1].mode3a is None and got[0].mode3a == "1234" and got[0].icao24 == "ABCDEF"
    assert got[4].state == "ended" and got[1].id is None and got[0].callsign is None
    assert got[3].fpl is not None and got[3].fpl.callsign == "ABC5"
    assert got[0].sources == [] and got[0].sources is not got[1].sources


def test_one_source_each_and_flags_match_reference() -> None:
    c = _columns()
    labels, callsigns, plans = _table(8)
    refs = [SourceRef(sac=1, sic=i, cat=48, track_number=i if i % 2 else None)
            for i in range(6)]
    hidden = np.array([0, 1, 0, 0, 1, 0], dtype=np.uint8)
    got = _call(c, labels, callsigns, plans, refs, hidden=hidden)
    _same(got, _reference(c, labels, callsigns, plans, [[r] for r in refs], False, hidden))
    assert [m.hidden for m in got] == [False, True, False, False, True, False]
    got = _call(c, labels, callsigns, plans, refs, extrapolated=True)
    _same(got, _reference(c, labels, callsigns, plans, [[r] for r in refs], True, None))
    assert all(m.extrapolated for m in got)


def test_grouped_sources_match_reference() -> None:
    """Several sources per row, sorted by an order and cut into spans in the kernel (as
    the tracker does for a batch of several sources), some rows with none."""
    c = _columns()
    labels, callsigns, plans = _table(8)
    refs = [SourceRef(sac=2, sic=i, cat=62, track_number=100 + i) for i in range(9)]
    order = np.array([4, 0, 8, 2, 1, 7, 3, 6, 5], dtype=np.int64)
    starts = np.array([0, 2, 3, 3, 6, 8], dtype=np.int64)
    ends = np.array([2, 3, 3, 6, 8, 9], dtype=np.int64)
    groups = [[refs[k] for k in order[a:b].tolist()]
              for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
    got = _call(c, labels, callsigns, plans, refs, order, starts, ends)
    _same(got, _reference(c, labels, callsigns, plans, groups, False, None))
    assert got[2].sources == [] and [s.sic for s in got[0].sources] == [4, 0]


def test_empty() -> None:
    c = {k: v[:0] for k, v in _columns().items()}
    assert _call(c, [], [], []) == []


@pytest.mark.parametrize("bad", [
    {"state": np.array([1, 2, 0, 1, 4, 2], dtype=np.int64)},  # past "ended"
    {"state": np.array([1, -1, 0, 1, 3, 2], dtype=np.int64)},
    {"rows": np.array([3, 0, 7, 8, 1, 2], dtype=np.int64)},  # the table has 8 rows
    {"rows": np.array([3, 0, -1, 5, 1, 2], dtype=np.int64)},
    {"fl": np.zeros(5)},  # a column of another length
])
def test_bad_index_refused(bad: dict[str, np.ndarray]) -> None:
    c = {**_columns(), **bad}
    labels, callsigns, plans = _table(8)
    with pytest.raises(ValueError):
        _call(c, labels, callsigns, plans)


def test_bad_source_span_refused() -> None:
    c = _columns()
    labels, callsigns, plans = _table(8)
    refs = [SourceRef(sac=2, sic=i, cat=62, track_number=None) for i in range(6)]
    starts = np.arange(6, dtype=np.int64)
    with pytest.raises(ValueError):  # past the end of the sources
        _call(c, labels, callsigns, plans, refs, None, starts, starts + 2)
    with pytest.raises(ValueError):  # an order pointing outside the sources
        _call(c, labels, callsigns, plans, refs, np.array([0, 1, 2, 3, 4, 6]), starts,
              starts + 1)
    with pytest.raises(ValueError):  # one source each, but too few
        _call(c, labels, callsigns, plans, refs[:5])
    with pytest.raises(ValueError):  # hidden of another length
        _call(c, labels, callsigns, plans, hidden=np.zeros(4, dtype=np.uint8))


# -- track_figures: the numbers a message reports, against the numpy they replaced ------------

def _states(n: int, seed: int) -> dict[str, np.ndarray]:
    """Random states and level rows of a table, with the edges: a vague velocity (at the
    limit exactly too), a vague or missing level rate, a nan covariance, zero speed."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 200.0, (n, 4))
    x[:, :2] *= 1e3
    A = rng.normal(0.0, 1.0, (n, 4, 4))
    P = A @ A.transpose(0, 2, 1) * rng.uniform(1.0, 2000.0, (n, 1, 1))
    P[0, 0, 0] = np.nan  # a broken covariance: nan figures, as numpy gives
    P[1, 2, 2] = P[1, 3, 3] = 0.0
    x[1, 2:] = 0.0  # standing still
    k = rng.uniform(0.998, 1.003, n)
    P[2, 2, 2], P[2, 3, 3] = (40.0 * k[2]) ** 2, 0.0  # the default velocity limit exactly
    P[3, 0, 0] = P[3, 1, 1] = 100.0  # a round ellipse: the eigenvalue's root of 0
    P[3, 0, 1] = P[3, 1, 0] = 0.0
    capacity = n + 5
    level = rng.normal(300.0, 50.0, (capacity, 8))
    level[:, 5] = rng.uniform(0.0, 1e-3, capacity)  # rate variance (FL/s)^2
    level[::4, 0] = np.nan  # no level yet
    level[::7, 7] = np.nan
    roc_sdps = rng.normal(0.0, 1000.0, capacity)
    roc_sdps[::3] = np.nan
    rows = rng.permutation(capacity)[:n].astype(np.int64)
    return {"x": x, "P": P, "k": k, "level": level, "roc_sdps": roc_sdps, "rows": rows}


def reported_figures(x: np.ndarray, P: np.ndarray, k: np.ndarray, level: np.ndarray,
                      roc_sdps: np.ndarray, p: TrackerParameters,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """gateway._fused.track_figures in numpy, as the tracker computed them before it:
    ground speed (kt; nan while vague), position sigma (m), rate of climb (fpm) and level
    of states x, P at point scales k, ``level`` and ``roc_sdps`` the table's rows."""
    vx, vy = x[:, 2], x[:, 3]
    v_var = P[:, 2, 2] + P[:, 3, 3]
    gs = np.hypot(vx, vy) / (k * KT)
    gs[v_var >= (p.report_velocity_sigma_mps * k) ** 2] = np.nan
    pos_sigma = np.sqrt(max_eigen2(P[:, 0, 0], P[:, 0, 1], P[:, 1, 1])) / k
    roc = level[:, 1] * FPM_PER_FL_S
    vague = ((level[:, 5] * FPM_PER_FL_S ** 2 >= p.report_roc_sigma_fpm ** 2)
             | (level[:, 0] != level[:, 0]))
    roc[vague] = roc_sdps[vague]
    return gs, pos_sigma, roc, np.ascontiguousarray(level[:, LEVEL_LAST])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_track_figures_are_numpys_to_the_bit(seed: int) -> None:
    p = TrackerParameters()
    s = _states(2000, seed)
    got = track_figures(s["x"], s["P"], s["k"], s["level"], s["roc_sdps"], s["rows"], KT,
                        p.report_velocity_sigma_mps, FPM_PER_FL_S,
                        p.report_roc_sigma_fpm ** 2)
    want = reported_figures(s["x"], s["P"], s["k"], s["level"][s["rows"]],
                             s["roc_sdps"][s["rows"]], p)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype == np.float64
        assert np.array_equal(g.view(np.int64), w.view(np.int64))
    gs, sigma, roc, fl = got
    assert np.isnan(sigma[0]) and gs[1] == 0.0 and np.isnan(gs[2])
    assert sigma[3] == 10.0 / s["k"][3]
    assert np.isnan(gs).sum() < len(gs) and np.isnan(roc).any() and np.isfinite(roc).any()


def test_track_figures_read_strided_states() -> None:
    """A prediction's x and P may be views: the same figures as from copies."""
    from gateway.associate.tracker import FPM_PER_FL_S, KT

    s = _states(50, 4)
    wide_x = np.zeros((50, 6))
    wide_x[:, 1:5] = s["x"]
    args = (s["k"], s["level"], s["roc_sdps"], s["rows"], KT, 25.0, FPM_PER_FL_S, 1e6)
    a = track_figures(wide_x[:, 1:5], s["P"][:, :, :], *args)
    b = track_figures(s["x"].copy(), s["P"].copy(), *args)
    for u, v in zip(a, b, strict=True):
        assert np.array_equal(u, v, equal_nan=True)


def test_track_figures_refuse_bad_rows_and_shapes() -> None:
    s = _states(10, 5)
    x, P, k, level, roc_sdps, rows = (s[n] for n in ("x", "P", "k", "level", "roc_sdps",
                                                     "rows"))
    for bad in (rows + len(level), np.where(np.arange(10) == 3, -1, rows)):
        with pytest.raises(ValueError, match="outside the table"):
            track_figures(x, P, k, level, roc_sdps, bad.astype(np.int64), 1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="differ in length"):
        track_figures(x[:9], P, k, level, roc_sdps, rows, 1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="differ in length"):
        track_figures(x, P, k, level, roc_sdps[:-1], rows, 1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="too narrow"):
        track_figures(x[:, :3], P, k, level, roc_sdps, rows, 1.0, 1.0, 1.0, 1.0)
    empty = track_figures(np.zeros((0, 4)), np.zeros((0, 4, 4)), np.zeros(0), level,
                          roc_sdps, np.zeros(0, np.int64), 1.0, 1.0, 1.0, 1.0)
    assert all(len(a) == 0 for a in empty)


def reference_row_columns(rows: np.ndarray, t: np.ndarray, t_out: np.ndarray,
                          ident: np.ndarray, state: np.ndarray, t_hidden: np.ndarray,
                          t_update: np.ndarray, ended: bool,
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The numpy code ``row_columns`` replaced in ``Tracker._messages``."""
    t_out[rows] = np.fmax(t_out[rows], t)
    i = ident[rows]
    if ended:
        st = np.full(len(rows), _ENDED, dtype=np.int64)
        hidden = None
    else:
        st = state[rows].astype(np.int64)
        hidden = ((st == COASTING) & (t_hidden[rows] >= t_update[rows])).view(np.uint8)
    return np.ascontiguousarray(i[:, MODE3A]), np.ascontiguousarray(i[:, ADDRESS]), st, hidden


@pytest.mark.parametrize("seed", range(12))
def test_row_columns_are_the_numpy_code(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cap, n = 80, int(rng.integers(0, 40))
    rows = (rng.integers(0, cap, n) if seed % 3 == 1  # repeated rows: the last one stands
            else rng.permutation(cap)[:n]).astype(np.int64)

    def nan_or(a: np.ndarray) -> np.ndarray:
        return np.where(rng.random(a.shape) < 0.2, np.nan, a)

    t = nan_or(rng.uniform(0, 100, n))
    wide = np.zeros((n, 2))
    wide[:, 1] = t
    t_out = nan_or(rng.uniform(0, 100, cap))
    ident = rng.integers(-1, 4096, (cap, 4))
    state = rng.integers(0, 3, cap).astype(np.int8)
    t_hidden, t_update = nan_or(rng.uniform(0, 100, cap)), nan_or(rng.uniform(0, 100, cap))
    ended = seed % 4 == 0
    ref_out = t_out.copy()
    want = reference_row_columns(rows, t, ref_out, ident, state, t_hidden, t_update, ended)
    got = row_columns(rows, wide[:, 1] if seed % 2 else t, t_out, ident, state, t_hidden,
                      t_update, MODE3A, ADDRESS, COASTING, _ENDED if ended else -1)
    assert t_out.tobytes() == ref_out.tobytes()
    for g, w in zip(got, want, strict=True):
        if w is None:
            assert g is None
            continue
        assert g is not None and g.dtype == w.dtype
        assert g.tolist() == w.tolist()


def test_row_columns_refuse_bad_rows_and_shapes() -> None:
    cap = 5
    args = (np.zeros(cap), np.zeros((cap, 4), np.int64), np.zeros(cap, np.int8),
            np.zeros(cap), np.zeros(cap))
    with pytest.raises(IndexError, match="outside the table"):
        row_columns(np.array([cap], np.int64), np.zeros(1), *args, 3, 0, 2, -1)
    with pytest.raises(ValueError, match="differ in length"):
        row_columns(np.array([0], np.int64), np.zeros(2), *args, 3, 0, 2, -1)
    with pytest.raises(IndexError, match="identity column"):
        row_columns(np.array([0], np.int64), np.zeros(1), *args, 4, 0, 2, -1)
