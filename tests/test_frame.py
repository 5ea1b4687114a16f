"""The frame's compiled projection (gateway._columns.Conic) against PROJ through pyproj.

ConformalFrame.to_xy and to_latlon run PROJ's Lambert conformal conic formulas, forward and
inverse, compiled into the gateway; pyproj stays the reference: the same numbers, bit for
bit, on the frame's own conic and on others, over the region, over the whole globe and on
the values PROJ refuses (inf) or cannot read (nan).
"""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Transformer

from gateway._columns import Conic
from gateway.associate.frame import ConformalFrame, FrameParameters


def _pyproj(frame: ConformalFrame, lat: np.ndarray, lon: np.ndarray,
            ) -> tuple[np.ndarray, np.ndarray]:
    reference = Transformer.from_crs("EPSG:4326", frame.crs, always_xy=True)
    x, y = reference.transform(lon, lat)
    return np.asarray(x), np.asarray(y)


def _same(a: np.ndarray, b: np.ndarray) -> None:
    """Equal to the bit (nan where nan, inf where inf, the sign of zero too)."""
    assert a.dtype == b.dtype == np.float64
    assert np.array_equal(a.view(np.int64), b.view(np.int64))


@pytest.mark.parametrize("parameters", [
    FrameParameters(),
    FrameParameters(lat_1=45.0, lat_2=55.0, lat_0=50.0, lon_0=10.0),  # a European conic
    FrameParameters(lat_1=-20.0, lat_2=-35.0, lat_0=-27.5, lon_0=135.0),  # southern cone
    FrameParameters(lat_1=40.0, lat_2=40.0, lat_0=40.0, lon_0=-3.7),  # tangent cone
])
def test_projection_is_pyprojs_to_the_bit(parameters: FrameParameters) -> None:
    frame = ConformalFrame(parameters)
    rng = np.random.default_rng(16)
    p = parameters
    region = (rng.uniform(p.lat_0 - 6, p.lat_0 + 6, 100_000),
              rng.uniform(p.lon_0 - 15, p.lon_0 + 15, 100_000))
    globe = (rng.uniform(-90, 90, 100_000), rng.uniform(-180, 180, 100_000))
    for lat, lon in (region, globe):
        x, y = frame.to_xy(lat, lon)
        rx, ry = _pyproj(frame, lat, lon)
        _same(x, rx)
        _same(y, ry)


def test_edges_and_hostile_values_as_pyproj() -> None:
    frame = ConformalFrame()
    lat = np.array([90.0, -90.0, 0.0, -0.0, 29.5, 29.5, np.nan, 30.0, np.inf, 30.0, 91.0,
                    30.0, 30.0, -89.999999, 89.9999999999999])
    lon = np.array([0.0, 0.0, 180.0, -180.0, -106.5, -286.5, 0.0, np.nan, 0.0, np.inf, 0.0,
                    600.0, -179.9999999999, 73.5, -106.5])
    x, y = frame.to_xy(lat, lon)
    rx, ry = _pyproj(frame, lat, lon)
    _same(x, rx)
    _same(y, ry)
    assert np.isinf(x[1]) and np.isnan(x[6]) and np.isinf(x[10])  # the far pole, nan, > 90


def test_shapes_kept() -> None:
    frame = ConformalFrame()
    x, y = frame.to_xy(np.array(30.0), np.array(-100.0))
    assert x.shape == y.shape == ()
    x, y = frame.to_xy(np.full((3, 2), 30.0), np.full((3, 2), -100.0))
    assert x.shape == (3, 2)
    x, y = frame.to_xy(np.zeros(0), np.zeros(0))
    assert x.shape == (0,)
    with pytest.raises(ValueError):
        frame.to_xy(np.zeros(2), np.zeros(3))


def test_conic_refuses_what_proj_refuses() -> None:
    with pytest.raises(ValueError):
        Conic(30.0, -30.0, 0.0, 0.0)  # opposite parallels: no cone
    with pytest.raises(ValueError):
        Conic(90.0, 80.0, 85.0, 0.0)


def _pyproj_inverse(frame: ConformalFrame, x: np.ndarray, y: np.ndarray,
                    ) -> tuple[np.ndarray, np.ndarray]:
    reference = Transformer.from_crs(frame.crs, "EPSG:4326", always_xy=True)
    lon, lat = reference.transform(x, y)
    return np.asarray(lat), np.asarray(lon)


