"""The plane's small kernels (ext/columns.pyx) against the numpy they replace, kept here as
the reference, to the bit: ``north`` in ``ConformalFrame.north`` (random longitudes,
contiguous and column views as the tracker passes them, nan and infinities, empty input;
and the frame's answers for what the kernel does not take, still numpy's), ``interp`` in
``ConformalFrame.scale`` (the same, and the table's knots and ends), and
``height_chord``/``height_shift`` in ``height_correction`` (random plots of every kind,
unknown slant ranges and levels, plots beyond the horizon, repeated and empty pairs)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from gateway._columns import height_chord, height_shift, north
from gateway.associate.frame import ConformalFrame
from gateway.associate.measurements import (
    EARTH_RADIUS_M,
    PRIMARY,
    SDPS,
    SSR,
    height_correction,
)
from gateway.units import FT


@pytest.fixture(scope="module")
def frame() -> ConformalFrame:
    return ConformalFrame()


def ref_north(frame: ConformalFrame, lon: np.ndarray) -> np.ndarray:
    """``north``'s former body."""
    return frame.cone * (np.asarray(lon, dtype=np.float64) - frame.parameters.lon_0)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


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
    for lon in (-100.0, [-105.0, -96.0], np.array([-100.0], dtype=np.float32),
                np.array([[-100.0, -101.0]])):
        assert np.array_equal(frame.north(lon), ref_north(frame, lon))


def ref_scale(frame: ConformalFrame, lat: object) -> np.ndarray:
    """``scale``'s former body."""
    return np.interp(lat, *frame.tables[1:])


def test_scale_of_other_layouts_is_numpys(frame: ConformalFrame) -> None:
    """Latitudes the kernel does not read (byte-swapped, unaligned) go to numpy's interp."""
    lat = np.random.default_rng(12).uniform(20.0, 40.0, 9)
    swapped = lat.astype(">f8")
    raw = np.zeros(9 * 8 + 1, np.uint8)[1:].view(np.float64)  # unaligned
    raw[:] = lat
    assert not raw.flags.aligned
    for other in (swapped, raw):
        assert same(frame.scale(other), ref_scale(frame, lat))


def test_unplane_refuses_what_it_cannot_read_raw(frame: ConformalFrame) -> None:
    """The plane's inverse reads its states raw: a byte-swapped, an unaligned or a float32
    array is refused with one line naming the array, not read as float64 bytes."""
    xy = np.random.default_rng(13).uniform(-3e5, 3e5, (5, 2))
    raw = np.zeros(10 * 8 + 1, np.uint8)[1:].view(np.float64).reshape(5, 2)  # unaligned
    raw[:] = xy
    for bad in (xy.astype(">f8"), raw, xy.astype(np.float32), xy[:, 0]):
        with pytest.raises(ValueError, match="unplane: xy is not an aligned 2-d float64"):
            frame.latlon_of(bad)
    with pytest.raises(TypeError, match="unplane: xy is not a numpy array"):
        frame.latlon_of(xy.tolist())  # type: ignore[arg-type]
    lat, lon = frame.latlon_of(xy[:, ::-1])  # any strides: read where they are
    assert same(lat, frame.latlon_of(np.ascontiguousarray(xy[:, ::-1]))[0])


def test_scale_is_numpys_to_the_bit(frame: ConformalFrame) -> None:
    """Random latitudes (contiguous, and column views as an SDPS batch's are), the table's
    knots and midpoints, beyond its ends, nan and infinities, empty input."""
    rng = np.random.default_rng(11)
    lats, _ = frame.tables[1:]
    for _ in range(100):
        n = int(rng.integers(0, 60))
        lat = rng.uniform(-95.0, 95.0, n)
        lat[rng.random(n) < 0.1] = np.nan
        pick = rng.random(n) < 0.2
        lat[pick] = rng.choice(lats, int(pick.sum()))
        assert same(frame.scale(lat), ref_scale(frame, lat))
        cols = np.stack([lat, lat, lat], axis=1)
        assert same(frame.scale(cols[:, 1]), ref_scale(frame, cols[:, 1]))
    lat = np.concatenate([lats[:50], lats[-50:], (lats[:-1] + lats[1:])[::97] / 2,
                          np.nextafter(lats[::89], np.inf), np.nextafter(lats[::89], -np.inf),
                          [np.inf, -np.inf, np.nan, -0.0, 0.0, 1e308, -1e308, 89.0, -89.0]])
    assert same(frame.scale(lat), ref_scale(frame, lat))
    for other in (30.0, [25.0, 33.0], np.array([29.0], dtype=np.float32),
                  np.array([[27.0, 31.0]])):
        assert np.array_equal(frame.scale(other), ref_scale(frame, other))


