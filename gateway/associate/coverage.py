"""Where each radar can see: its cone of silence, instrumented range and radar horizon.

A track that no plot updates is not always a track that has gone: an aircraft overflying a
radar is inside its cone of silence (the antenna does not look above ~40 degrees of
elevation), and if no other radar covers that spot nobody sees it for a minute or two.  The
tracker should then coast the track on its prediction, not end it (and give the aircraft a
new id when it comes out).  To know that, it needs the same geometry the radars obey; this
module is that geometry, sans-IO and vectorised over points and radars at once.

A point (x, y in the filter plane, height h above the ellipsoid) is seen by a radar when

* its elevation from the antenna is below the radar's cone (``cone_deg``),
* its slant range is within the instrumented range (``range_nm``), and
* it is above the radar horizon of a 4/3 earth (standard refraction): ground distance
  <= sqrt(2 k R h_antenna) + sqrt(2 k R h_target), the simulator's rule.

Elevation and slant range are computed on a spherical earth (central angle from the ground
distance), which is what matters at long range; near the antenna, where the cone does its
work, the earth is flat to a few metres.

A point is *hidden* (``Coverage.hidden``) when no radar sees it now but some radar sees the
straight-line prediction of it later, within a look-ahead: a gap inside the coverage the
aircraft will come out of (a cone overflight, a low-level hole between two radars), not an
aircraft leaving the covered area for good, which should end on the ordinary timeouts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from gateway import _coverage
from gateway.associate.frame import ConformalFrame
from gateway.units import NM

__all__ = ["EARTH_RADIUS_M", "K_FACTOR", "Coverage", "RadarCoverage"]

EARTH_RADIUS_M = 6371000.0
K_FACTOR = 4.0 / 3.0  # standard refraction: the radar horizon of a 4/3 earth
_HORIZON_K = 2 * K_FACTOR * EARTH_RADIUS_M  # horizon distance = sqrt(this x height)


@dataclass(frozen=True)
class RadarCoverage:
    """One radar's antenna and the limits of what it sees.  Defaults are the simulator's
    (``gateway.sim.scenario.RadarSite``) and a common en-route Mode S radar's."""

    lat: float  # antenna, degrees WGS-84
    lon: float
    alt_m: float = 0.0  # antenna height above the ellipsoid
    cone_deg: float = 40.0  # no detection above this elevation
    range_nm: float = 250.0  # instrumented range (slant)
    # which source's plots are this radar's (sac, sic): the deleter learns its scan period
    # from them and counts the scans a silent track should have been seen on
    key: tuple[int, int] | None = None
    period_s: float | None = None  # scan period, if known (None: learnt from the plots)


