"""gateway._fused.messages: the Fused structs it builds are those the tracker's numpy and
Python made before it (figures to the bit, None for nan and unknown identities, track 360
-> 0, flags, sources, t_out moved on), and a bad index is refused rather than read."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from gateway._fused import Output, messages
from gateway.associate.filter import max_eigen2
from gateway.associate.frame import ConformalFrame
from gateway.associate.parameters import TrackerParameters
from gateway.associate.tracker import _ENDED, _STATES, FPM_PER_FL_S, KT
from gateway.associate.tracks import ADDRESS, COASTING, LEVEL_LAST, MODE3A, STATE_NAMES
from gateway.messages import (
    ICAO24_TEXT,
    MODE3A_TEXT,
    CodeText,
    FlightPlan,
    Fused,
    SourceRef,
)

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


FRAME = ConformalFrame()


def _output(p: TrackerParameters | None = None) -> Output:
    """The kernel's fixed part as the tracker makes it (Tracker.__init__)."""
    p = p or TrackerParameters()
    _conic, lats, factors = FRAME.tables
    return Output(Fused, _STATES, MODE3A_TEXT, ICAO24_TEXT, lats, factors, FRAME.cone,
                  FRAME.parameters.lon_0, MODE3A, ADDRESS, COASTING, _ENDED, KT,
                  p.report_velocity_sigma_mps, FPM_PER_FL_S, p.report_roc_sigma_fpm ** 2)


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



def _batch(n: int, seed: int, repeated: bool = False) -> dict[str, object]:
    """A table (``_states``' rows and level, random identities, states, times, labels)
    and a batch of n of its rows, with latitudes on and off the scale table's knots and
    beyond its ends, and bearings and longitudes that put the track on 0 and 360."""
    s: dict[str, object] = dict(_states(n, seed))
    rng = np.random.default_rng(seed + 100)
    cap = len(s["level"])  # type: ignore[arg-type]
    x = s["x"]
    assert isinstance(x, np.ndarray)
    lat, lon = FRAME.to_latlon(x[:, 0], x[:, 1])
    bearing = np.arctan2(x[:, 2], x[:, 3])
    if n > 9:
        lat[:6] = [30.0, 29.99, -89.0, 89.0, -89.5, 90.0]  # knots, the ends, beyond them
        lat[6] = np.nan
        lon[7], bearing[7] = FRAME.parameters.lon_0, 0.0  # due north, central meridian
        lon[8], bearing[8] = FRAME.parameters.lon_0, -1e-18  # just west of it: 360 -> 0
        lon[9], bearing[9] = FRAME.parameters.lon_0, -2 * np.pi  # -360 % 360: +0.0
        P = s["P"]
        assert isinstance(P, np.ndarray)
        P[7:10, 2, 2] = P[7:10, 3, 3] = 0.0  # their speeds (and so tracks) known
    if repeated:  # a row twice: the last of its times stands in t_out
        rows = rng.integers(0, cap, n).astype(np.int64)
    else:
        rows = s["rows"]
    labels = [f"T{r:06d}" if r % 4 else None for r in range(cap)]
    callsigns = [f"ABC{r}" if r % 3 else None for r in range(cap)]
    plans = [_plan(f"ABC{r}") if r % 5 == 0 else None for r in range(cap)]

    def nan_or(a: np.ndarray) -> np.ndarray:
        return np.where(rng.random(a.shape) < 0.2, np.nan, a)

    s.update(rows=rows, lat=lat, lon=lon, bearing=bearing, t=nan_or(rng.uniform(0, 100, n)),
             t_out=nan_or(rng.uniform(0, 100, cap)),
             ident=rng.integers(-1, 1 << 24, (cap, 4)),
             state=rng.integers(0, len(STATE_NAMES), cap).astype(np.int8),
             t_hidden=nan_or(rng.uniform(0, 100, cap)),
             t_update=nan_or(rng.uniform(0, 100, cap)),
             labels=labels, callsigns=callsigns, plans=plans)
    s["ident"][:, MODE3A] %= 4096  # type: ignore[index]
    return s


