"""The Cython filter kernel (ext/tracking.pyx, through gateway/associate/filter.py) against a
textbook reference written here track by track in plain numpy: the CV Kalman filter,
one IMM cycle (Bar-Shalom & Li: transition by expm of the rate matrix, mixing, model
prediction, combination; model update, likelihood, mode probabilities) and covariance
intersection (against the former numpy closed form of its weight), on random
inputs including dt = 0, negative dt, long gaps, fresh tracks and covariances from 1e-6
to 1e10."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import expm

from gateway import _cycle, _tracking
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


def replaced_update_pairs(f: InteractingMultipleModel, table: TrackTable, rows: np.ndarray,
                          dt: np.ndarray, x: np.ndarray, P: np.ndarray, nu: np.ndarray,
                          s_inv: np.ndarray, R: np.ndarray, meas: np.ndarray, sdps: bool,
                          models: np.ndarray) -> tuple[int, int]:
    """What Tracker._kinematics did before ``_tracking.imm_absorb``: update_tracks on the
    measurements rebuilt from the hypotheses, then the state's time (gateway._cycle)."""
    skipped = f.update_tracks(table, rows, dt, x, P, x[:, :2] + nu, R[meas], s_inv, sdps,
                              models)
    back = _cycle.advance(table.t, np.ascontiguousarray(rows, dtype=np.int64),
                          np.ascontiguousarray(dt, dtype=np.float64))
    return skipped, back