class Coverage:
    """The union of the coverages of some radars, in the tracker's plane."""

    def __init__(self, frame: ConformalFrame, sites: Sequence[RadarCoverage]) -> None:
        self.frame = frame
        self.sites = tuple(sites)
        lat = np.array([s.lat for s in self.sites], dtype=np.float64)
        lon = np.array([s.lon for s in self.sites], dtype=np.float64)
        x, y = frame.to_xy(lat, lon) if len(lat) else (lat, lon)
        self.x, self.y = np.asarray(x), np.asarray(y)
        self.k = frame.scale(lat) if len(lat) else lat  # plane metres per ground metre
        self.alt = np.array([s.alt_m for s in self.sites], dtype=np.float64)
        self.tan_cone = np.tan(np.radians([s.cone_deg for s in self.sites]))
        self.range_m = np.array([s.range_nm * NM for s in self.sites], dtype=np.float64)
        self.horizon_antenna = np.sqrt(_HORIZON_K * np.maximum(self.alt, 1.0))
        # seen_by's per-radar constants, made once (it runs on every review)
        self._antenna_r = EARTH_RADIUS_M + self.alt
        self._range2 = self.range_m * self.range_m
        # the kernel's decisions are numpy's where the constants are finite (else numpy's)
        self._kernel = bool(np.isfinite(np.concatenate([
            self.x, self.y, self.k, self.tan_cone, self._antenna_r, self._range2,
            self.horizon_antenna])).all())
        # the kernel's views of those constants, taken once (ext/coverage.pyx: RadarViews)
        self._views = _coverage.RadarViews(
            self.x, self.y, self.k, self.tan_cone, self._antenna_r, self._range2,
            self.horizon_antenna, EARTH_RADIUS_M, _HORIZON_K, self.KERNEL_TOL,
        ) if self._kernel and len(self.sites) else None

    @classmethod
    def of(cls, frame: ConformalFrame,
           radars: Mapping[tuple[int, int], RadarCoverage]) -> Coverage:
        """Coverage of radars keyed by (sac, sic), in key order."""
        return cls(frame, [radars[k] for k in sorted(radars)])

    def __len__(self) -> int:
        return len(self.sites)

    # how near its boundary (relative) a kernel's test hands the point back to numpy
    KERNEL_TOL = 1e-9

    def seen_by(self, x: np.ndarray, y: np.ndarray, h_m: np.ndarray) -> np.ndarray:
        """bool [n, radars]: which radar sees each point (plane x, y; height h_m).

        In C (ext/coverage.pyx: the deleter asks on every review); the points whose
        decision libm's hypot, sin and cos could make otherwise than numpy's (near a
        boundary, or not finite) are decided by ``seen_by_numpy``."""
        # (three calls, not a generator: it runs on every review)
        x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
        y = np.ascontiguousarray(y, dtype=np.float64).reshape(-1)
        h = np.ascontiguousarray(h_m, dtype=np.float64).reshape(-1)
        if self._views is None:
            if len(self.sites) == 0:
                return np.zeros((len(x), 0), dtype=bool)
            return self.seen_by_numpy(x, y, h)
        seen, unsure = _coverage.seen_by_view(self._views, x, y, h)
        if len(unsure):
            seen[unsure] = self.seen_by_numpy(x[unsure], y[unsure], h[unsure])
        return seen

    def seen_by_numpy(self, x: np.ndarray, y: np.ndarray, h_m: np.ndarray) -> np.ndarray:
        """``seen_by`` in numpy: the rule, and what the kernel is held to."""
        x, y, h = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (x, y, h_m))
        if len(self.sites) == 0:
            return np.zeros((len(x), 0), dtype=bool)
        ground = np.hypot(x[:, None] - self.x, y[:, None] - self.y) / self.k
        a = ground / EARTH_RADIUS_M  # central angle
        rt = EARTH_RADIUS_M + h[:, None]
        horiz = rt * np.sin(a)
        vert = rt * np.cos(a) - self._antenna_r
        slant2 = horiz * horiz + vert * vert
        below_cone = vert < horiz * self.tan_cone  # elevation < cone, without an arctan
        in_range = slant2 <= self._range2
        reach = self.horizon_antenna + np.sqrt(_HORIZON_K * np.maximum(h[:, None], 1.0))
        return np.asarray(below_cone & in_range & (ground <= reach), dtype=bool)

    def seen(self, x: np.ndarray, y: np.ndarray, h_m: np.ndarray) -> np.ndarray:
        """bool [n]: some radar sees the point."""
        return np.asarray(self.seen_by(x, y, h_m).any(axis=1), dtype=bool)

    def seen_latlon(self, lat: np.ndarray, lon: np.ndarray, h_m: np.ndarray) -> np.ndarray:
        """``seen`` for WGS-84 positions."""
        x, y = self.frame.to_xy(np.asarray(lat, dtype=np.float64),
                                np.asarray(lon, dtype=np.float64))
        return self.seen(x, y, h_m)

    def hidden(self, x: np.ndarray, y: np.ndarray, vx: np.ndarray, vy: np.ndarray,
               h_m: np.ndarray, ahead_s: np.ndarray, steps: int = 12,
               vz: np.ndarray | None = None) -> np.ndarray:
        """bool [n]: seen by no radar now, but seen somewhere along the straight line
        (velocity vx, vy in plane m/s; climbing at ``vz`` m/s, not below the ground)
        within ``ahead_s`` seconds, sampled ``steps`` times: in a gap the aircraft comes
        out of.  (A descent below the horizon towards an airport does not come out: the
        climb rate is what tells it from a level flight across a hole.)  Without radars
        nothing is hidden."""
        x, y, vx, vy, h = (np.ascontiguousarray(a, dtype=np.float64).reshape(-1)
                           for a in (x, y, vx, vy, h_m))
        n = len(x)
        # the climb rate: nan as level (the kernel makes it so itself, as np.nan_to_num)
        rate = np.zeros(n) if vz is None else np.ascontiguousarray(
            vz, dtype=np.float64).reshape(-1)
        if n == 0 or len(self.sites) == 0:
            return np.zeros(n, dtype=bool)
        ahead = np.ascontiguousarray(ahead_s, dtype=np.float64)
        if ahead.shape != (n,):
            ahead = np.ascontiguousarray(np.broadcast_to(ahead, (n,)))
        if self._views is None or steps < 1:
            return self.hidden_numpy(x, y, vx, vy, h, ahead, steps, np.nan_to_num(rate))
        # in C (ext/coverage.pyx), which follows each line only as far as it must; the
        # tracks whose verdict libm's functions could give otherwise go to numpy
        out, unsure = _coverage.hidden_view(self._views, x, y, vx, vy, h, rate, ahead, steps)
        if len(unsure):
            out[unsure] = self.hidden_numpy(x[unsure], y[unsure], vx[unsure], vy[unsure],
                                            h[unsure], ahead[unsure], steps,
                                            np.nan_to_num(rate[unsure]))
        return out

    def hidden_numpy(self, x: np.ndarray, y: np.ndarray, vx: np.ndarray, vy: np.ndarray,
                     h: np.ndarray, ahead: np.ndarray, steps: int,
                     rate: np.ndarray) -> np.ndarray:
        """``hidden`` in numpy (float64 arrays of n, ``rate`` without nan): the rule, and
        what the kernel is held to."""
        n = len(x)
        frac = np.arange(steps + 1, dtype=np.float64) / steps  # 0 (now), ..., 1
        dt = np.fmax(ahead, 0.0)[:, None] * frac  # [n, steps + 1]
        seen = self.seen_by_numpy((x[:, None] + vx[:, None] * dt).ravel(),
                                  (y[:, None] + vy[:, None] * dt).ravel(),
                                  np.fmax(h[:, None] + rate[:, None] * dt, 0.0).ravel(),
                                  ).any(axis=1).reshape(n, steps + 1)
        return ~seen[:, 0] & seen[:, 1:].any(axis=1) & (ahead > 0)
