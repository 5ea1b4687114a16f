"""Air traffic of a scenario: which flights there are, and where each one is every second.

Radars and SDPS are modelled elsewhere from this truth, so what matters here is what an ATC
data gateway sees of real traffic: aircraft already en route at the first second, smooth
turns, climbs and descents, unique Mode S addresses and Mode-3/A codes with a few code
changes, Mode A/C-only transponders, primary-only targets crossing the border low and slow,
and flights that turn back short of the border.

Sans-IO and deterministic: a function of the scenario, the duration and the seed.  Every
flight keeps its own clock from take-off, so all flights are stepped together from the first
iteration: in 10 s steps while a flight's clock is still before the scenario start (nothing
is recorded then; this is how the traffic is in steady state at t = 0) and in 1 s steps
after, vectorised across flights.  Set-up geometry (waypoints, the border) is spherical; the
integration itself moves each aircraft on the WGS-84 ellipsoid with local radii of curvature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gateway.sim.scenario import Airport, Overflight, Scenario
from gateway.units import FT, KT, NM

G = 9.80665
WGS84_A = 6378137.0
WGS84_E2 = 6.69437999014e-3
EARTH_RADIUS_M = 6371008.8  # mean sphere, for set-up geometry and guidance only

STANDARD_RATE = np.radians(3.0)  # rad/s
MAX_BANK = np.radians(25.0)  # airliners rarely bank more: fast aircraft turn slower
PREROLL_STEP_S = 10  # step before the scenario start, where nothing is recorded
SPEED_ACCEL_KT_S = 1.0
VERTICAL_ACCEL_FPM_S = 150.0  # how fast the climb rate changes (about 0.08 g)
CAPTURE_PER_MIN = 3.0  # level capture: climb rate (fpm) per foot still to go
MAX_DESCENT_FPM = 3500.0
CODE_QUARANTINE_S = 300.0  # a released Mode-3/A code is not given out again this soon

# US-Mexico border, west to east, longitude strictly increasing (degrees): the maritime
# boundary from the region's west edge, the Pacific coast, the Colorado river, Nogales, the
# New Mexico bootheel, the Rio Grande to the Gulf, and the maritime boundary on to 95W.
BORDER_LINE: tuple[tuple[float, float], ...] = (
    (32.300, -118.000), (32.534, -117.124), (32.718, -114.719), (31.332, -111.075),
    (31.332, -108.210), (31.784, -108.200), (31.784, -106.528), (31.740, -106.400),
    (31.100, -105.600), (29.560, -104.370), (28.970, -103.200), (29.800, -101.560),
    (29.350, -100.930), (28.700, -100.500), (27.580, -99.600), (27.500, -99.500),
    (26.560, -99.170), (26.370, -98.800), (26.080, -98.280), (25.900, -97.500),
    (25.960, -97.150), (26.000, -95.000),
)
_BORDER_LAT = np.array([p[0] for p in BORDER_LINE])
_BORDER_LON = np.array([p[1] for p in BORDER_LINE])

# Crude ground elevation near the border by longitude (degrees, metres): the ground
# reference of the low primary-only targets.
_TERRAIN_LON = np.radians([-117.1, -116.3, -115.5, -114.7, -113.0, -111.0, -109.5, -108.2,
                           -106.5, -104.4, -103.2, -101.0, -100.5, -99.5, -98.3, -97.2])
_TERRAIN_FT = np.array([150, 1000, 20, 50, 400, 1150, 1250, 1300, 1150, 800, 700, 300, 240,
                        130, 40, 5]) / FT

MODES_BLOCKS = {"MX": (0x0D0000, 0x0D7FFF), "US": (0xA00000, 0xADF7C7)}  # inclusive
SPECIAL_CODES = (0o7500, 0o7600, 0o7700, 0o1200, 0o2000, 0o7000, 0o7777)
NO_TRANSPONDER = ("psr", "drone")  # kinds only a primary radar sees: no code, no plan


@dataclass(frozen=True)
class Flights:
    """What is known about each flight, index f = 0..F-1, ordered by take-off time."""

    id: tuple[str, ...]  # "F0001"
    callsign: tuple[str | None, ...]  # "AMX412"; None for primary-only targets
    icao24: np.ndarray  # int64 Mode S address, -1 where no Mode S transponder
    kind: tuple[str, ...]  # "modes" | "modeac" | "psr" | "drone" (the last two: none)
    mode3a: np.ndarray  # int64 [F, 2] code before / after the change (same if none), -1 psr
    squawk_change_t: np.ndarray  # float64 seconds from scenario start, nan if none
    dep: tuple[str | None, ...]
    dst: tuple[str | None, ...]  # filed destination (a turnback goes home instead)
    actype: tuple[str | None, ...]
    wtc: tuple[str | None, ...]
    cfl: np.ndarray  # float64 cleared/cruise flight level, nan if none
    has_fpl: np.ndarray  # bool: an SDPS holds a flight plan
    behaviour: tuple[str, ...]  # "route" | "turnback" | "primary-crossing" | "drone" |
    # "manoeuvre" (holds, 3 deg/s turns, 3,000 ft/min climbs) | "overflight" (over a radar)
    t_off: np.ndarray  # float64 take-off (or appearance) time, s from start; may be < 0


@dataclass(frozen=True)
class Trajectories:
    """Truth every second; every [F, T] array is nan where the flight is not active."""

    t: np.ndarray  # float64 [T] seconds from scenario start: 0, 1, ..., duration
    lat: np.ndarray  # degrees WGS-84
    lon: np.ndarray
    alt_m: np.ndarray  # geometric altitude above the ellipsoid
    fl: np.ndarray  # pressure altitude in flight levels (100 ft): what Mode C reports
    gs_kt: np.ndarray  # speed over ground
    track_deg: np.ndarray  # direction of motion over ground
    roc_fpm: np.ndarray  # rate of change of pressure altitude

    def active(self) -> np.ndarray:
        """bool [F, T]: airborne and inside the scenario region."""
        return ~np.isnan(self.lat)

    def at(self, flights: np.ndarray, times: np.ndarray) -> dict[str, np.ndarray]:
        """State of flight flights[i] at time times[i] (seconds, any float), linearly
        interpolated between the 1 s samples (track_deg interpolated the short way round
        360); nan when inactive at either neighbouring sample. Keys: lat lon alt_m fl gs_kt
        track_deg roc_fpm."""
        f = np.asarray(flights, dtype=np.int64)
        times = np.asarray(times, dtype=np.float64)
        last = len(self.t) - 1
        valid = np.isfinite(times) & (times >= 0.0) & (times <= last)
        tc = np.where(valid, times, 0.0)
        k0 = np.minimum(np.floor(tc).astype(np.int64), last)
        w = tc - k0
        k1 = np.where(w > 0.0, np.minimum(k0 + 1, last), k0)  # on a sample: that sample only
        out: dict[str, np.ndarray] = {}
        for name in ("lat", "lon", "alt_m", "fl", "gs_kt", "track_deg", "roc_fpm"):
            a = getattr(self, name)
            v0, v1 = a[f, k0], a[f, k1]
            if name == "track_deg":
                v = (v0 + w * ((v1 - v0 + 180.0) % 360.0 - 180.0)) % 360.0
            else:
                v = v0 + w * (v1 - v0)
            out[name] = np.where(valid, v, np.nan)
        return out


def altitude_offset_m(lat_deg: np.ndarray) -> np.ndarray:
    """Geometric (ellipsoidal) minus pressure altitude, metres.

    Stands for the geoid undulation and a non-standard atmosphere together: 20 m at 25N,
    smoothly rising to 38 m at 34N.  Constant in altitude, so Mode C and the geometric
    height of a flight always differ by a few tens of metres, as they do in real data.
    """
    return 20.0 + 2.0 * (np.asarray(lat_deg) - 25.0)


def ground_ft(lon_deg: np.ndarray) -> np.ndarray:
    """The crude ground elevation (feet) under a longitude that low primary-only targets and
    drones keep their height above."""
    return np.interp(np.radians(lon_deg), _TERRAIN_LON, _TERRAIN_FT)


def border_latitude(lon_deg: np.ndarray) -> np.ndarray:
    """Latitude of the border at a longitude (the polyline is a function of longitude,
    clamped at its ends)."""
    return np.interp(lon_deg, _BORDER_LON, _BORDER_LAT)


def border_side(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    """+1 north of the US-Mexico border (US side), -1 south (Mexico), 0 on it, nan for nan."""
    return np.sign(np.asarray(lat_deg, dtype=np.float64) - border_latitude(lon_deg))


# --- spherical set-up geometry (radians) ------------------------------------------------


# The set-up geometry takes a point or arrays of them alike.
_Floats = float | np.ndarray


def _distance_bearing(lat1: _Floats, lon1: _Floats, lat2: _Floats,
                      lon2: _Floats) -> tuple[np.ndarray, np.ndarray]:
    """Great-circle distance (m) and initial bearing (rad) on the mean sphere."""
    dlon = lon2 - lon1
    c1, c2 = np.cos(lat1), np.cos(lat2)
    a = np.sin((lat2 - lat1) / 2) ** 2 + c1 * c2 * np.sin(dlon / 2) ** 2
    dist = 2 * EARTH_RADIUS_M * np.arctan2(np.sqrt(a), np.sqrt(np.maximum(1 - a, 0.0)))
    brg = np.arctan2(np.sin(dlon) * c2, c1 * np.sin(lat2) - np.sin(lat1) * c2 * np.cos(dlon))
    return dist, brg


def _destination(lat: _Floats, lon: _Floats, brg: _Floats,
                 dist: _Floats) -> tuple[np.ndarray, np.ndarray]:
    """The point ``dist`` metres from (lat, lon) along the great circle leaving at ``brg``."""
    d = np.asarray(dist) / EARTH_RADIUS_M
    lat2 = np.arcsin(np.sin(lat) * np.cos(d) + np.cos(lat) * np.sin(d) * np.cos(brg))
    lon2 = lon + np.arctan2(np.sin(brg) * np.sin(d) * np.cos(lat),
                            np.cos(d) - np.sin(lat) * np.sin(lat2))
    return lat2, lon2


def _along(lat1: float, lon1: float, lat2: float, lon2: float,
           u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points at fractions ``u`` of the great circle from point 1 to point 2."""
    dist, brg = _distance_bearing(lat1, lon1, lat2, lon2)
    return _destination(np.full_like(u, lat1), np.full_like(u, lon1), brg, u * dist)


