"""Predictors and updaters: a constant-velocity Kalman filter and an IMM built on it,
vectorised over tracks.

State ``[x, y, vx, vy]`` in the conformal plane (metres, m/s), covariance 4x4, for many
tracks at once: arrays ``x [n, 4]``, ``P [n, 4, 4]``, ``dt [n]``.

Why constant velocity: airliners fly straight most of the time, and when they turn they
turn at a modest rate (standard rate 3 deg/s at low speed, bank-limited to about 1 deg/s at
cruise: at most ~4.5 m/s^2 sideways).  White-acceleration process noise of spectral density
``q`` (m^2/s^3) covers that: over the few seconds between updates of several radars the
unmodelled manoeuvre stays within the gate.  But one q is a compromise: large enough for
turns, it lets straight flight follow the plots' noise.  ``InteractingMultipleModel``
(the tracker's default) runs a quiet CV and coordinated turns side by side instead, on
the same state, and weighs them by how well each predicted the plots.

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

The per-track algebra (prediction, innovation, Kalman update, the IMM's mixing, model
likelihoods and moment matching) runs in the Cython kernel ``gateway._tracking``
(ext/tracking.pyx), one call per batch: a radar sector brings ~18 plots, and numpy's cost
per call, not per element, dominated; covariance intersection too, inside the IMM's
update for every model.  This module keeps the models' parameters and the table
bookkeeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from gateway import _cycle, _tracking
from gateway.associate.tracks import views_of

if TYPE_CHECKING:
    from gateway.associate.tracks import TrackTable

__all__ = ["ConstantVelocity", "InteractingMultipleModel", "LevelFilter", "as_f64", "max_eigen2"]

MODE_FLOOR = 1e-9  # the least probability an IMM model keeps


def as_f64(a: np.ndarray) -> np.ndarray:
    """float64, C-contiguous (the kernel's memoryviews); no copy if it already is."""
    return np.ascontiguousarray(a, dtype=np.float64)


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
    # (turn rate 0, q, no turn limit) as the kernel's model arrays
    _cv: tuple[np.ndarray, np.ndarray, np.ndarray] = field(init=False, repr=False,
                                                          compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_cv", (np.zeros(1), np.array([float(self.q)]),
                                         np.array([np.inf])))

    # -- predict ---------------------------------------------------------------------------

    def predict(self, x: np.ndarray, P: np.ndarray, dt: np.ndarray,
                ) -> tuple[np.ndarray, np.ndarray]:
        """States and covariances ``dt`` seconds later (earlier, if negative):
        ``x' = F x``, ``P' = F P F' + Q(|dt|)`` with F = [[I, dt I], [0, I]] and Q the
        white-acceleration noise ``q [[|dt|^3/3 I, dt|dt|/2 I], [dt|dt|/2 I, |dt| I]]``.
        New arrays."""
        w, q, limit = self._cv
        xm, Pm = _tracking.predict(as_f64(x)[:, None], as_f64(P)[:, None], as_f64(dt), w, q, limit)
        return xm[:, 0], Pm[:, 0]

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
        return _tracking.innovation(as_f64(x), as_f64(P), as_f64(z), as_f64(R))

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
        return _tracking.kalman_update(as_f64(x), as_f64(P), as_f64(nu), as_f64(s_inv))

    def update(self, x: np.ndarray, P: np.ndarray, z: np.ndarray, R: np.ndarray,
               ) -> tuple[np.ndarray, np.ndarray]:
        """Kalman update with position measurements z [n, 2], covariances R [n, 2, 2]."""
        nu, s_inv, _ = self.innovation(x, P, z, R)
        return self.update_innovation(x, P, nu, s_inv)

    @staticmethod
    def ci_weight(P: np.ndarray, R: np.ndarray) -> np.ndarray:
        """Covariance intersection weight of the measurement, omega in [0, 1], minimising
        trace(((1 - omega) A^-1 + omega B^-1)^-1) with A the track's position covariance and
        B the measurement's; nan where A or B is not positive definite (no intersection).

        With M(w) = A^-1 + w D (D = B^-1 - A^-1), trace(M^-1) = tr M / det M =
        (p + q w) / (r + s w + u w^2), whose derivative vanishes where
        q u w^2 + 2 p u w + (p s - q r) = 0.  The minimum is at a root in [0, 1] or an end
        (the kernel ``gateway._tracking`` evaluates the four candidates per track).
        """
        return _tracking.ci_weight(as_f64(P), as_f64(R))

    def intersect(self, x: np.ndarray, P: np.ndarray, z: np.ndarray, R: np.ndarray,
                  ) -> tuple[np.ndarray, np.ndarray, int]:
        """Covariance intersection of the tracks' positions with position estimates z, R:
        new x, P, and how many rows were left unchanged because a position covariance (the
        track's or the estimate's) was not positive definite: CI has no answer then, and
        an estimate that claims no error must not pull a track onto itself.

        CI fuses the position (A = P's position block, B = R):
        ``Af = ((1 - w) A^-1 + w B^-1)^-1``, ``af = Af ((1 - w) A^-1 a + w B^-1 z)``.  The
        velocity follows the position through the track's own regression of state on
        position, ``L = P H' A^-1``: ``x += L (af - a)``, ``P -= L (A - Af) L'``, which is
        the Kalman update by the one measurement noise that would give exactly Af.  (Applying
        CI's inflation ``P / (1 - w)`` to the whole state instead would throw the velocity
        away whenever w nears 1: the SDPS says nothing about velocity.)  P comes out
        exactly symmetric.
        """
        return _tracking.intersect(as_f64(x), as_f64(P), as_f64(z), as_f64(R))

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

    # -- on the track table (the interface the gater and the tracker use) -------------------

    @property
    def models(self) -> int:
        """Per-model states the table keeps for this filter: none, the track's state is
        the filter's."""
        return 0

    def imm_kernel(self) -> tuple[np.ndarray, ...] | None:
        """The IMM's parameters as the kernels take them (mu0, w, q, limit, ev, V, Vi),
        for a gate that predicts and measures in its own kernel (ext/imm.pxi: the code of
        ``predict_tracks`` and ``innovation``); None where those are other code (this
        filter's, or a subclass's that changes them)."""
        return None

    def predict_tracks(self, tracks: TrackTable, rows: np.ndarray, dt: np.ndarray,
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The tracks' states predicted by dt (what the gate judges a measurement on), and
        what else the update will need of that prediction (a multiple-model filter's
        models; None here)."""
        x, P = self.predict(tracks.x[rows], tracks.P[rows], dt)
        return x, P, None

    def update_tracks(self, tracks: TrackTable, rows: np.ndarray, dt: np.ndarray,
                      x: np.ndarray, P: np.ndarray, z: np.ndarray, R: np.ndarray,
                      s_inv: np.ndarray, sdps: bool, models: np.ndarray | None = None,
                      ) -> int:
        """Update the tracks ``rows`` with measurements z, R taken dt after their state
        time, from the prediction x, P (and S^-1, and ``models``: what ``predict_tracks``
        gave besides) their hypotheses carry: Kalman update for plots, covariance
        intersection for SDPS tracks; a late measurement (dt < 0) is used at its time and
        the state brought back to the present.  Writes the table's x and P (the tracker
        keeps the time).  Returns how many SDPS updates were not made (a covariance not
        positive definite: see ``intersect``), for the tracker to count."""
        skipped = 0
        if sdps:
            x, P, skipped = self.intersect(x, P, z, R)
        else:
            x, P = self.update_innovation(x, P, z - x[:, :2], s_inv)
        back = (dt < 0).nonzero()[0]
        if len(back):
            x[back], P[back] = self.predict(x[back], P[back], -dt[back])
        tracks.x[rows] = x
        tracks.P[rows] = P
        return skipped

    def update_pairs(self, tracks: TrackTable, rows: np.ndarray, dt: np.ndarray,
                     x: np.ndarray, P: np.ndarray, nu: np.ndarray, s_inv: np.ndarray,
                     R: np.ndarray, meas: np.ndarray, sdps: bool,
                     models: np.ndarray | None = None) -> tuple[int, int]:
        """The tracker's update of the pairs it chose, from their hypotheses: track
        ``rows`` by the measurements ``z = x[:, :2] + nu`` (prediction plus innovation)
        with covariances ``R[meas]`` (R: the batch's), as ``update_tracks``; then the
        table's time of the state, ``fmax(t, t + dt)`` (a late measurement's update leaves
        it where it was).  Returns (SDPS updates not made, late measurements used)."""
        skipped = self.update_tracks(tracks, rows, dt, x, P, x[:, :2] + nu, R[meas], s_inv,
                                     sdps, models)
        back = _cycle.advance(tracks.t, np.ascontiguousarray(rows, dtype=np.int64),
                              as_f64(dt))
        return skipped, back


@dataclass(frozen=True)
class InteractingMultipleModel(ConstantVelocity):
    """An IMM of linear models on the same state ``[x, y, vx, vy]``, vectorised over tracks.

    Each model is a turn rate ``w`` (rad/s, 0: constant velocity) and a white-acceleration
    density ``q``: a coordinated turn at a known rate is linear in this state, so every
    model is a Kalman filter and the IMM is exact up to its mixing.  The default set is a
    quiet CV (straight flight smoothed hard: most of an airliner's life) and coordinated
    turns at +w and -w (standard rate, 3 deg/s; a turn at another rate is covered by their
    noise and by their mixing with the CV).  Mode switching is a continuous-time Markov
    chain: the models' mean sojourns ``sojourn_s`` (the CV's, each turn's) give the rates;
    a jump from CV goes to either turn alike, a turn ends in CV.  Over an interval dt the
    transition matrix is ``expm(G dt)`` (G the rate matrix, diagonalised once), so updates
    of several radars at irregular intervals switch as much as one every 10 s would.

    A turning model turns for at most ``turn_limit_s`` of an interval, flying straight
    before that (a turn at the end of a gap, not through it).  The IMM holds each model's
    mode over the whole interval, which between plots (a few seconds, a radar's
    rotation) is what it is built for; over a gap (a coasting message, the periodic
    output, 100 s in a cone of silence) a turning model would circle (300 degrees), and
    the mixture of the two turns fell 1.5 km behind a hidden straight flight.  Which way
    an aircraft turned in a gap, if it did, the plots cannot tell: the turning models'
    probabilities and noise carry that.  The limit, the slowest radar's rotation (12 s):
    no interval between plots of a track that is seen is longer, so only a gap is
    affected.  (Their sojourn, 60 s by default, would still turn 180 degrees: 940 m
    behind the hidden flight; 12 s, 99 m; the combined state carried straight on, 89 m.)

    One cycle for a track (Bar-Shalom & Li): mixing (each model restarts from the
    probability-weighted mix of all models, by the chance it was each just before),
    prediction of each model, the gate on the combined prediction (moment matching),
    then the update of every model, its mode probability scaled by its likelihood, and the
    combined estimate by moment matching.  The combined state and covariance are what the
    table's ``x``/``P`` hold (gating, output, merges read them); per-model states live in
    the table's ``xm``/``Pm``/``mu`` (``models`` of them).

    It is a ConstantVelocity too, with ``q`` the largest of the models' (the tracker
    builds it so): the Kalman and CI algebra are shared, and where only a combined state
    is at hand and nothing is updated (a merge's check) its CV prediction stands in for
    the mixture's.

    An SDPS track enters each model by covariance intersection (as in ConstantVelocity,
    inside the kernel's update); its likelihood under each model still weighs the modes.
    A late measurement (dt < 0) is used at its time, like the CV filter's, and each model
    is brought back to the present.
    """

    turn_rates: tuple[float, ...] = (0.0, float(np.radians(3.0)), -float(np.radians(3.0)))
    model_q: tuple[float, ...] = (0.3, 1.5, 1.5)
    sojourn_s: tuple[float, ...] = (120.0, 20.0, 20.0)
    initial: tuple[float, ...] = (0.8, 0.1, 0.1)
    turn_limit_s: float = 12.0  # the longest a turning model turns in one prediction
    # derived in __post_init__: the rate matrix's eigen-decomposition, turn rates,
    # densities and initial probabilities as arrays
    _eig: tuple[np.ndarray, np.ndarray, np.ndarray] = field(init=False, repr=False,
                                                           compare=False)
    _w: np.ndarray = field(init=False, repr=False, compare=False)
    _q: np.ndarray = field(init=False, repr=False, compare=False)
    _mu0: np.ndarray = field(init=False, repr=False, compare=False)
    _limit: np.ndarray = field(init=False, repr=False, compare=False)
    _kernel: tuple[np.ndarray, ...] = field(init=False, repr=False, compare=False)
    # imm_kernel's answer, decided once (the class does not change)
    _imm: tuple[np.ndarray, ...] | None = field(init=False, repr=False, compare=False)
    # update_pairs' views of the table it last updated (see _rows_view)
    _rows: _tracking.ImmRows | None = field(default=None, init=False, repr=False,
                                            compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        m = len(self.turn_rates)
        if not (len(self.model_q) == len(self.sojourn_s) == len(self.initial) == m >= 1):
            raise ValueError("every model needs a turn rate, a q, a sojourn and a probability")
        if not self.turn_limit_s > 0:
            raise ValueError("turn_limit_s must be positive")
        # rate matrix: leaving model i at 1/sojourn_i; from a straight model (w = 0) to
        # each turning one alike, from a turning model to the straight ones alike (all
        # others alike if the set has no straight or no turning model)
        w = np.asarray(self.turn_rates, float)
        straight = w == 0
        G = np.zeros((m, m))
        for i in range(m):
            to = (~straight if straight[i] else straight).copy()
            to[i] = False
            if not to.any():
                to = np.ones(m, bool)
                to[i] = False
            if to.any():
                G[i, to] = 1.0 / self.sojourn_s[i] / to.sum()
                G[i, i] = -1.0 / self.sojourn_s[i]
        ev, V = np.linalg.eig(G)
        object.__setattr__(self, "_eig", (as_f64(ev.real), as_f64(V.real),
                                          as_f64(np.linalg.inv(V).real)))
        object.__setattr__(self, "_w", w)
        object.__setattr__(self, "_limit", np.where(w != 0, self.turn_limit_s, np.inf))
        object.__setattr__(self, "_q", np.asarray(self.model_q, float))
        object.__setattr__(self, "_mu0", np.asarray(self.initial, float)
                           / float(np.sum(self.initial)))
        object.__setattr__(self, "_kernel", (self._mu0, self._w, self._q, self._limit,
                                             *self._eig))
        cls = type(self)
        own = (cls.predict_tracks is InteractingMultipleModel.predict_tracks
               and cls.innovation is ConstantVelocity.innovation)
        object.__setattr__(self, "_imm", self._kernel if own else None)

    @property
    def models(self) -> int:
        """How many models (the table keeps a state of each per track)."""
        return len(self.turn_rates)

    def imm_kernel(self) -> tuple[np.ndarray, ...] | None:
        """ConstantVelocity.imm_kernel: this filter's, unless a subclass changed its
        prediction or innovation (decided when it was made: the gate asks every batch)."""
        return self._imm

    # -- on the track table -------------------------------------------------------------------

    def predict_tracks(self, tracks: TrackTable, rows: np.ndarray, dt: np.ndarray,
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The combined prediction by dt (what the gate judges a measurement on), and the
        models' own predictions packed [k, M * 21] (probability, state, covariance) for
        the update.

        Mixing (Bar-Shalom & Li): model j restarts from x0_j = sum_i w_ij x_i,
        P0_j = sum_i w_ij (P_i + e e'), e = x_i - x0_j, with w_ij the chance the track was
        in model i given it is in j after the Markov transition over |dt|; computed from
        the states less their mean (small numbers: no cancellation).  Then each model is
        predicted (a turn limited to ``turn_limit_s``) and the mixture's moments matched.
        A row without per-model states yet (a new track: the initiator writes only x and
        P) starts every model there, at the initial probabilities."""
        ev, V, Vi = self._eig
        return _tracking.imm_predict(tracks.x, tracks.P, tracks.xm, tracks.Pm, tracks.mu,
                                     np.ascontiguousarray(rows, dtype=np.int64), as_f64(dt),
                                     self._mu0, self._w, self._q, self._limit, ev, V, Vi)

    def update_tracks(self, tracks: TrackTable, rows: np.ndarray, dt: np.ndarray,
                      x: np.ndarray, P: np.ndarray, z: np.ndarray, R: np.ndarray,
                      s_inv: np.ndarray, sdps: bool, models: np.ndarray | None = None,
                      ) -> int:
        """Every model updated by z, R (taken dt after the state time; an SDPS track's by
        covariance intersection), the mode
        probabilities by the models' likelihoods (each kept above MODE_FLOOR: a model
        whose probability underflowed to 0 would mix from nothing at the next update with
        dt = 0, two sources at one time), the combined estimate into the table's x and P.
        The models' predictions come from ``models`` (what ``predict_tracks`` packed for
        the gate), else are made again; the combined x, P, s_inv are not needed.  A late
        measurement's models are brought back to the present.  Returns how many SDPS
        updates of a model were not made (see ``intersect``)."""
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        dt, z, R = as_f64(dt), as_f64(z), as_f64(R)
        if models is None:
            models = self.predict_tracks(tracks, rows, dt)[2]
        assert models is not None
        mu, xm, Pm, skipped = _tracking.imm_update(as_f64(models), z, R, MODE_FLOOR, not sdps)
        _tracking.imm_store(mu, xm, Pm, dt, self._w, self._q, self._limit, tracks.x,
                            tracks.P, tracks.xm, tracks.Pm, tracks.mu, rows)
        return int(skipped)

    def update_pairs(self, tracks: TrackTable, rows: np.ndarray, dt: np.ndarray,
                     x: np.ndarray, P: np.ndarray, nu: np.ndarray, s_inv: np.ndarray,
                     R: np.ndarray, meas: np.ndarray, sdps: bool,
                     models: np.ndarray | None = None) -> tuple[int, int]:
        """ConstantVelocity.update_pairs in one kernel call (``_tracking.imm_absorb``:
        ``update_tracks``' update and store and the time, without the arrays between
        them; tests/test_tracking_kernel.py holds it to that code, to the bit).  A filter
        with another ``update_tracks`` gets the generic code."""
        if type(self).update_tracks is not InteractingMultipleModel.update_tracks:
            return super().update_pairs(tracks, rows, dt, x, P, nu, s_inv, R, meas, sdps,
                                        models)
        if models is None:
            models = self.predict_tracks(tracks, rows, dt)[2]
        assert models is not None
        skipped, back = _tracking.imm_absorb_view(
            self._rows_view(tracks), as_f64(models), x, nu, R, meas, dt, MODE_FLOOR,
            not sdps, rows)
        return int(skipped), int(back)

    def _rows_view(self, tracks: TrackTable) -> _tracking.ImmRows:
        """The update's views of the table's IMM columns and state times and of this
        filter's w, q, limit, made again only when the table made new arrays (it grew, or
        is another table): each typed argument costs the kernel half a microsecond at
        every call."""
        view = views_of(self._rows, _tracking.ImmRows, tracks.x, tracks.P, tracks.xm,
                        tracks.Pm, tracks.mu, tracks.t, self._w, self._q, self._limit)
        if view is not self._rows:
            object.__setattr__(self, "_rows", view)
        return view


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
    # (q, sigma_fl, initial_rate_sigma) as ``kernel`` gives them; None: another step
    _kernel: tuple[float, float, float] | None = field(init=False, repr=False,
                                                       compare=False)

    def __post_init__(self) -> None:
        cls = type(self)
        plain = cls.step is LevelFilter.step and cls.absorb is LevelFilter.absorb
        object.__setattr__(self, "_kernel", (float(self.q), float(self.sigma_fl),
                                             float(self.initial_rate_sigma))
                           if plain else None)

    def kernel(self) -> tuple[float, float, float] | None:
        """The parameters (q, sigma_fl, initial_rate_sigma) for a kernel that steps the
        table's level rows with ``absorb``'s own code (ext/level.pxi: the tracker's
        bookkeeping kernel does it in the call it makes anyway, ``_cycle.absorb_view``);
        None where a subclass changed ``step`` or ``absorb``."""
        return self._kernel

    def step(self, s: np.ndarray, P: np.ndarray, dt: np.ndarray, z: np.ndarray) -> None:
        """Predict by dt and update with reported levels z (all finite), in place on the
        states s [n, 2] and covariances P [n, 2, 2] (views are fine); tracks without a
        level (nan) start at their report, at rest.

        A report older than the state (dt < 0: another radar's, a sector late) is used at
        its time and the state brought forward again, so the state stays at the latest
        report's time (which the tracker keeps): left in the past, a climbing track would
        lag by its rate times the delay from then on.  The update keeps P symmetric (see
        ConstantVelocity.update_innovation)."""
        _tracking.level_step(s, P, as_f64(dt), as_f64(z), self.q, self.sigma_fl,
                             self.initial_rate_sigma)

    def absorb(self, level: np.ndarray, rows: np.ndarray, z: np.ndarray,
               t: np.ndarray) -> None:
        """The tracker's use of ``step``, in place on the table's packed level rows
        ``level[rows]`` (see tracks.LEVEL_*): the reports z (nan: none, skipped) at times
        t, each a step by its time since the row's latest report (0 for a row without
        one); the row's latest report time then the later of both, and its latest level z
        unless the report is older (another radar's, late).  One kernel call: gathering,
        stepping and scattering the rows of a ~30-track cycle with numpy cost about ten
        calls (tests/test_cycle_kernel.py holds it to that numpy code, to the bit).  A
        filter with another ``step`` gets the numpy code (``_absorb_numpy``)."""
        if type(self).step is not LevelFilter.step:
            self._absorb_numpy(level, rows, z, t)
            return
        _tracking.level_rows(level, np.ascontiguousarray(rows, dtype=np.int64), as_f64(z),
                             as_f64(t), self.q, self.sigma_fl, self.initial_rate_sigma)

    def _absorb_numpy(self, level: np.ndarray, rows: np.ndarray, z: np.ndarray,
                      t: np.ndarray) -> None:
        """``absorb`` by ``step`` on numpy's gathered rows (the kernel's reference)."""
        has_fl = (z == z).nonzero()[0]
        if len(has_fl) == 0:
            return
        if len(has_fl) < len(z):
            rows, z, t = rows[has_fl], z[has_fl], t[has_fl]
        L = level[rows]
        dt = t - L[:, 6]
        dt[dt != dt] = 0.0
        self.step(L[:, 0:2], L[:, 2:6].reshape(-1, 2, 2), dt, z)
        L[:, 6] = np.fmax(L[:, 6], t)
        L[:, 7] = np.where(dt >= 0, z, L[:, 7])  # not an older one
        level[rows] = L