@pytest.mark.parametrize("sdps", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_update_pairs_is_the_code_it_replaced(seed: int, sdps: bool) -> None:
    """The IMM's update_pairs (one kernel: update, store, time) leaves the table as
    update_tracks and the time's advance did, to the bit, and counts the same: fresh and
    old rows, late measurements, a degenerate SDPS covariance, rows in any order."""
    rng = np.random.default_rng(seed)
    f = motion_filter(TrackerParameters())
    assert isinstance(f, InteractingMultipleModel)
    M, n, k = f.models, 24, 15
    tables = []
    for _ in range(2):
        table = TrackTable(capacity=n, models=M)
        table.new(n)
        tables.append(table)
    all_rows = np.arange(n)
    for table in tables:
        r2 = np.random.default_rng(seed + 100)
        table.x[:] = r2.normal(0, 1e4, (n, 4))
        table.P[:] = [random_cov(r2, 4, 1e3) for _ in range(n)]
        old = all_rows[1::2]
        table.xm[old] = table.x[old][:, None] + r2.normal(0, 30, (len(old), M, 4))
        table.Pm[old] = [[random_cov(r2, 4, 1e3) for _ in range(M)] for _ in old]
        table.mu[old] = r2.dirichlet(np.ones(M), len(old))
        table.t[:] = r2.uniform(0, 100, n)
    rows = rng.permutation(n)[:k].astype(np.int64)
    dt = rng.choice(np.array(DTS), k)
    x, P, models = f.predict_tracks(tables[0], rows, dt)
    assert models is not None
    nb = 20
    meas = rng.permutation(nb)[:k].astype(np.int64)
    R = np.array([random_cov(rng, 2, 1e4) for _ in range(nb)])
    R[meas[3]] = 0.0  # not positive definite: an SDPS update not made
    z = x[:, :2] + rng.normal(0, 100, (k, 2))
    nu, s_inv, _ = f.innovation(x, P, z, R[meas])
    got = f.update_pairs(tables[0], rows, dt, x, P, nu, s_inv, R, meas, sdps, models)
    want = replaced_update_pairs(f, tables[1], rows, dt, x, P, nu, s_inv, R, meas, sdps,
                                 models)
    assert got == want and want[1] == int(np.sum(dt < 0))
    assert (want[0] > 0) == sdps
    for name in ("x", "P", "xm", "Pm", "mu", "t"):
        assert np.array_equal(getattr(tables[0], name), getattr(tables[1], name),
                              equal_nan=True), name


def test_update_pairs_refuses_what_does_not_agree() -> None:
    """A row outside the table or a measurement outside the batch is a ValueError."""
    f = motion_filter(TrackerParameters())
    assert isinstance(f, InteractingMultipleModel)
    table = TrackTable(capacity=2, models=f.models)
    rows = table.new(1)
    x, P, models = f.predict_tracks(table, rows, np.ones(1))
    R = np.eye(2)[None] * 100.0
    with pytest.raises(ValueError):
        f.update_pairs(table, rows, np.ones(1), x, P, np.zeros((1, 2)), np.zeros((1, 2, 2)),
                       R, np.array([1]), False, models)
    with pytest.raises(ValueError):
        f.update_pairs(table, np.array([table.capacity]), np.ones(1), x, P,
                       np.zeros((1, 2)), np.zeros((1, 2, 2)), R, np.array([0]), False,
                       models)


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


# -- covariance intersection -------------------------------------------------------------------

def numpy_ci_weight(P: np.ndarray, R: np.ndarray) -> np.ndarray:
    """The former vectorised numpy weight (closed form: the candidates 0, 1 and the roots
    of the derivative of the fused trace), kept here as the kernel's reference."""
    def inv2(a, b, d):
        det = a * d - b * b
        return d / det, -b / det, a / det
    a11, a12, a22 = inv2(P[:, 0, 0], P[:, 0, 1], P[:, 1, 1])
    b11, b12, b22 = inv2(R[:, 0, 0], R[:, 0, 1], R[:, 1, 1])
    d11, d12, d22 = b11 - a11, b12 - a12, b22 - a22
    p, q = a11 + a22, d11 + d22
    r = a11 * a22 - a12 * a12
    s = a11 * d22 + a22 * d11 - 2 * a12 * d12
    u = d11 * d22 - d12 * d12
    A, B, C = q * u, 2 * p * u, p * s - q * r
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = np.sqrt(np.where(B * B - 4 * A * C >= 0, B * B - 4 * A * C, np.nan))
        linear = np.abs(A) < 1e-30 * (np.abs(B) + np.abs(C) + 1e-300)
        r1 = np.where(linear, -C / B, (-B + disc) / (2 * A))
        r2 = np.where(linear, np.nan, (-B - disc) / (2 * A))
        w = np.stack([np.zeros_like(p), np.ones_like(p), r1, r2], axis=1)
        w = np.where((w >= 0) & (w <= 1), w, np.nan)
        f = (p[:, None] + q[:, None] * w) / (r[:, None] + s[:, None] * w
                                             + u[:, None] * w * w)
    f = np.where(np.isfinite(f) & (f > 0), f, np.inf)
    return w[np.arange(len(p)), np.argmin(f, axis=1)]


def numpy_intersect(x: np.ndarray, P: np.ndarray, z: np.ndarray, R: np.ndarray,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Textbook CI per track with np.linalg: fused position information
    (1 - w) A^-1 + w B^-1, the velocity by the track's regression L = P H' A^-1."""
    w = numpy_ci_weight(P, R)
    xs, Ps = np.empty_like(x), np.empty_like(P)
    for i in range(len(x)):
        Ai, Bi = np.linalg.inv(P[i, :2, :2]), np.linalg.inv(R[i])
        Af = np.linalg.inv((1 - w[i]) * Ai + w[i] * Bi)
        af = Af @ ((1 - w[i]) * Ai @ x[i, :2] + w[i] * Bi @ z[i])
        L = P[i, :, :2] @ Ai
        xs[i] = x[i] + L @ (af - x[i, :2])
        Pn = P[i] - L @ (P[i, :2, :2] - Af) @ L.T
        Ps[i] = 0.5 * (Pn + Pn.T)
    return xs, Ps


def random_ci(rng: np.random.Generator, n: int, scale: float,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x = rng.normal(size=(n, 4)) * np.sqrt(scale) * 10
    P = np.stack([random_cov(rng, 4, scale * rng.uniform(0.01, 100)) for _ in range(n)])
    R = np.stack([random_cov(rng, 2, scale * rng.uniform(0.01, 100)) for _ in range(n)])
    z = x[:, :2] + rng.normal(size=(n, 2)) * np.sqrt(scale)
    return x, P, z, R


@pytest.mark.parametrize("scale", SCALES)
def test_covariance_intersection_equals_the_numpy_reference(scale: float) -> None:
    """The kernel's weight is the closed form's (to the bit: the same operations), its
    fused state the textbook CI's; the weight in [0, 1], P exactly symmetric."""
    rng = np.random.default_rng(11)
    x, P, z, R = random_ci(rng, 300, scale)
    w = _tracking.ci_weight(P, R)
    assert np.array_equal(w, numpy_ci_weight(P, R))
    assert np.all((w >= 0) & (w <= 1)) and w.min() < 0.5 < w.max()
    xs, Ps, skipped = ConstantVelocity().intersect(x, P, z, R)
    assert skipped == 0
    xr, Pr = numpy_intersect(x, P, z, R)
    for i in range(len(x)):
        close(xs[i], xr[i])
        close(Ps[i], Pr[i])
    assert np.array_equal(Ps, Ps.transpose(0, 2, 1))


def test_covariance_intersection_weight_minimises_the_fused_trace() -> None:
    """No weight on a fine grid gives a smaller fused position trace than the kernel's."""
    rng = np.random.default_rng(12)
    x, P, z, R = random_ci(rng, 50, 1e4)
    w = _tracking.ci_weight(P, R)
    grid = np.linspace(0, 1, 1001)
    for i in range(len(x)):
        Ai, Bi = np.linalg.inv(P[i, :2, :2]), np.linalg.inv(R[i])
        tr = [np.trace(np.linalg.inv((1 - g) * Ai + g * Bi)) for g in (w[i], *grid)]
        assert tr[0] <= min(tr[1:]) * (1 + 1e-12)


def test_covariance_intersection_leaves_a_degenerate_row_as_it_was() -> None:
    """A position covariance that is singular, indefinite or not finite (the track's or
    the estimate's) has no intersection: that row is left unchanged and counted, its
    weight nan; the other rows of the batch are fused as if alone."""
    rng = np.random.default_rng(13)
    x, P, z, R = random_ci(rng, 6, 1e4)
    R[1] = 0.0                                      # an estimate claiming no error
    R[2] = [[1e4, 2e4], [2e4, 1e4]]                 # indefinite
    R[3, 0, 0] = np.nan
    P[4, :2, :2] = [[1e4, 1e4], [1e4, 1e4]]         # the track's position singular
    P[5, 1, 1] = np.inf
    w = _tracking.ci_weight(P, R)
    assert np.isfinite(w[0]) and np.all(np.isnan(w[1:]))
    xs, Ps, skipped = ConstantVelocity().intersect(x, P, z, R)
    assert skipped == 5
    assert np.array_equal(xs[1:], x[1:]) and np.array_equal(Ps[1:], P[1:])
    x0, P0, _ = ConstantVelocity().intersect(x[:1], P[:1], z[:1], R[:1])
    assert np.array_equal(xs[:1], x0) and np.array_equal(Ps[:1], P0)
    assert not np.array_equal(x0, x[:1])


def test_imm_sdps_update_intersects_every_model_in_the_kernel() -> None:
    """imm_update for an SDPS track: each model's state is the CI of its prediction, the
    mode probabilities those of the Kalman update (the likelihoods do not depend on
    how the state is updated); a degenerate estimate leaves the models as predicted and
    is counted (update_tracks returns it for the tracker)."""
    rng = np.random.default_rng(14)
    f = motion_filter(TrackerParameters())
    assert isinstance(f, InteractingMultipleModel)
    k, M = 7, f.models
    table = TrackTable(capacity=k, models=M)
    rows = table.new(k)
    table.x[rows] = rng.normal(size=(k, 4)) * 1e3
    table.P[rows] = np.stack([random_cov(rng, 4, 1e4) for _ in range(k)])
    dt = rng.uniform(0.5, 5.0, k)
    x, P, models = f.predict_tracks(table, rows, dt)
    z = x[:, :2] + rng.normal(size=(k, 2)) * 100
    R = np.stack([np.eye(2) * 1e4 for _ in range(k)])
    mu, xm, Pm, skipped = _tracking.imm_update(models, z, R, MODE_FLOOR, False)
    mu_k, _, _, _ = _tracking.imm_update(models, z, R, MODE_FLOOR, True)
    assert skipped == 0 and np.array_equal(mu, mu_k)
    packed = models.reshape(k, M, 21)
    xi, Pi, _ = f.intersect(packed[:, :, 1:5].reshape(k * M, 4),
                            packed[:, :, 5:].reshape(k * M, 4, 4), z.repeat(M, axis=0),
                            R.repeat(M, axis=0))
    assert np.array_equal(xm.reshape(k * M, 4), xi)
    assert np.array_equal(Pm.reshape(k * M, 4, 4), Pi)
    R[2] = 0.0
    assert f.update_tracks(table, rows, dt, x, P, z, R, np.zeros((k, 2, 2)), True,
                           models) == M
    assert np.all(np.isfinite(table.x[rows])) and np.all(np.isfinite(table.P[rows]))


def test_covariance_intersection_refuses_shapes_that_do_not_agree() -> None:
    with pytest.raises(ValueError):
        _tracking.ci_weight(np.zeros((2, 4, 4)), np.zeros((3, 2, 2)))
    with pytest.raises(ValueError):
        _tracking.intersect(np.zeros((2, 4)), np.zeros((2, 4, 4)), np.zeros((2, 3)),
                            np.zeros((2, 2, 2)))
    with pytest.raises(ValueError):
        _tracking.intersect(np.zeros((2, 4)), np.zeros((2, 2, 2)), np.zeros((2, 2)),
                            np.zeros((2, 2, 2)))


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


def test_update_pairs_views_follow_the_table() -> None:
    """The filter's views of the table (``_rows_view``) are the table's current arrays:
    kept while the table keeps them, made again when it grows or another table is
    updated; an update always lands in the table it was asked of."""
    f = motion_filter(TrackerParameters())
    assert isinstance(f, InteractingMultipleModel)
    a, b = (TrackTable(capacity=2, models=f.models) for _ in range(2))
    a.new(2)
    b.new(2)
    view = f._rows_view(a)
    assert f._rows_view(a) is view
    assert f._rows_view(b) is not view
    a.new(3)  # grows: new arrays
    grown = f._rows_view(a)
    assert grown.x is a.x and grown.t is a.t and grown is not view
    for table in (a, b, a):
        rows = np.array([1], dtype=np.int64)
        table.x[1] = [1.0, 2.0, 3.0, 4.0]
        table.P[1] = np.eye(4) * 100.0
        table.t[1] = 0.0
        before = table.x.copy()
        x, P, models = f.predict_tracks(table, rows, np.ones(1))
        nu, s_inv, _ = f.innovation(x, P, x[:, :2] + 5.0, np.eye(2)[None] * 100.0)
        f.update_pairs(table, rows, np.ones(1), x, P, nu, s_inv, np.eye(2)[None] * 100.0,
                       np.array([0]), False, models)
        assert not np.array_equal(table.x[1], before[1]) and table.t[1] == 1.0
