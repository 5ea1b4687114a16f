"""Radar plots onto the earth: slant range, azimuth and height to WGS-84 latitude/longitude.

A radar measures slant range and azimuth in its local (east-north-up) frame.  With the
aircraft's height known (Mode C, or 3D radar height, or a fallback), the elevation is the
one that puts the point at that height above the ellipsoid.  It is found by Newton steps on
the exact geometry: rotate east-north-up into ECEF, ask PROJ for the geodetic height, and
correct the elevation by the height error.  Vectorised over a whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from pyproj import Transformer

_TO_ECEF = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
_TO_GEODETIC = Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)
_A, _F = 6378137.0, 1 / 298.257223563  # WGS-84
NEWTON_STEPS = 3


@dataclass(frozen=True)
class RadarGeometry:
    """One radar site: its ECEF position and the rotation of its east-north-up frame."""

    lat: float
    lon: float
    alt_m: float

    @cached_property
    def origin(self) -> np.ndarray:
        return np.asarray(_TO_ECEF.transform(self.lon, self.lat, self.alt_m))

    @cached_property
    def enu_to_ecef(self) -> np.ndarray:
        phi, lam = np.radians(self.lat), np.radians(self.lon)
        sp, cp, sl, cl = np.sin(phi), np.cos(phi), np.sin(lam), np.cos(lam)
        return np.array([[-sl, -sp * cl, cp * cl],
                         [cl, -sp * sl, cp * sl],
                         [0.0, cp, sp]])

    @cached_property
    def local_radius(self) -> float:
        """Gaussian mean radius of curvature at the site: the sphere for the first guess."""
        e2 = _F * (2 - _F)
        s2 = np.sin(np.radians(self.lat)) ** 2
        return float(_A * np.sqrt(1 - e2) / (1 - e2 * s2))

    @cached_property
    def _frame(self) -> tuple[float, ...]:
        """The origin and the rotation's eight non-zero terms as floats, made once: place
        runs per datagram live (issue 16), and these were a PROJ call and a dozen numpy
        calls each time.  The same float64 values, so the same sums."""
        (ox, oy, oz), rot = self.origin.tolist(), self.enu_to_ecef.tolist()
        return (ox, oy, oz, rot[0][0], rot[0][1], rot[0][2], rot[1][0], rot[1][1], rot[1][2],
                rot[2][1], rot[2][2])

    def place(self, rho_m: np.ndarray, theta_deg: np.ndarray, height_m: np.ndarray,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Latitude, longitude and elevation (deg) of plots at the given ellipsoidal heights.

        Where no elevation reaches the height at that slant range (the range is shorter than
        the height difference), the plot is put straight above or below the radar's horizon
        limit: elevation clipped to +-90 deg.
        """
        rho = np.asarray(rho_m, dtype=np.float64)
        theta = np.radians(np.asarray(theta_deg, dtype=np.float64))
        height = np.asarray(height_m, dtype=np.float64)
        radius = self.local_radius
        r0 = radius + self.alt_m
        rt = radius + height
        with np.errstate(divide="ignore", invalid="ignore"):
            sin_e = (rt * rt - r0 * r0 - rho * rho) / (2 * rho * r0)
            # np.clip(np.nan_to_num(x), lo, hi) without nan_to_num's Python overhead: only
            # nan -> 0 matters, an infinity clips as nan_to_num's largest float does
            elev = np.arcsin(_clip(_no_nan(sin_e), -1.0, 1.0))
            frame = self._frame
            st, ct = np.sin(theta), np.cos(theta)
            for _ in range(NEWTON_STEPS):
                lon, lat, h = self._geodetic(rho, st, ct, elev, frame)
                step = (height - h) / (rho * np.cos(elev))
                elev = _clip(elev + _no_nan(step), -_HALF_PI, _HALF_PI)
        lon, lat, _h = self._geodetic(rho, st, ct, elev, frame)
        return lat, lon, np.degrees(elev)

    @staticmethod
    def _geodetic(rho: np.ndarray, st: np.ndarray, ct: np.ndarray, elev: np.ndarray,
                  frame: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ox, oy, oz, r00, r01, r02, r10, r11, r12, r21, r22 = frame
        horizontal = rho * np.cos(elev)
        east, north, up = horizontal * st, horizontal * ct, rho * np.sin(elev)
        x = ox + r00 * east + r01 * north + r02 * up
        y = oy + r10 * east + r11 * north + r12 * up
        z = oz + r21 * north + r22 * up
        return _TO_GEODETIC.transform(x, y, z)


_HALF_PI = np.pi / 2


def _no_nan(x: np.ndarray) -> np.ndarray:
    """nan -> 0, the rest as it is."""
    return np.where(np.isnan(x), 0.0, x)


def _clip(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """np.clip's numbers (nan stays nan) without its dispatch."""
    return np.minimum(np.maximum(x, lo), hi)
