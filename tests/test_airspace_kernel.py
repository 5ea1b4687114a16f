"""The point-in-polygon kernel (ext/airspace.pyx) against shapely's ``contains_xy``, the
code it replaced in ``Airspace.codes``: the same unit for every point, boundary points
(vertices, edges, a hair either side of them), non-finite and empty inputs included."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import shapely

from gateway import _airspace
from gateway.handoff.airspace import Airspace, Cop, Paths, Unit

SHIPPED = Path(__file__).resolve().parent.parent / "captures" / "border-airspace.geojson"


def shapely_codes(airspace: Airspace, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """``Airspace.codes`` as it was: one ``contains_xy`` over every prepared unit."""
    lat, lon = np.broadcast_arrays(np.asarray(lat, dtype=np.float64),
                                   np.asarray(lon, dtype=np.float64))
    if not airspace.ids or lat.size == 0:
        return np.full(lat.shape, -1, dtype=np.int64)
    polygons = np.array([airspace.units[u].polygon for u in airspace.ids], dtype=object)
    shapely.prepare(polygons)
    inside = shapely.contains_xy(polygons[:, None], lon.reshape(1, -1), lat.reshape(1, -1))
    first = inside.argmax(axis=0)
    return np.where(inside.any(axis=0), first, -1).astype(np.int64).reshape(lat.shape)


def hard_points(airspace: Airspace, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random points over the units, every vertex, points along every edge, and each a
    step of one ulp or a rounding's worth to either side."""
    lats, lons = [], []
    lo_x, lo_y, hi_x, hi_y = shapely.total_bounds(
        [u.polygon for u in airspace.units.values()])
    lats.append(rng.uniform(lo_y - 1, hi_y + 1, 4000))
    lons.append(rng.uniform(lo_x - 1, hi_x + 1, 4000))
    for u in airspace.units.values():
        for ring in (u.polygon.exterior, *u.polygon.interiors):
            xy = np.asarray(ring.coords)
            for (x1, y1), (x2, y2) in zip(xy[:-1], xy[1:], strict=True):
                f = np.concatenate([[0.0, 0.5, 1.0], rng.uniform(0, 1, 20)])
                x, y = x1 + f * (x2 - x1), y1 + f * (y2 - y1)
                for dx in (0.0, 1e-13, -1e-13):
                    for dy in (0.0, 1e-13, -1e-13):
                        lons.append(x + dx)
                        lats.append(y + dy)
                lons += [np.nextafter(x, np.inf), np.nextafter(x, -np.inf), x, x]
                lats += [y, y, np.nextafter(y, np.inf), np.nextafter(y, -np.inf)]
    return np.concatenate(lats), np.concatenate(lons)


def test_shipped_units_are_shapelys_to_the_point() -> None:
    airspace = Airspace.load(SHIPPED)
    lat, lon = hard_points(airspace, np.random.default_rng(7))
    assert np.array_equal(airspace.codes(lat, lon), shapely_codes(airspace, lat, lon))


def test_holes_overlaps_and_slanted_edges() -> None:
    """A unit with a hole, a unit overlapping it (the first in order wins), a thin slanted
    one: edges whose points are not exactly representable."""
    outer = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)],
                            [[(3, 3), (7, 3.3), (6.1, 7.7), (3, 7)]])
    over = shapely.Polygon([(5, 5), (15, 5.5), (14.3, 15.1), (5.2, 14.9)])
    thin = shapely.Polygon([(0.1, 0.2), (9.7, 9.9), (9.71, 9.93), (0.1, 0.23)])
    airspace = Airspace([Unit("A", "a", "X", outer), Unit("B", "b", "Y", over),
                         Unit("C", "c", "Y", thin)],
                        [Cop("P", 5.0, 5.0, frozenset({"A", "B"}))])
    lat, lon = hard_points(airspace, np.random.default_rng(3))
    codes = airspace.codes(lat, lon)
    assert np.array_equal(codes, shapely_codes(airspace, lat, lon))
    assert {-1, 0, 1, 2} <= set(codes.tolist())


