"""The hypothesiser: which measurement may belong to which track, and at what cost.

Kinematics first: for every (track, measurement) pair near enough to matter, the track is
predicted to the measurement's own time and the Mahalanobis distance
``d^2 = nu' S^-1 nu`` with ``S = H P H' + R`` is computed, all pairs at once.  Pairs come
from the tracks inside the box around the batch (a radar sector is a narrow wedge), tested
all against all when that is small, else swept in x order (a strip as wide as the hard
cap), so the work grows with the pairs that are close, not with tracks x measurements.
Reports that simply continue a track (their source number already feeds a track of the
same identity) are checked against that track alone first: the rules below leave them no
other candidate, and they are most of every batch.

Then identity, in the order an ATC engineer trusts it:

1. **Mode S address** is a hard key.  A measurement with an address that gates (generously)
   a track with that address may go to no other track.  If tracks with that address exist
   but none gates, the address is on two distant targets at once (a duplicated or
   corrupted address): the measurement must not pull the track away, so it goes nowhere
   and starts its own track; counted as ``modes-address-conflict``.
2. **Continuity**: a (source, source track number) that already feeds a track keeps feeding
   it while it gates and the identity does not contradict.  A radar re-using a number for
   another aircraft shows itself by not gating, or by a different address (forbidden), or
   by a code that matches another gating track (that pair costs less, see the parameters);
   the tracker then moves the pairing.
3. **Aircraft identification** equal, within the identity gate.
4. **Mode-3/A code** equal (discrete codes only: 7500/7600/7700 and conspicuity codes like
   1200/2000/7000 are not identities), within the identity gate.  Different discrete codes
   forbid the pair, unless the address agrees or the source's track number continues: that
   is a squawk change on a track that goes on, not a new aircraft.
5. **Position only** for the rest: primary plots, tracks of aircraft without Mode S.

A measurement whose identity contradicts a track (different address; different discrete
codes without continuity) never pairs with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gateway.associate.filter import ConstantVelocity
from gateway.associate.measurements import (
    Measurements,
    code_table,
    discrete_codes,
    height_correction,
)
from gateway.associate.parameters import TrackerParameters
from gateway.associate.tracks import ADDRESS, CODE, TENTATIVE, TrackTable

__all__ = ["Hypotheses", "IdentityGater", "code_table", "discrete_codes", "strip_pairs"]


@dataclass
class Hypotheses:
    """Candidate pairs (arrays [k]) and per-measurement verdicts (arrays [n]).

    As in Stone Soup, a hypothesis carries the prediction it was judged on: the track's
    state and covariance predicted to the measurement's time (``x`` [k, 4], ``P``
    [k, 4, 4], ``dt`` [k]), the innovation ``nu`` [k, 2] and ``s_inv`` [k, 2, 2], the
    inverse of its covariance; the updater starts from there.
    """

    track: np.ndarray  # track row
    meas: np.ndarray  # measurement index
    d2: np.ndarray  # Mahalanobis distance squared
    cost: np.ndarray  # for the associator: d2 with identity bonuses and penalties
    late: np.ndarray  # [n] too old for a track it gates: to be dropped
    conflict: np.ndarray  # [n] its Mode S address belongs to a track that does not gate
    duplicate: np.ndarray  # [n] gates a track of the same identity: never starts a track
    dt: np.ndarray = field(default_factory=lambda: np.zeros(0))
    x: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    P: np.ndarray = field(default_factory=lambda: np.zeros((0, 4, 4)))
    nu: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    s_inv: np.ndarray = field(default_factory=lambda: np.zeros((0, 2, 2)))
    # [n] its source number and code say it continues a track it no longer fits (an SDPS
    # track that merged two aircraft, a radar's track that jumped): never starts a track
    diverged: np.ndarray | None = None
    # [k, ...] what a multiple-model filter predicted for each pair besides the combined
    # x and P (its models' states, packed by the filter); None for a single-model filter
    models: np.ndarray | None = None

    @classmethod
    def empty(cls, n: int, late: np.ndarray | None = None) -> Hypotheses:
        z = np.zeros(0, dtype=np.int64)
        f = np.zeros(n, dtype=bool)
        return cls(z, z, z.astype(float), z.astype(float),
                   f.copy() if late is None else late, f.copy(), f.copy())

    def take(self, k: np.ndarray) -> Hypotheses:
        """The pairs ``k`` (per-measurement verdicts unchanged)."""
        if len(k) == len(self.track):  # all of them (indices are distinct)
            return self
        return Hypotheses(self.track[k], self.meas[k], self.d2[k], self.cost[k], self.late,
                          self.conflict, self.duplicate, self.dt[k], self.x[k], self.P[k],
                          self.nu[k], self.s_inv[k],
                          models=None if self.models is None else self.models[k])

    @staticmethod
    def join(a: Hypotheses, b: Hypotheses) -> Hypotheses:
        """Pairs of both (verdicts of ``b``)."""
        def both(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            return np.concatenate([x, y])

        return Hypotheses(both(a.track, b.track), both(a.meas, b.meas), both(a.d2, b.d2),
                          both(a.cost, b.cost), b.late, b.conflict, b.duplicate,
                          both(a.dt, b.dt), both(a.x, b.x), both(a.P, b.P), both(a.nu, b.nu),
                          both(a.s_inv, b.s_inv), models=_join_models(a, b))


def _join_models(a: Hypotheses, b: Hypotheses) -> np.ndarray | None:
    """The filter's per-pair predictions of both (a side without pairs may have none)."""
    if a.models is not None and b.models is not None:
        return np.concatenate([a.models, b.models])
    if a.models is not None and len(b.track) == 0:
        return a.models
    if b.models is not None and len(a.track) == 0:
        return b.models
    return None


