"""The frame's point scale and convergence kernels (ext/columns.pyx ``interp``, ``north``)
against the numpy they replace in ``ConformalFrame.scale`` and ``north``, kept here as the
reference, to the bit: random latitudes and longitudes (contiguous and column views, as the
tracker passes them), the table's own nodes, its ends and beyond, nan and infinities, empty
input; and the frame's answers for what the kernels do not take (scalars, lists, other
dtypes), still numpy's."""

from __future__ import annotations

import numpy as np
import pytest

from gateway._columns import interp, north
from gateway.associate.frame import ConformalFrame


@pytest.fixture(scope="module")
def frame() -> ConformalFrame:
    return ConformalFrame()


def ref_scale(frame: ConformalFrame, lat: np.ndarray) -> np.ndarray:
    """``scale``'s former body."""
    return np.interp(lat, frame._scale_lat, frame._scale)


def ref_north(frame: ConformalFrame, lon: np.ndarray) -> np.ndarray:
    """``north``'s former body."""
    return frame.cone * (np.asarray(lon, dtype=np.float64) - frame.parameters.lon_0)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_scale_is_np_interp_to_the_bit(frame: ConformalFrame) -> None:
    rng = np.random.default_rng(16)
    for _ in range(300):
        n = int(rng.integers(0, 40))
        lat = rng.uniform(-95.0, 95.0, n) if rng.random() < 0.3 else rng.uniform(24, 35, n)
        lat[rng.random(n) < 0.1] = np.nan
        nodes = rng.random(n) < 0.1  # exactly on the table's nodes
        lat[nodes] = frame._scale_lat[rng.integers(0, len(frame._scale_lat), nodes.sum())]
        assert same(frame.scale(lat), ref_scale(frame, lat))
        cols = np.stack([lat, lat[::-1]], axis=1)  # a strided column, as the tracker's
        assert same(frame.scale(cols[:, 1]), ref_scale(frame, cols[:, 1]))


def test_scale_edges(frame: ConformalFrame) -> None:
    xp = frame._scale_lat
    lat = np.array([np.nan, np.inf, -np.inf, xp[0], xp[-1], np.nextafter(xp[0], -100),
                    np.nextafter(xp[-1], 100), np.nextafter(xp[-1], 0), xp[1], -0.0, 0.0,
                    np.nextafter(30.0, 31), 1e300, -1e300])
    assert same(frame.scale(lat), ref_scale(frame, lat))
    assert same(frame.scale(np.zeros(0)), ref_scale(frame, np.zeros(0)))


def test_interp_other_tables() -> None:
    """Tables with repeated values, infinities and nan in fp: numpy's nan fallbacks."""
    xp = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    x = np.array([0.5, 1.5, 2.5, 3.5, 0.0, 4.0, 1.0, -1.0, 5.0, np.nan])
    for fp in ([0.0, np.inf, np.inf, 1.0, 2.0], [np.nan, 1.0, 1.0, np.inf, -np.inf],
               [1.0, 1.0, np.inf, np.inf, 3.0], [0.0, 1e308, -1e308, 1e308, 0.0]):
        f = np.array(fp)
        with np.errstate(all="ignore"):
            assert same(interp(x, xp, f), np.interp(x, xp, f)), fp
    with pytest.raises(ValueError):
        interp(x, xp, np.zeros(4))
    with pytest.raises(ValueError):
        interp(x, xp[:1], xp[:1])


def test_north_is_numpys_to_the_bit(frame: ConformalFrame) -> None:
    rng = np.random.default_rng(7)
    for _ in range(100):
        n = int(rng.integers(0, 40))
        lon = rng.uniform(-200.0, 200.0, n)
        lon[rng.random(n) < 0.1] = np.nan
        assert same(frame.north(lon), ref_north(frame, lon))
        cols = np.stack([lon, lon], axis=1)
        assert same(frame.north(cols[:, 0]), ref_north(frame, cols[:, 0]))
    lon = np.array([np.inf, -np.inf, -106.5, -0.0, 1e308, -1e308])
    with np.errstate(all="ignore"):
        assert same(frame.north(lon), ref_north(frame, lon))
        assert same(north(lon, 1e300, -1e300), 1e300 * (lon + 1e300))


def test_other_inputs_still_numpys(frame: ConformalFrame) -> None:
    for lat in (30.0, [25.0, 31.0], np.array([30.0], dtype=np.float32),
                np.array([[30.0, 31.0]])):
        assert np.array_equal(frame.scale(lat), ref_scale(frame, np.asarray(lat)))
        assert np.array_equal(frame.north(lat), ref_north(frame, lat))