@pytest.mark.parametrize(("lat", "lon"), [
    ([], []), ([25.0], [-100.0]), ([np.nan], [-100.0]), ([25.0], [np.nan]),
    ([np.inf], [-100.0]), ([25.0], [-np.inf]), ([90.0, -90.0], [180.0, -180.0]),
])
def test_edge_inputs(lat: list[float], lon: list[float]) -> None:
    airspace = Airspace.load(SHIPPED)
    a, b = np.array(lat, dtype=np.float64), np.array(lon, dtype=np.float64)
    assert np.array_equal(airspace.codes(a, b), shapely_codes(airspace, a, b))


def test_shapes_broadcast_as_before() -> None:
    airspace = Airspace.load(SHIPPED)
    rng = np.random.default_rng(5)
    lat, lon = rng.uniform(22, 37, (6, 1)), rng.uniform(-120, -94, (1, 9))
    codes = airspace.codes(lat, lon)
    assert codes.shape == (6, 9) and codes.dtype == np.int64
    assert np.array_equal(codes, shapely_codes(airspace, lat, lon))
    assert airspace.codes(np.float64(25.0), np.float64(-100.0)).shape == ()


def test_no_units() -> None:
    airspace = Airspace([], [])
    assert airspace.codes(np.array([1.0, 2.0]), np.array([3.0, 4.0])).tolist() == [-1, -1]


def test_kernel_refuses_bad_shapes() -> None:
    seg, start, box, one = np.zeros((3, 4)), np.array([0, 3]), np.zeros((1, 4)), np.zeros(1)
    with pytest.raises(ValueError):
        _airspace.Units(np.zeros((3, 3)), start, box)
    with pytest.raises(ValueError):
        _airspace.Units(seg, start, np.zeros((1, 3)))
    with pytest.raises(ValueError):
        _airspace.Units(seg, start, np.zeros((2, 4)))
    with pytest.raises(ValueError):
        _airspace.Units(seg, np.zeros(0, dtype=np.int64), np.zeros((0, 4)))
    with pytest.raises(IndexError):
        _airspace.Units(seg, np.array([0, 4]), box)
    with pytest.raises(IndexError):
        _airspace.Units(seg, np.array([2, 1]), box)
    units = _airspace.Units(seg, start, box)
    with pytest.raises(ValueError):
        units.locate(np.zeros(2), one)
    with pytest.raises(ValueError):
        units.sample(one, one, one, one, one, np.zeros(2), one)
    with pytest.raises(ValueError):
        units.bisect(one, one, one, one, one, one, np.zeros(1, dtype=np.int64), one,
                     np.zeros(2), 3)


