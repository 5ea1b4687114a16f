"""The normaliser's fast paths (issue 16) held to the code they replace, to the bit."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pyproj import Transformer

import gateway
from gateway import _normalize
from gateway.config import load
from gateway.decoder import Batch, Decoder
from gateway.messages import (
    ICAO24_TEXT,
    MODE3A_TEXT,
    WAKE_CATEGORIES,
    FlightPlan,
    Plot,
    Source,
    Track,
)
from gateway.normalize.clock import absolute_time, in_window
from gateway.normalize.geometry import NEWTON_STEPS, RadarGeometry
from gateway.normalize.normalizer import Normalizer, SourceBatch
from gateway.normalize.plots import (
    DETECTION,
    EMERGENCY_CODES,
    FLAG_NAMES,
    NM_S_TO_KT,
    HeightRules,
    PlotColumns,
    normalise_plots,
)
from gateway.normalize.tracks import (
    FPL_FIELDS,
    TRACK_FLAG_COLUMNS,
    TrackColumns,
    normalise_tracks,
)
from gateway.units import FT, KT, NM

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "captures" / "border.toml"
CAPTURE = ROOT / "captures" / "border-10min.pcap.gz"

_TO_ECEF = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
_TO_GEODETIC = Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)
SITES = [RadarGeometry(25.7785, -100.1069, 520.0), RadarGeometry(32.854, -116.416, 1900.0),
         RadarGeometry(-33.9, 151.2, 60.0), RadarGeometry(64.1, -21.9, 40.0)]


def place_before(site: RadarGeometry, rho_m: np.ndarray, theta_deg: np.ndarray,
                 height_m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RadarGeometry.place as it was: origin and rotation made per call, np.nan_to_num and
    np.clip."""
    rho = np.asarray(rho_m, dtype=np.float64)
    theta = np.radians(np.asarray(theta_deg, dtype=np.float64))
    height = np.asarray(height_m, dtype=np.float64)
    e2 = (1 / 298.257223563) * (2 - 1 / 298.257223563)
    radius = float(6378137.0 * np.sqrt(1 - e2) / (1 - e2 * np.sin(np.radians(site.lat)) ** 2))
    r0 = radius + site.alt_m
    rt = radius + height
    with np.errstate(divide="ignore", invalid="ignore"):
        sin_e = (rt * rt - r0 * r0 - rho * rho) / (2 * rho * r0)
    elev = np.arcsin(np.clip(np.nan_to_num(sin_e), -1.0, 1.0))
    origin = np.asarray(_TO_ECEF.transform(site.lon, site.lat, site.alt_m))
    phi, lam = np.radians(site.lat), np.radians(site.lon)
    sp, cp, sl, cl = np.sin(phi), np.cos(phi), np.sin(lam), np.cos(lam)
    rot = np.array([[-sl, -sp * cl, cp * cl], [cl, -sp * sl, cp * sl], [0.0, cp, sp]])
    st, ct = np.sin(theta), np.cos(theta)

    def geodetic(elev: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        horizontal = rho * np.cos(elev)
        east, north, up = horizontal * st, horizontal * ct, rho * np.sin(elev)
        x = origin[0] + rot[0, 0] * east + rot[0, 1] * north + rot[0, 2] * up
        y = origin[1] + rot[1, 0] * east + rot[1, 1] * north + rot[1, 2] * up
        z = origin[2] + rot[2, 1] * north + rot[2, 2] * up
        return _TO_GEODETIC.transform(x, y, z)

    for _ in range(NEWTON_STEPS):
        lon, lat, h = geodetic(elev)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = (height - h) / (rho * np.cos(elev))
        elev = np.clip(elev + np.nan_to_num(step), -np.pi / 2, np.pi / 2)
    lon, lat, _h = geodetic(elev)
    return lat, lon, np.degrees(elev)


@pytest.mark.parametrize("site", SITES, ids=lambda s: f"{s.lat},{s.lon}")
@pytest.mark.parametrize("n", [1, 3, 7, 500])
def test_place_is_the_old_place_to_the_bit(site: RadarGeometry, n: int) -> None:
    """Any size (numpy's SIMD loops treat short arrays and tails apart), with the edges:
    zero range, a range shorter than the height difference, nan and infinite heights."""
    rng = np.random.default_rng(n)
    rho = rng.uniform(0, 250 * 1852.0, n)
    theta = rng.uniform(0, 360, n)
    height = rng.uniform(-500, 20_000, n)
    if n >= 7:
        rho[:4] = [0.0, 10.0, 50_000.0, 1.0]
        height[:7] = [1000.0, 30_000.0, np.nan, -5_000.0, 1e6, np.inf, -np.inf]
    got = site.place(rho, theta, height)
    want = place_before(site, rho, theta, height)
    for g, w in zip(got, want, strict=True):
        assert np.asarray(g).tobytes() == np.asarray(w).tobytes()
    # twice: what is cached is the same the second time
    again = site.place(rho, theta, height)
    for g, w in zip(again, want, strict=True):
        assert np.asarray(g).tobytes() == np.asarray(w).tobytes()


# -- the message kernel (ext/normalize.pyx) against the Python it replaced -----------------

def _text(raw: bytes) -> str | None:
    return raw.decode("latin-1") or None


def _num(x: float) -> float | None:
    return None if x != x else x


def _flags(bits: int, names: tuple[str, ...]) -> list[str]:
    return [n for i, n in enumerate(names) if bits >> i & 1] if bits else []


def plots_before(normalizer: Normalizer, batch: Batch, rows: np.ndarray, site: RadarGeometry,
                 reference: np.ndarray) -> list[Plot]:
    """Normalizer._plots' messages as the Python loop made them."""
    cols, _dropped = normalise_plots(batch, rows, site, normalizer.heights, reference[rows],
                                     normalizer.window)
    src = Source(sac=int(batch.columns["010/SAC"][rows[0]]),
                 sic=int(batch.columns["010/SIC"][rows[0]]), cat=48)
    return [
        Plot(t=t, src=src, lat=lat, lon=lon, rho_nm=rho, theta_deg=theta, fl=_num(fl),
             mode3a=MODE3A_TEXT[m3a], icao24=ICAO24_TEXT[adr], callsign=_text(cs),
             track_number=None if trn < 0 else trn, gs_kt=_num(gs), hdg_deg=_num(hdg),
             detection=DETECTION.get(typ), flags=_flags(fl_bits, FLAG_NAMES))
        for t, lat, lon, rho, theta, fl, m3a, adr, cs, trn, gs, hdg, typ, fl_bits in zip(
            np.round(cols.t, 6).tolist(), cols.lat.tolist(), cols.lon.tolist(),
            cols.rho_nm.tolist(), cols.theta_deg.tolist(), cols.fl.tolist(),
            cols.mode3a.tolist(), cols.icao24.tolist(), cols.callsign.tolist(),
            cols.track_number.tolist(), cols.gs_kt.tolist(), cols.hdg_deg.tolist(),
            cols.typ.tolist(), cols.flags.tolist(), strict=True)
    ]


def tracks_before(normalizer: Normalizer, batch: Batch, rows: np.ndarray, plane: object,
                  reference: np.ndarray) -> list[Track]:
    """Normalizer._tracks' messages as the Python loop made them."""
    cols, _dropped = normalise_tracks(batch, rows, plane, reference[rows],  # type: ignore[arg-type]
                                      normalizer.window)
    src = Source(sac=int(batch.columns["010/SAC"][rows[0]]),
                 sic=int(batch.columns["010/SIC"][rows[0]]), cat=62)
    fpl = cols.fpl
    flag_names = tuple(name for name, _path in TRACK_FLAG_COLUMNS)
    wakes = {w: w for w in WAKE_CATEGORIES}
    messages = []
    for i, (t, trn, lat, lon, fl, gs, trk, roc, m3a, adr, cs, has_fpl, bits) in enumerate(
            zip(np.round(cols.t, 6).tolist(), cols.track_number.tolist(), cols.lat.tolist(),
                cols.lon.tolist(), cols.fl.tolist(), cols.gs_kt.tolist(),
                cols.trk_deg.tolist(), cols.roc_fpm.tolist(), cols.mode3a.tolist(),
                cols.icao24.tolist(), cols.callsign.tolist(), cols.has_fpl.tolist(),
                cols.flags.tolist(), strict=True)):
        plan = None
        if has_fpl:
            plan = FlightPlan(callsign=_text(fpl["390/CS"][i]), dep=_text(fpl["390/DEP"][i]),
                              dst=_text(fpl["390/DST"][i]),
                              cfl=_num(float(fpl["390/CFL"][i])),
                              type=_text(fpl["390/TAC"][i]),
                              wtc=wakes.get(_text(fpl["390/WTC"][i])))  # type: ignore[arg-type]
        messages.append(Track(
            t=t, src=src, track_number=trn, lat=lat, lon=lon,
            fl=_num(fl), gs_kt=_num(gs), trk_deg=_num(trk), roc_fpm=_num(roc),
            mode3a=MODE3A_TEXT[m3a], icao24=ICAO24_TEXT[adr], callsign=_text(cs), fpl=plan,
            flags=_flags(bits, flag_names)))
    return messages


@pytest.fixture(scope="module")
def decoded() -> dict[int, Batch]:
    return gateway.decode(CAPTURE).batches


def _knocked_out(batch: Batch, seed: int) -> Batch:
    """The batch with a third of every field's values made absent (but the source's), so
    that every None of the messages is met; values of absent fields scrambled too."""
    rng = np.random.default_rng(seed)
    present = {p: (m if p.startswith("010/") else m & (rng.random(len(m)) > 0.33))
               for p, m in batch.present.items()}
    return dataclasses.replace(batch, present=present)


@pytest.mark.parametrize("knock", [None, 1, 2])
def test_plot_kernel_is_the_python_it_replaced(decoded: dict[int, Batch], knock: int | None,
                                               ) -> None:
    normalizer = Normalizer(load(CONFIG))
    batch = decoded[48] if knock is None else _knocked_out(decoded[48], knock)
    reference = batch.t_capture.copy()
    compared = 0
    for key in normalizer._keys(batch, normalizer.radars):
        rows = normalizer._rows(batch, key)
        site = normalizer.radars[key][0]
        got, _kept = normalizer._plots(batch, rows, site, reference)
        want = plots_before(normalizer, batch, rows, site, reference)
        assert repr(got) == repr(want)
        compared += len(got)
    assert compared > (60_000 if knock is None else 20_000)


@pytest.mark.parametrize("knock", [None, 1, 2])
def test_track_kernel_is_the_python_it_replaced(decoded: dict[int, Batch], knock: int | None,
                                                ) -> None:
    normalizer = Normalizer(load(CONFIG))
    batch = decoded[62] if knock is None else _knocked_out(decoded[62], knock)
    reference = batch.t_capture.copy()
    compared = plans = 0
    for key in normalizer._keys(batch, normalizer.sdps):
        rows = normalizer._rows(batch, key)
        plane = normalizer.sdps[key][0]
        got, _kept = normalizer._tracks(batch, rows, plane, reference)
        want = tracks_before(normalizer, batch, rows, plane, reference)
        assert repr(got) == repr(want)
        compared += len(got)
        plans += sum(m.fpl is not None for m in got)
    assert compared > (50_000 if knock is None else 10_000) and plans > 1_000


def test_kernels_refuse_columns_of_different_lengths() -> None:
    f, i = np.zeros(2), np.zeros(2, dtype=np.int64)
    src = Source(sac=0, sic=1, cat=48)
    with pytest.raises(ValueError):
        _normalize.plot_messages(Plot, src, f, f, f, f, f, f, i, i, [b""], i, f, f, i, i,
                                 MODE3A_TEXT, ICAO24_TEXT, DETECTION, FLAG_NAMES)
    with pytest.raises(ValueError):
        _normalize.track_messages(Track, FlightPlan, src, f, i, f, f, f, f, f, f, i, i,
                                  [b"", b""], i, np.zeros(3, dtype=np.uint8), [b""] * 2,
                                  [b""] * 2, [b""] * 2, f, [b""] * 2, [b""] * 2, {},
                                  MODE3A_TEXT, ICAO24_TEXT, (), {})


def test_a_plan_sent_again_is_the_same_object_and_equal_to_a_new_one() -> None:
    """track_messages keeps its plans by their raw columns: a plan sent again is the one
    made before (frozen, so shareable), equal to what a new one would be; a cleared level
    of -0.0 is not 0.0's plan (its text differs), an unknown one (nan) is None."""
    src = Source(sac=0, sic=200, cat=62)
    n = 6
    f, i = np.zeros(n), np.zeros(n, dtype=np.int64)
    cfl = np.array([350.0, 350.0, -0.0, 0.0, np.nan, np.nan])
    cs = [b"EIN1", b"EIN1", b"EIN1", b"EIN1", b"EIN1", b"EIN2"]
    kept: dict[tuple[object, ...], FlightPlan] = {}

    def made(plans: dict[tuple[object, ...], FlightPlan]) -> list[Track]:
        return _normalize.track_messages(
            Track, FlightPlan, src, f, i, f, f, f, f, f, f, i - 1, i - 1, [b""] * n, i,
            np.ones(n, dtype=np.uint8), cs, [b"EIDW"] * n, [b""] * n, cfl, [b"A320"] * n,
            [b"M"] * n, {"M": "M"}, MODE3A_TEXT, ICAO24_TEXT, (), plans)

    first, again, fresh = made(kept), made(kept), made({})
    plans = [m.fpl for m in first]
    assert plans == [m.fpl for m in fresh] and repr(first) == repr(fresh)
    assert all(a.fpl is b.fpl for a, b in zip(first, again, strict=True))
    assert plans[0] is plans[1] and plans[2] is not plans[3] and plans[4] is not plans[5]
    assert [p.cfl for p in plans if p is not None][2:5] == [-0.0, 0.0, None]
    assert str(plans[2].cfl) == "-0.0" and len(kept) == 5  # type: ignore[union-attr]


def test_batches_do_not_depend_on_the_cut(decoded: dict[int, Batch]) -> None:
    """Fed a datagram at a time (the single-source shortcut of live calls) or all at once,
    the normaliser publishes the same batches of the same messages."""
    from gateway.ingest import read_datagrams

    datagrams = list(read_datagrams(CAPTURE))[:3000]
    config = load(CONFIG)
    whole, single = Normalizer(config), Normalizer(config)
    decoder = Decoder([34, 48, 62, 65])
    batches, _problems = decoder.decode([d.payload for d in datagrams],
                                        [d.t_capture for d in datagrams])
    at_once = whole.feed(batches) + whole.flush()
    one_by_one = []
    for d in datagrams:
        batches, _problems = decoder.decode([d.payload], [d.t_capture])
        one_by_one += single.feed(batches)
    one_by_one += single.flush()

    def shape(out: list[SourceBatch]) -> list[tuple[str, tuple[int, int], str]]:
        return [(b.kind, b.source, repr(b.messages)) for b in out]

    assert len(at_once) > 100
    assert shape(one_by_one) == shape(at_once)
    assert whole.counters == single.counters


# -- plot fields (ext/normalize.pyx's plot_fields) against the numpy they replaced ----------

def _readers_before(batch: Batch) -> tuple[Callable[[str, np.ndarray], np.ndarray], ...]:
    """The column readers the normaliser had before its field kernels (integer with -1 for
    absent, float with nan, flag set), shared by both references below."""
    def _int(path: str, rows: np.ndarray) -> np.ndarray:
        return np.where(batch.present[path][rows], batch.columns[path][rows], -1)

    def _float(path: str, rows: np.ndarray) -> np.ndarray:
        return np.where(batch.present[path][rows], batch.columns[path][rows], np.nan)

    def _set(path: str, rows: np.ndarray) -> np.ndarray:
        return batch.present[path][rows] & (batch.columns[path][rows] != 0)

    return _int, _float, _set


def normalise_plots_before(batch: Batch, rows: np.ndarray, site: RadarGeometry,
                           heights: HeightRules, reference: np.ndarray,
                           window: tuple[float, float]) -> tuple[PlotColumns, dict[str, int]]:
    """gateway.normalize.plots.normalise_plots as it was: numpy calls per column."""
    _int, _float, _set = _readers_before(batch)
    dropped: dict[str, int] = {}
    usable = batch.present["140"][rows] & batch.present["040/RHO"][rows] & np.isfinite(reference)
    dropped["plot-without-time-or-position"] = int((~usable).sum())
    rows, reference = rows[usable], reference[usable]
    t = absolute_time(batch.columns["140"][rows], reference)
    fresh = in_window(t, reference, *window)
    dropped["plot-out-of-time-window"] = int((~fresh).sum())
    rows, t = rows[fresh], t[fresh]
    valid_fl = (batch.present["090/FL"][rows] & (batch.columns["090/V"][rows] == 0)
                & (batch.columns["090/G"][rows] == 0))
    fl = np.where(valid_fl, batch.columns["090/FL"][rows], np.nan)
    h3d = _float("110/3DH", rows) * FT
    height = np.where(valid_fl, fl * 100 * FT,
                      np.where(np.isfinite(h3d), h3d, np.nan)) + heights.offset_m
    height = np.where(np.isfinite(height), height, heights.fallback_m)
    rho = batch.columns["040/RHO"][rows]
    theta = batch.columns["040/THETA"][rows]
    lat, lon, _elev = place_before(site, rho * NM, theta, height)
    garbled = batch.present["070/G"][rows] & (batch.columns["070/G"][rows] != 0)
    mode3a = np.where(garbled, -1, _int("070/MODE3A", rows))
    flags = np.zeros(len(rows), dtype=np.int64)
    for bit, set_ in enumerate((
        _set("020/SPI", rows), _set("020/SIM", rows), _set("020/TST", rows),
        np.isin(mode3a, EMERGENCY_CODES), _set("020/ME", rows),
        _set("020/MI", rows), _set("020/RAB", rows),
    )):
        flags |= set_.astype(np.int64) << bit
    columns = PlotColumns(
        rows=rows, t=t, lat=lat, lon=lon, rho_nm=rho, theta_deg=theta, fl=fl, mode3a=mode3a,
        icao24=_int("220", rows), callsign=batch.columns["240"][rows],
        track_number=_int("161/TRN", rows),
        gs_kt=_float("200/GSP", rows) * NM_S_TO_KT, hdg_deg=_float("200/HDG", rows),
        typ=_int("020/TYP", rows), flags=flags,
    )
    return columns, dropped


def _with_codes(batch: Batch, seed: int) -> Batch:
    """Knocked out as _knocked_out, and with every value the fields test made to occur:
    garbled and emergency codes, invalid and garbled levels, 3D heights, every flag."""
    batch = _knocked_out(batch, seed)
    rng = np.random.default_rng(seed)
    n = len(batch)
    columns = dict(batch.columns)
    present = dict(batch.present)
    columns["070/MODE3A"] = rng.choice([0o7500, 0o7600, 0o7700, 0o1234, 0], n).astype(np.int32)
    for path in ("070/G", "090/V", "090/G", "020/SPI", "020/SIM", "020/TST", "020/ME",
                 "020/MI", "020/RAB"):
        columns[path] = (rng.random(n) < 0.3).astype(np.int32)
        present[path] = rng.random(n) < 0.7
    columns["110/3DH"] = rng.choice([np.nan, np.inf, 15_000.0, -200.0], n)
    present["110/3DH"] = rng.random(n) < 0.5
    return dataclasses.replace(batch, columns=columns, present=present)


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_plot_fields_are_the_numpy_they_replaced(decoded: dict[int, Batch], seed: int | None,
                                                 ) -> None:
    normalizer = Normalizer(load(CONFIG))
    batch = decoded[48] if seed is None else _with_codes(decoded[48], seed)
    reference = batch.t_capture.copy()
    compared = 0
    for key in normalizer._keys(batch, normalizer.radars):
        rows = normalizer._rows(batch, key)
        site = normalizer.radars[key][0]
        for part in (rows, rows[:1], rows[:5]):  # a whole sector and a live datagram's few
            got, got_dropped = normalise_plots(batch, part, site, normalizer.heights,
                                               reference[part], normalizer.window)
            want, want_dropped = normalise_plots_before(batch, part, site, normalizer.heights,
                                                        reference[part], normalizer.window)
            assert got_dropped == want_dropped
            for field in dataclasses.fields(PlotColumns):
                g, w = getattr(got, field.name), getattr(want, field.name)
                assert g.shape == w.shape, field.name
                if w.dtype.kind in "iub":
                    assert np.array_equal(g, w), field.name
                else:
                    assert g.dtype == w.dtype and g.tobytes() == w.tobytes(), field.name
            compared += len(got.rows)
    assert compared > (60_000 if seed is None else 20_000)


# -- track fields (ext/normalize.pyx's track_fields) against the numpy they replaced --------

def normalise_tracks_before(batch: Batch, rows: np.ndarray, plane: Transformer | None,
                            reference: np.ndarray, window: tuple[float, float],
                            ) -> tuple[TrackColumns, dict[str, int]]:
    """gateway.normalize.tracks.normalise_tracks as it was: numpy calls per column."""
    _int, _float, _set = _readers_before(batch)
    dropped: dict[str, int] = {}
    has_105 = batch.present["105/LAT"][rows]
    has_100 = batch.present["100/X"][rows] & (plane is not None)
    usable = (batch.present["070"][rows] & batch.present["040"][rows] & (has_105 | has_100)
              & np.isfinite(reference))
    dropped["track-without-number-time-or-position"] = int((~usable).sum())
    rows, reference, has_105 = rows[usable], reference[usable], has_105[usable]
    t = absolute_time(batch.columns["070"][rows], reference)
    fresh = in_window(t, reference, *window)
    dropped["track-out-of-time-window"] = int((~fresh).sum())
    rows, t, has_105 = rows[fresh], t[fresh], has_105[fresh]
    lat = batch.columns["105/LAT"][rows].copy()
    lon = batch.columns["105/LON"][rows].copy()
    if plane is not None and not has_105.all():
        need = ~has_105
        lon[need], lat[need] = plane.transform(batch.columns["100/X"][rows][need],
                                               batch.columns["100/Y"][rows][need])
    vx, vy = _float("185/VX", rows), _float("185/VY", rows)
    fl = _float("136", rows)
    fl = np.where(np.isfinite(fl), fl, _float("135/CTB", rows))
    garbled = batch.present["060/G"][rows] & (batch.columns["060/G"][rows] != 0)
    callsign = np.where(batch.present["380/ID"][rows], batch.columns["380/ID"][rows],
                        batch.columns["245/CHR"][rows])
    flags = np.zeros(len(rows), dtype=np.int64)
    for bit, (_name, path) in enumerate(TRACK_FLAG_COLUMNS):
        flags |= _set(path, rows).astype(np.int64) << bit
    has_fpl = np.zeros(len(rows), dtype=bool)
    for path in FPL_FIELDS:
        has_fpl |= batch.present[path][rows]
    columns = TrackColumns(
        rows=rows, t=t, track_number=_int("040", rows), lat=lat, lon=lon, fl=fl,
        gs_kt=np.hypot(vx, vy) / KT, trk_deg=np.degrees(np.arctan2(vx, vy)) % 360.0,
        roc_fpm=_float("220", rows),
        mode3a=np.where(garbled, -1, _int("060/MODE3A", rows)),
        icao24=_int("380/ADR", rows), callsign=callsign, has_fpl=has_fpl,
        fpl={p: np.where(batch.present[p][rows], batch.columns[p][rows],
                         np.nan if batch.columns[p].dtype.kind == "f" else b"")
             for p in FPL_FIELDS},
        flags=flags,
    )
    return columns, dropped


def _with_track_codes(batch: Batch, seed: int) -> Batch:
    """Knocked out as _knocked_out, and with garbled codes, levels only in I135 and every
    flag made to occur."""
    batch = _knocked_out(batch, seed)
    rng = np.random.default_rng(seed)
    n = len(batch)
    columns = dict(batch.columns)
    present = dict(batch.present)
    for path in ("060/G", *(path for _name, path in TRACK_FLAG_COLUMNS)):
        columns[path] = (rng.random(n) < 0.3).astype(np.int32)
        present[path] = rng.random(n) < 0.7
    columns["136"] = rng.choice([np.nan, np.inf, 350.0], n)
    return dataclasses.replace(batch, columns=columns, present=present)


def _same_columns(got: object, want: object, fields: tuple[str, ...]) -> None:
    for name in fields:
        g, w = getattr(got, name), getattr(want, name)
        if isinstance(w, dict):
            assert g.keys() == w.keys(), name
            for k in w:
                assert g[k].dtype == w[k].dtype and g[k].tobytes() == w[k].tobytes(), k
            continue
        assert g.shape == w.shape, name
        if w.dtype.kind in "iub":
            assert np.array_equal(g, w) and g.dtype.kind == w.dtype.kind, name
        else:
            assert g.dtype == w.dtype and g.tobytes() == w.tobytes(), name


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_track_fields_are_the_numpy_they_replaced(decoded: dict[int, Batch], seed: int | None,
                                                  ) -> None:
    normalizer = Normalizer(load(CONFIG))
    batch = decoded[62] if seed is None else _with_track_codes(decoded[62], seed)
    reference = batch.t_capture.copy()
    fields = tuple(f.name for f in dataclasses.fields(TrackColumns))
    compared = 0
    for key in normalizer._keys(batch, normalizer.sdps):
        rows = normalizer._rows(batch, key)
        plane = normalizer.sdps[key][0]
        for part in (rows, rows[:1], rows[:5]):
            got, got_dropped = normalise_tracks(batch, part, plane, reference[part],
                                                normalizer.window)
            want, want_dropped = normalise_tracks_before(batch, part, plane, reference[part],
                                                         normalizer.window)
            assert got_dropped == want_dropped
            _same_columns(got, want, fields)
            compared += len(got.rows)
    assert compared > (50_000 if seed is None else 10_000)
