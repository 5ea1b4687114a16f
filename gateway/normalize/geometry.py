"""Radar plots onto the earth: slant range, azimuth and height to WGS-84 latitude/longitude.

A radar measures slant range and azimuth in its local (east-north-up) frame.  With the
aircraft's height known (Mode C, or 3D radar height, or a fallback), the elevation is the
one that puts the point at that height above the ellipsoid.  It is found by Newton steps on
the exact geometry: rotate east-north-up into ECEF, ask PROJ for the geodetic height, and
correct the elevation by the height error.  Vectorised over a whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    @property
    def origin(self) -> np.ndarray:
        return np.asarray(_TO_ECEF.transform(self.lon, self.lat, self.alt_m))

    @property
    def enu_to_ecef(self) -> np.ndarray:
        phi, lam = np.radians(self.lat), np.radians(self.lon)
        sp, cp, sl, cl = np.sin(phi), np.cos(phi), np.sin(lam), np.cos(lam)
        return np.array([[-sl, -sp * cl, cp * cl],
                         [cl, -sp * sl, cp * sl],
                         [0.0, cp, sp]])

    @property
    def local_radius(self) -> float:
        """Gaussian mean radius of curvature at the site: the sphere for the first guess."""
        e2 = _F * (2 - _F)
        s2 = np.sin(np.radians(self.lat)) ** 2
        return float(_A * np.sqrt(1 - e2) / (1 - e2 * s2))

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
        r0 = self.local_radius + self.alt_m
        rt = self.local_radius + height
        with np.errstate(divide="ignore", invalid="ignore"):
            sin_e = (rt * rt - r0 * r0 - rho * rho) / (2 * rho * r0)
        elev = np.arcsin(np.clip(np.nan_to_num(sin_e), -1.0, 1.0))
        origin, rot = self.origin, self.enu_to_ecef
        st, ct = np.sin(theta), np.cos(theta)
        for _ in range(NEWTON_STEPS):
            lon, lat, h = self._geodetic(rho, st, ct, elev, origin, rot)
            with np.errstate(divide="ignore", invalid="ignore"):
                step = (height - h) / (rho * np.cos(elev))
            elev = np.clip(elev + np.nan_to_num(step), -np.pi / 2, np.pi / 2)
        lon, lat, _h = self._geodetic(rho, st, ct, elev, origin, rot)
        return lat, lon, np.degrees(elev)

    @staticmethod
    def _geodetic(rho: np.ndarray, st: np.ndarray, ct: np.ndarray, elev: np.ndarray,
                  origin: np.ndarray, rot: np.ndarray,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        horizontal = rho * np.cos(elev)
        east, north, up = horizontal * st, horizontal * ct, rho * np.sin(elev)
        x = origin[0] + rot[0, 0] * east + rot[0, 1] * north + rot[0, 2] * up
        y = origin[1] + rot[1, 0] * east + rot[1, 1] * north + rot[1, 2] * up
        z = origin[2] + rot[2, 1] * north + rot[2, 2] * up
        return _TO_GEODETIC.transform(x, y, z)