def reference_messages(s: dict, groups: list[list[SourceRef]] | None, ended: bool,
                       extrapolated: bool, p: TrackerParameters) -> list[Fused]:
    """The numpy and Python ``messages`` replaced in ``Tracker._messages``: the table's
    columns, the frame's scale and north, the figures, the track angle, the structs.
    Moves s["t_out"] on as the kernel does."""
    rows, x, P, t, lat, lon = (s[k] for k in ("rows", "x", "P", "t", "lat", "lon"))
    mode3a, address, state, hidden = reference_row_columns(
        rows, t, s["t_out"], s["ident"], s["state"], s["t_hidden"], s["t_update"], ended)
    k = FRAME.scale(lat)
    gs, sigma, roc, fl = reported_figures(x, P, k, s["level"][rows], s["roc_sdps"][rows], p)
    trk = np.degrees(s["bearing"] - FRAME.north(lon)) % 360.0
    c = {"t": t, "lat": lat, "lon": lon, "fl": fl, "gs": gs, "trk": trk, "roc": roc,
         "pos_sigma": sigma, "mode3a": mode3a, "address": address, "rows": rows,
         "state": state}
    return _reference(c, s["labels"], s["callsigns"], s["plans"], groups, extrapolated,
                      hidden)


def _call(s: dict, refs: list[SourceRef] | None = None, order: np.ndarray | None = None,
          starts: np.ndarray | None = None, ends: np.ndarray | None = None,
          ended: bool = False, extrapolated: bool = False, at_rows: bool = False,
          output: Output | None = None) -> list[Fused]:
    """``messages`` of the batch s (``at_rows``: P and t given table-wide, as _publish
    does)."""
    P, t = s["P"], s["t"]
    if at_rows:  # the table's P and t, the batch's at its rows
        cap = len(s["level"])
        P_table = np.full((cap, 4, 4), np.inf)
        t_table = np.full(cap, -1.0)
        P_table[s["rows"]], t_table[s["rows"]] = P, t
        P, t = P_table, t_table
    return messages(output or _output(), s["rows"], s["x"], P, t, at_rows, s["lat"], s["lon"],
                    s["bearing"], s["t_out"], s["ident"], s["state"], s["t_hidden"],
                    s["t_update"], s["level"], s["roc_sdps"], s["labels"], s["callsigns"],
                    s["plans"], refs, order, starts, ends, ended, extrapolated)


def _same(got: list[Fused], expected: list[Fused]) -> None:
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert repr(g) == repr(e)  # every float to the bit (nan, -0.0), None where None
        # byte-identical on the wire (field order, float repr, None, -0.0)
        assert msgspec.json.encode(g) == msgspec.json.encode(e)


@pytest.mark.parametrize("seed", range(8))
def test_messages_are_the_numpy_code(seed: int) -> None:
    p = TrackerParameters()
    ended, extrapolated = seed % 4 == 1, seed % 4 == 2
    s = _batch(300, seed, repeated=seed % 4 == 3)
    want_t_out = s["t_out"].copy()
    want = reference_messages({**s, "t_out": want_t_out}, None, ended, extrapolated, p)
    got = _call(s, ended=ended, extrapolated=extrapolated)
    _same(got, want)
    assert s["t_out"].tobytes() == want_t_out.tobytes()
    assert any(m.hidden for m in got) == (not ended)
    assert all(m.extrapolated == extrapolated for m in got)
    assert got[6].lat is not None  # nan, not None
    assert [repr(m.trk_deg) for m in got[7:10]] == ["0.0"] * 3  # 360 -> 0, -360 -> 0.0 (not -0.0)


@pytest.mark.parametrize("seed", range(3))
def test_messages_read_the_table_at_the_rows(seed: int) -> None:
    """_publish gives the table's P and t: the same messages as the batch's own."""
    s = _batch(200, seed)
    t_out = s["t_out"].copy()
    want = _call({**s, "t_out": t_out})
    _same(_call(s, at_rows=True), want)
    assert s["t_out"].tobytes() == t_out.tobytes()