def _offset(lat1: float, lon1: float, lat2: float, lon2: float, u: float,
            lateral_m: float) -> tuple[float, float]:
    """The point at fraction ``u`` of the route, moved ``lateral_m`` to its right."""
    dist, brg = _distance_bearing(lat1, lon1, lat2, lon2)
    la, lo = _destination(lat1, lon1, brg, u * dist)
    _, brg_here = _distance_bearing(la, lo, lat2, lon2)
    la2, lo2 = _destination(la, lo, brg_here + np.pi / 2, lateral_m)
    return float(la2), float(lo2)


def _border_points(spacing_m: float = 2000.0) -> tuple[np.ndarray, np.ndarray]:
    """The border polyline sampled every ``spacing_m`` (radians)."""
    lat, lon = np.radians(_BORDER_LAT), np.radians(_BORDER_LON)
    pts_lat, pts_lon = [], []
    for i in range(len(lat) - 1):
        dist, _ = _distance_bearing(lat[i], lon[i], lat[i + 1], lon[i + 1])
        u = np.arange(max(int(dist // spacing_m), 1)) / max(int(dist // spacing_m), 1)
        la, lo = _along(lat[i], lon[i], lat[i + 1], lon[i + 1], u)
        pts_lat.append(la)
        pts_lon.append(lo)
    pts_lat.append(lat[-1:])
    pts_lon.append(lon[-1:])
    return np.concatenate(pts_lat), np.concatenate(pts_lon)


_BORDER_PTS = _border_points()


def _border_distance(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Distance (m) from each point (radians) to the nearest border sample; equirectangular,
    which is within a fraction of a percent at the few hundred kilometres that matter."""
    lat, lon = np.atleast_1d(lat), np.atleast_1d(lon)
    out = np.empty(len(lat))
    for s in range(0, len(lat), 256):
        dy = lat[s:s + 256, None] - _BORDER_PTS[0][None, :]
        dx = (lon[s:s + 256, None] - _BORDER_PTS[1][None, :]) * np.cos(lat[s:s + 256, None])
        out[s:s + 256] = np.sqrt((dx * dx + dy * dy).min(axis=1)) * EARTH_RADIUS_M
    return out


def _side_rad(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    return border_side(np.degrees(lat), np.degrees(lon))


def _poisson_times(rng: np.random.Generator, per_hour: float, lo: float,
                   hi: float) -> np.ndarray:
    """Integer event times of a Poisson process in [lo, hi), sorted."""
    if per_hour <= 0 or hi <= lo:
        return np.zeros(0, dtype=np.int64)
    n = rng.poisson(per_hour / 3600.0 * (hi - lo))
    return np.floor(np.sort(rng.uniform(lo, hi, n))).astype(np.int64)


def _route_m(pts: np.ndarray) -> float:
    """Length of a polyline of (lat, lon) rows, metres."""
    return float(np.sum(_distance_bearing(pts[:-1, 0], pts[:-1, 1], pts[1:, 0],
                                          pts[1:, 1])[0]))


def _time_bound_s(route_m: float) -> float:
    """Generous upper bound of the time a route takes: decides who may still fly at t=0."""
    return route_m / (250.0 * KT) + 1800.0


# --- flight plans ---------------------------------------------------------------------------


@dataclass
class _Candidate:
    """One flight before simulation: its metadata and what drives its dynamics."""

    t_off: int
    behaviour: str
    transponder: str  # "modes" | "modeac" | "psr" | "drone"
    airline: str | None
    country: str | None  # of the operator, for the Mode S address block
    dep: str | None
    dst: str | None
    actype: str | None
    wtc: str | None
    cfl: float  # flight level, nan if none
    waypoints: np.ndarray  # [n, 2] radians, the first is where the flight starts
    params: dict[str, float]


def _region_touched(a: Airport, b: Airport, region: tuple[float, float, float, float]) -> bool:
    la, lo = _along(np.radians(a.lat), np.radians(a.lon), np.radians(b.lat),
                    np.radians(b.lon), np.linspace(0, 1, 64))
    la, lo = np.degrees(la), np.degrees(lo)
    s, n, w, e = region
    return bool(np.any((la >= s) & (la <= n) & (lo >= w) & (lo <= e)))


def _pairs(scenario: Scenario) -> list[tuple[Airport, Airport, float]]:
    """Airport pairs at least 300 km apart whose direct route crosses the region."""
    out = []
    for a in scenario.airports:
        for b in scenario.airports:
            if a is b:
                continue
            dist, _ = _distance_bearing(np.radians(a.lat), np.radians(a.lon),
                                        np.radians(b.lat), np.radians(b.lon))
            if dist >= 300e3 and _region_touched(a, b, scenario.region):
                out.append((a, b, float(dist)))
    return out


def _cruise_level(dist_m: float, course: float, u: float) -> float:
    """A semicircular-rule level (odd eastbound, even westbound) the route can reach with
    about 3 NM per 1000 ft of climb and of descent: FL280-FL410, lower on short routes."""
    east = (np.degrees(course) % 360.0) < 180.0
    levels = np.arange(170 if east else 160, 420, 20, dtype=np.float64)
    reach = dist_m / NM * 0.8 / 6.0 * 10.0
    top = max(min(reach, 410.0), levels[0])
    choice = levels[(levels >= min(280.0, top - 60.0)) & (levels <= top)]
    return float(choice[min(int(u * len(choice)), len(choice) - 1)])


def _route_waypoints(a: Airport, b: Airport, dist: float, u: np.ndarray,
                     z: np.ndarray) -> np.ndarray:
    """Departure, one or two points offset a little from the direct route, destination."""
    la1, lo1, la2, lo2 = np.radians([a.lat, a.lon, b.lat, b.lon])
    fractions = [0.3 + 0.4 * u[0]] if u[1] < 0.5 else [0.2 + 0.2 * u[0], 0.55 + 0.2 * u[2]]
    pts = [(la1, lo1)]
    for frac, zz in zip(fractions, z, strict=False):
        lateral = float(np.clip(zz * 0.04 * dist, -min(0.08 * dist, 60e3), min(0.08 * dist,
                                                                                60e3)))
        pts.append(_offset(la1, lo1, la2, lo2, frac, lateral))
    pts.append((la2, lo2))
    return np.array(pts, dtype=np.float64)


def _turnback_waypoints(a: Airport, b: Airport, dist: float, u: np.ndarray,
                        speed_kt: float) -> np.ndarray | None:
    """Departure, a turn point, a point back on the own side away from the border, then
    home.  The turn starts a turn radius (at ``speed_kt``, bank-limited) plus 20-35 km
    short of the border, so the turn comes no nearer than that.  None when the geometry
    does not allow it."""
    la1, lo1, la2, lo2 = np.radians([a.lat, a.lon, b.lat, b.lon])
    own = _side_rad(la1, lo1)
    steps = np.arange(0.0, dist, 5000.0) / dist
    la, lo = _along(la1, lo1, la2, lo2, steps)
    other = np.flatnonzero(_side_rad(la, lo) != own)
    if len(other) == 0:
        return None
    la, lo = la[:other[0]], lo[:other[0]]
    near = _border_distance(la, lo)
    v = speed_kt * KT
    radius = max(v * v / (G * np.tan(MAX_BANK)), v / STANDARD_RATE)
    want = 20e3 + 15e3 * u[0] + radius
    hit = np.flatnonzero(near <= want)
    if len(hit) == 0 or hit[0] == 0:
        return None
    i = hit[0]
    frac = (near[i - 1] - want) / max(near[i - 1] - near[i], 1.0)  # refine between samples
    turn_la, turn_lo = _along(la[i - 1], lo[i - 1], la[i], lo[i], np.array([frac]))
    _, back = _distance_bearing(turn_la, turn_lo, la1, lo1)
    rot = np.radians(20.0 + 30.0 * u[1])
    r = 80e3 + 100e3 * u[2]
    best = None
    for sign in (1.0, -1.0):
        rla, rlo = _destination(turn_la, turn_lo, back + sign * rot, r)
        d = float(_border_distance(rla, rlo)[0])
        if _side_rad(rla, rlo)[0] == own and (best is None or d > best[0]):
            best = (d, float(rla[0]), float(rlo[0]))
    if best is None or best[0] < want:
        return None
    pts = np.array([(la1, lo1), (float(turn_la[0]), float(turn_lo[0])), best[1:], (la1, lo1)])
    return pts if _stays_on_side(pts, float(own)) else None


def _stays_on_side(pts: np.ndarray, side: float) -> bool:
    for (la1, lo1), (la2, lo2) in zip(pts[:-1], pts[1:], strict=True):
        la, lo = _along(la1, lo1, la2, lo2, np.linspace(0, 1, 200))
        if np.any(_side_rad(la, lo) != side):
            return False
    return True


def _airline_candidates(scenario: Scenario, rng: np.random.Generator,
                        duration: float) -> list[_Candidate]:
    pairs = _pairs(scenario)
    if not pairs:
        return []
    lo = -_time_bound_s(1.15 * max(p[2] for p in pairs))
    times = _poisson_times(rng, scenario.flights_per_hour, lo, duration)
    n = len(times)
    pick = rng.integers(len(pairs), size=n)
    u = rng.random((n, 18))
    z = rng.standard_normal((n, 3))
    far = {ap.icao: float(_border_distance(np.radians(ap.lat), np.radians(ap.lon))[0])
           for ap in scenario.airports}
    airlines = {c: [a for a, cc in scenario.airlines if cc == c] for c in ("MX", "US")}
    out = []
    for i in range(n):
        a, b, dist = pairs[pick[i]]
        cross = a.country != b.country
        turnback = cross and far[a.icao] > 100e3 and u[i, 0] < scenario.turnback_share
        if times[i] + _time_bound_s((2.0 if turnback else 1.15) * dist) < 0:
            continue  # certainly landed before the start
        country = (a.country if u[i, 1] < 0.5 else b.country) if cross else a.country
        names = airlines.get(country) or [x for x, _ in scenario.airlines]
        airline = names[min(int(u[i, 2] * len(names)), len(names) - 1)]
        types = [t for t in scenario.aircraft_types if t[1] != "H" or dist > 1000e3]
        actype, wtc, cruise = types[min(int(u[i, 3] * len(types)), len(types) - 1)]
        _, course = _distance_bearing(*np.radians([a.lat, a.lon, b.lat, b.lon]))
        cfl = _cruise_level(dist, float(course), u[i, 4])
        v1 = cruise + float(np.clip(15.0 * z[i, 2], -40.0, 40.0))  # wind along the route
        change = u[i, 5] < 0.3
        dv = (20.0 + 20.0 * u[i, 6]) * (1.0 if u[i, 7] < 0.5 else -1.0)
        wps = None
        if turnback:
            wps = _turnback_waypoints(a, b, dist, u[i, 15:18], max(v1, v1 + dv))
        if wps is None:
            turnback = False
            wps = _route_waypoints(a, b, dist, u[i, 12:15], z[i])
        out.append(_Candidate(
            t_off=int(times[i]), behaviour="turnback" if turnback else "route",
            transponder="modeac" if u[i, 8] < scenario.share_modeac else "modes",
            airline=airline, country=country, dep=a.icao, dst=b.icao, actype=actype, wtc=wtc,
            cfl=cfl, waypoints=wps,
            params=dict(
                elev_dep=a.elev_m / FT, elev_dst=(a if turnback else b).elev_m / FT,
                cfl=cfl * 100.0, climb=1500.0 + 1000.0 * u[i, 9],
                slope=300.0 + 40.0 * u[i, 10], v1=v1, v2=v1 + dv if change else v1,
                t_spd=(0.25 + 0.35 * u[i, 11]) * dist / (v1 * KT) if change else np.inf,
                psr=0.0, agl=0.0, amp=0.0, omega=0.0, phase=0.0,
            ),
        ))
    return out


def _primary_candidates(scenario: Scenario, rng: np.random.Generator,
                        duration: float) -> list[_Candidate]:
    """Slow low targets without transponder crossing the border roughly north-south."""
    lo = -(320e3 / (90.0 * KT) + 600.0)
    times = _poisson_times(rng, scenario.primary_only_per_hour, lo, duration)
    land = (_BORDER_PTS[1] >= np.radians(_BORDER_LON[1])) & (_BORDER_PTS[1] <= np.radians(
        _BORDER_LON[-2]))  # the land border, not its maritime ends
    blat, blon = _BORDER_PTS[0][land], _BORDER_PTS[1][land]
    out = []
    for t in times:
        while True:  # a few draws may not straddle the border: draw again
            u = rng.random(9)
            j = min(int(u[0] * len(blat)), len(blat) - 1)
            heading = np.radians((0.0 if u[1] < 0.5 else 180.0) + 50.0 * (u[2] - 0.5))
            la0, lo0 = _destination(blat[j], blon[j], heading + np.pi / 2,
                                    20e3 * (u[3] - 0.5))
            sla, slo = _destination(la0, lo0, heading + np.pi, 50e3 + 100e3 * u[4])
            ela, elo = _destination(la0, lo0, heading, 50e3 + 100e3 * u[5])
            pts = np.array([(sla, slo), (la0, lo0), (ela, elo)], dtype=np.float64)
            sides = _side_rad(pts[:, 0], pts[:, 1])
            if sides[0] != sides[2] and sides[0] != 0 and sides[2] != 0:
                break
        v = 90.0 + 50.0 * u[6]
        if t + _route_m(pts) / (v * KT) + 600.0 < 0:  # gone before the scenario starts
            continue
        amp, period = rng.uniform(0.0, 300.0), rng.uniform(240.0, 900.0)
        out.append(_Candidate(
            t_off=int(t), behaviour="primary-crossing", transponder="psr", airline=None,
            country=None, dep=None, dst=None, actype=None, wtc=None, cfl=np.nan,
            waypoints=pts,
            params=dict(
                elev_dep=0.0, elev_dst=0.0, cfl=0.0, climb=0.0, slope=0.0, v1=v, v2=v,
                t_spd=np.inf, psr=1.0, agl=500.0 + 2500.0 * u[7], amp=amp,
                omega=2 * np.pi / period, phase=2 * np.pi * u[8],
            ),
        ))
    return out


def _drone_candidates(scenario: Scenario, rng: np.random.Generator,
                      duration: float) -> list[_Candidate]:
    """Drones: 40-150 kt, 150-1,900 ft above the ground, 10-45 km legs near the land border;
    most cross it, the others come up to it and go back."""
    lo = -(90e3 / (40.0 * KT) + 600.0)
    times = _poisson_times(rng, scenario.drones_per_hour, lo, duration)
    land = (_BORDER_PTS[1] >= np.radians(_BORDER_LON[1])) & (_BORDER_PTS[1] <= np.radians(
        _BORDER_LON[-2]))
    blat, blon = _BORDER_PTS[0][land], _BORDER_PTS[1][land]
    out = []
    for t in times:
        while True:  # a draw whose ends are not on the sides it wants: draw again
            u = rng.random(10)
            j = min(int(u[0] * len(blat)), len(blat) - 1)
            heading = np.radians((0.0 if u[1] < 0.5 else 180.0) + 60.0 * (u[2] - 0.5))
            la0, lo0 = _destination(blat[j], blon[j], heading + np.pi / 2, 10e3 * (u[3] - 0.5))
            sla, slo = _destination(la0, lo0, heading + np.pi, 10e3 + 35e3 * u[4])
            crossing = u[9] < 0.7
            if crossing:
                ela, elo = _destination(la0, lo0, heading, 10e3 + 35e3 * u[5])
                pts = np.array([(sla, slo), (la0, lo0), (ela, elo)], dtype=np.float64)
            else:  # up to 2-8 km short of the border, and back the way it came, offset
                nla, nlo = _destination(la0, lo0, heading + np.pi, 2e3 + 6e3 * u[5])
                ela, elo = _destination(sla, slo, heading + np.pi / 2, 5e3)
                pts = np.array([(sla, slo), (nla, nlo), (ela, elo)], dtype=np.float64)
            sides = _side_rad(pts[:, 0], pts[:, 1])
            if crossing and sides[0] != sides[2] and sides[0] != 0 and sides[2] != 0:
                break
            if not crossing and sides[0] != 0 and np.all(sides == sides[0]):
                break
        v = 40.0 + 110.0 * u[6]
        if t + _route_m(pts) / (v * KT) + 600.0 < 0:  # gone before the scenario starts
            continue
        agl = 150.0 + 1450.0 * u[7]
        amp, period = rng.uniform(0.0, min(300.0, 1850.0 - agl)), rng.uniform(240.0, 900.0)
        out.append(_Candidate(
            t_off=int(t), behaviour="drone", transponder="drone", airline=None, country=None,
            dep=None, dst=None, actype=None, wtc=None, cfl=np.nan, waypoints=pts,
            params=dict(
                elev_dep=0.0, elev_dst=0.0, cfl=0.0, climb=0.0, slope=0.0, v1=v, v2=v,
                t_spd=np.inf, psr=1.0, agl=agl, amp=amp, omega=2 * np.pi / period,
                phase=2 * np.pi * u[8],
            ),
        ))
    return out


def _airborne(scenario: Scenario, rng: np.random.Generator, transponder: str, behaviour: str,
              t_off: float, fl: float, v: float, waypoints: list[tuple[float, float]],
              **params: float) -> _Candidate:
    """A transponder flight met already in the air at ``fl`` (no departure, no plan): it
    keeps its level and speed unless ``params`` say otherwise, and never descends."""
    airline, country = scenario.airlines[int(rng.integers(len(scenario.airlines)))]
    actype, wtc, _ = scenario.aircraft_types[int(rng.integers(len(scenario.aircraft_types)))]
    base = dict(elev_dep=0.0, elev_dst=0.0, cfl=fl * 100.0, climb=1500.0, slope=1e6, v1=v,
                v2=v, t_spd=np.inf, psr=0.0, agl=0.0, amp=0.0, omega=0.0, phase=0.0,
                h0=fl * 100.0)
    return _Candidate(
        t_off=int(np.floor(t_off)), behaviour=behaviour, transponder=transponder,
        airline=airline, country=country, dep=None, dst=None, actype=actype, wtc=wtc, cfl=fl,
        waypoints=np.array(waypoints, dtype=np.float64), params={**base, **params})


def _manoeuvring_candidates(scenario: Scenario, rng: np.random.Generator,
                            duration: float) -> list[_Candidate]:
    """Flights that turn at 3 deg/s (their bank limit is 45 degrees, not the airliners' 25):
    each flies 60 km to a fix 30-120 km from a radar, holds there for two laps of a right-hand
    square, climbs 8,000-12,000 ft at 3,000 ft/min from the second lap on, and leaves at right
    angles.  Spread so that they reach their fix between 5 % and 50 % of the run."""
    n = scenario.manoeuvring_flights
    out = []
    for i in range(n):
        u = rng.random(9)
        site = scenario.radars[int(rng.integers(len(scenario.radars)))]
        fix = _destination(np.radians(site.lat), np.radians(site.lon), 2 * np.pi * u[0],
                           30e3 + 90e3 * u[1])
        fla, flo = float(fix[0]), float(fix[1])
        course = 2 * np.pi * u[2]
        fl = float(np.round(100.0 + 50.0 * u[3], -1))
        v = 200.0 + 70.0 * u[4]
        side = 8e3 + 2e3 * u[5]

        def point(la: float, lo: float, brg: float, dist: float) -> tuple[float, float]:
            la2, lo2 = _destination(la, lo, brg, dist)
            return float(la2), float(lo2)

        c1 = point(fla, flo, course + np.pi / 2, side)
        lap = [(fla, flo), c1, point(*c1, course + np.pi, side),
               point(fla, flo, course + np.pi, side)]
        pts = [point(fla, flo, course + np.pi, 60e3), *lap, *lap, (fla, flo),
               point(fla, flo, course + np.pi / 2, 80e3)]
        # the turn radius at 3 deg/s; a lap is four quarter turns and four shortened legs
        radius = v * KT / STANDARD_RATE
        to_fix = 60e3 / (v * KT)
        lap_s = 4 * (np.pi / 2) / STANDARD_RATE + 4 * max(side - 2 * radius, 0.0) / (v * KT)
        at = (0.05 + 0.45 * i / max(n - 1, 1)) * duration
        out.append(_airborne(
            scenario, rng, "modeac" if i % 3 == 1 else "modes", "manoeuvre", at - to_fix, fl,
            v, pts, tan_bank=1.0, climb=3000.0,
            cfl2=(fl + 80.0 + 40.0 * u[6]) * 100.0, t_cfl=to_fix + lap_s))
    return out


def _overflight_candidates(scenario: Scenario, rng: np.random.Generator,
                           duration: float) -> list[_Candidate]:
    """Level flights along a great circle through a radar (scenario.overflights), 200 km
    either side, overhead at their fraction of the run."""
    sites = {r.name: r for r in scenario.radars}
    out = []
    for o in scenario.overflights:
        out.append(_overflight(scenario, rng, o, sites[o.radar].lat, sites[o.radar].lon,
                               duration))
    return out


def _overflight(scenario: Scenario, rng: np.random.Generator, o: Overflight, lat: float,
                lon: float, duration: float) -> _Candidate:
    la, lo = np.radians(lat), np.radians(lon)
    course = np.radians(o.course_deg)
    start = _destination(la, lo, course + np.pi, 200e3)
    end = _destination(la, lo, course, 200e3)
    pts = [(float(start[0]), float(start[1])), (float(la), float(lo)),
           (float(end[0]), float(end[1]))]
    return _airborne(scenario, rng, o.transponder, "overflight",
                     o.at * duration - 200e3 / (o.gs_kt * KT), o.fl, o.gs_kt, pts)


# --- integration ----------------------------------------------------------------------------

_PARAMS = ("elev_dep", "elev_dst", "cfl", "cfl_span", "climb", "slope", "v1", "v2", "t_spd",
           "psr", "agl", "amp", "omega", "phase", "tau_max", "tan_bank", "h0", "cfl2", "t_cfl")
(P_ELEV_DEP, P_ELEV_DST, P_CFL, P_CFL_SPAN, P_CLIMB, P_SLOPE, P_V1, P_V2, P_T_SPD, P_PSR,
 P_AGL, P_AMP, P_OMEGA, P_PHASE, P_TAU_MAX, P_TAN_BANK, P_H0, P_CFL2, P_T_CFL) = range(len(_PARAMS))
# What a flight that does not say otherwise has: the airliner's bank limit, a take-off (no
# height to start at), one cruise level.
_DEFAULTS = {"tan_bank": float(np.tan(MAX_BANK)), "h0": np.nan, "t_cfl": np.inf}
S_LAT, S_LON, S_H, S_GS, S_PSI, S_ROC = range(6)  # state rows: rad, rad, ft, kt, rad, fpm
W_LAT, W_LON, W_SIN, W_COS, W_REM, W_NEXT = range(6)  # current waypoint rows


def _waypoint_table(cands: list[_Candidate]) -> tuple[np.ndarray, np.ndarray]:
    """[6, C, W] per waypoint: lat lon sin(lat) cos(lat), the route left after it (m) and
    the course on to the next one (rad); and the number of waypoints per flight."""
    n = np.array([len(c.waypoints) for c in cands], dtype=np.int64)
    table = np.zeros((6, len(cands), int(n.max())))
    for f, c in enumerate(cands):
        la, lo = c.waypoints[:, 0], c.waypoints[:, 1]
        legs, course = _distance_bearing(la[:-1], lo[:-1], la[1:], lo[1:])
        m = len(la)
        table[W_LAT, f, :m], table[W_LON, f, :m] = la, lo
        table[W_SIN, f, :m], table[W_COS, f, :m] = np.sin(la), np.cos(la)
        table[W_REM, f, :m] = np.concatenate([np.cumsum(legs[::-1])[::-1], [0.0]])
        table[W_NEXT, f, :m - 1] = course
    return table, n


def _params(cands: list[_Candidate], table: np.ndarray) -> np.ndarray:
    p = np.zeros((len(_PARAMS), len(cands)))
    for f, c in enumerate(cands):
        row = {**_DEFAULTS, "cfl2": c.params["cfl"], **c.params}
        row["cfl_span"] = max(row["cfl"] / 100.0 - 100.0, 10.0)
        speed = min(row["v1"], row["v2"], 250.0) * KT
        row["tau_max"] = 1.5 * table[W_REM, f, 0] / speed + 3600.0  # a safety net only
        p[:, f] = [row[k] for k in _PARAMS]
    return p


def _initial_state(cands: list[_Candidate], table: np.ndarray, p: np.ndarray) -> np.ndarray:
    s = np.zeros((6, len(cands)))
    s[S_LAT], s[S_LON] = table[W_LAT, :, 0], table[W_LON, :, 0]
    _, s[S_PSI] = _distance_bearing(s[S_LAT], s[S_LON], table[W_LAT, :, 1],
                                    table[W_LON, :, 1])
    psr = p[P_PSR] > 0
    airborne = np.isfinite(p[P_H0])  # starts in flight at h0 and its speed
    s[S_H] = np.where(psr, _psr_target_ft(p, s[S_LON], np.zeros(len(cands))),
                      np.where(airborne, p[P_H0], p[P_ELEV_DEP]))
    s[S_GS] = np.where(psr | airborne, p[P_V1], 150.0)  # else lift-off speed
    return s


def _psr_target_ft(p: np.ndarray, lon: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Primary-only targets keep a height above the ground, gently wandering."""
    return (np.interp(lon, _TERRAIN_LON, _TERRAIN_FT) + p[P_AGL]
            + p[P_AMP] * np.sin(p[P_OMEGA] * tau + p[P_PHASE]))


def _integrate(cands: list[_Candidate], n_t: int,
               region: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """[6, C, T] state rows (see S_*) of every candidate at every second, nan when not
    active (airborne and inside the region), and which candidates were ever active: the
    other rows are left unwritten, never even initialised."""
    table, nwp = _waypoint_table(cands)
    p = _params(cands, table)
    s = _initial_state(cands, table, p)
    out = np.empty((6, len(cands), n_t))
    flat = out.reshape(6, -1)
    seen = np.zeros(len(cands), dtype=bool)
    south, north, west, east = np.radians(region)

    rows = np.arange(len(cands))
    k = np.array([c.t_off for c in cands], dtype=np.int64)  # the sample each flight is at
    tau = np.zeros(len(cands))  # the flight's own clock
    wi = np.ones(len(cands), dtype=np.int64)  # the waypoint it flies to
    wp = table[:, rows, wi]
    desc = np.zeros(len(cands), dtype=bool)

    def store(mask: np.ndarray) -> None:
        lat, lon = s[S_LAT], s[S_LON]
        mask = mask & (k >= 0) & (lat >= south) & (lat <= north) & (lon >= west) & (lon <= east)
        sel = np.flatnonzero(mask)
        if len(sel):
            first = rows[sel][~seen[rows[sel]]]
            if len(first):
                out[:, first, :] = np.nan
                seen[first] = True
            flat[:, rows[sel] * n_t + k[sel]] = s[:, sel]

    store(np.ones(len(rows), dtype=bool))
    alive = k < n_t - 1
    psr = np.flatnonzero(p[P_PSR] > 0)
    while True:
        if not alive.all():
            keep = np.flatnonzero(alive)
            rows, k, tau, wi, desc, nwp = rows[keep], k[keep], tau[keep], wi[keep], \
                desc[keep], nwp[keep]
            s, p, wp = s[:, keep], p[:, keep], wp[:, keep]
            psr = np.flatnonzero(p[P_PSR] > 0)
        if len(rows) == 0:
            break
        dt_i = np.where(k < 0, np.minimum(PREROLL_STEP_S, -k), 1)
        dt = dt_i.astype(np.float64)
        landed = _step(s, p, wp, table, rows, wi, nwp, desc, tau, dt, psr)
        k += dt_i
        tau += dt
        alive = ~landed
        store(alive)
        alive &= k < n_t - 1
    return out, seen


def _to_waypoint(s: np.ndarray, wp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance (m) and bearing (rad) from each aircraft to its current waypoint."""
    lat, lon = s[S_LAT], s[S_LON]
    dlon = wp[W_LON] - lon
    slat, clat = np.sin(lat), np.cos(lat)
    a = np.sin((wp[W_LAT] - lat) * 0.5) ** 2 + clat * wp[W_COS] * np.sin(dlon * 0.5) ** 2
    dist = (2 * EARTH_RADIUS_M) * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    brg = np.arctan2(np.sin(dlon) * wp[W_COS], clat * wp[W_SIN] - slat * wp[W_COS] * np.cos(dlon))
    return dist, brg


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def _step(s: np.ndarray, p: np.ndarray, wp: np.ndarray, table: np.ndarray, rows: np.ndarray,
          wi: np.ndarray, nwp: np.ndarray, desc: np.ndarray, tau: np.ndarray, dt: np.ndarray,
          psr: np.ndarray) -> np.ndarray:
    """Advance every flight by its dt, in place; True where the flight ended (landed,
    reached its last point, or ran out of time).  ``psr``: indices of primary-only ones."""
    gs, psi, h, roc = s[S_GS], s[S_PSI], s[S_H], s[S_ROC]
    v = gs * KT
    omega = np.minimum(STANDARD_RATE, (G * p[P_TAN_BANK]) / v)
    radius = v / omega
    v_dt = v * dt
    dist, brg = _to_waypoint(s, wp)
    is_last = wi == nwp - 1

    # Fly-by: turn early by r*tan(angle/2); a turn of more than 120 degrees flies over.
    angle = np.abs(_wrap(wp[W_NEXT] - brg))
    lead = np.where(angle < np.radians(120.0), radius * np.tan(np.minimum(angle, 2.1) * 0.5),
                    0.0) + v_dt
    behind = (np.abs(_wrap(brg - psi)) > np.pi / 2) & (dist < 2 * radius + v_dt)
    switch = ~is_last & ((dist <= lead) | behind)
    if switch.any():
        sw = np.flatnonzero(switch)
        wi[sw] += 1
        wp[:, sw] = table[:, rows[sw], wi[sw]]
        dist[sw], brg[sw] = _to_waypoint(s[:, sw], wp[:, sw])
        is_last = wi == nwp - 1

    # Lateral: turn toward the waypoint at the standard or bank-limited rate.
    max_turn = omega * dt
    dpsi = np.minimum(np.maximum(_wrap(brg - psi), -max_turn), max_turn)

    # Speed: 250 kt below FL100, rising to cruise with altitude, slowing on approach.
    dtg_nm = (dist + wp[W_REM]) * (1.0 / NM)
    cruise = np.where(tau < p[P_T_SPD], p[P_V1], p[P_V2])
    frac = np.minimum(np.maximum((h * 0.01 - 100.0) / p[P_CFL_SPAN], 0.0), 1.0)
    target = np.minimum(250.0 + (cruise - 250.0) * frac,
                        140.0 + 110.0 / 15.0 * np.maximum(dtg_nm - 5.0, 0.0))
    target[psr] = p[P_V1, psr]
    target = np.where(np.isfinite(p[P_H0]), cruise, target)  # met in the air: keeps its speed
    max_dv = SPEED_ACCEL_KT_S * dt
    gs1 = gs + np.minimum(np.maximum(target - gs, -max_dv), max_dv)

    # Vertical: climb to the cruise level, descend once on the path to the destination.
    above = h - p[P_ELEV_DST]
    desc |= above >= p[P_SLOPE] * dtg_nm
    desc[psr] = False
    need = above * (gs / 60.0) / np.maximum(dtg_nm, 0.05)
    level = np.where(tau < p[P_T_CFL], p[P_CFL], p[P_CFL2])  # a second level after t_cfl
    roc_t = np.where(desc, -np.minimum(need, MAX_DESCENT_FPM),
                     np.minimum(np.maximum(CAPTURE_PER_MIN * (level - h), -1500.0),
                                p[P_CLIMB]))
    if len(psr):
        hold = CAPTURE_PER_MIN * (_psr_target_ft(p[:, psr], s[S_LON, psr], tau[psr]) - h[psr])
        roc_t[psr] = np.clip(hold, -1000.0, 1000.0)
    max_dr = VERTICAL_ACCEL_FPM_S * dt
    roc1 = roc + np.minimum(np.maximum(roc_t - roc, -max_dr), max_dr)
    h1 = h + (roc + roc1) * (dt / 120.0)

    # Horizontal: along the mean track of the step, on the ellipsoid at the flight's height.
    step_m = (gs + gs1) * (0.5 * KT) * dt
    psi_m = psi + 0.5 * dpsi
    lat = s[S_LAT]
    w = 1.0 - WGS84_E2 * np.sin(lat) ** 2
    n_rad = WGS84_A / np.sqrt(w)
    hm = (h + h1) * (0.5 * FT)
    dlat = step_m * np.cos(psi_m) / (n_rad * ((1.0 - WGS84_E2) / w) + hm)
    dlon = step_m * np.sin(psi_m) / ((n_rad + hm) * np.cos(lat + 0.5 * dlat))

    s[S_LAT] += dlat
    s[S_LON] += dlon
    s[S_H] = h1
    s[S_GS] = gs1
    s[S_PSI] = (psi + dpsi) % (2 * np.pi)
    s[S_ROC] = roc1
    arrive = np.maximum(300.0, 0.75 * v_dt)
    ended = is_last & ((dist <= arrive) | (desc & (h1 - p[P_ELEV_DST] <= 10.0)))
    return ended | (tau + dt > p[P_TAU_MAX])


# --- identities -----------------------------------------------------------------------------


def _codes() -> np.ndarray:
    """Assignable Mode-3/A codes: none of the special ones, and no xx00 block codes."""
    codes = np.arange(0o10000)
    return codes[(codes % 0o100 != 0) & ~np.isin(codes, SPECIAL_CODES)]


def _activity(active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last active sample of each flight."""
    t_idx = np.arange(active.shape[1])
    first = np.where(active, t_idx, active.shape[1]).min(axis=1)
    last = np.where(active, t_idx, -1).max(axis=1)
    return first, last


def _squawk_changes(rng: np.random.Generator, share: float, kind: list[str], lat: np.ndarray,
                    lon: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """When a code changes: near the border crossing (a transfer between countries' units)
    when the flight crosses it while active, else at a random time while active."""
    t_change = np.full(len(kind), np.nan)
    chosen = (rng.random(len(kind)) < share) & ~np.isin(np.asarray(kind), NO_TRANSPONDER)
    jitter = rng.uniform(-90.0, 90.0, len(kind))
    where = rng.uniform(0.1, 0.9, len(kind))
    for f in np.flatnonzero(chosen & (last - first >= 60)):
        side = border_side(lat[f, first[f]:last[f] + 1], lon[f, first[f]:last[f] + 1])
        flips = np.flatnonzero(np.nan_to_num(side[1:] * side[:-1], nan=1.0) < 0)
        if len(flips):
            t = first[f] + flips[0] + jitter[f]
        else:
            t = first[f] + where[f] * (last[f] - first[f])
        t_change[f] = float(np.clip(t, first[f] + 5.0, last[f] - 5.0))
    return t_change


def _assign_codes(rng: np.random.Generator, kind: list[str], first: np.ndarray,
                  last: np.ndarray, t_change: np.ndarray) -> np.ndarray:
    """Mode-3/A codes, unique among the flights active at the same time: a code is free
    again CODE_QUARANTINE_S after the flight that held it left or changed code."""
    pool = _codes()
    free_at = np.full(len(pool), -np.inf)
    mode3a = np.full((len(kind), 2), -1, dtype=np.int64)
    requests = []  # (from, to, flight, slot)
    for f in range(len(kind)):
        if kind[f] in NO_TRANSPONDER:
            continue
        if np.isnan(t_change[f]):
            requests.append((float(first[f]), float(last[f]), f, -1))
        else:
            requests.append((float(first[f]), float(t_change[f]), f, 0))
            requests.append((float(t_change[f]), float(last[f]), f, 1))
    requests.sort(key=lambda r: (r[0], r[2], r[3]))
    for t_from, t_to, f, slot in requests:
        free = np.flatnonzero(free_at + CODE_QUARANTINE_S <= t_from)
        if len(free) == 0:
            raise RuntimeError("more simultaneous flights than Mode-3/A codes")
        i = free[rng.integers(len(free))]
        free_at[i] = t_to
        if slot == -1:
            mode3a[f, :] = pool[i]
        else:
            mode3a[f, slot] = pool[i]
    return mode3a


def _icao24(rng: np.random.Generator, kind: list[str], country: list[str | None]) -> np.ndarray:
    """Unique Mode S addresses from each operator country's block (the US one for an
    operator of another country)."""
    out = np.full(len(kind), -1, dtype=np.int64)
    block = [c if c in MODES_BLOCKS else "US" for c in country]
    for c, (lo, hi) in MODES_BLOCKS.items():
        idx = [f for f in range(len(kind)) if kind[f] == "modes" and block[f] == c]
        out[idx] = lo + rng.choice(hi - lo + 1, size=len(idx), replace=False)
    return out


def _callsigns(rng: np.random.Generator, airline: list[str | None]) -> list[str | None]:
    """Designator and a 1-4 digit flight number, unique; mostly 3-4 digits."""
    used: set[str] = set()
    out: list[str | None] = []
    for a in airline:
        if a is None:
            out.append(None)
            continue
        while True:
            digits = int(rng.choice(4, p=[0.05, 0.15, 0.4, 0.4])) + 1
            cs = f"{a}{int(rng.integers(10 ** (digits - 1), 10 ** digits))}"
            if cs not in used:
                used.add(cs)
                out.append(cs)
                break
    return out


# --- the whole --------------------------------------------------------------------------------


def simulate_traffic(scenario: Scenario, duration_s: float,
                     seed: int) -> tuple[Flights, Trajectories]:
    """The scenario's flights active in its region at some time in [0, duration_s], and
    their state every second from 0 to duration_s."""
    if not duration_s >= 0:
        raise ValueError(f"duration must be >= 0, got {duration_s}")
    rng = np.random.default_rng(seed)
    n_t = int(np.floor(duration_s)) + 1
    cands = (_airline_candidates(scenario, rng, float(n_t))
             + _primary_candidates(scenario, rng, float(n_t)))
    if scenario.drones_per_hour > 0 or scenario.manoeuvring_flights or scenario.overflights:
        # A stream of their own: scenarios without them draw exactly as before.
        extra = np.random.default_rng([seed, 15])
        cands += (_drone_candidates(scenario, extra, float(n_t))
                  + _manoeuvring_candidates(scenario, extra, float(n_t))
                  + _overflight_candidates(scenario, extra, float(n_t)))
    cands.sort(key=lambda c: c.t_off)  # stable: ties keep their drawing order
    if cands:
        out, seen = _integrate(cands, n_t, scenario.region)
        keep = np.flatnonzero(seen)
        raw = out[:, keep]
        del out
    else:
        keep, raw = np.zeros(0, dtype=np.int64), np.full((6, 0, n_t), np.nan)
    kept = [cands[i] for i in keep]

    # Converted in place: the [F, T] arrays are views of one block.
    lat = np.degrees(raw[S_LAT], out=raw[S_LAT])
    lon = np.degrees(raw[S_LON], out=raw[S_LON])
    fl = np.multiply(raw[S_H], 0.01, out=raw[S_H])
    alt_m = fl * (100.0 * FT)
    alt_m += altitude_offset_m(lat)
    track = np.degrees(raw[S_PSI], out=raw[S_PSI])
    np.mod(track, 360.0, out=track)
    traj = Trajectories(t=np.arange(n_t, dtype=np.float64), lat=lat, lon=lon, alt_m=alt_m,
                        fl=fl, gs_kt=raw[S_GS], track_deg=track, roc_fpm=raw[S_ROC])
    kind = [c.transponder for c in kept]
    first, last = _activity(traj.active())
    t_change = _squawk_changes(rng, scenario.squawk_change_share, kind, lat, lon, first, last)
    flights = Flights(
        id=tuple(f"F{i + 1:04d}" for i in range(len(kept))),
        callsign=tuple(_callsigns(rng, [c.airline for c in kept])),
        icao24=_icao24(rng, kind, [c.country for c in kept]),
        kind=tuple(kind),
        mode3a=_assign_codes(rng, kind, first, last, t_change),
        squawk_change_t=t_change,
        dep=tuple(c.dep for c in kept), dst=tuple(c.dst for c in kept),
        actype=tuple(c.actype for c in kept), wtc=tuple(c.wtc for c in kept),
        cfl=np.array([c.cfl for c in kept], dtype=np.float64),
        has_fpl=np.array([c.transponder not in NO_TRANSPONDER for c in kept], dtype=bool),
        behaviour=tuple(c.behaviour for c in kept),
        t_off=np.array([c.t_off for c in kept], dtype=np.float64),
    )
    return flights, traj
