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
from typing import Any

import numpy as np

from gateway import _gating
from gateway.associate.filter import ConstantVelocity
from gateway.associate.measurements import (
    Measurements,
    code_table,
    discrete_codes,
    height_correction,
)
from gateway.associate.parameters import TrackerParameters
from gateway.associate.tracks import TENTATIVE, TrackTable, views_of

__all__ = ["Hypotheses", "IdentityGater", "code_table", "discrete_codes"]


_NONE: dict[int, np.ndarray] = {}  # read-only all-False verdicts [n], by n (see _none)


def _none(n: int) -> np.ndarray:
    """A read-only all-False verdict of n measurements, made once per n: the continuing
    reports' conflict and duplicate verdicts (none can be either) at every batch cost two
    np.zeros calls; nothing writes them (a write would raise)."""
    none = _NONE.get(n)
    if none is None:
        none = _NONE[n] = np.zeros(n, dtype=bool)
        none.flags.writeable = False
    return none


# per-pair columns of no pairs, shared read-only (an empty hypothesis, a search that found
# no candidate: a batch made five np.zeros for them, and nothing can be written to them)
_NO_PAIRS: tuple[np.ndarray, ...] = tuple(
    np.zeros(shape, dtype=dtype) for shape, dtype in (
        (0, np.int64), (0, float), ((0, 4), float), ((0, 4, 4), float), ((0, 2), float),
        ((0, 2, 2), float)))
for _a in _NO_PAIRS:
    _a.flags.writeable = False


def _kept(k: np.ndarray, arrays: tuple[np.ndarray | None, ...]) -> tuple[Any, ...]:
    """The pairs ``k`` (ascending, distinct) of a verdict: the arrays themselves when it
    kept them all (most continuing reports gate: no copy of nine arrays), else their rows.
    The arrays are the gater's own, made for this batch: nothing else holds them."""
    if len(k) == len(arrays[0]):  # type: ignore[arg-type]
        return arrays
    return _gating.take(k, arrays)


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
        """No pairs: ``late`` (default: none, a new array, which a search marks in place)
        and no conflict or duplicate (shared read-only, as ``_none``'s)."""
        z, f, x, P, nu, s_inv = _NO_PAIRS
        none = _none(n)
        return cls(z, z, f, f, np.zeros(n, dtype=bool) if late is None else late, none,
                   none, f, x, P, nu, s_inv)

    def take(self, k: np.ndarray) -> Hypotheses:
        """The pairs ``k`` (per-measurement verdicts unchanged)."""
        if len(k) == len(self.track):  # all of them (indices are distinct)
            return self
        return self._pairs(*_gating.take(k, self._columns()))

    @staticmethod
    def join(a: Hypotheses, b: Hypotheses) -> Hypotheses:
        """Pairs of both (verdicts of ``b``; the filter's per-pair predictions where both
        have them, or where the side without them has no pairs).  When ``b`` has no
        pairs and ``a`` has (half the searches after the continuing reports find none),
        ``a``'s arrays themselves: what the concatenation would copy."""
        if len(b.track) == 0 and len(a.track):
            return b._pairs(a.track, a.meas, a.d2, a.cost, a.dt, a.x, a.P, a.nu, a.s_inv,
                            a.models)
        return b._pairs(*_gating.join(a._columns(), b._columns()))

    def _columns(self) -> tuple[np.ndarray | None, ...]:
        """The per-pair arrays, in ``_pairs``'s order."""
        return (self.track, self.meas, self.d2, self.cost, self.dt, self.x, self.P, self.nu,
                self.s_inv, self.models)

    def _pairs(self, track: np.ndarray, meas: np.ndarray, d2: np.ndarray, cost: np.ndarray,
               dt: np.ndarray, x: np.ndarray, P: np.ndarray, nu: np.ndarray,
               s_inv: np.ndarray, models: np.ndarray | None) -> Hypotheses:
        """These pairs with this one's per-measurement verdicts."""
        return Hypotheses(track, meas, d2, cost, self.late, self.conflict, self.duplicate,
                          dt, x, P, nu, s_inv, models=models)