def test_messages_read_strided_states() -> None:
    """A prediction's x and P may be views: the same messages as from copies."""
    s = _batch(50, 4)
    wide_x = np.zeros((50, 6))
    wide_x[:, 1:5] = s["x"]
    wide_P = np.zeros((50, 5, 5))
    wide_P[:, :4, :4] = s["P"]
    want = _call({**s, "t_out": s["t_out"].copy()})
    _same(_call({**s, "x": wide_x[:, 1:5], "P": wide_P[:, :4, :4]}), want)


def test_scale_and_track_are_numpys_to_the_bit() -> None:
    """The scale factor (numpy's interp) and the track angle (numpy's degrees and
    remainder) over many random latitudes, bearings and longitudes, through what the
    message shows of them: the speed (over k) and the track."""
    rng = np.random.default_rng(7)
    n = 20000
    s = _batch(n, 7)
    lat = rng.uniform(-95.0, 95.0, n)
    lat[::10] = np.round(lat[::10], 2)  # on the table's knots
    s["lat"] = lat
    s["lon"] = rng.uniform(-180.0, 180.0, n)
    s["bearing"] = rng.uniform(-np.pi, np.pi, n)
    s["bearing"][::7] = np.round(s["bearing"][::7], 1)
    P = s["P"]
    P[:, 2, 2] = P[:, 3, 3] = 0.0  # every speed known
    s["rows"] = rng.integers(0, len(s["level"]), n).astype(np.int64)
    got = _call({**s, "t_out": s["t_out"].copy()})
    k = FRAME.scale(lat)
    gs = np.hypot(s["x"][:, 2], s["x"][:, 3]) / (k * KT)
    trk = np.degrees(s["bearing"] - FRAME.north(s["lon"])) % 360.0
    trk[trk >= 360.0] = 0.0
    assert np.array_equal(np.array([m.gs_kt for m in got]).view(np.int64), gs.view(np.int64))
    assert np.array_equal(np.array([m.trk_deg for m in got]).view(np.int64),
                          trk.view(np.int64))


