"""The Cython filter kernel (ext/tracking.pyx, through gateway/associate/filter.py) against a
textbook reference written here track by track in plain numpy: the CV Kalman filter and
one IMM cycle (Bar-Shalom & Li: transition by expm of the rate matrix, mixing, model
prediction, combination; model update, likelihood, mode probabilities), on random
inputs including dt = 0, negative dt, long gaps, fresh tracks and covariances from 1e-6
to 1e10."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import expm

from gateway import _tracking
from gateway.associate import TrackerParameters
from gateway.associate.filter import (
    MODE_FLOOR,
    ConstantVelocity,
    InteractingMultipleModel,
    LevelFilter,
)
from gateway.associate.tracker import motion_filter
from gateway.associate.tracks import TrackTable

RTOL = 1e-9


# -- the reference ---------------------------------------------------------------------------

def ref_predict(x: np.ndarray, P: np.ndarray, dt: float, w: float, q: float,
                limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Straight for dt - tau, then a coordinated turn at w for tau = dt clipped to
    +-limit; white-acceleration noise of density q over |dt|."""
    tau = min(max(dt, -limit), limit)
    straight = np.eye(4)
    straight[0, 2] = straight[1, 3] = dt - tau
    if w == 0.0:
        turn = np.eye(4)
        turn[0, 2] = turn[1, 3] = tau
    else:
        s, c = np.sin(w * tau), np.cos(w * tau)
        turn = np.array([[1, 0, s / w, -(1 - c) / w], [0, 1, (1 - c) / w, s / w],
                         [0, 0, c, -s], [0, 0, s, c]])
    F = turn @ straight
    a = abs(dt)
    Q = q * np.block([[a ** 3 / 3 * np.eye(2), dt * a / 2 * np.eye(2)],
                      [dt * a / 2 * np.eye(2), a * np.eye(2)]])
    return F @ x, F @ P @ F.T + Q


def ref_innovation(x: np.ndarray, P: np.ndarray, z: np.ndarray, R: np.ndarray,
                   ) -> tuple[np.ndarray, np.ndarray, float]:
    H = np.eye(2, 4)
    S = H @ P @ H.T + R
    nu = z - H @ x
    s_inv = np.linalg.inv(S)
    return nu, s_inv, float(nu @ s_inv @ nu)


def ref_kalman(x: np.ndarray, P: np.ndarray, z: np.ndarray, R: np.ndarray,
               ) -> tuple[np.ndarray, np.ndarray]:
    H = np.eye(2, 4)
    nu, s_inv, _ = ref_innovation(x, P, z, R)
    K = P @ H.T @ s_inv
    P = (np.eye(4) - K @ H) @ P
    return x + K @ nu, 0.5 * (P + P.T)


def rate_matrix(f: InteractingMultipleModel) -> np.ndarray:
    """Straight -> either turn alike, a turn -> straight (the default three models)."""
    s = f.sojourn_s
    return np.array([[-1 / s[0], 0.5 / s[0], 0.5 / s[0]], [1 / s[1], -1 / s[1], 0.0],
                     [1 / s[2], 0.0, -1 / s[2]]])


def ref_imm_predict(f: InteractingMultipleModel, mu: np.ndarray, xm: np.ndarray,
                    Pm: np.ndarray, dt: float):
    """Predicted mode probabilities c, each model's mixed-and-predicted state, and the
    combined prediction."""
    M = len(mu)
    T = expm(rate_matrix(f) * abs(dt))  # rows: from, columns: to
    c = T.T @ mu
    x_out, P_out = np.zeros((M, 4)), np.zeros((M, 4, 4))
    for j in range(M):
        wij = T[:, j] * mu / c[j]
        x0 = sum(wij[i] * xm[i] for i in range(M))
        P0 = sum(wij[i] * (Pm[i] + np.outer(xm[i] - x0, xm[i] - x0)) for i in range(M))
        w = f.turn_rates[j]
        x_out[j], P_out[j] = ref_predict(x0, P0, dt, w, f.model_q[j],
                                         f.turn_limit_s if w else np.inf)
    x = c @ x_out
    P = sum(c[j] * (P_out[j] + np.outer(x_out[j] - x, x_out[j] - x)) for j in range(M))
    return c, x_out, P_out, x, P


def ref_imm_update(f: InteractingMultipleModel, c: np.ndarray, xm: np.ndarray,
                   Pm: np.ndarray, z: np.ndarray, R: np.ndarray, dt: float):
    M = len(c)
    like = np.zeros(M)
    x_out, P_out = np.zeros((M, 4)), np.zeros((M, 4, 4))
    for j in range(M):
        nu, s_inv, d2 = ref_innovation(xm[j], Pm[j], z, R)
        like[j] = -0.5 * d2 - 0.5 * np.log(np.linalg.det(np.linalg.inv(s_inv)))
        x_out[j], P_out[j] = ref_kalman(xm[j], Pm[j], z, R)
        if dt < 0:
            w = f.turn_rates[j]
            x_out[j], P_out[j] = ref_predict(x_out[j], P_out[j], -dt, w, f.model_q[j],
                                             f.turn_limit_s if w else np.inf)
    mu = np.maximum(c * np.exp(like - like.max()), MODE_FLOOR)
    mu /= mu.sum()
    x = mu @ x_out
    P = sum(mu[j] * (P_out[j] + np.outer(x_out[j] - x, x_out[j] - x)) for j in range(M))
    return mu, x_out, P_out, x, 0.5 * (P + P.T)


