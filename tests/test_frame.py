"""The frame's compiled projection (gateway._columns.Conic) against PROJ through pyproj.

ConformalFrame.to_xy runs PROJ's Lambert conformal conic formulas compiled into the
gateway; pyproj stays the reference: the same plane coordinates, bit for bit, on the frame's
own conic and on others, over the region, over the whole globe and on the values PROJ
refuses (inf) or cannot read (nan).
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
