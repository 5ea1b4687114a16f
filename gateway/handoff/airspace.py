"""Control units' airspace (GeoJSON) and where a flight will leave the one it is in.

The file is a GeoJSON FeatureCollection: each unit a Polygon feature with properties
``kind: "unit"``, ``id`` (its ICAO location indicator, e.g. MMTY), ``name`` and ``country``;
each coordination point (COP) a Point feature with ``kind: "cop"``, ``name`` and ``units``
(the two units whose shared boundary it is on).  It is read strictly, like the config: a
missing or wrong property is one line naming the feature.

Prediction is dead reckoning on the sphere: from a position, a ground speed and a track
angle, the path ahead is sampled and the first sample in another unit is refined by
bisection to the crossing point.  Tracks are straight over the few minutes that matter,
and the prediction is repeated at every update, so turns are followed as they happen.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike

from gateway import _airspace
from gateway.files import AIRSPACE_MAX, InputFileError, read_limited

EARTH_M = 6_371_008.8
KT = 1852.0 / 3600.0
# the circles ``crossings`` bounds a path ahead by (``Units.near_path``): more are tighter
# (fewer flights sampled) and cost more to test; 4 halved the flights sampled in the
# golden replay
PATH_PIECES = 4


class AirspaceError(ValueError):
    """The airspace file cannot be used; the text is one line saying where and why."""


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    country: str
    polygon: shapely.Polygon


@dataclass(frozen=True)
class Cop:
    name: str
    lat: float
    lon: float
    units: frozenset[str]


@dataclass(frozen=True)
class Crossing:
    """The flight leaves ``src`` for ``dst`` in ``seconds``, at (lat, lon), nearest ``cop``."""

    src: str
    dst: str
    seconds: float
    lat: float
    lon: float
    cop: Cop | None


def _need(props: dict[str, object], key: str, where: str) -> str:
    value = props.get(key)
    if not isinstance(value, str) or not value.strip():
        raise AirspaceError(f"{where}: property {key!r} must be a non-empty str")
    return value


def _position(value: object, where: str) -> tuple[float, float]:
    if (not isinstance(value, list) or len(value) < 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value[:2])
            or not (-180 <= value[0] <= 180 and -90 <= value[1] <= 90)):
        raise AirspaceError(f"{where}: a position is [longitude, latitude] in degrees")
    return float(value[0]), float(value[1])


class Airspace:
    def __init__(self, units: Sequence[Unit], cops: Sequence[Cop]) -> None:
        self.units = {u.id: u for u in units}
        self.cops = list(cops)
        self.ids = [u.id for u in units]
        # every unit's ring segments (x1, y1, x2, y2 = lon, lat), in ``ids`` order, unit
        # ``u``'s rows ``start[u]`` to ``start[u + 1]``: ``codes`` tests every point
        # against every unit in one kernel call (ext/airspace.pyx)
        segments = [_segments(self.units[uid].polygon) for uid in self.ids]
        seg = np.ascontiguousarray(
            np.concatenate([np.zeros((0, 4)), *segments]), dtype=np.float64)
        start = np.cumsum([0, *(len(s) for s in segments)], dtype=np.int64)
        # and their envelopes (min x, min y, max x, max y): most points are outside most
        # units' envelopes, and so outside the units without testing an edge
        box = np.array([(s[:, 0].min(), s[:, 1].min(), s[:, 0].max(), s[:, 1].max())
                        for s in segments], dtype=np.float64).reshape(-1, 4)
        self._units = _airspace.Units(seg, start, box)
        self._sampling: dict[tuple[float, float], np.ndarray] = {}  # _times
        self._pair_cops: dict[frozenset[str], tuple[list[Cop], _airspace.Cops]] = {}
        self._unit_codes: dict[frozenset[str] | None, np.ndarray] = {}  # _wanted
        # the unit of each code, ``None`` last: code -1 (outside every unit) is None
        self._names: list[str | None] = [*self.ids, None]

    @classmethod
    def load(cls, path: str | Path) -> Airspace:
        try:
            raw = read_limited(path, AIRSPACE_MAX, "an airspace file")
        except InputFileError as exc:
            raise AirspaceError(str(exc)) from None
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise AirspaceError(f"{path}: not JSON: {str(exc)[:80]}") from None
        return cls.from_geojson(doc, str(path))

    @classmethod
    def from_geojson(cls, doc: object, name: str = "<airspace>") -> Airspace:
        if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(
                doc.get("features"), list):
            raise AirspaceError(f"{name}: not a GeoJSON FeatureCollection")
        units: list[Unit] = []
        cops: list[Cop] = []
        for n, feature in enumerate(doc["features"], 1):
            where = f"{name}: feature #{n}"
            if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict) \
                    or not isinstance(feature.get("geometry"), dict):
                raise AirspaceError(f"{where}: a Feature needs properties and a geometry")
            props, geometry = feature["properties"], feature["geometry"]
            kind = props.get("kind")
            if kind == "unit":
                uid = _need(props, "id", where)
                if geometry.get("type") != "Polygon" or not isinstance(
                        geometry.get("coordinates"), list) or not geometry["coordinates"]:
                    raise AirspaceError(f"{where} ({uid}): a unit's geometry is a Polygon")
                rings = [[_position(p, where) for p in ring] if isinstance(ring, list) else []
                         for ring in geometry["coordinates"]]
                polygon = shapely.Polygon(rings[0], rings[1:])
                if len(rings[0]) < 4 or not polygon.is_valid:
                    raise AirspaceError(f"{where} ({uid}): not a valid polygon")
                units.append(Unit(uid, _need(props, "name", where),
                                  _need(props, "country", where), polygon))
            elif kind == "cop":
                cop_name = _need(props, "name", where)
                pair = props.get("units")
                if geometry.get("type") != "Point" or not isinstance(pair, list) or len(pair) != 2:
                    raise AirspaceError(f"{where} ({cop_name}): a COP is a Point with two units")
                lon, lat = _position(geometry.get("coordinates"), where)
                cops.append(Cop(cop_name, lat, lon, frozenset(map(str, pair))))
            else:
                raise AirspaceError(f"{where}: property 'kind' must be 'unit' or 'cop'")
        ids = [u.id for u in units]
        if len(set(ids)) != len(ids):
            raise AirspaceError(f"{name}: unit ids repeat")
        for c in cops:
            if not c.units <= set(ids):
                raise AirspaceError(f"{name}: COP {c.name} names a unit that is not defined")
        return cls(units, cops)

    def codes(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """The index (in ``ids``) of the unit each point is in, -1 outside every unit (the
        first in ``ids`` order where units overlap; on a boundary is outside, as shapely's
        ``contains_xy``).  One kernel call over every unit and point: the handoff asks this
        for every flight and its path ahead each cycle, and shapely's calls cost more in
        overhead than in geometry."""
        lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
        if lat.shape != lon.shape:
            lat, lon = np.broadcast_arrays(lat, lon)
        return self._units.locate(lat.ravel(), lon.ravel()).reshape(lat.shape)

    def units_at(self, points: list[Any]) -> tuple[np.ndarray, list[str | None]]:
        """``codes`` of these objects' ``lat`` and ``lon`` (floats, none None) and their
        ``names``: the handoff's every fused update, in one kernel call with no arrays
        made first."""
        return self._units.name_at(points, self._names)

    def unit_at(self, lat: np.ndarray | float, lon: np.ndarray | float) -> list[str | None]:
        """The unit each point is in (None outside every unit)."""
        return self.names(self.codes(np.atleast_1d(lat), np.atleast_1d(lon)))

    def names(self, codes: np.ndarray) -> list[str | None]:
        """The unit of each of these ``codes`` (None for -1, outside every unit)."""
        names = self._names
        return [names[c] for c in codes.tolist()]

    def crossings(self, lat: np.ndarray, lon: np.ndarray, trk_deg: np.ndarray,
                  gs_kt: np.ndarray, horizon_s: float, step_s: float = 20.0,
                  into: Collection[str] | None = None,
                  here: np.ndarray | None = None) -> list[Crossing | None]:
        """For each flight, the next boundary it crosses within ``horizon_s`` flying
        straight on: all flights' paths sampled at once, then each crossing refined by
        bisection to a few metres.  ``into``: only crossings into these units are wanted
        (None: any); a flight whose next crossing is into another unit gets None, and is
        not bisected (the bisection is most of the cost).  ``here``: ``codes`` of the
        flights' positions, when the caller has them (the handoff locates every flight
        before it asks): not worked out again."""
        lat, lon = np.asarray(lat, np.float64), np.asarray(lon, np.float64)
        trk, speed = np.asarray(trk_deg, np.float64), np.asarray(gs_kt, np.float64) * KT
        n = len(lat)
        out: list[Crossing | None] = [None] * n
        if n == 0:
            return out
        times = self._times(horizon_s, step_s)
        # most flights are too far from every boundary to reach one by the last sample, or
        # fly along or away from the boundaries near them: their answer is None without
        # sampling (``Units.near_path``, a bound with margins on the path ahead)
        near = np.flatnonzero(self._units.near_path(lat, lon, trk, speed * times[-1],
                                                    PATH_PIECES))
        if len(near) == 0:
            return out
        if len(near) < n:
            lat, lon, trk, speed = lat[near], lon[near], trk[near], speed[near]
            if here is not None:
                here = here[near]
        if here is None:
            here = self.codes(lat, lon)
        found = self._crossings(lat, lon, trk, speed, times, into, here)
        if len(near) == n:
            return found
        for i, c in zip(near.tolist(), found, strict=True):
            out[i] = c
        return out

    def crossings_of(self, points: list[Any], rows: list[int], horizon_s: float,
                     step_s: float = 20.0, into: Collection[str] | None = None,
                     here: np.ndarray | None = None) -> list[Crossing | None]:
        """``crossings`` of the objects ``points[r]`` for each ``r`` in ``rows`` (their
        ``lat``, ``lon``, ``trk_deg`` and ``gs_kt``, floats, none None), one answer a row;
        ``here``: ``codes`` of every one of ``points``, when the caller has them.  The
        handoff's every prediction: most flights are far from every boundary
        (``Units.near_paths_of`` reads them where they are), and only the few near one
        are made into arrays."""
        out: list[Crossing | None] = [None] * len(rows)
        if not rows:
            return out
        times = self._times(horizon_s, step_s)
        near = self._units.near_paths_of(points, rows, KT, float(times[-1]),
                                         PATH_PIECES)
        if not near:
            return out
        picked = [rows[j] for j in near]
        flights = [points[i] for i in picked]
        lat = np.array([p.lat for p in flights], np.float64)
        lon = np.array([p.lon for p in flights], np.float64)
        trk = np.array([p.trk_deg for p in flights], np.float64)
        speed = np.array([p.gs_kt for p in flights], np.float64) * KT
        found = self._crossings(lat, lon, trk, speed, times, into,
                                self.codes(lat, lon) if here is None else here[picked])
        for j, c in zip(near, found, strict=True):
            out[j] = c
        return out

    def _times(self, horizon_s: float, step_s: float) -> np.ndarray:
        """The sampling times (seconds ahead), made once for each horizon and step: the
        handoff asks with the same ones every cycle."""
        key = (horizon_s, step_s)
        times = self._sampling.get(key)
        if times is None:
            times = np.arange(step_s, horizon_s + step_s, step_s)
            times.flags.writeable = False
            self._sampling[key] = times
        return times

    def _crossings(self, lat: np.ndarray, lon: np.ndarray, trk: np.ndarray,
                   speed: np.ndarray, times: np.ndarray, into: Collection[str] | None,
                   here: np.ndarray) -> list[Crossing | None]:
        """``crossings`` for the flights that may reach a boundary (``speed`` in m/s), in
        units ``here`` (``codes``)."""
        out: list[Crossing | None] = [None] * len(lat)
        # the paths sampled, and where each first is in another unit, in one kernel call
        # (``Paths.at``'s arithmetic, numpy's transcendental functions)
        paths = Paths(lat, lon, trk)
        first, unit = self._units.leave(*paths.parts(), speed, times, here)
        rows = np.flatnonzero(first >= 0)
        # no bisection for a flight leaving all the airspace described (None), nor for one
        # into a unit not wanted: each row's bisection is its own (numpy's functions are
        # elementwise), so the others' are as they were
        rows = rows[self._wanted(into)[unit[rows]]]
        if len(rows) == 0:
            return out
        k, dst = first[rows], unit[rows]
        hi = times[k]
        lo = np.where(k > 0, times[np.maximum(k - 1, 0)], 0.0)
        # the bisection, in the kernel but for numpy's transcendental functions: the paths'
        # start and heading trigonometry worked out once (Paths), ten steps in one call
        path, v = paths.take(rows), speed[rows]
        # to step / 1024: about 5 m at 500 kt; the crossings at hi (``Paths.at(v * hi)``)
        clat, clon = self._units.bisect(*path.parts(), v, here[rows], lo, hi, 10)
        for j, i in enumerate(rows.tolist()):
            a, b = self.ids[here[i]], self.ids[dst[j]]
            out[i] = Crossing(a, b, float(hi[j]), float(clat[j]), float(clon[j]),
                              self.nearest_cop(a, b, float(clat[j]), float(clon[j])))
        return out

    def _wanted(self, units: Collection[str] | None) -> np.ndarray:
        """Which codes are among these units (None: every unit), by code: one row per
        unit in ``ids`` order, and a last one (code -1, outside every unit) False."""
        key = None if units is None else frozenset(units)
        mask = self._unit_codes.get(key)
        if mask is None:
            mask = np.array([key is None or uid in key for uid in self.ids] + [False])
            mask.flags.writeable = False
            self._unit_codes[key] = mask
        return mask

    def crossing(self, lat: float, lon: float, trk_deg: float, gs_kt: float,
                 horizon_s: float) -> Crossing | None:
        return self.crossings(np.array([lat]), np.array([lon]), np.array([trk_deg]),
                              np.array([gs_kt]), horizon_s)[0]

    def nearest_cop(self, a: str, b: str, lat: float, lon: float) -> Cop | None:
        """The COP on the boundary of ``a`` and ``b`` nearest (lat, lon), the first in file
        order where two are as near; None if the boundary has none.  ``distance_m``'s
        arithmetic, the same operations in the same order, with each COP's latitude's
        radians and cosine worked out once (it runs for every predicted crossing)."""
        pair = frozenset((a, b))
        cops = self._pair_cops.get(pair)
        if cops is None:  # the COPs on this boundary, in file order
            on = [c for c in self.cops if c.units == pair]
            cops = self._pair_cops[pair] = (on, _airspace.Cops(
                np.array([c.lat for c in on], np.float64).reshape(-1),
                np.array([c.lon for c in on], np.float64).reshape(-1)))
        i = cops[1].nearest(lat, lon)
        return cops[0][i] if i >= 0 else None


def _segments(polygon: shapely.Polygon) -> np.ndarray:
    """Every ring's segments, as rows (x1, y1, x2, y2), as GEOS holds the rings."""
    rings = [np.asarray(r.coords, dtype=np.float64)[:, :2]
             for r in (polygon.exterior, *polygon.interiors)]
    return np.concatenate([np.hstack([r[:-1], r[1:]]) for r in rings])


