"""The tracker's column reader (gateway._columns) and MeasurementModel.convert on it.

Messages reach the tracker decoded and validated, but a Plot or Track made in code is not
validated: every field may be None, a float may be nan or an int, a batch may be empty,
mix plots and tracks, or mix sources.  The reader turns each into its column without a
Python object per record; these tests hold it to what the columns mean (nan and -1 for
unknowns, the kind of report, identities only where they identify), and the registration's
correction to the numpy it replaced, bit for bit (the plot noise:
tests/test_plot_measurements.py).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from gateway._columns import batch_source, correct_plots, plot_columns, track_columns
from gateway.associate import ConformalFrame, RadarNoise
from gateway.associate.measurements import (
    MODES,
    PRIMARY,
    SDPS,
    SSR,
    MeasurementModel,
    code_table,
)
from gateway.associate.parameters import NON_DISCRETE_CODES
from gateway.messages import FlightPlan, Plot, Source, Track

FRAME = ConformalFrame()
RADAR = Source(sac=1, sic=2, cat=48)
SDPS_SRC = Source(sac=0, sic=200, cat=62)
NON_DISCRETE = code_table(NON_DISCRETE_CODES).view(np.uint8)
TABLES = ({"4CA1F3": 0x4CA1F3, None: -1}, {"1234": 0o1234, "7000": 0o7000, None: -1},
          {"EIN123": 77, None: -1})
DETECTIONS = {"psr": PRIMARY, "ssr": SSR, "ssr+psr": SSR, "modes": MODES,
              "modes+psr": MODES}


def plot(**fields: object) -> Plot:
    base: dict[str, object] = dict(
        t=100.0, src=RADAR, lat=30.0, lon=-105.0, rho_nm=50.0, theta_deg=90.0, fl=350.0,
        mode3a="1234", icao24="4CA1F3", callsign="EIN123", track_number=7, gs_kt=400.0,
        hdg_deg=45.0, detection="modes", flags=[])
    base.update(fields)
    return Plot(**base)  # type: ignore[arg-type]


def track(**fields: object) -> Track:
    base: dict[str, object] = dict(
        t=101.0, src=SDPS_SRC, track_number=9, lat=30.1, lon=-105.1, fl=350.0, gs_kt=400.0,
        trk_deg=45.0, roc_fpm=-500.0, mode3a="1234", icao24="4CA1F3", callsign="EIN123",
        fpl=None, flags=[])
    base.update(fields)
    return Track(**base)  # type: ignore[arg-type]


def nothing_plot() -> Plot:
    return plot(lat=None, lon=None, rho_nm=None, theta_deg=None, fl=None, mode3a=None,
                icao24=None, callsign=None, track_number=None, gs_kt=None, hdg_deg=None,
                detection=None)


def test_plot_fields_read_into_their_columns() -> None:
    num, ident, kind, number, text, complete = plot_columns(
        [plot(), plot(fl=120, track_number=None, detection="ssr", icao24=None)], *TABLES,
        DETECTIONS, NON_DISCRETE)
    assert num.shape == (2, 8) and num.dtype == np.float64
    assert num[0].tolist() == [100.0, 30.0, -105.0, 350.0, 400.0, 45.0, 50.0, 90.0]
    assert num[1, 3] == 120.0  # an int read as a float
    assert ident.tolist() == [[0x4CA1F3, 0o1234, 77, 0o1234], [-1, 0o1234, 77, 0o1234]]
    assert kind.tolist() == [MODES, SSR]
    assert number.tolist() == [7, -1]
    assert text == ["EIN123", "EIN123"]
    assert complete


def test_none_everywhere_is_unknown() -> None:
    num, ident, kind, number, text, complete = plot_columns(
        [nothing_plot()], *TABLES, DETECTIONS, NON_DISCRETE)
    assert num[0, 0] == 100.0 and np.isnan(num[0, 1:]).all()
    assert ident.tolist() == [[-1, -1, -1, -1]]
    assert kind.tolist() == [PRIMARY]  # no detection, no address, no code: primary
    assert number.tolist() == [-1]
    assert text == [None]
    assert not complete


def test_kind_from_contents_without_a_detection() -> None:
    plots = [plot(detection=None), plot(detection=None, icao24=None),
             plot(detection=None, icao24=None, mode3a=None),
             plot(detection="modes", icao24=None),  # Mode S without an address: SSR
             plot(detection="radar?")]  # not a detection: by its contents
    _, _, kind, *_ = plot_columns(plots, *TABLES, DETECTIONS, NON_DISCRETE)
    assert kind.tolist() == [MODES, SSR, PRIMARY, SSR, MODES]


def test_non_discrete_code_is_no_identity_but_kept_as_reported() -> None:
    _, ident, kind, *_ = plot_columns([plot(mode3a="7000", icao24=None, detection=None)],
                                      *TABLES, DETECTIONS, NON_DISCRETE)
    assert ident.tolist() == [[-1, -1, 77, 0o7000]]
    assert kind.tolist() == [SSR]  # the code still says it answered in Mode A


def test_nan_and_hostile_numbers() -> None:
    num, _, _, number, _, complete = plot_columns(
        [plot(lat=float("nan")), plot(lon=float("inf"), track_number=float("nan")),
         plot(fl=float("-inf"), track_number=3.9)], *TABLES, DETECTIONS, NON_DISCRETE)
    assert np.isnan(num[0, 1]) and np.isinf(num[1, 2]) and num[2, 3] == -np.inf
    assert number.tolist() == [7, -1, 3]
    assert not complete
    with pytest.raises((TypeError, ValueError)):
        plot_columns([plot(fl="high")], *TABLES, DETECTIONS, NON_DISCRETE)
    with pytest.raises(ValueError):
        plot_columns([plot()], *TABLES, DETECTIONS, NON_DISCRETE[:10])


def test_empty_batch() -> None:
    num, ident, kind, number, text, complete = plot_columns(
        [], *TABLES, DETECTIONS, NON_DISCRETE)
    assert num.shape == (0, 8) and ident.shape == (0, 4) and kind.shape == number.shape == (0,)
    assert text == [] and complete
    num, ident, number, text, plans, complete = track_columns([], *TABLES, NON_DISCRETE)
    assert num.shape == (0, 7) and ident.shape == (0, 4) and plans is None and complete
    plans = track_columns([track(), track()], *TABLES, NON_DISCRETE)[4]
    assert plans is None  # no track has a plan: none, not a list of None


def test_track_callsign_from_its_flight_plan() -> None:
    plan = FlightPlan(callsign="EIN123", dep="EIDW", dst="KJFK", cfl=None, type=None,
                      wtc=None)
    num, ident, number, text, plans, complete = track_columns(
        [track(callsign=None, fpl=plan), track(callsign=None, icao24=None, mode3a=None,
                                               roc_fpm=None, lat=None)],
        *TABLES, NON_DISCRETE)
    assert num[0].tolist() == [101.0, 30.1, -105.1, 350.0, 400.0, 45.0, -500.0]
    assert np.isnan(num[1, [1, 6]]).all()
    assert text == ["EIN123", None] and plans == [plan, None]
    assert ident.tolist() == [[0x4CA1F3, 0o1234, 77, 0o1234], [-1, -1, -1, -1]]
    assert number.tolist() == [9, 9] and not complete


def _as_namespace(message: Plot | Track) -> SimpleNamespace:
    return SimpleNamespace(**{f: getattr(message, f) for f in message.__struct_fields__})


class _Checked(Plot, frozen=True, gc=False):
    """A Plot whose fields getattr reads its own way: the reader must ask it."""

    def __getattribute__(self, name: str) -> object:
        value = object.__getattribute__(self, name)
        return 0.5 if name == "rho_nm" else value


def test_fields_read_from_slots_are_getattrs() -> None:
    """The reader takes a Plot's or Track's fields from their slots (issue 16): the same
    columns as getattr gives, read from objects that are not Structs or not of the batch's
    first type (mixed in one batch), or that have their own ``__getattribute__``."""
    plots = [plot(), nothing_plot(), plot(detection="psr", icao24=None, fl=120, gs_kt=None),
             plot(lat=float("nan"), callsign=None, mode3a="7000")]
    mixed = [plots[0], _as_namespace(plots[1]), plots[2], _as_namespace(plots[3])]
    ducks = [_as_namespace(m) for m in plots]
    for ours, batch in ((plots, mixed), (plots, ducks), (plots[::-1], mixed[::-1])):
        a = plot_columns(ours, *TABLES, DETECTIONS, NON_DISCRETE)
        b = plot_columns(batch, *TABLES, DETECTIONS, NON_DISCRETE)  # type: ignore[arg-type]
        for x, y in zip(a, b, strict=True):
            assert np.array_equal(x, y, equal_nan=True) if isinstance(x, np.ndarray) else x == y
    tracks = [track(), track(callsign=None, fpl=FlightPlan(
        callsign="EIN123", dep=None, dst=None, cfl=None, type=None, wtc=None)),
        track(lat=None, trk_deg=None, icao24=None)]
    a = track_columns(tracks, *TABLES, NON_DISCRETE)
    b = track_columns([tracks[0]] + [_as_namespace(m) for m in tracks[1:]],  # type: ignore[list-item]
                      *TABLES, NON_DISCRETE)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y, equal_nan=True) if isinstance(x, np.ndarray) else x == y
    own = _Checked(**{f: getattr(plots[0], f) for f in plots[0].__struct_fields__})
    num = plot_columns([own, plots[0]], *TABLES, DETECTIONS, NON_DISCRETE)[0]
    assert num[:, 6].tolist() == [0.5, 50.0]


def test_batch_source_is_the_set_of_sources_and_types() -> None:
    """What a batch's messages share: one source where the set of their sources has one
    (equal counts, not only the same object), one type where the set of types has one."""
    same = Source(sac=1, sic=2, cat=48)
    assert batch_source([]) == (None, None)
    assert batch_source([plot(), plot(src=same)]) == (RADAR, Plot)
    assert batch_source([plot(), track(src=RADAR)]) == (RADAR, None)
    assert batch_source([plot(), plot(src=SDPS_SRC), plot()]) == (None, Plot)
    assert batch_source([track(), plot(src=RADAR)]) == (None, None)
    assert batch_source([_as_namespace(plot()), plot()]) == (RADAR, None)


def model() -> MeasurementModel:
    return MeasurementModel(FRAME, {(1, 2): RadarNoise(lat=29.5, lon=-105.5)}, 100.0)


def test_convert_empty_mixed_and_without_position() -> None:
    m = model()
    assert m.convert([]) == []
    batch: list[Plot | Track] = [plot(), track(), nothing_plot(), plot(t=102.0, lat=30.2),
                                 track(lat=None)]
    parts = m.convert(batch)
    assert [p.sdps for p in parts] == [False, True]
    plots, tracks = parts
    assert plots.index.tolist() == [0, 3] and tracks.index.tolist() == [1]
    assert plots.t.tolist() == [100.0, 102.0] and plots.lat.tolist() == [30.0, 30.2]
    assert tracks.kind.tolist() == [SDPS] and np.isfinite(tracks.R).all()
    assert m.counters["measurement-without-position"] == 2
    x, y = FRAME.to_xy(np.array([30.0, 30.2]), np.array([-105.0, -105.0]))
    assert plots.xy[:, 0].tolist() == x.tolist() and plots.xy[:, 1].tolist() == y.tolist()
    assert np.isfinite(plots.R).all() and np.isfinite(plots.los_x).all()
    taken = tracks.take(np.zeros(0, np.int64))
    assert not taken.sdps and tracks.take(np.array([0])).sdps


def test_convert_sources_apart_in_order_of_first_appearance() -> None:
    other = Source(sac=1, sic=3, cat=48)
    parts = model().convert([plot(src=other), plot(), plot(src=other, t=101.0)])
    assert [p.index.tolist() for p in parts] == [[0, 2], [1]]
    assert parts[0].antenna_m != parts[0].antenna_m  # unknown radar: no antenna
    assert parts[1].antenna_m == 0.0


def _numpy_correction(xy: np.ndarray, t: np.ndarray, slant: np.ndarray, ground: np.ndarray,
                      k: np.ndarray, los_x: np.ndarray, los_y: np.ndarray, rb: float,
                      gain: float, az: float, delay: float,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The registration's correction as numpy wrote it before the kernel (the reference)."""
    dslant = rb + gain * slant
    along = np.fmax(slant / ground, 1.0) * dslant
    across = az * ground
    ka, kc = along * k, across * k
    dx = ka * los_x + kc * los_y
    dy = ka * los_y - kc * los_x
    if np.isnan(dx.sum() + dy.sum()):
        dx, dy = np.nan_to_num(dx), np.nan_to_num(dy)
    xy = xy.copy()
    xy[:, 0] -= dx
    xy[:, 1] -= dy
    return xy, t - delay, slant - dslant, ground - along


