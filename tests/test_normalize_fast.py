"""The normaliser's fast paths (issue 16) held to the code they replace, to the bit."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Transformer

from gateway.normalize.geometry import NEWTON_STEPS, RadarGeometry

_TO_ECEF = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
_TO_GEODETIC = Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)
SITES = [RadarGeometry(25.7785, -100.1069, 520.0), RadarGeometry(32.854, -116.416, 1900.0),
         RadarGeometry(-33.9, 151.2, 60.0), RadarGeometry(64.1, -21.9, 40.0)]


def place_before(site: RadarGeometry, rho_m: np.ndarray, theta_deg: np.ndarray,
                 height_m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RadarGeometry.place as it was: origin and rotation made per call, np.nan_to_num and
    np.clip."""
    rho = np.asarray(rho_m, dtype=np.float64)
    theta = np.radians(np.asarray(theta_deg, dtype=np.float64))
    height = np.asarray(height_m, dtype=np.float64)
    e2 = (1 / 298.257223563) * (2 - 1 / 298.257223563)
    radius = float(6378137.0 * np.sqrt(1 - e2) / (1 - e2 * np.sin(np.radians(site.lat)) ** 2))
    r0 = radius + site.alt_m
    rt = radius + height
    with np.errstate(divide="ignore", invalid="ignore"):
        sin_e = (rt * rt - r0 * r0 - rho * rho) / (2 * rho * r0)
    elev = np.arcsin(np.clip(np.nan_to_num(sin_e), -1.0, 1.0))
    origin = np.asarray(_TO_ECEF.transform(site.lon, site.lat, site.alt_m))
    phi, lam = np.radians(site.lat), np.radians(site.lon)
    sp, cp, sl, cl = np.sin(phi), np.cos(phi), np.sin(lam), np.cos(lam)
    rot = np.array([[-sl, -sp * cl, cp * cl], [cl, -sp * sl, cp * sl], [0.0, cp, sp]])
    st, ct = np.sin(theta), np.cos(theta)

    def geodetic(elev: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        horizontal = rho * np.cos(elev)
        east, north, up = horizontal * st, horizontal * ct, rho * np.sin(elev)
        x = origin[0] + rot[0, 0] * east + rot[0, 1] * north + rot[0, 2] * up
        y = origin[1] + rot[1, 0] * east + rot[1, 1] * north + rot[1, 2] * up
        z = origin[2] + rot[2, 1] * north + rot[2, 2] * up
        return _TO_GEODETIC.transform(x, y, z)

    for _ in range(NEWTON_STEPS):
        lon, lat, h = geodetic(elev)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = (height - h) / (rho * np.cos(elev))
        elev = np.clip(elev + np.nan_to_num(step), -np.pi / 2, np.pi / 2)
    lon, lat, _h = geodetic(elev)
    return lat, lon, np.degrees(elev)


@pytest.mark.parametrize("site", SITES, ids=lambda s: f"{s.lat},{s.lon}")
@pytest.mark.parametrize("n", [1, 3, 7, 500])
def test_place_is_the_old_place_to_the_bit(site: RadarGeometry, n: int) -> None:
    """Any size (numpy's SIMD loops treat short arrays and tails apart), with the edges:
    zero range, a range shorter than the height difference, nan and infinite heights."""
    rng = np.random.default_rng(n)
    rho = rng.uniform(0, 250 * 1852.0, n)
    theta = rng.uniform(0, 360, n)
    height = rng.uniform(-500, 20_000, n)
    if n >= 7:
        rho[:4] = [0.0, 10.0, 50_000.0, 1.0]
        height[:7] = [1000.0, 30_000.0, np.nan, -5_000.0, 1e6, np.inf, -np.inf]
    got = site.place(rho, theta, height)
    want = place_before(site, rho, theta, height)
    for g, w in zip(got, want, strict=True):
        assert np.asarray(g).tobytes() == np.asarray(w).tobytes()
    # twice: what is cached is the same the second time
    again = site.place(rho, theta, height)
    for g, w in zip(again, want, strict=True):
        assert np.asarray(g).tobytes() == np.asarray(w).tobytes()
