"""The tracker's filters (gateway/associate/filter.py): numerical soundness over long runs,
and the IMM against the constant-velocity model."""

from __future__ import annotations

import numpy as np
from test_associate import T0, Aircraft, Radar, distance_m, fly, tracker

from gateway.associate.filter import ConstantVelocity


def _asymmetry(P: np.ndarray) -> float:
    return float(np.abs(P - P.transpose(0, 2, 1)).max() / np.abs(P).max())


def test_update_keeps_the_covariance_symmetric_and_positive() -> None:
    """One radar every 10 s, its ellipse oblique in the plane: ``P - K H P`` rounds to a
    slightly asymmetric P, which the next updates amplified (~x4 each) until P had a
    negative eigenvalue after ~30 updates.  The update must keep P exactly symmetric."""
    f = ConstantVelocity()
    R = np.array([[[2127.0, -1603.0], [-1603.0, 3409.0]]])  # 67 m x 15 m, oblique
    x = np.zeros((1, 4))
    P = np.diag([0.0, 0.0, 200.0 ** 2, 200.0 ** 2])[None]
    P[0, :2, :2] = R[0]
    for _ in range(80):
        x, P = f.predict(x, P, np.array([10.0]))
        nu, s_inv, _ = f.innovation(x, P, np.zeros((1, 2)), R)
        x, P = f.update_innovation(x, P, nu, s_inv)
        assert _asymmetry(P) < 1e-12
        assert np.linalg.eigvalsh(P[0]).min() > 0.0
    assert np.sqrt(np.linalg.eigvalsh(P[0, :2, :2]).max()) < 60.0  # settled, not growing


def test_single_radar_track_stays_on_its_aircraft() -> None:
    """An aircraft seen by one 10 s radar only, for ten minutes, coming towards it: the
    fused track follows it within the plots' accuracy the whole way (the asymmetric
    covariance above took such a track kilometres off after five minutes)."""
    rng = np.random.default_rng(15)
    radar = Radar(30.0, -104.0, sic=1, sigma_r=60.0, sigma_az=0.08)
    a = Aircraft(29.55, -103.55, ve=-55.0, vn=75.0, icao24="0D7603", mode3a="0436")
    trk = tracker([radar])
    out, _ = fly(trk, [radar], [a], 600.0, rng, period=10.0)
    shown = [f for f in out if f.state == "confirmed"]
    assert len(shown) > 50
    errors = [distance_m(f, a) for f in shown]
    assert max(errors) < 300.0, max(errors)
    assert max(f.pos_sigma_m for f in shown if f.t > T0 + 60) < 150.0