@pytest.mark.parametrize("unknown", [False, True])
def test_correct_plots_is_the_numpy_formula_to_the_bit(unknown: bool) -> None:
    rng = np.random.default_rng(4)
    n = 5_000
    xy = rng.uniform(-1e6, 1e6, (n, 2))
    t = rng.uniform(0, 1e9, (n, 3))[:, 0]  # a column of a wider table, as Measurements.t
    slant = rng.uniform(1e3, 4e5, n)
    ground = slant * rng.uniform(0.97, 1.01, n)
    if unknown:  # plots of unknown geometry stay where they are
        slant[::5] = np.nan
        ground[::7] = np.nan
    k = rng.uniform(0.998, 1.003, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    los_x, los_y = np.sin(angle), np.cos(angle)
    terms = (35.0, 2.5e-4 / 1e5, 0.09 / 1e5, 0.7 / 250.0)
    with np.errstate(invalid="ignore"):
        want = _numpy_correction(xy, t, slant, ground, k, los_x, los_y, *terms)
    raw_xy, table = xy.copy(), np.empty((n, 3))
    table[:, 0] = t
    raw_t = table[:, 0]  # strided, as Measurements.t
    got = correct_plots(raw_xy, raw_t, slant, ground, k, los_x, los_y, *terms)
    for g, w in zip(got, want, strict=True):
        assert np.array_equal(g.view(np.int64), w.view(np.int64))
    # new arrays: the raw plots (what registration learns from) are left as they were
    assert np.array_equal(raw_xy.view(np.int64), xy.view(np.int64))
    assert np.array_equal(raw_t.view(np.int64), t.view(np.int64))
    if unknown:
        assert np.array_equal(got[0][::35], xy[::35])
    with pytest.raises(ValueError):
        correct_plots(xy, t[:-1], slant, ground, k, los_x, los_y, *terms)
