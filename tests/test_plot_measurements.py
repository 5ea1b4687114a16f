"""gateway._columns.plot_measurements, held to the code it replaced bit for bit.

``MeasurementModel._plots`` read a source's plots to columns (``plot_columns``), left out
those without a position, projected them (``ConformalFrame.to_plane``), took the plane's
scale (``ConformalFrame.scale``: numpy's ``interp``) and, from a known antenna, the noise
(the numpy formula below, later a kernel of its own, with the first plot's scale squared in
Python).  The kernel does it in one call; ``_reference`` below is that code, kept as it
was.
"""

from __future__ import annotations

import numpy as np

from gateway._columns import plot_columns, plot_measurements
from gateway.associate import ConformalFrame
from gateway.associate.measurements import (
    _ADDRESS,
    _CALLSIGN,
    _CODE,
    _DETECTION_KIND,
    MeasurementModel,
    code_table,
)
from gateway.associate.parameters import NON_DISCRETE_CODES
from gateway.messages import Plot, Source
from gateway.units import NM

FRAME = ConformalFrame()
NON_DISCRETE = code_table(NON_DISCRETE_CODES).view(np.uint8)
TABLES = (_ADDRESS, _CODE, _CALLSIGN, _DETECTION_KIND, NON_DISCRETE)
SRC = Source(sac=1, sic=2, cat=48)


