"""Predictor and updaters: a constant-velocity Kalman filter, vectorised over tracks.

State ``[x, y, vx, vy]`` in the conformal plane (metres, m/s), covariance 4x4, for many
tracks at once: arrays ``x [n, 4]``, ``P [n, 4, 4]``, ``dt [n]``.

Why constant velocity: airliners fly straight most of the time, and when they turn they
turn at a modest rate (standard rate 3 deg/s at low speed, bank-limited to about 1 deg/s at
cruise: at most ~4.5 m/s^2 sideways).  White-acceleration process noise of spectral density
``q`` (m^2/s^3) covers that: over the few seconds between updates of several radars the
unmodelled manoeuvre stays within the gate.  An IMM (a second, high-q or turning model)
would track turns better; this one is the small, predictable part the rest is built on.

Three ways a measurement enters the track:

* ``update``: a radar plot, the classic Kalman update; plots of different radars have
  independent noise.  (The tracker calls ``update_innovation`` with the prediction and
  innovation its gate already computed, as a Stone Soup hypothesis carries them.)
* ``intersect``: an SDPS track, by covariance intersection.  An SDPS fuses the same radars
  we hear, so its errors correlate with our plots' in a way nobody knows; a Kalman update
  would count the same radar twice and grow overconfident.  CI is consistent for any
  correlation; its weight omega is chosen, per track, to minimise the trace of the fused
  position covariance (closed form for 2x2, below).  The SDPS position says nothing about
  velocity: the velocity follows the fused position through the track's own correlation.
* out of sequence: a plot older than the track's state (radars send a sector late, sources
  interleave).  The filter predicts *backwards* to the measurement time (CV allows negative
  dt) adding Q(|dt|), updates there, and predicts forward again.  An approximation: it
  ignores that the process noise over that interval already shaped the current estimate
  (the exact retrodiction of Bar-Shalom's algorithm A1 would); over the late window of a
  couple of seconds the difference is far below the measurement noise.  Older measurements
  are not the filter's business: the tracker drops and counts them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ConstantVelocity", "LevelFilter", "inverse2", "max_eigen2"]

# Q(dt) = q (|dt|^3/3 _Q_BASIS[0] + dt|dt|/2 _Q_BASIS[1] + |dt| _Q_BASIS[2]), flattened
_Q_BASIS = np.array([
    np.diag([1.0, 1.0, 0.0, 0.0]).ravel(),
    np.array([[0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0]], float).ravel(),
    np.diag([0.0, 0.0, 1.0, 1.0]).ravel()])
_ADJUGATE_SIGN = np.array([[1.0, -1.0], [-1.0, 1.0]])


def inverse2(a: np.ndarray, b: np.ndarray, d: np.ndarray,
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of symmetric 2x2 matrices [[a, b], [b, d]]: (a', b', d', det)."""
    det = a * d - b * b
    return d / det, -b / det, a / det, det