@pytest.mark.parametrize("parameters", [
    FrameParameters(),
    FrameParameters(lat_1=45.0, lat_2=55.0, lat_0=50.0, lon_0=10.0),
    FrameParameters(lat_1=-20.0, lat_2=-35.0, lat_0=-27.5, lon_0=135.0),  # n < 0
    FrameParameters(lat_1=40.0, lat_2=40.0, lat_0=40.0, lon_0=-3.7),
])
def test_inverse_is_pyprojs_to_the_bit(parameters: FrameParameters) -> None:
    frame = ConformalFrame(parameters)
    rng = np.random.default_rng(17)
    for reach in (1e6, 2e7):  # the region, and far beyond the globe's image
        x, y = rng.uniform(-reach, reach, 100_000), rng.uniform(-reach, reach, 100_000)
        lat, lon = frame.to_latlon(x, y)
        rlat, rlon = _pyproj_inverse(frame, x, y)
        _same(lat, rlat)
        _same(lon, rlon)
    lat, lon = frame.to_latlon(*frame.to_xy(rng.uniform(-80, 80, 1000),
                                            rng.uniform(-180, 180, 1000)))
    assert np.isfinite(lat).all() and np.isfinite(lon).all()


def test_inverse_edges_and_hostile_values_as_pyproj() -> None:
    frame = ConformalFrame()
    apex = float(frame.to_xy(np.array([90.0]), np.array([-106.5]))[1][0])  # rho = 0
    x = np.array([0.0, -0.0, 0.0, 1.0, np.nan, 0.0, np.nan, np.inf, 0.0, np.inf, -np.inf,
                  5e5, -1e308, 1e308, 1e-300])
    y = np.array([0.0, 0.0, apex, apex, 0.0, np.nan, np.inf, 0.0, np.inf, np.inf, -np.inf,
                  np.inf, 1e308, -1e308, 0.0])
    lat, lon = frame.to_latlon(x, y)
    rlat, rlon = _pyproj_inverse(frame, x, y)
    _same(lat, rlat)
    _same(lon, rlon)
    assert lat[2] == 90.0 and np.isnan(lat[6]) and np.isinf(lat[7]) and lat[10] == -90.0


def test_latlon_of_states_is_to_latlon() -> None:
    """The states' way (strided columns read in place) gives to_latlon's numbers."""
    frame = ConformalFrame()
    rng = np.random.default_rng(5)
    states = rng.uniform(-2e6, 2e6, (5000, 4))
    states[:4, :2] = [[np.nan, 0.0], [np.inf, 1.0], [0.0, -0.0], [1e308, -1e308]]
    lat, lon = frame.latlon_of(states)
    rlat, rlon = frame.to_latlon(states[:, 0], states[:, 1])
    _same(lat, rlat)
    _same(lon, rlon)
    assert [len(a) for a in frame.latlon_of(np.zeros((0, 4)))] == [0, 0]
    with pytest.raises(ValueError):
        frame.latlon_of(np.zeros((3, 1)))
    with pytest.raises(ValueError):
        frame.latlon_of(states[4:].astype(np.float32))
    with pytest.raises(TypeError):
        frame.latlon_of(states.tolist())  # type: ignore[arg-type]
    # any strides: every third row, backwards, column-major
    for view in (states[::3], states[::-1], np.asfortranarray(states)):
        lat, lon = frame.latlon_of(view)
        rlat, rlon = frame.to_latlon(view[:, 0], view[:, 1])
        _same(lat, rlat)
        _same(lon, rlon)


def test_inverse_shapes_kept() -> None:
    frame = ConformalFrame()
    lat, lon = frame.to_latlon(np.array(1e5), np.array(-2e5))
    assert lat.shape == lon.shape == ()
    lat, lon = frame.to_latlon(np.zeros((3, 2)), np.zeros((3, 2)))
    assert lat.shape == (3, 2) and np.allclose(lat, 29.5) and np.allclose(lon, -106.5)
    lat, _ = frame.to_latlon(np.zeros(0), np.zeros(0))
    assert lat.shape == (0,)
    with pytest.raises(ValueError):
        frame.to_latlon(np.zeros(2), np.zeros(3))