def old_ahead(lat: np.ndarray, lon: np.ndarray, trk_deg: np.ndarray,
              dist_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``ahead`` as it was, every term worked out at each call."""
    p1, l1, th = np.radians(lat), np.radians(lon), np.radians(trk_deg)
    d = np.asarray(dist_m, dtype=np.float64) / 6_371_008.8
    p2 = np.arcsin(np.sin(p1) * np.cos(d) + np.cos(p1) * np.sin(d) * np.cos(th))
    l2 = l1 + np.arctan2(np.sin(th) * np.sin(d) * np.cos(p1),
                         np.cos(d) - np.sin(p1) * np.sin(p2))
    return np.degrees(p2), (np.degrees(l2) + 540.0) % 360.0 - 180.0


def old_crossings(airspace: Airspace, lat: np.ndarray, lon: np.ndarray, trk: np.ndarray,
                  gs_kt: np.ndarray, horizon_s: float, step_s: float = 20.0,
                  ) -> list[tuple[str, str, float, float, float, str | None] | None]:
    """``Airspace.crossings`` as it was: shapely's codes, ``ahead`` at every step."""
    speed = gs_kt * (1852.0 / 3600.0)
    out: list[tuple[str, str, float, float, float, str | None] | None] = [None] * len(lat)
    if len(lat) == 0:
        return out
    here = shapely_codes(airspace, lat, lon)
    times = np.arange(step_s, horizon_s + step_s, step_s)
    plat, plon = old_ahead(lat[:, None], lon[:, None], trk[:, None], speed[:, None] * times)
    there = shapely_codes(airspace, plat, plon)
    moved = (there != here[:, None]) & (here[:, None] >= 0) & (speed[:, None] > 0)
    rows = np.flatnonzero(moved.any(axis=1))
    if len(rows) == 0:
        return out
    k = moved[rows].argmax(axis=1)
    dst, hi = there[rows, k], times[k]
    lo = np.where(k > 0, times[np.maximum(k - 1, 0)], 0.0)
    for _ in range(10):
        mid = (lo + hi) / 2
        mlat, mlon = old_ahead(lat[rows], lon[rows], trk[rows], speed[rows] * mid)
        same = shapely_codes(airspace, mlat, mlon) == here[rows]
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    clat, clon = old_ahead(lat[rows], lon[rows], trk[rows], speed[rows] * hi)
    for j, i in enumerate(rows.tolist()):
        if dst[j] >= 0:
            a, b = airspace.ids[here[i]], airspace.ids[dst[j]]
            cop = airspace.nearest_cop(a, b, float(clat[j]), float(clon[j]))
            out[i] = (a, b, float(hi[j]), float(clat[j]), float(clon[j]),
                      cop.name if cop else None)
    return out


@pytest.mark.parametrize("n", [0, 1, 2, 17, 300])
def test_crossings_are_the_old_ones_to_the_bit(n: int) -> None:
    """Flights near the border (and some outside every unit, some standing still): the
    crossing, its time and point are the old code's exactly."""
    airspace = Airspace.load(SHIPPED)
    rng = np.random.default_rng(n)
    lat, lon = rng.uniform(21.5, 37.5, n), rng.uniform(-121.0, -93.0, n)
    trk, gs = rng.uniform(0, 360, n), rng.choice([0.0, 150.0, 450.0, 600.0], n)
    got = [None if c is None else (c.src, c.dst, c.seconds, c.lat, c.lon,
                                   c.cop.name if c.cop else None)
           for c in airspace.crossings(lat, lon, trk, gs, 3600.0)]
    assert got == old_crossings(airspace, lat, lon, trk, gs, 3600.0)
    if n >= 17:
        assert any(c is not None for c in got)


def test_paths_are_the_old_ahead() -> None:
    rng = np.random.default_rng(11)
    lat, lon, trk = rng.uniform(-89, 89, 50), rng.uniform(-180, 180, 50), rng.uniform(0, 360, 50)
    dist = rng.uniform(0, 2e6, (50, 7))
    for got, want in zip(Paths(lat[:, None], lon[:, None], trk[:, None]).at(dist),
                         old_ahead(lat[:, None], lon[:, None], trk[:, None], dist), strict=True):
        assert np.array_equal(got, want)
    path = Paths(lat, lon, trk)
    for column in dist.T:
        for got, want in zip(path.at(column), old_ahead(lat, lon, trk, column), strict=True):
            assert np.array_equal(got, want)
    assert Paths(25.0, -100.0, 45.0).at(1e5) == old_ahead(25.0, -100.0, 45.0, 1e5)


@pytest.mark.parametrize("n", [0, 1, 40])
def test_bisect_is_the_numpy_loop_to_the_bit(n: int) -> None:
    """The kernel's bisection against the loop it replaced (``Paths.at``, then which unit),
    over the whole globe (the antimeridian, the poles' neighbourhood, zero speed)."""
    airspace = Airspace.load(SHIPPED)
    rng = np.random.default_rng(100 + n)
    lat, lon, trk = rng.uniform(-89, 89, n), rng.uniform(-180, 180, n), rng.uniform(0, 360, n)
    lat[: n // 2] = rng.uniform(22, 37, n // 2)  # half over the units
    lon[: n // 2] = rng.uniform(-120, -94, n // 2)
    v = rng.choice([0.0, 50.0, 250.0, 3000.0], n)
    src = airspace.codes(lat, lon)
    lo, hi = rng.uniform(0, 100, n), rng.uniform(100, 3600, n)
    want_lo, want_hi = lo.copy(), hi.copy()
    path = Paths(lat, lon, trk)
    for _ in range(10):
        mid = (want_lo + want_hi) / 2
        same = airspace.codes(*path.at(v * mid)) == src
        want_lo, want_hi = np.where(same, mid, want_lo), np.where(same, want_hi, mid)
    at_lat, at_lon = airspace._units.bisect(*path.parts(), v, src, lo, hi, 10)
    assert np.array_equal(lo, want_lo) and np.array_equal(hi, want_hi)
    # and the points at hi, as ``Paths.at`` makes them
    want_lat, want_lon = path.at(v * want_hi)
    assert at_lat.tobytes() == want_lat.tobytes() and at_lon.tobytes() == want_lon.tobytes()


@pytest.mark.parametrize(("n", "k"), [(0, 5), (1, 1), (3, 0), (60, 24)])
def test_sample_is_paths_at_to_the_bit(n: int, k: int) -> None:
    airspace = Airspace.load(SHIPPED)
    rng = np.random.default_rng(200 + n)
    lat, lon, trk = rng.uniform(-89, 89, n), rng.uniform(-180, 180, n), rng.uniform(0, 360, n)
    lat[: n // 2] = rng.uniform(22, 37, n // 2)
    lon[: n // 2] = rng.uniform(-120, -94, n // 2)
    v, times = rng.choice([0.0, 50.0, 250.0, 3000.0], n), np.arange(1, k + 1) * 20.0
    got = airspace._units.sample(*Paths(lat, lon, trk).parts(), v, times)
    want = airspace.codes(*old_ahead(lat[:, None], lon[:, None], trk[:, None],
                                     v[:, None] * times))
    assert got.shape == (n, k) and np.array_equal(got, want)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_near_is_a_bound_on_every_point_within_reach(seed: int) -> None:
    """Where ``Units.near`` says a flight cannot reach a boundary, every point of its path
    within the reach, sampled densely and on every heading, is in the unit it is in (or in
    none, as it is): the samples ``crossings`` skips would have found no other unit."""
    airspace = Airspace.load(SHIPPED)
    rng = np.random.default_rng(300 + seed)
    n = 400
    lat, lon = rng.uniform(21.0, 38.0, n), rng.uniform(-122.0, -92.0, n)
    reach = rng.choice([0.0, 2e3, 2e4, 6e4, 1.2e5], n)
    far = airspace._units.near(lat, lon, reach) == 0
    assert far.any() and (~far).any()
    here = airspace.codes(lat, lon)
    headings = np.arange(0.0, 360.0, 7.5)
    dist = np.linspace(0.0, 1.0, 41)
    for i in np.flatnonzero(far):
        plat, plon = old_ahead(lat[i], lon[i], headings[:, None], reach[i] * dist)
        assert (airspace.codes(plat, plon) == here[i]).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("pieces", [1, 4])
def test_near_path_is_a_bound_on_the_path_ahead(seed: int, pieces: int) -> None:
    """Where ``Units.near_path`` says a flight cannot reach a boundary, every point of its
    path ahead within the reach, sampled densely, is in the unit it is in (or in none, as
    it is): the samples ``crossings`` skips would have found no other unit.  It finds far
    every flight ``near`` does, and more (the path, not every heading)."""
    airspace = Airspace.load(SHIPPED)
    rng = np.random.default_rng(700 + seed)
    n = 600
    lat, lon = rng.uniform(21.0, 38.0, n), rng.uniform(-122.0, -92.0, n)
    trk = rng.uniform(0.0, 360.0, n)
    reach = rng.choice([0.0, 2e3, 2e4, 6e4, 1.2e5, 2.4e5], n)
    far = airspace._units.near_path(lat, lon, trk, reach, pieces) == 0
    near = airspace._units.near(lat, lon, reach) == 1
    assert (far | near).all()  # near's far ones are far
    assert (far & near).any() and (~far).any()
    here = airspace.codes(lat, lon)
    dist = np.linspace(0.0, 1.0, 401)
    for i in np.flatnonzero(far):
        plat, plon = old_ahead(lat[i], lon[i], trk[i], reach[i] * dist)
        assert (airspace.codes(plat, plon) == here[i]).all()


def test_near_path_flags_what_it_cannot_bound() -> None:
    airspace = Airspace.load(SHIPPED)
    lat = np.array([np.nan, 30.0, 30.0, 89.5, 30.0, 30.0, 30.0])
    lon = np.array([-100.0, np.inf, -100.0, -100.0, 179.9, -100.0, -100.0])
    trk = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, np.nan])
    reach = np.array([1e3, 1e3, np.inf, 1e3, 1e5, 5e6, 1e6])
    assert airspace._units.near_path(lat, lon, trk, reach, 4).tolist() == [1] * 7
    with pytest.raises(ValueError):
        airspace._units.near_path(lat, lon, trk, reach[:2], 4)
    with pytest.raises(ValueError):
        airspace._units.near_path(lat, lon, trk, reach, 0)


def test_near_flags_what_it_cannot_bound() -> None:
    airspace = Airspace.load(SHIPPED)
    lat = np.array([np.nan, 30.0, 30.0, 89.5, 30.0, 30.0])
    lon = np.array([-100.0, np.inf, -100.0, -100.0, 179.9, -100.0])
    reach = np.array([1e3, 1e3, np.inf, 1e3, 1e5, 5e6])
    assert airspace._units.near(lat, lon, reach).tolist() == [1, 1, 1, 1, 1, 1]
    with pytest.raises(ValueError):
        airspace._units.near(lat, lon, reach[:2])


@pytest.mark.parametrize("n", [1, 17, 300])
@pytest.mark.parametrize("horizon", [120.0, 480.0])
def test_crossings_skipping_far_flights_are_the_old_ones(n: int, horizon: float) -> None:
    """Short horizons, where most flights are far from every boundary (and skipped): the
    crossings are still the old code's exactly."""
    airspace = Airspace.load(SHIPPED)
    rng = np.random.default_rng(400 + n)
    lat, lon = rng.uniform(21.5, 37.5, n), rng.uniform(-121.0, -93.0, n)
    trk, gs = rng.uniform(0, 360, n), rng.choice([0.0, 150.0, 450.0, 600.0], n)
    got = [None if c is None else (c.src, c.dst, c.seconds, c.lat, c.lon,
                                   c.cop.name if c.cop else None)
           for c in airspace.crossings(lat, lon, trk, gs, horizon)]
    assert got == old_crossings(airspace, lat, lon, trk, gs, horizon)
    if n == 300:
        assert any(c is not None for c in got)
        assert (airspace._units.near(lat, lon, gs * (1852.0 / 3600.0) * horizon) == 0).any()
    # the units given (``here``, as the handoff has them) rather than located again
    given = airspace.crossings(lat, lon, trk, gs, horizon, here=airspace.codes(lat, lon))
    assert [None if c is None else (c.src, c.dst, c.seconds, c.lat, c.lon,
                                    c.cop.name if c.cop else None) for c in given] == got


@pytest.mark.parametrize(("n", "k"), [(0, 5), (1, 1), (3, 0), (60, 24), (200, 24)])
def test_leave_is_the_first_column_moved_of_sample(n: int, k: int) -> None:
    """``Units.leave`` against the numpy it replaced in ``Airspace.crossings``: the first
    sample in another unit, where the flight is in one and moves, and the unit there."""
    airspace = Airspace.load(SHIPPED)
    rng = np.random.default_rng(500 + n)
    lat, lon, trk = rng.uniform(-89, 89, n), rng.uniform(-180, 180, n), rng.uniform(0, 360, n)
    lat[: n * 3 // 4] = rng.uniform(22, 37, n * 3 // 4)
    lon[: n * 3 // 4] = rng.uniform(-120, -94, n * 3 // 4)
    v, times = rng.choice([0.0, -50.0, 50.0, 250.0, 3000.0], n), np.arange(1, k + 1) * 20.0
    if n:
        v[0] = np.nan
    here = airspace.codes(lat, lon)
    path = Paths(lat, lon, trk)
    there = airspace._units.sample(*path.parts(), v, times)
    moved = (there != here[:, None]) & (here[:, None] >= 0) & (v[:, None] > 0)
    any_ = moved.any(axis=1)
    want_first = np.where(any_, moved.argmax(axis=1) if k else 0, -1)
    want_unit = np.where(any_, there[np.arange(n), np.maximum(want_first, 0)] if k else 0, -1)
    first, unit = airspace._units.leave(*path.parts(), v, times, here)
    assert np.array_equal(first, want_first) and np.array_equal(unit, want_unit)
    if n >= 60 and k:
        assert any_.any() and (unit[any_] == -1).any() and (unit[any_] >= 0).any()


def test_paths_take_is_paths_of_the_rows() -> None:
    rng = np.random.default_rng(13)
    lat, lon, trk = rng.uniform(-89, 89, 301), rng.uniform(-180, 180, 301), rng.uniform(0, 360, 301)
    rows = np.flatnonzero(rng.uniform(size=301) < 0.3)
    got, want = Paths(lat, lon, trk).take(rows), Paths(lat[rows], lon[rows], trk[rows])
    for a, b in zip(got.parts(), want.parts(), strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("n", [17, 300])
def test_crossings_into_some_units_are_the_old_ones_into_them(n: int) -> None:
    airspace = Airspace.load(SHIPPED)
    rng = np.random.default_rng(600 + n)
    lat, lon = rng.uniform(21.5, 37.5, n), rng.uniform(-121.0, -93.0, n)
    trk, gs = rng.uniform(0, 360, n), rng.choice([0.0, 150.0, 450.0, 600.0], n)
    old = old_crossings(airspace, lat, lon, trk, gs, 900.0)
    for into in (["KZAB", "KZHU"], ["MMTY"], [], airspace.ids):
        got = [None if c is None else (c.src, c.dst, c.seconds, c.lat, c.lon,
                                       c.cop.name if c.cop else None)
               for c in airspace.crossings(lat, lon, trk, gs, 900.0, into=into)]
        assert got == [c if c is not None and c[1] in into else None for c in old]
    if n == 300:
        assert len({c[1] for c in old if c is not None}) >= 3


def test_nearest_cop_is_min_of_distance_m() -> None:
    """``nearest_cop``'s prepared loop against what it replaced: ``min`` over the pair's
    COPs by ``distance_m``, the first where two are as near."""
    from gateway.handoff.airspace import distance_m
    airspace = Airspace.load(SHIPPED)
    rng = np.random.default_rng(21)
    pairs = sorted({tuple(sorted(c.units)) for c in airspace.cops}) + [("MMTY", "MMZT")]
    for _ in range(3000):
        a, b = pairs[rng.integers(len(pairs))]
        lat, lon = float(rng.uniform(20, 40)), float(rng.uniform(-122, -90))
        cops = [c for c in airspace.cops if c.units == frozenset((a, b))]
        want = min(cops, key=lambda c: distance_m(lat, lon, c.lat, c.lon)) if cops else None
        assert airspace.nearest_cop(a, b, lat, lon) is want
        assert airspace.nearest_cop(b, a, lat, lon) is want
    twins = Airspace([Unit("AAAA", "a", "X", shapely.box(0, 0, 1, 1)),
                      Unit("BBBB", "b", "Y", shapely.box(1, 0, 2, 1))],
                     [Cop("ONE", 0.5, 1.0, frozenset({"AAAA", "BBBB"})),
                      Cop("TWO", 0.5, 1.0, frozenset({"AAAA", "BBBB"}))])
    assert twins.nearest_cop("AAAA", "BBBB", 0.5, 1.2).name == "ONE"  # type: ignore[union-attr]


def test_units_at_is_codes_of_the_attributes() -> None:
    """``Units.name_at`` (the handoff's fused updates, their ``lat`` and ``lon`` read in
    the kernel) against ``codes`` of the arrays made of them as ``update`` made them:
    floats and ints, points on the boundary, non-finite ones."""
    airspace = Airspace.load(SHIPPED)
    rng = np.random.default_rng(900)
    lat, lon = rng.uniform(21.0, 38.0, 500), rng.uniform(-122.0, -92.0, 500)
    lat[:3], lon[:3] = np.nan, -100.0
    lat[3], lon[3] = 30.0, np.inf
    ring = np.asarray(airspace.units[airspace.ids[0]].polygon.exterior.coords)
    lon[4:9], lat[4:9] = ring[:5, 0], ring[:5, 1]  # vertices: on the boundary
    points: list[Any] = [SimpleNamespace(lat=float(a), lon=float(b)) for a, b in
                         zip(lat, lon, strict=True)]
    points += [SimpleNamespace(lat=30, lon=-100), SimpleNamespace(lat=26, lon=-99)]
    want = airspace.codes(np.array([p.lat for p in points]), np.array([p.lon for p in points]))
    got, names = airspace.units_at(points)
    assert got.dtype == want.dtype and np.array_equal(got, want)
    assert (got >= 0).any() and (got[:4] == -1).all()
    assert names == airspace.names(want) and None in names
    assert airspace.units_at([])[0].shape == (0,) and airspace.units_at([])[1] == []


@pytest.mark.parametrize("seed", [0, 1])
def test_near_paths_of_is_near_path_of_the_rows(seed: int) -> None:
    """``Units.near_paths_of`` (objects' attributes, some rows) against ``near_path`` of
    the arrays the handoff made of them: the same verdict for every row, non-finite inputs
    and ints among the floats included."""
    airspace = Airspace.load(SHIPPED)
    rng = np.random.default_rng(900 + seed)
    n = 400
    lat, lon = rng.uniform(21.0, 38.0, n), rng.uniform(-122.0, -92.0, n)
    trk, gs = rng.uniform(0.0, 360.0, n), rng.choice([0.0, 150.0, 450.0, 600.0, 3e5], n)
    lat[:3], lon[3], trk[4], gs[5] = np.nan, np.inf, np.nan, np.inf
    points: list[Any] = [SimpleNamespace(lat=float(a), lon=float(b), trk_deg=float(c),
                                         gs_kt=float(d))
                         for a, b, c, d in zip(lat, lon, trk, gs, strict=True)]
    points[6].gs_kt, points[7].trk_deg = 450, 90  # ints, as np.array would take them
    gs[6], trk[7] = 450.0, 90.0
    rows = [int(r) for r in rng.permutation(n)[: n * 2 // 3]]
    for horizon in (120.0, 1920.0):
        kt = 1852.0 / 3600.0
        want = airspace._units.near_path(lat[rows], lon[rows], trk[rows],
                                          gs[rows] * kt * np.float64(horizon), 4)
        got = airspace._units.near_paths_of(points, rows, kt, horizon, 4)
        assert got == np.flatnonzero(want).tolist()
        assert 0 < len(got) < len(rows)
    assert airspace._units.near_paths_of(points, [], 1.0, 1.0, 4) == []
    with pytest.raises(ValueError):
        airspace._units.near_paths_of(points, rows, 1.0, 1.0, 0)
    for bad in (-1, n):  # an IndexError, as the list's own indexing gave, not a stray read
        with pytest.raises(IndexError):
            airspace._units.near_paths_of(points, [0, bad], 1.0, 1.0, 4)


@pytest.mark.parametrize("n", [1, 40, 300])
def test_crossings_of_objects_are_the_old_ones(n: int) -> None:
    """``Airspace.crossings_of`` (the handoff's: objects, some rows, the units given)
    against the old code on the arrays of those rows."""
    airspace = Airspace.load(SHIPPED)
    rng = np.random.default_rng(1000 + n)
    lat, lon = rng.uniform(21.5, 37.5, n), rng.uniform(-121.0, -93.0, n)
    trk, gs = rng.uniform(0, 360, n), rng.choice([0.0, 150.0, 450.0, 600.0], n)
    points: list[Any] = [SimpleNamespace(lat=a, lon=b, trk_deg=c, gs_kt=d) for a, b, c, d
                         in zip(lat.tolist(), lon.tolist(), trk.tolist(), gs.tolist(),
                                strict=True)]
    rows = sorted(int(r) for r in rng.permutation(n)[: max(1, n // 2)])
    here = airspace.codes(lat, lon)
    for horizon, into in ((480.0, None), (1920.0, ["KZAB", "KZHU", "MMTY"])):
        old = old_crossings(airspace, lat[rows], lon[rows], trk[rows], gs[rows], horizon)
        if into is not None:
            old = [c if c is not None and c[1] in into else None for c in old]
        for given in (here, None):
            got = [None if c is None else (c.src, c.dst, c.seconds, c.lat, c.lon,
                                           c.cop.name if c.cop else None)
                   for c in airspace.crossings_of(points, rows, horizon, into=into,
                                                  here=given)]
            assert got == old
        if n == 300:
            assert any(c is not None for c in old) and any(c is None for c in old)
    assert airspace.crossings_of(points, [], 480.0) == []


def old_nearest_cop(airspace: Airspace, a: str, b: str, lat: float, lon: float) -> Any:
    """``Airspace.nearest_cop`` as it was in Python (``distance_m``'s arithmetic, each
    COP's latitude's radians and cosine worked out once)."""
    import math

    from gateway.handoff.airspace import EARTH_M
    pair = frozenset((a, b))
    cops = [(c, math.radians(c.lat), math.cos(math.radians(c.lat)))
            for c in airspace.cops if c.units == pair]
    best, best_m = None, 0.0
    p1 = math.radians(lat)
    cos_p1 = math.cos(p1)
    for c, p2, cos_p2 in cops:
        h = (math.sin((p2 - p1) / 2) ** 2
             + cos_p1 * cos_p2 * math.sin(math.radians(c.lon - lon) / 2) ** 2)
        m = 2 * EARTH_M * math.asin(min(1.0, math.sqrt(h)))
        if best is None or m < best_m:
            best, best_m = c, m
    return best


def test_cops_nearest_is_the_python_loop() -> None:
    """``_airspace.Cops`` (``nearest_cop``'s kernel) against the Python loop it replaced:
    the same COP for random points, points on and a hair from each COP, points equally
    far from two COPs, NaN; the same ValueError where math's functions raise."""
    airspace = Airspace.load(SHIPPED)
    rng = np.random.default_rng(31)
    pairs = sorted({tuple(sorted(c.units)) for c in airspace.cops}) + [("MMTY", "MMZT")]
    points = [(float(rng.uniform(15, 45)), float(rng.uniform(-125, -85))) for _ in range(3000)]
    for c in airspace.cops:
        for d in (0.0, 1e-12, -1e-9, 1e-6):
            points += [(c.lat + d, c.lon), (c.lat, c.lon - d)]
    for c1 in airspace.cops:  # on the meridian/parallel between two COPs
        for c2 in airspace.cops:
            if c1 is not c2 and c1.units == c2.units:
                points += [((c1.lat + c2.lat) / 2, (c1.lon + c2.lon) / 2),
                           (c1.lat, (c1.lon + c2.lon) / 2), ((c1.lat + c2.lat) / 2, c1.lon)]
    points += [(math_nan, -100.0), (30.0, math_nan), (89.99999, 10.0), (-90.0, 0.0),
               (95.0, -100.0), (-120.0, 170.0)]
    for lat, lon in points:
        for a, b in pairs:
            assert airspace.nearest_cop(a, b, lat, lon) is old_nearest_cop(airspace, a, b,
                                                                           lat, lon)
    a, b = pairs[0]
    for lat, lon in ((np.inf, -100.0), (30.0, -np.inf)):
        with pytest.raises(ValueError):
            old_nearest_cop(airspace, a, b, lat, lon)
        with pytest.raises(ValueError):
            airspace.nearest_cop(a, b, lat, lon)
    assert airspace.nearest_cop("MMTY", "MMZT", np.inf, 0.0) is None  # no COP: nothing asked
    with pytest.raises(ValueError):
        _airspace.Cops(np.zeros(2), np.zeros(3))


math_nan = float("nan")