def max_eigen2(a: np.ndarray, b: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Larger eigenvalue of symmetric 2x2 matrices [[a, b], [b, d]]."""
    half = 0.5 * (a + d)
    return half + np.sqrt(np.maximum(0.25 * (a - d) ** 2 + b * b, 0.0))


@dataclass(frozen=True)
class ConstantVelocity:
    """Nearly-constant-velocity model with white acceleration noise.

    ``q``: acceleration spectral density, m^2/s^3 (per axis).  ``initial_speed_sigma_mps``:
    the velocity uncertainty of a track started from a position alone.
    """

    q: float = 6.0
    initial_speed_sigma_mps: float = 200.0

    # -- predict ---------------------------------------------------------------------------

    def predict(self, x: np.ndarray, P: np.ndarray, dt: np.ndarray,
                ) -> tuple[np.ndarray, np.ndarray]:
        """States and covariances ``dt`` seconds later (earlier, if negative):
        ``x' = F x``, ``P' = F P F' + Q(|dt|)`` with F = [[I, dt I], [0, I]] applied by
        blocks (rows, then columns) and Q the white-acceleration noise
        ``q [[|dt|^3/3 I, dt|dt|/2 I], [dt|dt|/2 I, |dt| I]]``.  New arrays."""
        a = np.abs(dt)
        x = x.copy()
        x[:, :2] += dt[:, None] * x[:, 2:]
        d = dt[:, None, None]
        P = P.copy()
        P[:, :2, :] += d * P[:, 2:, :]
        P[:, :, :2] += d * P[:, :, 2:]
        qa = self.q * a
        coeff = np.empty((len(dt), 3))
        coeff[:, 0] = qa * a * a / 3.0
        coeff[:, 1] = qa * dt / 2.0
        coeff[:, 2] = qa
        P += (coeff @ _Q_BASIS).reshape(-1, 4, 4)
        return x, P

    def predict_position(self, x: np.ndarray, P: np.ndarray, dt: np.ndarray,
                         ) -> tuple[np.ndarray, ...]:
        """Predicted position and its covariance (px, py, pxx, pxy, pyy) alone."""
        a = np.abs(dt)
        qa = (self.q / 3.0) * a * a * a
        pxx = P[:, 0, 0] + dt * (2 * P[:, 0, 2] + dt * P[:, 2, 2]) + qa
        pyy = P[:, 1, 1] + dt * (2 * P[:, 1, 3] + dt * P[:, 3, 3]) + qa
        pxy = P[:, 0, 1] + dt * (P[:, 0, 3] + P[:, 1, 2] + dt * P[:, 2, 3])
        return x[:, 0] + x[:, 2] * dt, x[:, 1] + x[:, 3] * dt, pxx, pxy, pyy

    # -- update ----------------------------------------------------------------------------

    @staticmethod
    def innovation(x: np.ndarray, P: np.ndarray, z: np.ndarray, R: np.ndarray,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Innovation nu [n, 2], inverse innovation covariance S^-1 [n, 2, 2] with
        S = H P H' + R, and the Mahalanobis distance nu' S^-1 nu [n] of position
        measurements z against predicted states: what gating needs, and what the update
        needs again (so a hypothesis carries them)."""
        S = P[:, :2, :2] + R
        det = S[:, 0, 0] * S[:, 1, 1] - S[:, 0, 1] * S[:, 1, 0]
        s_inv = S[:, ::-1, ::-1] * (_ADJUGATE_SIGN / det[:, None, None])
        nu = z - x[:, :2]
        d2 = np.einsum("ni,nij,nj->n", nu, s_inv, nu)
        return nu, s_inv, d2

    @staticmethod
    def update_innovation(x: np.ndarray, P: np.ndarray, nu: np.ndarray, s_inv: np.ndarray,
                          ) -> tuple[np.ndarray, np.ndarray]:
        """Kalman update of predicted states by their innovations:
        ``K = P H' S^-1``, ``x + K nu``, ``P - K H P``, made exactly symmetric.

        ``P - K H P`` is symmetric only in exact arithmetic.  Its rounding leaves an
        antisymmetric part, which this update does not damp but amplifies (``innovation``
        inverts S by its adjugate, so an asymmetric P gives the transposed S^-1): by about
        x4 per update of a track fed by one radar every 10 s, from 1e-16 to a covariance
        with a negative eigenvalue after ~30 updates, and a track that then follows its
        noise kilometres off.  Averaging P with its transpose removes it at every update."""
        K = P[:, :, :2] @ s_inv
        x = x + (K @ nu[:, :, None])[:, :, 0]
        P = P - K @ P[:, :2, :]
        return x, 0.5 * (P + P.transpose(0, 2, 1))

    def update(self, x: np.ndarray, P: np.ndarray, z: np.ndarray, R: np.ndarray,
               ) -> tuple[np.ndarray, np.ndarray]:
        """Kalman update with position measurements z [n, 2], covariances R [n, 2, 2]."""
        nu, s_inv, _ = self.innovation(x, P, z, R)
        return self.update_innovation(x, P, nu, s_inv)

    @staticmethod
    def ci_weight(P: np.ndarray, R: np.ndarray) -> np.ndarray:
        """Covariance intersection weight of the measurement, omega in [0, 1], minimising
        trace(((1 - omega) A^-1 + omega B^-1)^-1) with A the track's position covariance and
        B the measurement's.

        With M(w) = A^-1 + w D (D = B^-1 - A^-1), trace(M^-1) = tr M / det M =
        (p + q w) / (r + s w + u w^2), whose derivative vanishes where
        q u w^2 + 2 p u w + (p s - q r) = 0.  The minimum is at a root in [0, 1] or an end.
        """
        a11, a12, a22, _ = inverse2(P[:, 0, 0], P[:, 0, 1], P[:, 1, 1])
        b11, b12, b22, _ = inverse2(R[:, 0, 0], R[:, 0, 1], R[:, 1, 1])
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

    def intersect(self, x: np.ndarray, P: np.ndarray, z: np.ndarray, R: np.ndarray,
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Covariance intersection of the tracks' positions with position estimates z, R.

        CI fuses the position (A = P's position block, B = R):
        ``Af = ((1 - w) A^-1 + w B^-1)^-1``, ``af = Af ((1 - w) A^-1 a + w B^-1 z)``.  The
        velocity follows the position through the track's own regression of state on
        position, ``L = P H' A^-1``: ``x += L (af - a)``, ``P -= L (A - Af) L'``, which is
        the Kalman update by the one measurement noise that would give exactly Af.  (Applying
        CI's inflation ``P / (1 - w)`` to the whole state instead would throw the velocity
        away whenever w nears 1: the SDPS says nothing about velocity.)
        """
        w = self.ci_weight(P, R)
        a11, a12, a22, _ = inverse2(P[:, 0, 0], P[:, 0, 1], P[:, 1, 1])
        b11, b12, b22, _ = inverse2(R[:, 0, 0], R[:, 0, 1], R[:, 1, 1])
        v = 1 - w
        f11, f12, f22, _ = inverse2(v * a11 + w * b11, v * a12 + w * b12, v * a22 + w * b22)
        ax, ay = x[:, 0], x[:, 1]
        zx, zy = z[:, 0], z[:, 1]
        gx = v * (a11 * ax + a12 * ay) + w * (b11 * zx + b12 * zy)
        gy = v * (a12 * ax + a22 * ay) + w * (b12 * zx + b22 * zy)
        delta = np.stack([f11 * gx + f12 * gy - ax, f12 * gx + f22 * gy - ay], axis=1)
        Ai = np.stack([np.stack([a11, a12], axis=1), np.stack([a12, a22], axis=1)], axis=1)
        L = P[:, :, :2] @ Ai  # [n, 4, 2]; its position rows are the identity
        shrink = P[:, :2, :2].copy()
        shrink[:, 0, 0] -= f11
        shrink[:, 0, 1] -= f12
        shrink[:, 1, 0] -= f12
        shrink[:, 1, 1] -= f22
        x = x + np.einsum("nij,nj->ni", L, delta)
        P = P - L @ shrink @ L.transpose(0, 2, 1)
        return x, 0.5 * (P + P.transpose(0, 2, 1))

    def initiate(self, z: np.ndarray, R: np.ndarray, v: np.ndarray, v_var: np.ndarray,
                 ) -> tuple[np.ndarray, np.ndarray]:
        """New states from single measurements: position z, velocity v [n, 2] where the
        source gave one (variance v_var), else at rest with the initial speed sigma."""
        n = len(z)
        known = np.isfinite(v_var)
        x = np.zeros((n, 4))
        x[:, :2] = z
        x[:, 2:] = np.where(known[:, None], v, 0.0)
        P = np.zeros((n, 4, 4))
        P[:, :2, :2] = R
        var = np.where(known, v_var, self.initial_speed_sigma_mps ** 2)
        P[:, 2, 2] = P[:, 3, 3] = var
        return x, P


@dataclass(frozen=True)
class LevelFilter:
    """Flight level and its rate: a two-state filter per track.

    Mode C reports 100 ft steps, Mode S 25 ft: the rate of climb from differences of
    single reports is noise.  ``q``: vertical acceleration density (FL^2/s^3);
    ``sigma_fl``: one report's noise (FL).  State per track ``[fl, rate (FL/s)]`` and its
    2x2 covariance, as arrays [n, 2] and [n, 2, 2]; a track without a level yet has nan.
    """

    q: float = 0.002
    sigma_fl: float = 0.3
    initial_rate_sigma: float = 2000.0 / 6000.0  # FL/s (2000 fpm)

    def step(self, s: np.ndarray, P: np.ndarray, dt: np.ndarray, z: np.ndarray) -> None:
        """Predict by dt and update with reported levels z (all finite), in place on the
        states s [n, 2] and covariances P [n, 2, 2] (views are fine); tracks without a
        level (nan) start at their report, at rest."""
        a = np.abs(dt)
        s[:, 0] += dt * s[:, 1]
        P[:, 0, :] += dt[:, None] * P[:, 1, :]
        P[:, :, 0] += dt[:, None] * P[:, :, 1]
        qa = self.q * a
        P[:, 0, 0] += qa * a * a / 3.0
        P[:, 0, 1] += qa * dt / 2.0
        P[:, 1, 0] = P[:, 0, 1]
        P[:, 1, 1] += qa
        K = P[:, :, 0] / (P[:, 0, 0] + self.sigma_fl ** 2)[:, None]
        s += K * (z - s[:, 0])[:, None]
        P -= K[:, :, None] * P[:, None, 0, :]
        fresh = (s[:, 0] != s[:, 0]).nonzero()[0]
        if len(fresh):
            s[fresh, 0], s[fresh, 1] = z[fresh], 0.0
            P[fresh] = np.diag([self.sigma_fl ** 2, self.initial_rate_sigma ** 2])