class IdentityGater:
    """Kinematic gate plus the identity rules (module docstring), per batch in the gating
    kernel (ext/gating.pyx) around the filter's prediction and innovation; with the IMM
    the continuing reports' whole step is one call of that kernel, which predicts with
    the filter's own code (ext/imm.pxi)."""

    DENSE = 20_000  # up to this many (track, measurement) pairs in the box: test them all

    def __init__(self, parameters: TrackerParameters) -> None:
        p = self.p = parameters
        self.codes = code_table(parameters.non_discrete_codes)
        self.radius = max(p.cap_m, p.modes_cap_m)
        cap2, modes_cap2 = p.cap_m ** 2, p.modes_cap_m ** 2
        # the kernel's parameters (ext/gating.pyx names their order): gates and caps as a
        # base plus what an address (or another identity) adds; costs are d2 plus the
        # weights of the identities that agree and differ, continuity and anonymous terms
        self._continuing_p = np.array([
            p.identity_gate_chi2, p.modes_gate_chi2 - p.identity_gate_chi2, cap2,
            modes_cap2 - cap2, p.late_window_s, p.continuity_bonus + p.code_bonus,
            p.modes_bonus - p.code_bonus])
        self._search_p = np.array([
            p.gate_chi2, p.identity_gate_chi2 - p.gate_chi2,
            p.modes_gate_chi2 - p.identity_gate_chi2, cap2, modes_cap2 - cap2,
            p.late_window_s, -p.modes_bonus, -p.code_bonus, -p.callsign_bonus,
            p.code_mismatch_penalty, p.callsign_mismatch_penalty, p.continuity_bonus,
            p.anonymous_track_penalty, TENTATIVE])
        self._view: _gating.ImmTable | None = None  # see _imm_view

    def _imm_view(self, tracks: TrackTable, imm: tuple[np.ndarray, ...]) -> _gating.ImmTable:
        """The kernels' views of the table's IMM columns and of the filter's constants,
        made again only when the table made new arrays (it grew, or is another table):
        each typed argument costs the kernel half a microsecond at every call."""
        view = self._view = views_of(self._view, _gating.ImmTable, tracks.x, tracks.P,
                                     tracks.xm, tracks.Pm, tracks.mu, tracks.t,
                                     tracks.ident, imm)
        return view

    def hypothesise(self, tracks: TrackTable, rows: np.ndarray | None, m: Measurements,
                    model: ConstantVelocity) -> Hypotheses:
        """Candidate pairs of one source's measurements ``m`` with the live tracks.

        Most reports continue what they were: the source's track number already feeds a
        track with the same Mode S address (or, without one, the same discrete code), and
        it gates.  For those the rules leave no other candidate (an address goes nowhere
        else; continuity with an agreeing code outranks everything but an address), so
        they are checked first, against that one track.  The rest are searched for among
        all tracks.  ``rows`` (the live rows; None: every live row) is accepted for
        swappable gaters; this one reads the table with its ``alive`` mask, cheaper than
        gathering rows (the tracker passes None: gathering them cost more than this
        gater's whole Python side of a batch).
        """
        n = len(m)
        # without live tracks no report continues one (a row's pairings go when it ends)
        # and the search finds no candidate: the same empty hypotheses, not counted here
        # (counting the live rows cost a numpy call at every batch)
        if n == 0 or (rows is not None and len(rows) == 0):
            return Hypotheses.empty(n)
        fast, slow = self._continuing(tracks, m, model)
        if len(slow) == 0:
            return fast
        found = self._search(tracks, m, model, slow, fast.late)
        out = Hypotheses.join(fast, found) if len(fast.track) else found
        out.diverged = fast.diverged
        return out

    def _continuing(self, tracks: TrackTable, m: Measurements, model: ConstantVelocity,
                    ) -> tuple[Hypotheses, np.ndarray]:
        """Pairs of measurements with the track their source number feeds, where identity
        agrees (same address; or no address on either and the same code) and it gates;
        and the measurements that leaves to search for (ascending).  With the IMM, one
        kernel call (``_gating.continuing_imm``: the same code as the steps, to the bit);
        with another filter, the steps around its prediction and innovation."""
        n = len(m)
        imm = model.imm_kernel()
        if imm is not None:
            out = _gating.continuing_imm_view(
                self._imm_view(tracks, imm), tracks.owner[m.source], m.track_number,
                m.ident, m.t, m.xy, m.R, m.sdps, self._continuing_p)
        else:
            out = self._continuing_steps(tracks, m, model)
        if out is None:
            return Hypotheses.empty(n), np.arange(n)
        track, meas, d2, cost, dt, x, P, nu, s_inv, models, slow, late, diverged = out
        none = _none(n)
        return Hypotheses(track, meas, d2, cost, late, none, none, dt, x, P, nu, s_inv,
                          diverged, models), slow

    def _continuing_steps(self, tracks: TrackTable, m: Measurements,
                          model: ConstantVelocity) -> tuple[Any, ...] | None:
        """``_continuing``'s columns (``_gating.continuing_imm``'s order) by the gating
        kernels around the filter's own prediction and innovation; None: no candidate."""
        cand, r, adr, dt, z, R = _gating.continuing(
            tracks.owner[m.source], m.track_number, m.ident, tracks.ident, m.t, tracks.t,
            m.xy, m.R)
        if len(cand) == 0:
            return None
        x, P, models = model.predict_tracks(tracks, r, dt)
        nu, s_inv, d2 = model.innovation(x, P, z, R)
        k, cost, slow, late, diverged = _gating.continuing_verdict(
            cand, adr, d2, nu, dt, len(m), m.sdps, self._continuing_p)
        track, meas, d2, dt, x, P, nu, s_inv, models = _kept(
            k, (r, cand, d2, dt, x, P, nu, s_inv, models))
        return track, meas, d2, cost, dt, x, P, nu, s_inv, models, slow, late, diverged

    def _search(self, tracks: TrackTable, m: Measurements, model: ConstantVelocity,
                which: np.ndarray, late: np.ndarray) -> Hypotheses:
        """Pairs of the measurements ``which`` with every track near enough, under all the
        rules (``late`` is updated in place).

        Candidates: the live tracks predicted to the batch's latest time, inside the box
        around the measurements, then within the widest cap (grown by the batch's time
        span at the highest speed) of one of them."""
        p = self.p
        ti, j, dt, z, R = _gating.candidates(tracks.x, tracks.t, tracks.alive, m.t, m.xy,
                                             m.R, which, self.radius, p.max_speed_mps,
                                             self.DENSE)
        # Kinematics of each pair, the track predicted to the measurement's own time; with
        # the IMM, that (the filter's code), the rules and the kept pairs in one kernel call
        models: np.ndarray | None
        imm = model.imm_kernel()
        if len(ti) and imm is not None:  # the rest in one call (the steps below)
            # primary plots re-placed at the candidate track's level (hx, hy: the shift)
            hx, hy = height_correction(m, j, tracks.fl[ti]) if m.primaries else (None, None)
            (track, meas, d2, cost, dt, x, P, nu, s_inv, models, conflict,
             duplicate) = _gating.search_view(
                self._imm_view(tracks, imm), ti, j, dt, z, R, hx, hy, m.ident,
                m.track_number, tracks.trn[:, m.source], tracks.state, tracks.tracked,
                tracks.alive, which, late, self._search_p)
            return Hypotheses(track, meas, d2, cost, late, conflict, duplicate, dt, x, P, nu,
                              s_inv, models=models)
        if len(ti):  # another filter: its own prediction and innovation
            if m.primaries:
                hx, hy = height_correction(m, j, tracks.fl[ti])
                z[:, 0] += hx
                z[:, 1] += hy
            x, P, models = model.predict_tracks(tracks, ti, dt)
            nu, s_inv, d2 = model.innovation(x, P, z, R)
        else:
            _z, d2, x, P, nu, s_inv = _NO_PAIRS
            models = None
        k, cost, conflict, duplicate = _gating.search_verdict(
            ti, j, d2, nu, dt, m.ident, m.track_number, tracks.ident,
            tracks.trn[:, m.source], tracks.state, tracks.tracked, tracks.alive, which, late,
            self._search_p)
        track, meas, d2, dt, x, P, nu, s_inv, models = _kept(
            k, (ti, j, d2, dt, x, P, nu, s_inv, models))
        return Hypotheses(track, meas, d2, cost, late, conflict, duplicate, dt, x, P, nu,
                          s_inv, models=models)