def ref_height(m: SimpleNamespace, j: np.ndarray, fl: np.ndarray,
               ) -> tuple[np.ndarray, np.ndarray]:
    """``height_correction``'s former body (for ``m.primaries``)."""
    slant = m.slant_m[j]
    h = fl * 100.0 * FT
    ok = (m.kind[j] == PRIMARY) & np.isfinite(slant) & np.isfinite(h)
    ra = EARTH_RADIUS_M + m.antenna_m
    rt = EARTH_RADIUS_M + np.where(ok, h, 0.0)
    chord2 = np.clip(slant * slant - (rt - ra) ** 2, 0.0, None) / (4 * ra * rt)
    ground = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(chord2, 1.0)))
    shift = np.nan_to_num(np.where(ok, ground - m.ground_m[j], 0.0))
    return shift * m.los_x[j], shift * m.los_y[j]


def plots(rng: np.random.Generator, n: int) -> SimpleNamespace:
    bearing = rng.uniform(0, 2 * np.pi, n)
    slant = rng.uniform(0.0, 450e3, n)
    slant[rng.random(n) < 0.1] = np.nan
    slant[rng.random(n) < 0.05] = rng.uniform(0, 50.0)  # shorter than the height
    ground = slant * rng.uniform(0.9, 1.0, n)
    ground[rng.random(n) < 0.05] = np.nan
    return SimpleNamespace(
        primaries=True, slant_m=slant, ground_m=ground, los_x=np.sin(bearing),
        los_y=np.cos(bearing), antenna_m=float(rng.uniform(0, 3000)),
        kind=rng.choice([PRIMARY, PRIMARY, SSR, SDPS], n).astype(np.int64))


def test_height_correction_is_numpys_to_the_bit() -> None:
    rng = np.random.default_rng(3)
    moved = 0
    for _ in range(300):
        m = plots(rng, int(rng.integers(1, 30)))
        k = int(rng.integers(0, 60))
        j = rng.integers(0, len(m.kind), k).astype(np.int64)
        fl = rng.uniform(-10, 600, k)
        fl[rng.random(k) < 0.1] = np.nan
        fl[rng.random(k) < 0.02] = np.inf
        with np.errstate(all="ignore"):
            got = height_correction(m, j, fl)  # type: ignore[arg-type]
            want = ref_height(m, j, fl)
        assert same(got[0], want[0]) and same(got[1], want[1])
        moved += int(np.count_nonzero(want[0]))
    assert moved > 1000  # not only the zeros of plots left where they are


def test_height_kernels_check_their_input() -> None:
    m = plots(np.random.default_rng(1), 4)
    with pytest.raises(IndexError):
        height_chord(m.slant_m, m.kind, np.array([4]), np.array([300.0]), 0.0, 6371e3, FT)
    with pytest.raises(ValueError):
        height_chord(m.slant_m, m.kind, np.array([0]), np.zeros(2), 0.0, 6371e3, FT)
    ok = np.ones(1, dtype=bool)
    with pytest.raises(IndexError):
        height_shift(np.zeros(1), ok, np.array([-1]), m.ground_m, m.los_x, m.los_y, 6371e3)
    with pytest.raises(ValueError):
        height_shift(np.zeros(2), ok, np.array([0]), m.ground_m, m.los_x, m.los_y, 6371e3)