# -- random inputs ---------------------------------------------------------------------------

def random_cov(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    A = rng.normal(size=(n, n))
    return scale * (A @ A.T + 0.1 * np.eye(n))


SCALES = (1e-6, 1.0, 1e4, 1e10)
DTS = (0.0, 0.7, 4.6, -1.3, 12.0, 100.0, -30.0)


def close(a: np.ndarray, b: np.ndarray) -> None:
    """Equal to RTOL relative to the reference's largest magnitude."""
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=RTOL * float(np.max(np.abs(b))))


# -- the tests ---------------------------------------------------------------------------------

def test_cv_predict_innovation_and_update_equal_the_reference() -> None:
    rng = np.random.default_rng(1)
    f = ConstantVelocity(q=6.0)
    for scale in SCALES:
        for dt in DTS:
            x = rng.normal(0, 1e5, 4)
            P = random_cov(rng, 4, scale)
            R = random_cov(rng, 2, scale)
            z = x[:2] + rng.normal(0, np.sqrt(scale), 2)
            xp, Pp = f.predict(x[None], P[None], np.array([dt]))
            rx, rP = ref_predict(x, P, dt, 0.0, 6.0, np.inf)
            close(xp[0], rx)
            close(Pp[0], rP)
            nu, s_inv, d2 = f.innovation(xp, Pp, z[None], R[None])
            rnu, rsi, rd2 = ref_innovation(rx, rP, z, R)
            close(nu[0], rnu)
            close(s_inv[0], rsi)
            assert d2[0] == pytest.approx(rd2, rel=1e-7, abs=1e-9)
            xu, Pu = f.update_innovation(xp, Pp, nu, s_inv)
            ux, uP = ref_kalman(rx, rP, z, R)
            close(xu[0], ux)
            close(Pu[0], uP)
            assert np.array_equal(Pu[0], Pu[0].T)


@pytest.mark.parametrize("scale", SCALES)
def test_imm_cycle_equals_the_reference(scale: float) -> None:
    """predict_tracks and update_tracks of several tracks at once, with fresh rows and
    every kind of dt, against the per-track textbook IMM."""
    rng = np.random.default_rng(int(scale * 7) % 1000 + 3)
    f = motion_filter(TrackerParameters())
    assert isinstance(f, InteractingMultipleModel)
    M = f.models
    n = 3 * len(DTS)
    table = TrackTable(capacity=n, models=M)
    rows = table.new(n)
    # (positions of 1e5 m with covariances of 1e-6 m^2 would test the reference's own
    # cancellation, differences of states at 1e-11 relative: positions shrink with them)
    table.x[rows] = rng.normal(0, 1e5 * min(1.0, np.sqrt(scale)), (n, 4))
    table.P[rows] = [random_cov(rng, 4, scale) for _ in range(n)]
    fresh = rows[::3]  # new tracks: no per-model states yet
    old = np.setdiff1d(rows, fresh)
    table.xm[old] = table.x[old][:, None] + rng.normal(0, np.sqrt(scale), (len(old), M, 4))
    table.Pm[old] = [[random_cov(rng, 4, scale) for _ in range(M)] for _ in old]
    table.mu[old] = rng.dirichlet(np.ones(M), len(old))
    mu0 = np.asarray(f.initial) / np.sum(f.initial)
    before = {r: (np.full(M, mu0) if r in fresh else table.mu[r].copy(),
                  np.repeat(table.x[r][None], M, 0) if r in fresh else table.xm[r].copy(),
                  np.repeat(table.P[r][None], M, 0) if r in fresh else table.Pm[r].copy())
              for r in rows.tolist()}
    dt = np.resize(np.array(DTS), n)
    order = rng.permutation(n)  # rows in any order
    rows, dt = rows[order], dt[order]
    x, P, models = f.predict_tracks(table, rows, dt)
    assert models is not None
    packed = models.reshape(n, M, 21)
    R = np.array([random_cov(rng, 2, scale) for _ in range(n)])
    z = x[:, :2] + rng.normal(0, np.sqrt(scale), (n, 2))
    refs = []
    for i, r in enumerate(rows.tolist()):
        c, xm, Pm, rx, rP = ref_imm_predict(f, *before[r], dt[i])
        close(packed[i, :, 0], c)
        close(packed[i, :, 1:5], xm)
        close(packed[i, :, 5:].reshape(M, 4, 4), Pm)
        close(x[i], rx)
        close(P[i], rP)
        refs.append(ref_imm_update(f, c, xm, Pm, z[i], R[i], dt[i]))
    _, s_inv, _ = f.innovation(x, P, z, R)
    f.update_tracks(table, rows, dt, x, P, z, R, s_inv, False, models)
    for i, r in enumerate(rows.tolist()):
        mu, xm, Pm, rx, rP = refs[i]
        close(table.mu[r], mu)
        close(table.xm[r], xm)
        close(table.Pm[r], Pm)
        close(table.x[r], rx)
        close(table.P[r], rP)
        assert np.array_equal(table.P[r], table.P[r].T)