def _numpy_noise(xy: np.ndarray, slant: np.ndarray, k: np.ndarray, xr: float, yr: float,
                 var_r: float, var_az: float, k2: float,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The plot noise as numpy wrote it before the kernel: a radar's polar noise rotated to
    the line of sight from its antenna; the range is the slant range (negative: 0), where
    unknown the ground distance."""
    dx, dy = xy[:, 0] - xr, xy[:, 1] - yr
    ground = np.hypot(dx, dy)
    s, c = dx / ground, dy / ground
    rho = np.fmax(slant, 0.0)
    rho[~np.isfinite(slant)] = ground[~np.isfinite(slant)]
    cross = rho * rho * var_az
    ss, cc, sc = s * s * k2, c * c * k2, s * c * k2
    R = np.empty((len(xy), 2, 2))
    R[:, 0, 0] = var_r * ss + cross * cc
    R[:, 1, 1] = var_r * cc + cross * ss
    R[:, 0, 1] = R[:, 1, 0] = (var_r - cross) * sc
    return ground / k, s, c, R


def _reference(plots: list[Plot], xr: float, yr: float, var_r: float, var_az: float,
               ) -> dict[str, object]:
    """The columns as the numpy code made them (plot_columns, _finish, _plot_covariance
    with a known antenna)."""
    num, ident, kind, number, text, complete = plot_columns(plots, *TABLES)
    ok = np.isfinite(num[:, 1]) & np.isfinite(num[:, 2])
    rows = ok.nonzero()[0]
    num, ident, kind, number = num[rows], ident[rows], kind[rows], number[rows]
    lat, lon = num[:, 1], num[:, 2]
    out: dict[str, object] = dict(
        kept=rows, missing=int((~ok).sum()), t=num[:, 0], lat=lat, lon=lon, fl=num[:, 3],
        speed=num[:, 4], course=num[:, 5], slant=num[:, 6] * NM, theta=num[:, 7],
        k=FRAME.scale(lat), xy=FRAME.to_plane(lat, lon), ident=ident, kind=kind,
        number=number, text=[text[i] for i in rows.tolist()])
    if xr == xr and len(rows):
        k = out["k"]
        assert isinstance(k, np.ndarray)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["ground"], out["los_x"], out["los_y"], out["R"] = _numpy_noise(
                out["xy"], out["slant"], k, xr, yr, var_r, var_az,  # type: ignore[arg-type]
                float(k[0]) ** 2)
    return out


def _plots(rng: np.random.Generator, n: int) -> list[Plot]:
    lat = rng.uniform(24.0, 35.0, n)
    lat[::5] = np.round(lat[::5], 2)  # on the scale table's nodes (every 0.01 degree)
    plots = []
    for i in range(n):
        gone = rng.random() < 0.15
        plots.append(Plot(
            t=float(rng.uniform(0, 1e5)), src=SRC, lat=None if gone else float(lat[i]),
            lon=float(rng.uniform(-118, -95)) if rng.random() > 0.05 else None,
            rho_nm=float(rng.uniform(-2, 250)) if rng.random() > 0.1 else None,
            theta_deg=float(rng.uniform(0, 360)), fl=float(rng.uniform(0, 450)),
            mode3a=f"{int(rng.integers(0, 4096)):04o}", icao24=None if rng.random() < 0.3
            else f"{int(rng.integers(0, 1 << 24)):06X}", callsign=None, track_number=i,
            gs_kt=float(rng.uniform(0, 500)), hdg_deg=None,
            detection=["psr", "ssr", "modes", None][int(rng.integers(0, 4))], flags=[]))
    return plots


def test_plot_measurements_is_the_numpy_code_to_the_bit() -> None:
    rng = np.random.default_rng(16)
    conic, lats, scales = FRAME.tables
    for case in range(300):
        plots = _plots(rng, int(rng.integers(0, 40)))
        xr, yr = ((float("nan"), float("nan")) if case % 7 == 0
                  else (float(rng.uniform(-5e5, 5e5)), float(rng.uniform(-5e5, 5e5))))
        var_r, var_az = float(rng.uniform(100, 3000)), float(rng.uniform(1e-7, 1e-5))
        want = _reference(plots, xr, yr, var_r, var_az)
        kept, missing, num, xy, R, ident, kind, number, text, primaries = plot_measurements(
            plots, *TABLES, conic, lats, scales, NM, xr, yr, var_r, var_az)
        expected_kept = want["kept"]
        assert isinstance(expected_kept, np.ndarray)
        assert kept.dtype == np.int64 and kept.tolist() == expected_kept.tolist()
        assert missing == want["missing"] and text == want["text"]
        got = dict(zip(("t", "lat", "lon", "fl", "speed", "course", "slant", "theta", "k",
                        "ground", "los_x", "los_y", "nan"), num, strict=True))
        assert np.isnan(num[12]).all()
        got.update(xy=xy, ident=ident, kind=kind, number=number)
        if xr == xr:
            got["R"] = R
            assert primaries == (0 in kind.tolist())
        else:
            assert np.isnan(num[9:]).all() and not primaries
        for name, value in got.items():
            if name not in want:  # no antenna (above), or no plot: nothing to compare
                continue
            ref = want[name]
            assert isinstance(ref, np.ndarray), name
            assert value.shape == ref.shape, name
            assert np.array_equal(value.view(np.int64), ref.view(np.int64)), name


def test_the_scale_is_numpy_interp_at_the_nodes_and_ends() -> None:
    """Latitudes on the table's nodes, between them, at and beyond its ends."""
    conic, lats, scales = FRAME.tables
    lat = np.r_[lats[[0, 1, 8900, -2, -1]], -89.5, 89.5, -90.0, 90.0,
                np.random.default_rng(1).uniform(-89, 89, 2000)]
    plots = [Plot(t=0.0, src=SRC, lat=float(a), lon=-100.0, rho_nm=None, theta_deg=None,
                  fl=None, mode3a=None, icao24=None, callsign=None, track_number=None,
                  gs_kt=None, hdg_deg=None, detection=None, flags=[]) for a in lat.tolist()]
    num = plot_measurements(plots, *TABLES, conic, lats, scales, NM, 0.0, 0.0, 1.0, 1.0)[2]
    assert np.array_equal(num[8].view(np.int64), np.interp(lat, lats, scales).view(np.int64))


def test_the_scale_is_numpy_interp_in_uneven_tables() -> None:
    """The lookup first guesses the knot as if the knots were evenly spaced (the frame's
    are): knots that are not, lumped, two, or next to the value, give numpy's answer
    too."""
    conic = FRAME.tables[0]
    rng = np.random.default_rng(7)
    tables = [np.r_[-89.0, 0.0, 89.0], np.array([-89.0, 89.0]),
              np.sort(rng.uniform(-89, 89, 50)), np.r_[-89.0, np.linspace(20, 21, 400), 89.0],
              np.cumsum(rng.exponential(1.0, 300)) - 150.0]
    for lats in tables:
        scales = 1.0 + rng.normal(0, 1e-3, len(lats))
        lat = np.r_[lats, np.nextafter(lats, np.inf), np.nextafter(lats, -np.inf),
                    rng.uniform(lats[0] - 1, lats[-1] + 1, 500)]
        lat = lat[np.abs(lat) <= 90]
        plots = [Plot(t=0.0, src=SRC, lat=float(a), lon=-100.0, rho_nm=None, theta_deg=None,
                      fl=None, mode3a=None, icao24=None, callsign=None, track_number=None,
                      gs_kt=None, hdg_deg=None, detection=None, flags=[])
                 for a in lat.tolist()]
        num = plot_measurements(plots, *TABLES, conic, lats, scales, NM, 0.0, 0.0, 1.0,
                                1.0)[2]
        assert np.array_equal(num[8].view(np.int64),
                              np.interp(lat, lats, scales).view(np.int64))


def test_convert_fills_the_covariance_without_an_antenna() -> None:
    """A radar of unknown position: the azimuth stands for the line of sight (numpy)."""
    model = MeasurementModel(FRAME, {}, 100.0)
    plots = _plots(np.random.default_rng(5), 30)
    (m,) = model.convert(plots)
    assert np.isfinite(m.R).all() and np.isnan(m.slant_m).all() and not m.primaries
    assert np.isnan(m.ground_m).all() and m.antenna_m != m.antenna_m
