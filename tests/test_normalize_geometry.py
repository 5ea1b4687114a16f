"""Plot placement and time of day, against references computed independently here."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod, Transformer

from gateway.normalize.clock import absolute_time, in_window
from gateway.normalize.geometry import RadarGeometry
from gateway.units import NM

TO_ECEF = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
WGS84 = Geod(ellps="WGS84")
SITES = [RadarGeometry(25.7785, -100.1069, 520.0), RadarGeometry(32.854, -116.416, 1900.0),
         RadarGeometry(-33.9, 151.2, 60.0), RadarGeometry(64.1, -21.9, 40.0)]


def forward(site: RadarGeometry, lat: np.ndarray, lon: np.ndarray, h: np.ndarray):
    """Slant range, azimuth and elevation of targets seen from the site: vector algebra on
    ECEF positions (east/north/up unit vectors from the geodetic normal), nothing shared
    with the code under test but PROJ's geodetic->ECEF."""
    x0 = np.array(TO_ECEF.transform(site.lon, site.lat, site.alt_m))
    xt = np.array(TO_ECEF.transform(lon, lat, h))
    d = xt - x0[:, None]
    phi, lam = np.radians(site.lat), np.radians(site.lon)
    east = np.array([-np.sin(lam), np.cos(lam), 0.0])
    north = np.array([-np.sin(phi) * np.cos(lam), -np.sin(phi) * np.sin(lam), np.cos(phi)])
    up = np.array([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])
    e, n, u = east @ d, north @ d, up @ d
    rho = np.sqrt(e * e + n * n + u * u)
    return rho, np.degrees(np.arctan2(e, n)) % 360, np.degrees(np.arcsin(u / rho))


def horizontal_distance(lat1, lon1, lat2, lon2) -> np.ndarray:
    return WGS84.inv(lon1, lat1, lon2, lat2)[2]


@pytest.mark.parametrize("site", SITES, ids=lambda s: f"{s.lat},{s.lon}")
def test_plots_placed_within_a_metre_over_the_whole_envelope(site: RadarGeometry) -> None:
    """0-250 NM, every azimuth, FL0-FL600: targets drawn on the earth, seen, placed back."""
    rng = np.random.default_rng(1)
    n = 200_000
    # Targets uniformly around the site out to 260 NM of ground distance, FL0-600.
    az = rng.uniform(0, 360, n)
    dist = np.sqrt(rng.uniform(0, 1, n)) * 260 * NM
    lon, lat, _ = WGS84.fwd(np.full(n, site.lon), np.full(n, site.lat), az, dist)
    fl = rng.uniform(0, 600, n)
    h = fl * 100 * 0.3048
    rho, theta, elev = forward(site, lat, lon, h)
    seen = (rho <= 250 * NM) & (rho >= 0.5 * NM) & (elev > -5)
    assert seen.sum() > n / 2
    got_lat, got_lon, got_elev = site.place(rho[seen], theta[seen], h[seen])
    error = horizontal_distance(got_lat, got_lon, lat[seen], lon[seen])
    assert np.max(error) < 1.0
    assert np.max(np.abs(got_elev - elev[seen])) < 1e-4


def test_edge_geometry_stays_finite() -> None:
    """A range shorter than the height difference has no solution: clipped, not NaN."""
    site = SITES[0]
    lat, lon, elev = site.place(np.array([100.0, 0.0]), np.array([90.0, 0.0]),
                                np.array([15000.0, 520.0]))
    assert np.all(np.isfinite(lat)) and np.all(np.isfinite(lon))
    assert elev[0] == pytest.approx(90.0)


MIDNIGHT = 1779926400.0  # 2026-05-28 00:00:00 UTC


@pytest.mark.parametrize(("tod", "reference", "expected"), [
    (86399.5, MIDNIGHT + 0.3, MIDNIGHT - 0.5),  # sent before midnight, received after
    (0.25, MIDNIGHT - 0.2, MIDNIGHT + 0.25),  # a clock slightly ahead, across midnight
    (43200.0, MIDNIGHT + 43200.5, MIDNIGHT + 43200.0),  # plain midday
    (86390.0, MIDNIGHT + 5.0, MIDNIGHT - 10.0),  # 15 s late across midnight
])
def test_time_of_day_lands_on_the_right_date(tod: float, reference: float,
                                            expected: float) -> None:
    assert absolute_time(np.array([tod]), np.array([reference]))[0] == pytest.approx(expected)


def test_replay_across_midnight_is_monotonic() -> None:
    """A capture running through midnight: references from the capture, times of day wrap."""
    reference = MIDNIGHT - 30 + np.arange(0, 60, 0.5)
    tod = (reference - 0.1) % 86400  # data stamped 0.1 s before capture
    t = absolute_time(tod, reference)
    assert np.all(np.diff(t) > 0)
    assert np.allclose(t, reference - 0.1)


def test_window_counts_late_and_early() -> None:
    reference = np.full(4, MIDNIGHT)
    t = MIDNIGHT + np.array([-31.0, -29.0, 4.0, 6.0])
    assert in_window(t, reference, 30.0, 5.0).tolist() == [False, True, True, False]
