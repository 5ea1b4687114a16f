"""Radar plots onto the earth: slant range, azimuth and height to WGS-84 latitude/longitude.

A radar measures slant range and azimuth in its local (east-north-up) frame.  With the
aircraft's height known (Mode C, or 3D radar height, or a fallback), the elevation is the
one that puts the point at that height above the ellipsoid.  It is found by Newton steps on
the exact geometry: rotate east-north-up into ECEF, ask PROJ for the geodetic height, and
correct the elevation by the height error.  Vectorised over a whole batch: numpy's
trigonometry, PROJ's conversion, and the arithmetic between them in a kernel
(ext/normalize.pyx) that rounds as numpy did.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from pyproj import Transformer

from gateway import _normalize

_TO_ECEF = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
_TO_GEODETIC = Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)
_A, _F = 6378137.0, 1 / 298.257223563  # WGS-84
NEWTON_STEPS = 3
_HALF_PI = np.pi / 2  # a Newton step keeps the elevation within +-90 degrees


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
        rho = np.ascontiguousarray(rho_m, dtype=np.float64)  # the kernel's: 1-d, C order
        theta = np.radians(np.ascontiguousarray(theta_deg, dtype=np.float64))
        height = np.ascontiguousarray(height_m, dtype=np.float64)
        radius = self.local_radius
        r0 = radius + self.alt_m
        with np.errstate(divide="ignore", invalid="ignore"):
            elev = np.arcsin(_normalize.first_sine(rho, height, radius, r0))
        frame = self._frame
        st, ct = np.sin(theta), np.cos(theta)
        for _ in range(NEWTON_STEPS):
            cos_e = np.cos(elev)
            lon, lat, h = _TO_GEODETIC.transform(
                *_normalize.to_ecef(rho, st, ct, cos_e, np.sin(elev), frame))
            elev = _normalize.newton_step(elev, height, h, rho, cos_e, _HALF_PI)
        lon, lat, _h = _TO_GEODETIC.transform(
            *_normalize.to_ecef(rho, st, ct, np.cos(elev), np.sin(elev), frame))
        return lat, lon, np.degrees(elev)

