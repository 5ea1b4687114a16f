"""The reference: each fused track as the other radars made it, and a radar's local geometry.

Why the fused picture: a feed is judged against what the network already sees.  Every fused
update says which source's plots made it (``sources``); a radar under assessment is compared
only with the updates other radars made, so its own plots do not vouch for themselves.
Bounded: ``HISTORY`` updates per track, tracks silent for ``FORGET_S`` are forgotten.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter, deque
from dataclasses import dataclass, field
from functools import cached_property

from gateway.messages import Fused

HISTORY = 48  # fused updates kept per track
FORGET_S = 180.0  # a track silent this long is forgotten
EARTH_RADIUS_M = 6371000.0
K_FACTOR = 4.0 / 3.0
NM = 1852.0
FT = 0.3048

Key = tuple[int, int]


@dataclass(slots=True)
class RefTrack:
    """One fused track: its updates (t, lat, lon, fl, the radar that made it), what kind of
    transponder it has shown, its latest velocity, code and identification."""

    updates: deque[tuple[float, float, float, float, Key | None]] = field(
        default_factory=lambda: deque(maxlen=HISTORY))
    times: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))  # updates'
    modes: bool = False
    modeac: bool = False
    vx: float = math.nan  # m/s east
    vy: float = math.nan  # m/s north
    mode3a: str | None = None
    callsign: str | None = None
    last_t: float = -math.inf

    @property
    def kind(self) -> str:
        return "modes" if self.modes else ("modeac" if self.modeac else "psr")

    def at(self, t: float, exclude: Key, bracket_s: float) -> tuple[float, float, float] | None:
        """(lat, lon, fl) at ``t``, interpolated between the two updates of other radars
        than ``exclude`` that bracket it at most ``bracket_s`` apart; None without them."""
        updates = self.updates
        i = bisect_right(self.times, t)  # times are in order: the tracker's data clock
        before = after = None
        for j in range(i - 1, -1, -1):
            u = updates[j]
            if u[4] is not None and u[4] != exclude:
                before = u
                break
            if t - u[0] > bracket_s:
                return None
        if before is None:
            return None
        for j in range(i, len(updates)):
            u = updates[j]
            if u[4] is not None and u[4] != exclude:
                after = u
                break
            if u[0] - t > bracket_s:
                return None
        if after is None or after[0] - before[0] > bracket_s:
            return None
        w = (t - before[0]) / (after[0] - before[0]) if after[0] > before[0] else 0.0
        fl = before[3] + w * (after[3] - before[3])
        return (before[1] + w * (after[1] - before[1]), before[2] + w * (after[2] - before[2]),
                fl)


class Reference:
    """Every fused track by id, from the fused updates as the tracker publishes them."""

    def __init__(self) -> None:
        self.tracks: dict[str, RefTrack] = {}
        self.counters: Counter[str] = Counter()  # what was left out, and why
        self.now = -math.inf
        self._pruned = -math.inf

    def update(self, m: Fused) -> None:
        if m.state == "ended":
            return
        tr = self.tracks.get(m.id)
        if tr is None:
            tr = self.tracks[m.id] = RefTrack()
        if m.icao24 is not None:
            tr.modes = True
        if m.mode3a is not None:
            tr.modeac = True
            tr.mode3a = m.mode3a
        if m.callsign is not None:
            tr.callsign = m.callsign
        if m.gs_kt is not None and m.trk_deg is not None:
            v = m.gs_kt * NM / 3600.0
            tr.vx, tr.vy = v * math.sin(math.radians(m.trk_deg)), v * math.cos(
                math.radians(m.trk_deg))
        tr.last_t = max(tr.last_t, m.t)
        self.now = max(self.now, m.t)
        if m.extrapolated or m.lat is None or m.lon is None:
            return
        src = next(((s.sac, s.sic) for s in m.sources if s.cat == 48), None)
        if src is None:  # an SDPS's update: not a radar's, so no reference for a radar
            self.counters["reference-update-not-a-radar"] += 1
            return
        if tr.times and m.t < tr.times[-1]:  # out of time order: kept out (bisect)
            self.counters["reference-update-out-of-order"] += 1
            return
        tr.updates.append((m.t, m.lat, m.lon, math.nan if m.fl is None else m.fl, src))
        tr.times.append(m.t)

    def prune(self) -> None:
        """Forget tracks silent for FORGET_S (every 30 s of data time)."""
        if self.now - self._pruned < 30.0:
            return
        self._pruned = self.now
        horizon = self.now - FORGET_S
        for k in [k for k, tr in self.tracks.items() if tr.last_t < horizon]:
            del self.tracks[k]


WGS84_A = 6378137.0
WGS84_E2 = 6.69437999014e-3


def _ecef(lat: float, lon: float, h: float) -> tuple[float, float, float]:
    la, lo = math.radians(lat), math.radians(lon)
    sl = math.sin(la)
    n = WGS84_A / math.sqrt(1.0 - WGS84_E2 * sl * sl)
    return ((n + h) * math.cos(la) * math.cos(lo), (n + h) * math.cos(la) * math.sin(lo),
            (n * (1.0 - WGS84_E2) + h) * sl)


@dataclass(frozen=True)
class Site:
    """A radar's antenna and what it is said to cover ([[radar]]), with a local plane."""

    key: Key
    name: str
    lat: float
    lon: float
    alt_m: float
    cone_deg: float
    range_nm: float

    def plane(self, lat: float, lon: float) -> tuple[float, float]:
        """East and north of the antenna, metres (equirectangular: within 0.1 % at 250 NM,
        and only differences over seconds are taken)."""
        k = math.pi / 180.0 * EARTH_RADIUS_M
        return ((lon - self.lon) * k * math.cos(math.radians(self.lat)), (lat - self.lat) * k)

    def polar(self, lat: float, lon: float, fl: float) -> tuple[float, float, float, float]:
        """(slant range m, azimuth deg, elevation deg, ground range m) of a point at flight
        level ``fl`` (pressure altitude taken as height above the ellipsoid, as the
        normaliser's default does; nan: no level, at the antenna's height, elevation nan).
        Exact on WGS-84 (east-north-up at the antenna): a flat plane's azimuth is a degree
        off at 200 km and 30 deg of latitude, more than the biases it must show."""
        h = fl * 100.0 * FT if math.isfinite(fl) else self.alt_m
        x, y, z = _ecef(lat, lon, h)
        sx, sy, sz, sl, cl, so, co = self._enu
        dx, dy, dz = x - sx, y - sy, z - sz
        east = -so * dx + co * dy
        north = -sl * co * dx - sl * so * dy + cl * dz
        up = cl * co * dx + cl * so * dy + sl * dz
        g = math.hypot(east, north)
        slant = math.sqrt(g * g + up * up)
        az = math.degrees(math.atan2(east, north)) % 360.0
        el = math.degrees(math.atan2(up, g)) if math.isfinite(fl) else math.nan
        return slant, az, el, g

    @cached_property
    def _enu(self) -> tuple[float, ...]:
        """The antenna in ECEF and the sines and cosines of its latitude and longitude."""
        la, lo = math.radians(self.lat), math.radians(self.lon)
        return (*_ecef(self.lat, self.lon, self.alt_m), math.sin(la), math.cos(la),
                math.sin(lo), math.cos(lo))

    def covers(self, lat: float, lon: float, fl: float, margins: tuple[float, float, float],
               ) -> tuple[float, float, float, float] | None:
        """The point's ``polar`` if it is inside the radar's declared coverage by the
        margins (range NM, elevation deg, horizon m), else None: beyond instrumented range,
        in the cone of silence or below the 4/3-earth horizon, a miss is no fault of the
        radar's."""
        if not math.isfinite(fl):
            return None
        polar = self.polar(lat, lon, fl)
        slant, _az, el, g = polar
        r_margin, el_margin, h_margin = margins
        h = max(fl * 100.0 * FT, 1.0)
        reach = math.sqrt(2 * K_FACTOR * EARTH_RADIUS_M * max(self.alt_m, 1.0)) + math.sqrt(
            2 * K_FACTOR * EARTH_RADIUS_M * h)
        inside = (r_margin * NM <= slant <= (self.range_nm - r_margin) * NM
                  and el <= self.cone_deg - el_margin and g <= reach - h_margin)
        return polar if inside else None