def strip_pairs(tx: np.ndarray, ty: np.ndarray, mx: np.ndarray, my: np.ndarray,
                radius: float) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j) with |tx[i] - mx[j]| <= radius and |ty[i] - my[j]| <= radius: tracks
    sorted by x, each measurement's window found by binary search, windows expanded into
    pairs without a Python loop."""
    order = np.argsort(tx, kind="stable")
    xs = tx[order]
    lo = np.searchsorted(xs, mx - radius, side="left")
    hi = np.searchsorted(xs, mx + radius, side="right")
    counts = hi - lo
    total = int(counts.sum())
    if total == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z
    j = np.repeat(np.arange(len(mx)), counts)
    starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
    i = order[starts + np.arange(total)]
    near = np.abs(ty[i] - my[j]) <= radius
    return i[near], j[near]


class IdentityGater:
    """Kinematic gate plus the identity rules (module docstring), vectorised over pairs."""

    DENSE = 20_000  # up to this many (track, measurement) pairs in the box: test them all

    def __init__(self, parameters: TrackerParameters) -> None:
        p = self.p = parameters
        self.codes = code_table(parameters.non_discrete_codes)
        self.radius = max(p.cap_m, p.modes_cap_m)
        # cost = d2 + weights of the identities that agree (w_equal) and differ (w_differ)
        # + continuity and anonymous terms; identity columns: address, code, callsign
        self.w_equal = np.array([-p.modes_bonus, -p.code_bonus, -p.callsign_bonus])
        self.w_differ = np.array([0.0, p.code_mismatch_penalty, p.callsign_mismatch_penalty])

    def hypothesise(self, tracks: TrackTable, rows: np.ndarray, m: Measurements,
                    model: ConstantVelocity) -> Hypotheses:
        """Candidate pairs of one source's measurements ``m`` with the live tracks.

        Most reports continue what they were: the source's track number already feeds a
        track with the same Mode S address (or, without one, the same discrete code), and
        it gates.  For those the rules leave no other candidate (an address goes nowhere
        else; continuity with an agreeing code outranks everything but an address), so
        they are checked first, against that one track.  The rest are searched for among
        all tracks.  ``rows`` (the live rows) is accepted for swappable gaters; this one
        reads the table with its ``alive`` mask, cheaper than gathering rows.
        """
        n = len(m)
        if n == 0 or len(rows) == 0:
            return Hypotheses.empty(n)
        fast, settled = self._continuing(tracks, m, model)
        slow = (settled < 1).nonzero()[0]
        if len(slow) == 0:
            return fast
        found = self._search(tracks, rows, m, model, slow, fast.late)
        out = Hypotheses.join(fast, found) if len(fast.track) else found
        out.diverged = fast.diverged
        return out

    def _continuing(self, tracks: TrackTable, m: Measurements, model: ConstantVelocity,
                    ) -> tuple[Hypotheses, np.ndarray]:
        """Pairs of measurements with the track their source number feeds, where identity
        agrees (same address; or no address on either and the same code) and it gates;
        and which measurements that settles (int8 [n], 1: settled)."""
        p = self.p
        n = len(m)
        settled = np.zeros(n, dtype=np.int8)
        trn = m.track_number
        row = tracks.owner[m.source][trn]
        row[trn < 0] = -1
        cand = (row >= 0).nonzero()[0]
        if len(cand) == 0:
            return Hypotheses.empty(n), settled
        r = row[cand]
        mi, tk = m.ident[cand], tracks.ident[r]
        adr = (mi[:, ADDRESS] == tk[:, ADDRESS]) & (mi[:, ADDRESS] >= 0)
        code = ((mi[:, CODE] == tk[:, CODE]) & (mi[:, CODE] >= 0) & (mi[:, ADDRESS] < 0)
                & (tk[:, ADDRESS] < 0))
        agree = (adr | code).nonzero()[0]
        if len(agree) == 0:
            return Hypotheses.empty(n), settled
        cand, r, adr = cand[agree], r[agree], adr[agree]
        dt = m.t[cand] - tracks.t[r]
        x, P, models = model.predict_tracks(tracks, r, dt)
        nu, s_inv, d2 = model.innovation(x, P, m.xy[cand], m.R[cand])
        gate = p.identity_gate_chi2 + (p.modes_gate_chi2 - p.identity_gate_chi2) * adr
        cap2 = p.cap_m ** 2 + (p.modes_cap_m ** 2 - p.cap_m ** 2) * adr
        ok = (d2 <= gate) & ((nu * nu).sum(axis=1) <= cap2)
        settled[cand[ok]] = 1
        diverged = np.zeros(n, dtype=bool)
        if m.sdps:  # a system track that no longer fits its own track: merged, jumped
            diverged[cand[~ok & ~adr]] = True  # (Mode S: rule 1 decides, a conflict)
        late = np.zeros(n, dtype=bool)
        is_late = ok & (dt < -p.late_window_s)
        late[cand[is_late]] = True
        k = (ok > is_late).nonzero()[0]
        bonus = p.continuity_bonus + p.code_bonus + (p.modes_bonus - p.code_bonus) * adr[k]
        return Hypotheses(r[k], cand[k], d2[k], d2[k] - bonus, late, np.zeros(n, dtype=bool),
                          np.zeros(n, dtype=bool), dt[k], x[k], P[k], nu[k], s_inv[k],
                          diverged, None if models is None else models[k]), settled

    def _search(self, tracks: TrackTable, rows: np.ndarray, m: Measurements,
                model: ConstantVelocity, which: np.ndarray, late: np.ndarray) -> Hypotheses:
        """Pairs of the measurements ``which`` with every track near enough, under all the
        rules (``late`` is updated in place)."""
        p = self.p
        n = len(m)
        mt, mx, my = m.t[which], m.xy[which, 0], m.xy[which, 1]
        # Candidates: tracks predicted to the batch's latest time, inside the box around
        # the measurements, then within the widest cap of one of them.
        t_max, t_min = mt.max(), mt.min()
        radius = self.radius + p.max_speed_mps * float(t_max - t_min)
        X = tracks.x
        lead = t_max - tracks.t
        tx = X[:, 0] + X[:, 2] * lead
        ty = X[:, 1] + X[:, 3] * lead
        x_lo, x_hi, y_lo, y_hi = mx.min(), mx.max(), my.min(), my.max()
        box = ((np.abs(tx - 0.5 * (x_lo + x_hi)) <= 0.5 * (x_hi - x_lo) + radius)
                             & (np.abs(ty - 0.5 * (y_lo + y_hi)) <= 0.5 * (y_hi - y_lo)
                                + radius) & tracks.alive).nonzero()[0]
        if len(box) * len(which) <= self.DENSE:
            i, j = np.nonzero((np.abs(tx[box][:, None] - mx) <= radius)
                              & (np.abs(ty[box][:, None] - my) <= radius))
        else:
            i, j = strip_pairs(tx[box], ty[box], mx, my, radius)
        if len(i) == 0:
            empty = Hypotheses.empty(n, late)
            empty.conflict = self._conflicts(tracks, rows, m, which, np.zeros(n, dtype=bool))
            return empty
        ti, j = box[i], which[j]

        # Kinematics of each pair, the track predicted to the measurement's own time.
        dt = m.t[j] - tracks.t[ti]
        x, P, models = model.predict_tracks(tracks, ti, dt)
        z = m.xy[j]
        if m.primaries:  # primary plots re-placed at the candidate track's level
            hx, hy = height_correction(m, j, tracks.fl[ti])
            z[:, 0] += hx
            z[:, 1] += hy
        nu, s_inv, d2 = model.innovation(x, P, z, m.R[j])

        # Identity relations of each pair, all three identities at once.
        mi, tk = m.ident[j, :3], tracks.ident[ti, :3]
        known = mi >= 0
        equal = (mi == tk) & known
        differ = (mi != tk) & known & (tk >= 0)
        adr_eq = equal[:, ADDRESS]
        trn = m.track_number[j]
        cont = (tracks.trn[ti, m.source] == trn) & (trn >= 0)
        anonymous = (tk[:, ADDRESS] < 0) & (tk[:, CODE] < 0) & (known[:, ADDRESS]
                                                                | known[:, CODE])
        vouched = equal.any(axis=1) | cont
        gate = (p.gate_chi2 + (p.identity_gate_chi2 - p.gate_chi2) * vouched
                + (p.modes_gate_chi2 - p.identity_gate_chi2) * adr_eq)
        cap2 = p.cap_m ** 2 + (p.modes_cap_m ** 2 - p.cap_m ** 2) * adr_eq
        # A tentative track fed only by untracked primary plots looks like clutter: a
        # report with an identity, or with its source's own track behind it, starts a
        # track of its own rather than take over its made-up velocity.
        clutter = (tracks.state[ti] == TENTATIVE) & ~tracks.tracked[ti]
        ok = ((d2 <= gate) & ((nu * nu).sum(axis=1) <= cap2) & ~differ[:, ADDRESS]
              & ~(differ[:, CODE] & ~(adr_eq | cont))
              & ~(clutter & (anonymous | (trn >= 0))))

        # Rule 1: an address that gates its own track goes nowhere else; an address whose
        # tracks all fail to gate is on another target: it goes nowhere at all.
        owned = np.zeros(n, dtype=bool)
        owned[j[ok & adr_eq]] = True
        ok &= owned[j] <= adr_eq
        conflict = self._conflicts(tracks, rows, m, which, owned)
        if conflict.any():
            ok &= ~conflict[j]

        # Too old for a track it gates: used within the late window, else dropped.
        late[j[ok & (dt < -p.late_window_s)]] = True
        ok &= ~late[j]
        duplicate = np.zeros(n, dtype=bool)
        duplicate[j[ok & (adr_eq | equal[:, CODE])]] = True

        k = ok.nonzero()[0]
        e, d = equal[k], differ[k]
        cost = (d2[k] + self.w_equal[0] * e[:, 0] + self.w_equal[1] * e[:, 1]
                + self.w_equal[2] * e[:, 2] + self.w_differ[1] * d[:, 1]
                + self.w_differ[2] * d[:, 2] - p.continuity_bonus * cont[k]
                + p.anonymous_track_penalty * anonymous[k])
        return Hypotheses(ti[k], j[k], d2[k], cost, late, conflict, duplicate, dt[k], x[k],
                          P[k], nu[k], s_inv[k],
                          models=None if models is None else models[k])

    @staticmethod
    def _conflicts(tracks: TrackTable, rows: np.ndarray, m: Measurements, which: np.ndarray,
                   owned: np.ndarray) -> np.ndarray:
        """bool [n]: measurements (among ``which``) whose Mode S address gates no track of
        that address, although one exists: the address is on another target."""
        conflict = np.zeros(len(m), dtype=bool)
        orphans = which[owned[which] < (m.ident[which, ADDRESS] >= 0)]
        if len(orphans):
            addresses = np.sort(tracks.ident[rows, ADDRESS])
            at = np.minimum(np.searchsorted(addresses, m.icao24[orphans]), len(addresses) - 1)
            conflict[orphans] = addresses[at] == m.icao24[orphans]
        return conflict
