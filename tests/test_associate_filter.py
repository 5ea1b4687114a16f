"""The tracker's filters (gateway/associate/filter.py): numerical soundness over long runs,
and the IMM against the constant-velocity model."""

from __future__ import annotations

import numpy as np
import pytest
from test_associate import T0, Aircraft, Radar, distance_m, fly, tracker

from gateway.associate import TrackerParameters
from gateway.associate.filter import ConstantVelocity, InteractingMultipleModel, LevelFilter
from gateway.associate.tracker import motion_filter
from gateway.associate.tracks import TrackTable


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
    sigmas = [f.pos_sigma_m for f in shown if f.t > T0 + 60]
    assert None not in sigmas and max(s for s in sigmas if s is not None) < 150.0


# -- the IMM ----------------------------------------------------------------------------------

def _table(f: ConstantVelocity, x: np.ndarray, P: np.ndarray) -> TrackTable:
    table = TrackTable(capacity=4, models=f.models)
    rows = table.new(len(x))
    table.x[rows], table.P[rows] = x, P
    return table


def _fly_filter(f: ConstantVelocity, turn_deg_s: float, rng: np.random.Generator,
                ) -> tuple[np.ndarray, list[np.ndarray]]:
    """One track through the table interface: 100 s straight, 30 s turning at turn_deg_s
    (positive: left), 100 s straight, a plot every 4 s (60 m noise); the position errors
    and the mode probabilities after each update."""
    R = np.diag([60.0 ** 2, 60.0 ** 2])[None]
    speed, heading, pos = 200.0, 0.0, np.zeros(2)
    table = _table(f, np.array([[0.0, 0.0, 0.0, speed]]),
                   np.diag([60.0 ** 2, 60.0 ** 2, 20.0 ** 2, 20.0 ** 2])[None])
    rows = np.array([0])
    errors, modes = [], []
    for step in range(1, 58):
        t = 4.0 * step
        for _ in range(40):  # truth at 0.1 s steps
            if 100.0 <= t - 4.0 + _ * 0.1 < 130.0:
                heading += np.radians(turn_deg_s) * 0.1
            pos = pos + 0.1 * speed * np.array([-np.sin(heading), np.cos(heading)])
        z = (pos + rng.normal(0.0, 60.0, 2))[None]
        dt = np.array([4.0])
        x, P, models = f.predict_tracks(table, rows, dt)
        nu, s_inv, _ = f.innovation(x, P, z, R)
        f.update_tracks(table, rows, dt, x, P, z, R, s_inv, False, models)
        errors.append(float(np.hypot(*(table.x[0, :2] - pos))))
        modes.append(table.mu[0].copy() if f.models else np.zeros(0))
    return np.array(errors), modes


def test_imm_is_smoother_straight_and_follows_a_turn() -> None:
    """Against the CV filter the tracker had (q = 6), over a few noise draws: in straight
    flight the IMM's quiet model averages more plots; in a standard-rate turn, where the
    CV lags by hundreds of metres, its turning model takes over."""
    p = TrackerParameters()
    imm = motion_filter(p)
    assert isinstance(imm, InteractingMultipleModel) and imm.models == 3
    cv = ConstantVelocity(6.0)
    runs = [(_fly_filter(imm, 3.0, np.random.default_rng(s)),
             _fly_filter(cv, 3.0, np.random.default_rng(s))[0]) for s in range(6)]
    e_imm = np.array([r[0][0] for r in runs])
    e_cv = np.array([r[1] for r in runs])

    def rms(e: np.ndarray, steps: np.ndarray) -> float:
        return float(np.sqrt(np.mean(e[:, steps] ** 2)))

    straight = np.r_[15:24, 50:57]  # steps away from the turn (100-130 s: steps 25-32)
    turning = np.r_[25:36]
    assert rms(e_imm, straight) < 0.95 * rms(e_cv, straight)
    assert rms(e_imm, turning) < 0.5 * rms(e_cv, turning)
    assert e_imm.max() < 250.0
    # the left-turn model (+w, counter-clockwise) wins during the turn, CV before and after
    modes = runs[0][0][1]
    assert modes[20][0] > 0.5 and modes[55][0] > 0.5
    assert max(m[1] for m in modes[26:33]) > 0.5


def test_imm_mode_probabilities_follow_the_turn_direction() -> None:
    _, left = _fly_filter(motion_filter(TrackerParameters()), 3.0, np.random.default_rng(3))
    _, right = _fly_filter(motion_filter(TrackerParameters()), -3.0,
                           np.random.default_rng(3))
    assert max(m[1] for m in left[26:33]) > max(m[2] for m in left[26:33])
    assert max(m[2] for m in right[26:33]) > max(m[1] for m in right[26:33])
    for m in left + right:
        assert m.sum() == pytest.approx(1.0) and (m >= 0).all()


def test_imm_late_measurement_is_used_at_its_time() -> None:
    """A plot older than the state (dt < 0) updates every model there and the state is
    brought back to the present: the same estimate, to within the process noise over the
    gap, as if it had come in order."""
    f = motion_filter(TrackerParameters())
    R = np.diag([50.0 ** 2, 50.0 ** 2])[None]
    P0 = np.diag([100.0 ** 2, 100.0 ** 2, 10.0 ** 2, 10.0 ** 2])[None]
    x0 = np.array([[0.0, 0.0, 150.0, 0.0]])
    a, b = _table(f, x0, P0), _table(f, x0, P0)
    rows = np.array([0])
    z1, z2 = np.array([[600.0, 30.0]]), np.array([[1200.0, -20.0]])
    for table, order in ((a, ((4.0, z1), (4.0, z2))), (b, ((8.0, z2), (-4.0, z1)))):
        for dt_, z in order:
            dt = np.array([dt_])
            x, P, models = f.predict_tracks(table, rows, dt)
            _, s_inv, _ = f.innovation(x, P, z, R)
            f.update_tracks(table, rows, dt, x, P, z, R, s_inv, False, models)
    # b's state is at t = 8 after both plots, like a's
    assert np.hypot(*(a.x[0, :2] - b.x[0, :2])) < 30.0
    assert np.allclose(b.P[0], b.P[0].T) and np.linalg.eigvalsh(b.P[0]).min() > 0


