"""Radar registration: each radar's range bias, range gain, azimuth bias and time-stamp
offset, estimated online from the aircraft several radars see (sans-IO).

Why: every radar has a systematic error (tens of metres in range, hundredths of a degree in
azimuth: 35 m across at 100 km per 0.02 degree) and sees each aircraft from its own side, so
uncorrected biases go straight into the picture and smear the fusion.  ARTAS and SASS-C
estimate them from the traffic itself; so does this.

How.  A Mode S address makes the pairing of two radars' plots certain.  For each Mode S
plot the tracker associated, the estimator keeps, per address, the last *raw* (uncorrected)
plot of each radar.  When radar i reports an address that radar j reported less than
``registration_pair_window_s`` ago, j's plot is moved to i's time with the track's velocity
and the difference ``d = p_i - p_j`` is, to first order, linear in the two radars' bias
vectors ``beta = (range bias, range gain - 1, azimuth bias, time offset)``:

    p_measured - p_true = H beta,   H = [f k u, f k rho u, g k w, -v]

with ``u`` the line of sight in the plane (unit), ``w`` its clockwise perpendicular (the
direction azimuth grows), ``rho`` the slant range, ``g k`` the plot's ground distance in the
plane, ``k`` the plane's scale, ``f`` = slant/ground (a slant-range error moves the plot
that much more on the ground) and ``v`` the velocity (a stamp ``tau`` late puts the plot
where the aircraft was ``tau`` before).  So ``d = H_i beta_i - H_j beta_j + noise`` with the
noise ``R_i + R_j`` (the radars' own polar noise, no bias allowance) plus the velocity's
uncertainty and a manoeuvre allowance over the time moved.  The normal equations of all
radars are accumulated jointly, forgotten exponentially in data time
(``registration_forget_s``: a drifting bias is followed, old geometry fades) and solved with
a weak zero-mean prior every ``registration_solve_every`` pairs (the prior also pins what
pairs cannot see: a time offset common to all radars).  A pair whose residual against the
current estimate fails a chi-square gate, or whose difference exceeds a hard cap, is
rejected (a second aircraft squawking the same address, a garbled plot).

The unknowns are scaled to metres (gain and azimuth at ``REFERENCE_M``, time at
``REFERENCE_MPS``) so that the normal matrix is well conditioned.

Corrections: once a radar has ``registration_min_pairs`` (forgotten) pairs, its plots are
corrected before association (``correct``): moved back along and across their line of sight
and their time moved back by the offset; the tracker's plot covariance then carries the
estimate's uncertainty instead of the default bias allowance.  Learning always uses the raw
plots, so the correction does not feed back into the estimate.

Bounded: the per-address memory holds at most ``registration_max_addresses`` addresses and
forgets plots older than the pairing window; the normal equations are 4 unknowns per
source the tracker has (at most ``Sources.limit``).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from gateway._columns import correct_plots
from gateway._registration import (
    keep_cycle,
    learn_gate,
    learn_sums,
    learn_terms,
    pair_columns,
    pair_plots,
)
from gateway.associate.measurements import MODES, MeasurementModel, Measurements, SourceKey
from gateway.associate.parameters import TrackerParameters
from gateway.messages import RadarRef
from gateway.messages import Registration as Registration_

__all__ = ["Estimate", "Registration", "REFERENCE_M", "REFERENCE_MPS"]

REFERENCE_M = 100_000.0  # gain and azimuth unknowns are the error at this range, metres
REFERENCE_MPS = 250.0  # the time offset unknown is the error at this speed, metres
NP = 4  # unknowns per radar: range bias, gain - 1, azimuth bias, time offset
# one stored plot: t, x, y, H's three geometric columns (2 x 3), R (xx, xy, yy)
_T, _X, _Y, _H, _R = 0, 1, 2, slice(3, 9), slice(9, 12)
_RECORD = 12
_KEPT = _RECORD + 3  # a plot kept for _work: its record, its track's velocity, variance


@dataclass(frozen=True)
class Estimate:
    """One radar's registration, in the shared format's units, one sigma for each."""

    sac: int
    sic: int
    range_bias_m: float
    range_gain: float
    azimuth_bias_deg: float
    time_offset_s: float
    range_bias_sigma_m: float
    range_gain_sigma: float
    azimuth_bias_sigma_deg: float
    time_offset_sigma_s: float
    pairs: int  # pairs used, forgotten as the equations are (rounded)
    established: bool  # enough pairs: its plots are corrected


class Registration:
    """The online estimator of the radars ``model`` reads (its source indices, its radars'
    noise).  The tracker calls ``before`` with each batch's measurements (corrects them,
    keeps the raw plots) and ``after`` with each association cycle's outcome (learns); the
    parts (``correct``, ``observe``, ``solve``) work alone too."""

    def __init__(self, parameters: TrackerParameters, model: MeasurementModel) -> None:
        self.p = p = parameters
        self.model = model
        self.noise = model.radar_noise
        self.prior = np.array([p.registration_prior_range_m,
                               p.registration_prior_gain * REFERENCE_M,
                               np.radians(p.registration_prior_azimuth_deg) * REFERENCE_M,
                               p.registration_prior_time_s * REFERENCE_MPS]) ** -2.0
        self.n = 0  # sources covered by the equations
        self.N = np.zeros((0, 0))
        self.b = np.zeros(0)
        self.pairs = np.zeros(0)  # forgotten pair count per source
        self.theta = np.zeros(0)  # the estimate (scaled unknowns)
        self.P = np.zeros((0, 0))  # its covariance
        self.established = np.zeros(0, dtype=bool)
        self.t_forget = -np.inf  # data time the equations were last forgotten to
        self.since_solve = 0
        self.rejected = 0
        self.accepted = 0
        self.solves = 0
        # per address: each radar's last plot (time, record: _RECORD float64 as bytes)
        self._last: OrderedDict[int, dict[int, tuple[float, bytes]]] = OrderedDict()
        # Mode S plots not yet worked on (observe), ``_plot_count`` of them; the
        # ``_rows`` of them with a usable geometry are written as they come into rows of
        # two buffers (gateway._registration.keep_cycle): numbers (the record, velocity x,
        # y, its variance) and (source, address); grown when a cycle does not fit
        self._num = np.empty((0, _KEPT))
        self._ids = np.empty((0, 2), dtype=np.int64)
        self._plot_count = 0
        self._rows = 0
        # per source, what does not change (``after`` and ``correct`` run every cycle):
        # its radar's noise (range m^2, azimuth rad^2), and while it is established its
        # correction (range bias m, gain - 1, azimuth bias rad, time offset s)
        self._noise: dict[int, tuple[float, float]] = {}
        self._shift: dict[int, tuple[float, float, float, float]] = {}
        self._per_cycle = p.registration_plots_per_cycle
        self._learn_batch = p.registration_learn_batch
        self._rate = 0.0  # Mode S plots per cycle, on average (registration_plots_per_cycle)
        self._next_output = -np.inf  # data time of the next periodic publication

    def due(self, now: float) -> list[Registration_]:
        """The ``registration`` message of every radar with pairs, when a publication is
        due at data time ``now`` (every ``registration_output_period_s``, on multiples of
        it, the first after the first batch's earliest plot); else nothing.

        The schedule starts from the data (``before``), not from the first call: a live
        run's first call comes after a chunk of datagrams of whatever size the socket
        gave, a replay's after a larger one, and a first call on either side of a
        multiple of the period put their publications a whole period apart."""
        if not now >= self._next_output:
            return []
        first = self._next_output == -np.inf  # asked before any data: from now on
        self._next_output = self._after(now)
        return [] if first else self.messages(now)

    def _after(self, t: float) -> float:
        """The first multiple of the publication period after data time ``t``."""
        period = self.p.registration_output_period_s
        return float((np.floor(t / period) + 1) * period)

    def messages(self, t: float) -> list[Registration_]:
        """Every radar's estimate now, as shared-format messages stamped ``t``."""
        return [Registration_(
            t=t, src=RadarRef(sac=e.sac, sic=e.sic), range_bias_m=e.range_bias_m,
            range_gain=e.range_gain, azimuth_bias_deg=e.azimuth_bias_deg,
            time_offset_s=e.time_offset_s, range_bias_sigma_m=e.range_bias_sigma_m,
            range_gain_sigma=e.range_gain_sigma,
            azimuth_bias_sigma_deg=e.azimuth_bias_sigma_deg,
            time_offset_sigma_s=e.time_offset_sigma_s, pairs=e.pairs,
            established=e.established) for e in self.estimates()]

    def keys(self, source: int) -> SourceKey:
        return self.model.sources.keys[source]

    # -- the tracker's two hooks ---------------------------------------------------------

    def before(self, parts: list[Measurements]) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """Correct each part of a batch; the raw positions and times of the plot parts
        (None for SDPS tracks) for ``after``."""
        raw: list[tuple[np.ndarray, np.ndarray] | None] = []
        if self._next_output == -np.inf and parts:  # the first data: the schedule starts
            self._next_output = self._after(min(float(np.min(m.t)) for m in parts
                                                if len(m.t)))
        for m in parts:
            if m.sdps:
                raw.append(None)
                continue
            # the raw plots kept: a correction makes new columns (no copies of the old)
            raw.append((m.xy, m.t))
            if m.source in self._shift:
                self.correct(m)
        return raw

    def after(self, m: Measurements, raw: tuple[np.ndarray, np.ndarray] | None,
              rows: np.ndarray, idx: np.ndarray, x: np.ndarray, P: np.ndarray) -> None:
        """Learn from one cycle: measurements m[idx] went to the tracks whose states are
        ``x[rows]``, ``P[rows]`` (the track table's)."""
        if raw is None or len(idx) == 0:
            return
        solves = self.solves
        self._keep(m, raw[0], raw[1], idx, rows, x, P)
        if self.solves != solves:  # new estimate: the plots' bias allowance follows it
            for s in range(self.n):
                self.model.set_bias(s, self.allowance(s))

    # -- the equations -------------------------------------------------------------------

    def _grow(self, sources: int) -> None:
        """Room for ``sources`` radars (new ones start at the prior)."""
        if sources <= self.n:
            return
        m, k = self.n * NP, sources * NP
        N, b, P = np.zeros((k, k)), np.zeros(k), np.zeros((k, k))
        N[:m, :m], b[:m], P[:m, :m] = self.N, self.b, self.P
        P[m:, m:] = np.diag(1.0 / np.tile(self.prior, sources - self.n))
        self.N, self.b, self.P = N, b, P
        self.theta = np.r_[self.theta, np.zeros(k - m)]
        self.pairs = np.r_[self.pairs, np.zeros(sources - self.n)]
        self.established = np.r_[self.established, np.zeros(sources - self.n, dtype=bool)]
        self.n = sources

    def _forget(self, t: float) -> None:
        if t > self.t_forget:
            if np.isfinite(self.t_forget):
                lam = float(np.exp(-(t - self.t_forget) / self.p.registration_forget_s))
                self.N *= lam
                self.b *= lam
                self.pairs *= lam
            self.t_forget = t

    def solve(self) -> None:
        """The estimate and its covariance from every plot seen so far."""
        self._work()
        self._solve()

    def _solve(self) -> None:
        """The estimate and its covariance from the equations and the prior."""
        if self.n == 0:
            return
        A = self.N + np.diag(np.tile(self.prior, self.n))
        try:
            P = np.linalg.inv(A)
        except np.linalg.LinAlgError:
            return
        theta = P @ self.b
        if not np.isfinite(theta).all():
            return
        self.P = 0.5 * (P + P.T)
        self.theta = theta
        self.established = self.pairs >= self.p.registration_min_pairs
        self._shifts()
        self.since_solve = 0
        self.solves += 1

    # -- learning ------------------------------------------------------------------------

    def observe(self, m: Measurements, xy: np.ndarray, t: np.ndarray, idx: np.ndarray,
                velocity: np.ndarray, velocity_var: np.ndarray) -> None:
        """Learn from the raw plots ``xy[idx]`` at ``t[idx]`` (before correction) of one
        association cycle, whose tracks have ``velocity`` [n, 2] (plane m/s) with variance
        ``velocity_var`` [n] (per axis, m^2/s^2).  The Mode S plots are kept, and worked
        on ``registration_learn_batch`` at a time (numpy's cost is per call: one cycle
        holds a handful of plots)."""
        if m.sdps or len(idx) == 0:
            return
        n = len(idx)  # the tracks as ``after`` reads them: row i has velocity[i]
        x, P = np.zeros((n, 4)), np.zeros((n, 4, 4))
        x[:, 2:4] = velocity
        P[:, 2, 2] = P[:, 3, 3] = velocity_var
        self._keep(m, xy, t, idx, np.arange(n), x, P)

    def _keep(self, m: Measurements, xy: np.ndarray, t: np.ndarray, idx: np.ndarray,
              rows: np.ndarray, x: np.ndarray, P: np.ndarray) -> None:
        """Keep the plots ``idx`` to learn from with their tracks' velocities (the tracks
        ``x[rows]``, ``P[rows]``), and work on them once ``registration_learn_batch`` have
        come.  Learnt from: the Mode S plots, and in dense traffic (more than
        ``registration_plots_per_cycle`` of them a cycle, on average) the same share of
        addresses for every radar, by a hash of the address.  One call of C
        (gateway._registration.keep_cycle): a cycle holds a handful of plots, and numpy's
        cost is per call."""
        at, s = self._rows, m.source
        if at + len(idx) > len(self._num):  # room for this cycle, and a batch's worth more
            size = at + len(idx) + self._learn_batch
            num, ids = np.empty((size, _KEPT)), np.empty((size, 2), dtype=np.int64)
            num[:at], ids[:at] = self._num[:at], self._ids[:at]
            self._num, self._ids = num, ids
        noise = self._noise.get(s)
        if noise is None:
            noise = self._noise[s] = self.noise(s)
        self._rows, chosen, self._rate = keep_cycle(
            self._num, self._ids, at, s, noise[0], noise[1], m.kind, m.ident, idx, MODES,
            self._rate, self._per_cycle, rows, x, P, t, xy, m.los_x, m.los_y, m.slant_m,
            m.ground_m, m.k)
        if chosen:
            self._plot_count += chosen
            if self._plot_count >= self._learn_batch:
                self._work()

    def _work(self) -> None:
        """Pair the plots kept with each address's last plot of every other radar (in the
        order they came), then learn from the pairs and solve if enough came."""
        if not self._plot_count:
            return
        p = self.p
        n, self._rows, self._plot_count = self._rows, 0, 0
        if not n:  # none had a usable geometry
            return
        # views of the buffers: read here, before the next cycle writes them again
        num, source, address = self._num[:n], self._ids[:n, 0], self._ids[:n, 1]
        rec, vel, vvar = num[:, :_RECORD], num[:, _RECORD:_RECORD + 2], num[:, _RECORD + 2]
        self._grow(int(source.max()) + 1)
        # each record kept as its own bytes (a copy: a view would hold the whole batch's
        # array for as long as the address is remembered, up to
        # registration_max_addresses of them); a slice of one bytes object costs less
        # than a numpy copy of each row, and is smaller.  The loop over the plots is C
        # (gateway._registration.pair_plots: the same steps on the same objects).
        mine, theirs, other = pair_plots(self._last, address, source, rec[:, _T],
                                         rec.tobytes(), rec.itemsize * _RECORD,
                                         p.registration_pair_window_s)
        self._age(float(rec[:, _T].max()))
        if mine:
            self._learn(rec[mine], np.frombuffer(theirs, dtype=rec.dtype).reshape(
                -1, _RECORD), np.array(other), source[mine], vel[mine], vvar[mine])
        if self.since_solve >= p.registration_solve_every:
            self._solve()

    def _age(self, now: float) -> None:
        """Forget addresses not heard for longer than the window, and the oldest beyond
        the bound (about oldest first: the order is of last report)."""
        last, horizon = self._last, now - 2 * self.p.registration_pair_window_s
        while last:
            address, seen = next(iter(last.items()))
            if len(last) <= self.p.registration_max_addresses and max(
                    tq for tq, _q in seen.values()) >= horizon:
                break
            del last[address]

    def _learn(self, ri: np.ndarray, rj: np.ndarray, sj: np.ndarray, si: np.ndarray,
               v: np.ndarray, vvar: np.ndarray) -> None:
        """Gate the pairs against the current estimate, then add the accepted ones to the
        normal equations."""
        p = self.p
        # the difference d [p, 2], J = [H_i, -H_j] [p, 2, 8] and d's covariance S
        # [p, 2, 2] (C: numpy's element-wise steps)
        d, J, S = learn_terms(ri, rj, v, vvar, 0.5 * p.registration_accel_mps2)
        # the pairs' columns of the equations [p, 8], the estimate [p, 8] and its
        # covariance [p, 8, 8] there, the cells of N they add to [p, 64] (C: copies)
        cols, theta, Psub, flat = pair_columns(si, sj, self.theta, self.P)
        Jt = J.transpose(0, 2, 1)
        e = d - (J @ theta[:, :, None])[:, :, 0]
        G = S + J @ Psub @ Jt
        # the gate, and every pair's weights W = S^-1 (C: numpy's element-wise steps)
        ok, failed, W = learn_gate(G, e, d, S, v, vvar, p.registration_gate_chi2,
                                   p.registration_cap_m,
                                   p.registration_velocity_sigma_mps ** 2)
        self.rejected += failed
        if failed == len(ok):
            return
        if failed:  # (rejections are rare)
            J, Jt, W, d, cols, flat, sj, si = (J[ok], Jt[ok], W[ok], d[ok], cols[ok],
                                               flat[ok], sj[ok], si[ok])
        self._forget(float(ri[:, _T].max()))
        JW = Jt @ W  # J^T W: [p, 8, 2]
        JWJ = JW @ J
        JWd = (JW @ d[:, :, None])[:, :, 0]
        # into N, b and the pair counts (C: numpy's bincounts, in place)
        learn_sums(self.N, self.b, self.pairs, flat, JWJ, cols, JWd, si, sj)
        self.accepted += len(d)
        self.since_solve += len(d)

    # -- applying ------------------------------------------------------------------------

    def correct(self, m: Measurements) -> bool:
        """Correct the plots of an established radar (position, slant and ground range,
        time: new arrays in ``m``, the old ones left as they were); True if it did."""
        shift = self._shift.get(m.source)
        if shift is None or m.sdps or len(m) == 0:
            return False
        rb, gain, az, tau = shift
        # Each plot moves back along its line of sight by the range error at its slant
        # range (rb + gain * slant, on the ground by slant/ground at least 1) and across it
        # by the azimuth error at its ground range, in plane metres (times the scale k);
        # its time by the offset.  Where the geometry is unknown (no antenna, no range:
        # nan) it stays put.  One pass in C (gateway._columns), into new arrays.
        m.xy, m.t, m.slant_m, m.ground_m = correct_plots(
            m.xy, m.t, m.slant_m, m.ground_m, m.k, m.los_x, m.los_y, rb, gain, az, tau)
        return True

    def _shifts(self) -> None:
        """Each established radar's correction for ``correct``, from the estimate (it
        changes only when solved), in the units correct_plots takes."""
        self._shift = {s: (rb, gain / REFERENCE_M, az / REFERENCE_M, tau / REFERENCE_MPS)
                       for s, (rb, gain, az, tau) in enumerate(
                           self.theta.reshape(-1, NP).tolist()) if self.established[s]}

    def allowance(self, source: int) -> tuple[float, float] | None:
        """(range m, azimuth deg): the uncertainty of an established radar's correction, to
        stand for the default bias allowance in its plots' covariance; None before."""
        if source >= self.n or not self.established[source]:
            return None
        i = source * NP
        var_r = self.P[i, i] + self.P[i + 1, i + 1]  # range bias, gain at the reference
        var_az = self.P[i + 2, i + 2] / REFERENCE_M ** 2
        return (max(float(np.sqrt(var_r)), self.p.registration_min_allowance_m),
                max(float(np.degrees(np.sqrt(var_az))),
                    self.p.registration_min_allowance_deg))

    def estimates(self) -> list[Estimate]:
        """Every radar with pairs, in source order."""
        out = []
        for s in range(self.n):
            if self.pairs[s] <= 0:
                continue
            sac, sic, _cat = self.keys(s)
            i = s * NP
            th, sd = self.theta[i:i + NP], np.sqrt(np.fmax(np.diag(self.P)[i:i + NP], 0.0))
            out.append(Estimate(
                sac=sac, sic=sic, range_bias_m=float(th[0]),
                range_gain=1.0 + float(th[1]) / REFERENCE_M,
                azimuth_bias_deg=float(np.degrees(th[2] / REFERENCE_M)),
                time_offset_s=float(th[3]) / REFERENCE_MPS,
                range_bias_sigma_m=float(sd[0]), range_gain_sigma=float(sd[1]) / REFERENCE_M,
                azimuth_bias_sigma_deg=float(np.degrees(sd[2] / REFERENCE_M)),
                time_offset_sigma_s=float(sd[3]) / REFERENCE_MPS,
                pairs=int(round(self.pairs[s])), established=bool(self.established[s])))
        return out