def test_sources_one_each_and_grouped() -> None:
    """One source per row; several per row, sorted by an order and cut into spans (as
    the tracker does for a batch of several sources), some rows with none."""
    p = TrackerParameters()
    s = _batch(6, 11)
    refs = [SourceRef(sac=1, sic=i, cat=48, track_number=i if i % 2 else None)
            for i in range(6)]
    t_out = s["t_out"].copy()
    _same(_call({**s, "t_out": t_out.copy()}, refs),
          reference_messages({**s, "t_out": t_out.copy()}, [[r] for r in refs], False,
                             False, p))
    refs = [SourceRef(sac=2, sic=i, cat=62, track_number=100 + i) for i in range(9)]
    order = np.array([4, 0, 8, 2, 1, 7, 3, 6, 5], dtype=np.int64)
    starts = np.array([0, 2, 3, 3, 6, 8], dtype=np.int64)
    ends = np.array([2, 3, 3, 6, 8, 9], dtype=np.int64)
    groups = [[refs[k] for k in order[a:b].tolist()]
              for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
    got = _call({**s, "t_out": t_out.copy()}, refs, order, starts, ends)
    _same(got, reference_messages({**s, "t_out": t_out.copy()}, groups, False, False, p))
    assert got[2].sources == [] and [r.sic for r in got[0].sources] == [4, 0]
    got = _call({**s, "t_out": t_out.copy()})
    assert got[0].sources == [] and got[0].sources is not got[1].sources


def test_empty() -> None:
    s = _batch(20, 12)
    s.update(rows=s["rows"][:0], x=s["x"][:0], P=s["P"][:0], t=s["t"][:0], lat=s["lat"][:0],
             lon=s["lon"][:0], bearing=s["bearing"][:0])
    assert _call(s) == []


def test_bad_index_refused() -> None:
    s = _batch(6, 13)
    cap = len(s["level"])
    for rows in ([0, 1, 2, 3, 4, cap], [0, 1, -1, 3, 4, 5]):
        with pytest.raises(ValueError, match="outside the table"):
            _call({**s, "rows": np.array(rows, dtype=np.int64)})
    state = s["state"].copy()
    state[s["rows"][2]] = len(STATE_NAMES) + 1
    with pytest.raises(ValueError, match="state"):
        _call({**s, "state": state})
    for name in ("x", "lat", "t"):
        with pytest.raises(ValueError, match="differ in length"):
            _call({**s, name: s[name][:5]})
    with pytest.raises(ValueError, match="differ in length"):
        _call({**s, "labels": s["labels"][:-1]})
    with pytest.raises(ValueError, match="too narrow"):
        _call({**s, "x": s["x"][:, :3]})
    refs = [SourceRef(sac=2, sic=i, cat=62, track_number=None) for i in range(6)]
    starts = np.arange(6, dtype=np.int64)
    with pytest.raises(ValueError):  # past the end of the sources
        _call(s, refs, None, starts, starts + 2)
    with pytest.raises(ValueError):  # an order pointing outside the sources
        _call(s, refs, np.array([0, 1, 2, 3, 4, 6]), starts, starts + 1)
    with pytest.raises(ValueError):  # one source each, but too few
        _call(s, refs[:5])


def test_bad_array_refused() -> None:
    """Arrays are read by pointer: of another type, dimension or byte order, a read-only
    t_out, a list for an array: refused before anything is read."""
    s = _batch(6, 14)
    frozen = s["t_out"].copy()
    frozen.flags.writeable = False
    for bad in ({"rows": s["rows"].astype(np.int32)}, {"state": s["state"].astype(np.int64)},
                {"x": s["x"].astype(np.float32)}, {"P": s["P"][:, :, 0]},
                {"t_out": frozen}, {"lat": s["lat"].astype(">f8")}):
        with pytest.raises(ValueError, match=r"messages: \w+ is not an aligned.* native byte"):
            _call({**s, **bad})
    with pytest.raises(TypeError, match="not a numpy array"):
        _call({**s, "lat": s["lat"].tolist()})


def test_output_refuses_a_bad_table() -> None:
    _conic, lats, factors = FRAME.tables
    args = (1.0, 0.0, MODE3A, ADDRESS, COASTING, _ENDED, KT, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="increase"):
        Output(Fused, _STATES, MODE3A_TEXT, ICAO24_TEXT, lats[::-1].copy(), factors, *args)
    with pytest.raises(ValueError, match="two knots"):
        Output(Fused, _STATES, MODE3A_TEXT, ICAO24_TEXT, lats[:1].copy(), factors[:1].copy(),
               *args)
    with pytest.raises(TypeError, match="not dicts"):  # the texts are read as dicts
        Output(Fused, _STATES, list(range(8)), ICAO24_TEXT, lats, factors, *args)


def test_texts_made_on_a_miss_are_the_tables() -> None:
    """A code the text table has not seen is made by its ``__missing__`` (and kept), a
    known one read from it: the same texts as ``table[code]``."""
    octal, hexes = CodeText("04o"), CodeText("06X")
    octal[0o1234] = "kept"  # a hit returns the table's own object
    _conic, lats, factors = FRAME.tables
    p = TrackerParameters()
    out = Output(Fused, _STATES, octal, hexes, lats, factors, FRAME.cone,
                 FRAME.parameters.lon_0, MODE3A, ADDRESS, COASTING, _ENDED, KT,
                 p.report_velocity_sigma_mps, FPM_PER_FL_S, p.report_roc_sigma_fpm ** 2)
    s = _batch(12, 7)
    ident = np.asarray(s["ident"]).copy()
    ident[:, MODE3A] = -1
    ident[:, ADDRESS] = -1
    rows = np.asarray(s["rows"])
    ident[rows[0], MODE3A], ident[rows[0], ADDRESS] = 0o1234, 0xABC123
    ident[rows[-1], MODE3A] = 0o7777
    msgs = _call({**s, "ident": ident}, output=out)
    assert msgs[0].mode3a == "kept" and msgs[0].icao24 == "ABC123"
    assert msgs[-1].mode3a == "7777"
    assert octal == {0o1234: "kept", 0o7777: "7777"} and hexes == {0xABC123: "ABC123"}