def test_imm_sdps_track_by_covariance_intersection() -> None:
    """An SDPS position enters every model by CI: never more confident than the CI of the
    combined state allows, and the velocity is kept."""
    f = motion_filter(TrackerParameters())
    x0 = np.array([[0.0, 0.0, 200.0, 0.0]])
    table = _table(f, x0, np.diag([300.0 ** 2, 300.0 ** 2, 4.0, 4.0])[None])
    rows, dt = np.array([0]), np.array([0.0])
    x, P, models = f.predict_tracks(table, rows, dt)
    z, R = np.array([[100.0, 0.0]]), np.diag([10.0, 10.0])[None] ** 2
    f.update_tracks(table, rows, dt, x, P, z, R, np.zeros((1, 2, 2)), True, models)
    assert table.x[0, 0] == pytest.approx(100.0, abs=5.0)
    assert table.x[0, 2] == pytest.approx(200.0, abs=1.0)
    assert np.linalg.eigvalsh(table.P[0]).min() > 0


def test_tracker_uses_the_filter_the_parameters_choose() -> None:
    assert isinstance(tracker([]).filter, InteractingMultipleModel)
    cv = tracker([], filter_model="cv").filter
    assert type(cv) is ConstantVelocity and cv.q == TrackerParameters().q


# -- the level filter -----------------------------------------------------------------------------

def test_level_filter_late_report_leaves_the_state_at_the_latest_time() -> None:
    """A climb at 3000 ft/min reported by two radars, the second's reports 3 s old when
    they arrive (1 s older than the state): each is used at its time and the state
    brought forward again, so level and rate match the climb (left in the past, the state
    lagged by a second of climb after each, and the next prediction started from there)."""
    lf = LevelFilter()
    s = np.full((1, 2), np.nan)
    P = np.zeros((1, 2, 2))
    rate = 3000.0 / 6000.0  # FL/s
    t_state = 0.0
    for k in range(61):
        t = 2.0 * k
        late = k % 2 == 1
        t_report = t - 3.0 if late else t
        dt = t_report - t_state if k else 0.0
        lf.step(s, P, np.array([dt]), np.array([100.0 + rate * t_report]))
        t_state = max(t_state, t_report)
        assert np.allclose(P[0], P[0].T)
    assert s[0, 0] == pytest.approx(100.0 + rate * t_state, abs=0.3)
    assert s[0, 1] * 6000.0 == pytest.approx(3000.0, abs=100.0)


def test_imm_model_far_off_keeps_a_probability_and_a_state() -> None:
    """A plot that one model explains and the others cannot by hundreds of sigmas (their
    likelihood underflows): every model keeps a probability, and a second plot at the same
    time (dt = 0: another radar) still finds every model's state near the track."""
    f = motion_filter(TrackerParameters())
    table = _table(f, np.array([[0.0, 0.0, 200.0, 0.0]]),
                   np.diag([30.0 ** 2, 30.0 ** 2, 1.0, 1.0])[None])
    rows, R = np.array([0]), np.diag([5.0 ** 2, 5.0 ** 2])[None]
    for dt_, z in ((60.0, [[12000.0, 3000.0]]), (0.0, [[12000.0, 3000.0]])):
        dt = np.array([dt_])
        x, P, models = f.predict_tracks(table, rows, dt)
        _, s_inv, _ = f.innovation(x, P, np.array(z), R)
        f.update_tracks(table, rows, dt, x, P, np.array(z), R, s_inv, False, models)
        assert (table.mu[0] > 0).all() and table.mu[0].sum() == pytest.approx(1.0)
        assert np.isfinite(table.x[0]).all()
    assert np.hypot(*(table.xm[0, :, :2] - [12000.0, 3000.0]).T).max() < 500.0


def test_imm_turning_models_turn_for_a_bounded_time_over_a_gap() -> None:
    """Over a 100 s gap a turning model turns for ``turn_limit_s`` only, straight before:
    its heading changes by the turn rate times the limit, not 300 degrees, and the
    mixture stays near the straight flight (it fell 1.5 km behind before)."""
    f = motion_filter(TrackerParameters())
    assert isinstance(f, InteractingMultipleModel)
    table = _table(f, np.array([[0.0, 0.0, 200.0, 0.0]]),
                   np.diag([30.0 ** 2, 30.0 ** 2, 1.0, 1.0])[None])
    x, _, models = f.predict_tracks(table, np.array([0]), np.array([100.0]))
    assert models is not None
    xm = models.reshape(1, f.models, 21)[0, :, 1:5]
    heading = np.degrees(np.arctan2(xm[:, 3], xm[:, 2]))
    expected = np.degrees(np.asarray(f.turn_rates)) * f.turn_limit_s
    assert heading == pytest.approx(expected, abs=1e-6)
    # straight for 100 - tau s, then the turn: 20 km along, the turn's arc at the end
    assert xm[0, 0] == pytest.approx(20_000.0)
    assert abs(x[0, 0] - 20_000.0) < 100.0 and abs(x[0, 1]) < 1.0