class Paths:
    """Great circles leaving (lat, lon) on ``trk_deg`` (numpy broadcasting), for points
    along them at one distance or another: what depends on the start and heading alone
    is worked out once, as the bisection asks for ten distances on the same paths."""

    def __init__(self, lat: ArrayLike, lon: ArrayLike, trk_deg: ArrayLike) -> None:
        p1, self.l1, th = np.radians(lat), np.radians(lon), np.radians(trk_deg)
        self.sin_p1, self.cos_p1 = np.sin(p1), np.cos(p1)
        self.sin_th, self.cos_th = np.sin(th), np.cos(th)

    def take(self, rows: np.ndarray) -> Paths:
        """These rows' paths (1-d): their parts as ``Paths`` of these rows' starts and
        headings would work them out (numpy's functions are elementwise)."""
        path = Paths.__new__(Paths)
        path.sin_p1, path.cos_p1 = self.sin_p1[rows], self.cos_p1[rows]
        path.sin_th, path.cos_th, path.l1 = self.sin_th[rows], self.cos_th[rows], self.l1[rows]
        return path

    def parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """What the kernel (ext/airspace.pyx) takes for 1-d paths: sin and cos of the start
        latitude, sin and cos of the heading, the start longitude in radians."""
        return self.sin_p1, self.cos_p1, self.sin_th, self.cos_th, self.l1

    def at(self, dist_m: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """The points ``dist_m`` along the paths (lat, lon in degrees)."""
        d = np.asarray(dist_m, dtype=np.float64) / EARTH_M
        cos_d, sin_d = np.cos(d), np.sin(d)
        p2 = np.arcsin(self.sin_p1 * cos_d + self.cos_p1 * sin_d * self.cos_th)
        l2 = self.l1 + np.arctan2(self.sin_th * sin_d * self.cos_p1,
                                  cos_d - self.sin_p1 * np.sin(p2))
        return np.degrees(p2), (np.degrees(l2) + 540.0) % 360.0 - 180.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(a)))