def test_imm_update_without_the_gates_predictions_predicts_again() -> None:
    """update_tracks with models=None mixes and predicts itself: the same result."""
    f = motion_filter(TrackerParameters())
    z = np.random.default_rng(4).normal(0, 50, (4, 2)) + [[800, 0], [5e4, 1e3], [0, 0], [0, 0]]
    R = np.repeat(np.diag([900.0, 900.0])[None], 4, 0)
    dt = np.array([4.0, 0.0, -2.0, 60.0])
    tables = []
    for packed in (True, False):
        table = TrackTable(capacity=4, models=f.models)
        rows = table.new(4)
        table.x[rows] = [[0, 0, 200, 0], [5e4, 1e3, -150, 30], [1, 2, 3, 4], [0, 0, 0, 0]]
        table.P[rows] = [random_cov(np.random.default_rng(9), 4, 100.0)] * 4
        x, P, models = f.predict_tracks(table, rows, dt)
        _, s_inv, _ = f.innovation(x, P, z, R)
        f.update_tracks(table, rows, dt, x, P, z, R, s_inv, False,
                        models if packed else None)
        tables.append(table)
    for name in ("x", "P", "xm", "Pm", "mu"):
        assert np.array_equal(getattr(tables[0], name), getattr(tables[1], name)), name


def test_kernel_refuses_shapes_that_do_not_agree() -> None:
    """Hostile or mistaken shapes are a ValueError, never a read out of bounds."""
    w, q, lim = np.zeros(1), np.ones(1), np.full(1, np.inf)
    with pytest.raises(ValueError):
        _tracking.predict(np.zeros((2, 1, 4)), np.zeros((3, 1, 4, 4)), np.zeros(2), w, q, lim)
    with pytest.raises(ValueError):
        _tracking.innovation(np.zeros((2, 4)), np.zeros((2, 4, 4)), np.zeros((1, 2)),
                             np.zeros((2, 2, 2)))
    with pytest.raises(ValueError):
        _tracking.imm_update(np.zeros((2, 20)), np.zeros((2, 2)), np.zeros((2, 2, 2)),
                             1e-9, True)
    f = motion_filter(TrackerParameters())
    assert isinstance(f, InteractingMultipleModel)
    table = TrackTable(capacity=2, models=f.models)
    table.new(1)
    with pytest.raises(ValueError):
        f.predict_tracks(table, np.array([table.capacity]), np.zeros(1))


def test_level_filter_equals_the_reference() -> None:
    """LevelFilter.step on strided views of a wider array (as the tracker passes them)
    against a textbook two-state Kalman filter, late reports and new tracks included."""
    rng = np.random.default_rng(6)
    f = LevelFilter()
    n = 12
    L = np.zeros((n, 7))  # [t, fl, rate, P (4)] as the tracker lays its level out
    L[:, 1] = rng.uniform(100, 400, n)
    L[:, 2] = rng.normal(0, 0.3, n)
    L[:, 3:] = [random_cov(rng, 2, scale).ravel() for scale in np.resize(SCALES, n)]
    L[::4, 1] = np.nan  # no level yet
    dt = np.resize(np.array(DTS), n)
    z = rng.uniform(100, 400, n)
    before = L.copy()
    f.step(L[:, 1:3], L[:, 3:].reshape(-1, 2, 2), dt, z)
    r2 = f.sigma_fl ** 2
    for i in range(n):
        if np.isnan(before[i, 1]):
            close(L[i, 1:3], np.array([z[i], 0.0]))
            close(L[i, 3:], np.array([r2, 0, 0, f.initial_rate_sigma ** 2]))
            continue
        s, P = before[i, 1:3], before[i, 3:].reshape(2, 2)

        def predict(s: np.ndarray, P: np.ndarray, d: float) -> tuple[np.ndarray, np.ndarray]:
            F = np.array([[1.0, d], [0.0, 1.0]])
            a = abs(d)
            Q = f.q * np.array([[a ** 3 / 3, d * a / 2], [d * a / 2, a]])
            return F @ s, F @ P @ F.T + Q

        s, P = predict(s, P, dt[i])
        K = P[:, 0] / (P[0, 0] + r2)
        s = s + K * (z[i] - s[0])
        P = P - np.outer(K, P[0])
        P = 0.5 * (P + P.T)
        if dt[i] < 0:
            s, P = predict(s, P, -dt[i])
        close(L[i, 1:3], s)
        close(L[i, 3:], P.ravel())
