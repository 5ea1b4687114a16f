"""ext/coverage.pyx (gateway._coverage) against the numpy it replaced, to the bit.

``Coverage.seen_by`` decides in C with libm's hypot, sin and cos, and hands back to numpy the
points near a boundary (where numpy's functions, a few ulp off libm's, could decide
otherwise) and those not finite.  Its decisions must be ``seen_by_numpy``'s everywhere: on
random points, on points a few ulp either side of each of the three boundaries (cone, range,
horizon: found by bisection on numpy's own decision), on inputs that are not finite, and
(slow) on every point a replay of the shipped capture asks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from gateway import _coverage
from gateway.associate.coverage import _HORIZON_K, EARTH_RADIUS_M, Coverage, RadarCoverage
from gateway.associate.frame import ConformalFrame

ROOT = Path(__file__).resolve().parent.parent
FRAME = ConformalFrame()
SITES = (
    RadarCoverage(30.0, -104.0, 300.0),
    RadarCoverage(31.5, -106.0, 1500.0, cone_deg=45.0, range_nm=120.0),
    RadarCoverage(29.0, -101.0, 20.0, cone_deg=30.0, range_nm=60.0),
    RadarCoverage(32.0, -103.0, 3000.0, range_nm=250.0),
)


def kernel_raw(c: Coverage, x: np.ndarray, y: np.ndarray,
               h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _coverage.seen_by(x, y, h, c.x, c.y, c.k, c.tan_cone, c._antenna_r, c._range2,
                             c.horizon_antenna, EARTH_RADIUS_M, _HORIZON_K, c.KERNEL_TOL)


def test_random_points_are_numpys() -> None:
    c = Coverage(FRAME, SITES)
    rng = np.random.default_rng(16)
    n = 200_000
    x = c.x.mean() + rng.uniform(-600e3, 600e3, n)
    y = c.y.mean() + rng.uniform(-600e3, 600e3, n)
    h = rng.choice([0.0, 1.0, 600.0, 10_000.0, 14_000.0], n) * rng.uniform(0.0, 1.2, n)
    h[::97] = -rng.uniform(0.0, 500.0, len(h[::97]))  # below the ellipsoid
    seen = c.seen_by(x, y, h)
    assert seen.dtype == np.bool_ and seen.shape == (n, len(SITES))
    np.testing.assert_array_equal(seen, c.seen_by_numpy(x, y, h))
    assert seen.any() and not seen.all()


def test_points_not_finite_are_numpys() -> None:
    c = Coverage(FRAME, SITES)
    bad = [np.nan, np.inf, -np.inf]
    x = np.array([*bad, c.x[0] + 50e3, c.x[0] + 50e3, c.x[0] + 50e3, np.inf])
    y = np.array([c.y[0]] * 3 + bad + [np.nan])
    h = np.array([1000.0] * 3 + [1000.0, np.inf, np.nan, np.nan])
    _, unsure = kernel_raw(c, x, y, h)
    assert set(unsure.tolist()) >= {0, 1, 2, 5, 6}
    with np.errstate(invalid="ignore"):  # numpy's sin and cos of inf
        np.testing.assert_array_equal(c.seen_by(x, y, h), c.seen_by_numpy(x, y, h))


def _flip(f: Callable[[float], bool], lo: float, hi: float) -> float:
    """The float where f (numpy's decision) changes between lo and hi, to the ulp."""
    flo = f(lo)
    assert f(hi) != flo
    while True:
        mid = (lo + hi) / 2.0
        if mid in (lo, hi):
            return lo
        if f(mid) == flo:
            lo = mid
        else:
            hi = mid


def _around(d: float, n: int) -> list[float]:
    """d and the n floats on each side of it, ulp by ulp."""
    ds = [d]
    for step in (np.inf, -np.inf):
        v = d
        for _ in range(n):
            v = float(np.nextafter(v, step))
            ds.append(v)
    return ds


# (site, height m, direction, ground distance m: inside and outside the boundary)
BOUNDARIES = [
    (0, 10_000.0, (1.0, 0.0), 5_000.0, 20_000.0),       # the cone
    (1, 12_000.0, (0.6, 0.8), 8_000.0, 20_000.0),       # a cone of 45 degrees
    (1, 12_000.0, (0.0, 1.0), 150_000.0, 300_000.0),    # 120 NM range
    (2, 10_000.0, (-1.0, 0.0), 60_000.0, 140_000.0),    # 60 NM range
    (0, 300.0, (0.0, -1.0), 60_000.0, 200_000.0),       # the horizon, low
    (3, 5.0, (0.8, -0.6), 100_000.0, 300_000.0),        # the horizon, at the ground
]


@pytest.mark.parametrize(("site", "h", "direction", "near", "far"), BOUNDARIES)
def test_points_at_each_boundary_are_numpys(site: int, h: float, direction: tuple[float, float],
                                            near: float, far: float) -> None:
    c = Coverage(FRAME, SITES)
    ux, uy = direction
    sx, sy = float(c.x[site]), float(c.y[site])

    def numpy_says(d: float) -> bool:
        return bool(c.seen_by_numpy(np.array([sx + ux * d]), np.array([sy + uy * d]),
                                    np.array([h]))[0, site])

    d = _flip(numpy_says, near, far)
    # every distance from 2,000 ulp inside to 2,000 ulp outside, and the heights next to h
    ds = _around(d, 2000)
    ds_arr = np.array(ds)
    x = sx + ux * ds_arr
    y = sy + uy * ds_arr
    hs = np.array([h, float(np.nextafter(h, np.inf)), float(np.nextafter(h, -np.inf))])
    x, y, hh = (np.repeat(x, 3), np.repeat(y, 3), np.tile(hs, len(ds_arr)))
    seen = c.seen_by(x, y, hh)
    numpy_seen = c.seen_by_numpy(x, y, hh)
    np.testing.assert_array_equal(seen, numpy_seen)
    assert numpy_seen[:, site].any() and not numpy_seen[:, site].all()  # both sides tried
    _, unsure = kernel_raw(c, x, y, hh)
    assert len(unsure)  # the band round the boundary went to numpy


def test_no_radar_and_odd_shapes() -> None:
    c = Coverage(FRAME, [])
    assert c.seen_by(np.zeros(3), np.zeros(3), np.zeros(3)).shape == (3, 0)
    c = Coverage(FRAME, SITES)
    one = c.seen_by(c.x[0] + 50e3, c.y[0], 1000.0)  # scalars
    assert one.shape == (1, len(SITES))
    np.testing.assert_array_equal(one, c.seen_by_numpy(c.x[0] + 50e3, c.y[0], 1000.0))
    empty = c.seen_by(np.zeros(0), np.zeros(0), np.zeros(0))
    assert empty.shape == (0, len(SITES))
    with pytest.raises(ValueError):
        _coverage.seen_by(np.zeros(2), np.zeros(3), np.zeros(2), c.x, c.y, c.k, c.tan_cone,
                          c._antenna_r, c._range2, c.horizon_antenna, EARTH_RADIUS_M,
                          _HORIZON_K, 1e-9)


def _numpy_hidden(c: Coverage, x: np.ndarray, y: np.ndarray, vx: np.ndarray, vy: np.ndarray,
                  h: np.ndarray, ahead: np.ndarray, vz: np.ndarray | None,
                  steps: int = 12) -> np.ndarray:
    n = len(x)
    rate = np.zeros(n) if vz is None else np.nan_to_num(vz)
    return c.hidden_numpy(x, y, vx, vy, h, np.broadcast_to(ahead, (n,)).astype(np.float64),
                          steps, rate)


def test_hidden_is_numpys() -> None:
    """Lines through cones, out of range, over the horizon, climbing and descending, some
    starting a few ulp from a boundary; rates and look-aheads that are not finite."""
    c = Coverage(FRAME, SITES)
    rng = np.random.default_rng(15)
    n = 30_000
    site = rng.integers(0, len(SITES), n)
    # near an antenna (its cone) or anywhere around
    near = rng.random(n) < 0.5
    x = np.where(near, c.x[site] + rng.normal(0.0, 15e3, n), c.x.mean() + rng.uniform(-5e5, 5e5, n))
    y = np.where(near, c.y[site] + rng.normal(0.0, 15e3, n), c.y.mean() + rng.uniform(-5e5, 5e5, n))
    speed = rng.uniform(0.0, 300.0, n)
    heading = rng.uniform(0.0, 2 * np.pi, n)
    vx, vy = speed * np.sin(heading), speed * np.cos(heading)
    h = rng.choice([100.0, 600.0, 3000.0, 10_000.0, 12_500.0], n) * rng.uniform(0.5, 1.1, n)
    vz = rng.normal(0.0, 10.0, n)
    vz[::50] = np.nan
    vz[1::211] = np.inf
    vz[2::211] = -np.inf
    ahead = rng.uniform(-30.0, 300.0, n)
    ahead[::301] = np.nan
    ahead[1::307] = np.inf
    with np.errstate(all="ignore"):  # numpy's overflows of infinite rates
        got = c.hidden(x, y, vx, vy, h, ahead, vz=vz)
        want = _numpy_hidden(c, x, y, vx, vy, h, ahead, vz)
        np.testing.assert_array_equal(got, want)
        assert got.sum() > 100 and (~got).sum() > 100
        # no climb rate, one look-ahead for all, other step counts
        np.testing.assert_array_equal(c.hidden(x, y, vx, vy, h, np.float64(120.0)),
                                      _numpy_hidden(c, x, y, vx, vy, h, np.float64(120.0),
                                                    None))
        for steps in (1, 3, 40):
            np.testing.assert_array_equal(
                c.hidden(x[:3000], y[:3000], vx[:3000], vy[:3000], h[:3000], ahead[:3000],
                         steps=steps, vz=vz[:3000]),
                _numpy_hidden(c, x[:3000], y[:3000], vx[:3000], vy[:3000], h[:3000],
                              ahead[:3000], vz[:3000], steps))


def test_hidden_at_a_boundary_is_numpys() -> None:
    """Tracks whose point now, or one ahead, is within a few ulp of the cone's edge."""
    c = Coverage(FRAME, SITES)
    sx, sy, h = float(c.x[0]), float(c.y[0]), 10_000.0

    def numpy_says(d: float) -> bool:
        return bool(c.seen_by_numpy(np.array([sx + d]), np.array([sy]), np.array([h]))[0, 0])

    d = _flip(numpy_says, 5_000.0, 20_000.0)  # the cone's edge on the x axis
    ds = _around(d, 300)
    start = sx + np.array(ds)
    n = len(start)
    y = np.full(n, sy)
    zero = np.zeros(n)
    for vx, ahead in ((zero, np.full(n, 60.0)),          # standing at the edge
                      (np.full(n, -250.0), np.full(n, 60.0)),  # into the cone, and out
                      (np.full(n, 250.0), np.full(n, 60.0))):  # out of it
        got = c.hidden(start, y, vx, zero, np.full(n, h), ahead)
        np.testing.assert_array_equal(got, _numpy_hidden(c, start, y, vx, zero, np.full(n, h),
                                                         ahead, None))
    # the lines whose last point (dt = 60 s) lands at the edge: x = edge - 250 * 60
    back = start + 250.0 * 60.0
    got = c.hidden(back, y, np.full(n, -250.0), zero, np.full(n, h), np.full(n, 60.0))
    np.testing.assert_array_equal(got, _numpy_hidden(c, back, y, np.full(n, -250.0), zero,
                                                     np.full(n, h), np.full(n, 60.0), None))


@pytest.mark.slow
def test_every_point_of_a_replay_is_numpys(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped capture's replay: every point and line the deleter asks about, both
    ways."""
    from gateway.cli import main

    asked = [0, 0]
    kernel = Coverage.seen_by

    def both(self: Coverage, x: np.ndarray, y: np.ndarray, h: np.ndarray) -> np.ndarray:
        seen = kernel(self, x, y, h)
        np.testing.assert_array_equal(seen, self.seen_by_numpy(x, y, h))
        asked[0] += seen.shape[0]
        return seen

    hidden = Coverage.hidden

    def hidden_both(self: Coverage, x: np.ndarray, y: np.ndarray, vx: np.ndarray,
                    vy: np.ndarray, h: np.ndarray, ahead: np.ndarray, steps: int = 12,
                    vz: np.ndarray | None = None) -> np.ndarray:
        out = hidden(self, x, y, vx, vy, h, ahead, steps, vz)
        np.testing.assert_array_equal(out, _numpy_hidden(self, x, y, vx, vy, h, ahead, vz,
                                                         steps))
        asked[1] += len(out)
        return out

    monkeypatch.setattr(Coverage, "seen_by", both)
    monkeypatch.setattr(Coverage, "hidden", hidden_both)
    assert main(["replay", str(ROOT / "captures" / "border-10min.pcap.gz"), "--config",
                 str(ROOT / "captures" / "border.toml"), "--speed", "max",
                 "--out", str(tmp_path / "out.jsonl")]) == 0
    assert asked[0] > 100_000 and asked[1] > 1_000
