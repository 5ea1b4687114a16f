"""The plane the tracker filters in: a Lambert conformal conic fitted to the region.

A Kalman filter wants a flat Cartesian space where a straight line at constant speed stays a
straight line at constant speed.  Over the US-Mexico border region (25-34 N, 118-95 W) a
Lambert conformal conic with standard parallels 27 N and 33 N comes close: it is conformal
(angles and the shape of small error ellipses are kept, so a radar's range/azimuth
covariance rotates into it unchanged), and its point scale stays within about -0.14 % (near
30 N) to +0.24 % (at 25 N) of true: about 0.3 % from end to end.  That is far below the
radars' noise for the distances that matter (innovations of a few hundred metres), but it
biases speeds by up to 0.24 %, so speeds and the position sigma that leave the tracker are
divided by the local scale, and measurement covariances put in are multiplied by its square.

Grid north is not true north away from the central meridian: meridians converge towards the
cone's apex, by ``n * (lon - lon_0)`` (n = the cone constant, about 0.5 here, so up to ~6
degrees at the region's edges).  Azimuths, headings and tracks (all true) are turned by that
angle on the way in and back on the way out.

Everything is vectorised.  The projection both ways, on the tracker's input path for every
plot and on its output path for every fused message, is PROJ's own formulas compiled into
gateway._columns (``Conic``): the same numbers as pyproj to the bit (tests/test_frame.py
holds it to pyproj) without pyproj's cost per call (~8 us for a batch's 18 positions);
PROJ (through pyproj) does the rest: the cone constant, and the scale table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyproj import CRS, Proj, Transformer

from gateway._columns import Conic
from gateway._columns import interp as _interp
from gateway._columns import north as _north

__all__ = ["ConformalFrame", "FrameParameters"]


@dataclass(frozen=True)
class FrameParameters:
    """The conic: two standard parallels, and the origin (centre of the region)."""

    lat_1: float = 27.0  # degrees: first standard parallel (scale exactly 1)
    lat_2: float = 33.0  # second standard parallel
    lat_0: float = 29.5  # origin latitude: y = 0 here
    lon_0: float = -106.5  # central meridian: x = 0 and grid north = true north here


class ConformalFrame:
    """WGS-84 latitude/longitude <-> x/y metres on the regional Lambert conformal conic."""

    def __init__(self, parameters: FrameParameters | None = None) -> None:
        p = parameters or FrameParameters()
        self.parameters = p
        self.crs = CRS.from_proj4(
            f"+proj=lcc +lat_1={p.lat_1} +lat_2={p.lat_2} +lat_0={p.lat_0} "
            f"+lon_0={p.lon_0} +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs")
        self._fwd = Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        self._conic = Conic(p.lat_1, p.lat_2, p.lat_0, p.lon_0)  # = PROJ's, compiled
        # The cone constant, measured rather than derived: the grid bearing of true north
        # one degree east of the central meridian.
        x0, y0 = self._fwd.transform(p.lon_0 + 1.0, p.lat_0)
        x1, y1 = self._fwd.transform(p.lon_0 + 1.0, p.lat_0 + 1e-3)
        self.cone = float(np.arctan2(x1 - x0, y1 - y0))  # radians of convergence per degree
        # Point scale depends on latitude only for a conic: tabulate it once, interpolate.
        lats = np.linspace(-89.0, 89.0, 17801)
        factors = Proj(self.crs).get_factors(np.full_like(lats, p.lon_0), lats)
        self._scale_lat = lats
        self._scale = np.asarray(factors.meridional_scale, dtype=np.float64)
        self._lon_0 = float(p.lon_0)

    @property
    def tables(self) -> tuple[Conic, np.ndarray, np.ndarray]:
        """The compiled conic and the scale table (latitudes, factors): what ``to_plane``
        and ``scale`` use (latitudes in degrees, increasing; point scale factors), for a
        kernel that projects or scales in its own pass (gateway._columns.plot_measurements,
        gateway._fused.messages)."""
        return self._conic, self._scale_lat, self._scale

    def to_xy(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Plane coordinates (m, east and north of the origin) of WGS-84 positions."""
        return self._conic.forward(lat, lon)

    def to_plane(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Plane positions [n, 2] (x, y as ``to_xy``) of latitudes and longitudes [n]."""
        return self._conic.plane(lat, lon)

    def to_latlon(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """WGS-84 latitude and longitude (degrees) of plane coordinates."""
        return self._conic.inverse(x, y)

    def latlon_of(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``to_latlon`` of the first two columns of ``xy`` [n, >=2] (states: x, y, ...),
        read in place: for the tracker's output, a few rows a batch, where slicing and
        copying the columns cost as much as projecting them."""
        return self._conic.unplane(xy)

    def north(self, lon: np.ndarray) -> np.ndarray:
        """Grid bearing of true north (radians, clockwise) at longitude ``lon``: add it to a
        true bearing to get the grid bearing, subtract it to go back."""
        if type(lon) is np.ndarray and lon.ndim == 1 and lon.dtype == np.float64:
            return _north(lon, self.cone, self._lon_0)  # numpy's arithmetic, one call
        return self.cone * (np.asarray(lon, dtype=np.float64) - self.parameters.lon_0)

    def scale(self, lat: np.ndarray) -> np.ndarray:
        """Point scale factor k (plane metres per metre on the ellipsoid) at ``lat``: numpy's
        ``interp`` in the table, a 1-d float64 array's in one kernel call (numpy's
        bisection of 17,801 knots was most of an SDPS cycle's columns;
        tests/test_frame_kernel.py holds the kernel to numpy)."""
        # a byte-swapped float64 is not equal to np.float64: left to numpy, like unaligned
        if (type(lat) is np.ndarray and lat.ndim == 1 and lat.dtype == np.float64
                and lat.flags.aligned):
            return _interp(lat, self._scale_lat, self._scale)
        return np.interp(lat, self._scale_lat, self._scale)
