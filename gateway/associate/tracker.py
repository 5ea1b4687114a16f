"""The multi-source tracker: published batches of plots and source tracks in, fused tracks
with stable ids out (sans-IO).

One call of ``update`` is one association cycle: a radar's antenna sector of plots, or an
SDPS's update cycle of tracks, as the normaliser publishes them.  In it the tracker

1. reads the messages into columns (``MeasurementModel``),
2. asks the gater (hypothesiser) for candidate pairs and their costs,
3. lets the associator choose pairs globally,
4. updates the chosen tracks (Kalman update for plots, covariance intersection for SDPS
   tracks, backwards prediction for late ones), their identity, level and source pairings,
5. starts tentative tracks from what is left (initiator),
6. confirms, coasts and ends tracks as the batch's time requires (initiator, deleter),

and returns one ``Fused`` per track it touched (once confirmed) and one per lifecycle
transition.  ``tick(now)`` runs step 6 alone, for a clock that advances without data.
With ``output_period_s``, each of them first publishes the periodic output due (ARTAS
fashion): every confirmed track that had no message for a period, predicted to the output
time and flagged ``extrapolated``.  A track in a gap of the radars' coverage (``coverage``:
a cone of silence no other radar covers) coasts instead of ending, and a Mode A/C aircraft
coming back from one keeps its id by code, identification and position, as a Mode S one
does by address.

Every part is a constructor argument with a default, so another filter (the parameters
choose the IMM or the CV one: ``motion_filter``), another gate or a different initiation
rule replaces one object and leaves the rest as it is.  Time is only
what the messages and ``tick`` say: replaying a capture gives the same tracks as live.

Fused output: ``lat``/``lon`` from the filter, back through the frame; ``fl`` the latest
reported level; ``gs_kt``/``trk_deg`` from the velocity once it is known
(sigma < ``report_velocity_sigma_mps``); ``roc_fpm`` from the level filter's rate once its
sigma is below ``report_roc_sigma_fpm``, else the latest SDPS value; ``pos_sigma_m`` is the
square root of the larger eigenvalue of the 2x2 position covariance (the semi-major axis of
the one-sigma ellipse: the worst direction, not an average), in metres on the ground;
``fpl`` the latest flight plan an SDPS sent with one of the track's reports (I390), kept
while the track lives (a plot-only update keeps it, a newer plan replaces it), or one given
by ``set_plan``.
An update's ``t`` is the time of the measurement that made it; a ``coasting`` message is
the track predicted to the moment it started coasting (``t`` then), and the one final
``ended`` message carries the last estimate with ``t`` the moment it ended.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from gateway import _cycle, _fused, _gating
from gateway.associate.assignment import GlobalNearestNeighbour
from gateway.associate.coverage import Coverage, RadarCoverage
from gateway.associate.filter import (
    ConstantVelocity,
    InteractingMultipleModel,
    LevelFilter,
)
from gateway.associate.frame import ConformalFrame
from gateway.associate.gating import Hypotheses, IdentityGater, code_table
from gateway.associate.identity import Identities
from gateway.associate.lifecycle import MofNInitiator, TimeoutDeleter
from gateway.associate.measurements import (
    KT,
    MeasurementModel,
    Measurements,
    RadarNoise,
    Sources,
)
from gateway.associate.parameters import TrackerParameters
from gateway.associate.registration import Registration
from gateway.associate.takeover import Matched, TrackState, match
from gateway.associate.tracks import (
    ADDRESS,
    CALLSIGN,
    COASTING,
    CODE,
    CONFIRMED,
    MODE3A,
    STATE_NAMES,
    TENTATIVE,
    TrackTable,
    views_of,
)
from gateway.messages import (
    ICAO24_TEXT,
    MODE3A_TEXT,
    TOPIC_LEVEL_PATTERN,
    FlightPlan,
    Fused,
    FusedState,
    Plot,
    SourceRef,
    Track,
)

__all__ = ["Association", "Tracker", "motion_filter"]

FPM_PER_FL_S = 6000.0  # 1 FL/s = 100 ft/s = 6000 ft/min
ID_DIGITS = 6


_STATES: tuple[FusedState, ...] = (*STATE_NAMES, "ended")
_ENDED = len(STATE_NAMES)
# the sources of the messages of a batch (gateway._fused.messages): the flat list of
# the batch's SourceRefs, the order that sorts them by row (None: as they are), and each
# message's span in that order (None: one each)
_Sources = tuple[list[SourceRef], "np.ndarray | None", "np.ndarray | None", "np.ndarray | None"]


def motion_filter(p: TrackerParameters) -> ConstantVelocity:
    """The kinematic filter the parameters choose (``filter_model``)."""
    if p.filter_model == "cv":
        return ConstantVelocity(p.q, p.initial_speed_sigma_mps)
    w = float(np.radians(p.imm_turn_rate_deg_s))
    turn = (1.0 - p.imm_straight_probability) / 2.0
    return InteractingMultipleModel(
        q=max(p.imm_q_straight, p.imm_q_turn),
        initial_speed_sigma_mps=p.initial_speed_sigma_mps, turn_rates=(0.0, w, -w),
        model_q=(p.imm_q_straight, p.imm_q_turn, p.imm_q_turn),
        sojourn_s=(p.imm_straight_sojourn_s, p.imm_turn_sojourn_s, p.imm_turn_sojourn_s),
        initial=(p.imm_straight_probability, turn, turn))


@dataclass(frozen=True)
class Association:
    """Where each message of the last ``update`` went (for evaluation and debugging):
    ``index`` into the messages, ``uid`` of the track row (-1: dropped), ``label`` the
    published id of that track at the time (None: not published yet)."""

    index: np.ndarray
    uid: np.ndarray
    label: list[str | None]


class Tracker:
    """Track-to-track association of every source into fused system tracks.

    ``radars``: the noise model of each radar by (sac, sic); others get the parameters'
    defaults.  ``sdps_sigma_m``: the one-sigma position error of SDPS tracks (default: the
    parameters').
    ``id_prefix``: fused ids are the prefix and a six-digit counter (``T000123``).
    ``coverage``: where the radars see (default: the ``radars`` with a known antenna, each
    with the default cone of silence and range; no radar: no gaps are modelled).
    """

    def __init__(self, parameters: TrackerParameters | None = None,
                 radars: Mapping[tuple[int, int], RadarNoise] | None = None,
                 sdps_sigma_m: float | None = None, id_prefix: str = "T", *,
                 frame: ConformalFrame | None = None,
                 gater: IdentityGater | None = None,
                 associator: GlobalNearestNeighbour | None = None,
                 filter: ConstantVelocity | None = None,
                 level_filter: LevelFilter | None = None,
                 initiator: MofNInitiator | None = None,
                 deleter: TimeoutDeleter | None = None,
                 coverage: Coverage | None = None) -> None:
        p = self.parameters = parameters or TrackerParameters()
        if not re.match(TOPIC_LEVEL_PATTERN, f"{id_prefix}{0:0{ID_DIGITS}d}"):
            raise ValueError(f"id prefix {id_prefix!r} cannot be part of a topic level")
        self.id_prefix = id_prefix
        self.frame = frame or ConformalFrame(p.frame)
        self.counters: Counter[str] = Counter()
        self.sources = Sources()
        default = RadarNoise(p.default_sigma_range_m, p.default_sigma_azimuth_deg,
                             p.default_bias_range_m, p.default_bias_azimuth_deg)
        self._codes = code_table(p.non_discrete_codes)
        self.model = MeasurementModel(self.frame, radars or {},
                                      p.default_sdps_sigma_m if sdps_sigma_m is None
                                      else sdps_sigma_m, self.sources,
                                      default, p.plot_velocity_sigma_mps,
                                      p.sdps_velocity_sigma_mps, self._codes)
        self.model.counters = self.counters
        self.registration = Registration(p, self.model) if p.registration else None
        self.filter = filter or motion_filter(p)
        self.level = level_filter or LevelFilter(p.level_q, p.level_sigma_fl)
        self.gater = gater or IdentityGater(p)
        self.associator = associator or GlobalNearestNeighbour(p.miss_cost)
        self.initiator = initiator or MofNInitiator(p, self.frame)
        self.initiator.counters = self.counters
        if coverage is None:  # the radars whose antenna is known, with default limits
            coverage = Coverage(self.frame, [
                RadarCoverage(r.lat, r.lon, r.alt_m, key=k)
                for k, r in sorted((radars or {}).items())
                if r.lat is not None and r.lon is not None])
        self.coverage = coverage
        self.deleter = deleter or TimeoutDeleter(p, coverage)
        if isinstance(self.deleter, TimeoutDeleter):
            self.deleter.counters = self.counters
        self.tracks = TrackTable(hits=self.initiator.hits, models=self.filter.models)
        self.now = -np.inf  # the clock: the latest data time, or a later tick's
        self.data_now = -np.inf  # the latest data time (ticks do not move it)
        self.last_association = Association(np.zeros(0, np.int64), np.zeros(0, np.int64), [])
        # the id sequence and identity map, kept in a store across restarts (identity.py)
        self.identities = Identities(id_prefix, ID_DIGITS)
        self._labels_in_use: set[str] = set()
        # ended tracks by Mode S address: (label, time of state, x, y), for re-acquisition
        self._memory: dict[int, tuple[str, float, float, float]] = {}
        # ended Mode A/C tracks by discrete code: (label, time of state, state x [4],
        # callsign hash or -1, latest level FL or nan), for re-acquisition by code and
        # identification
        self._code_memory: dict[int, tuple[str, float, np.ndarray, int, float]] = {}
        self._next_output = -np.inf  # next periodic output time (output_period_s)
        self._pending: list[Fused] = []  # messages made mid-cycle (merges), sent at the end
        self._due = float("inf")  # no lifecycle transition can happen before this time
        self._absorb_view: _cycle.AbsorbTable | None = None  # see _absorb
        self._merges = 0  # tracks merged away so far (update: was a row freed mid-batch?)
        self.named = 0  # tracks given an id so far (a store saves the live ones after each)
        _conic, lats, factors = self.frame.tables
        self._output = _fused.Output(  # what every batch's messages take (_messages)
            Fused, _STATES, MODE3A_TEXT, ICAO24_TEXT, lats, factors, self.frame.cone,
            self.frame.parameters.lon_0, MODE3A, ADDRESS, COASTING, _ENDED, KT,
            p.report_velocity_sigma_mps, FPM_PER_FL_S, p.report_roc_sigma_fpm ** 2)

    # -- the two entry points ---------------------------------------------------------------

    def update(self, messages: Sequence[Plot | Track]) -> list[Fused]:
        """One published batch in; the periodic output due before its earliest time, the
        fused updates of the tracks it touched, then any lifecycle transitions due by the
        batch's latest time."""
        parts = self.model.convert(messages)
        reg = self.registration
        raw = reg.before(parts) if reg is not None else None  # plots corrected, raw kept
        out: list[Fused] = []
        # each part's earliest and latest time, in one kernel call each (numpy's minimum and
        # maximum reductions, a microsecond a call, were three calls a cycle)
        bounds = [_cycle.bounds(m.t) for m in parts]
        if parts and self.parameters.output_period_s > 0:  # output times before the batch
            out = self._periodic(min(b[0] for b in bounds))
        rows_: list[np.ndarray] = []
        index_: list[np.ndarray] = []
        refs_: list[SourceRef] = []
        merges = self._merges
        for n, m in enumerate(parts):
            self.tracks.ensure_sources(len(self.sources.keys))
            self.counters["measurements"] += len(m)
            earliest, latest = bounds[n]
            if latest > self.data_now:
                self.data_now = latest
            if latest > self.now:  # max(), without its call
                self.now = latest
            rows, idx = self._cycle(m, earliest)
            if reg is not None and raw is not None:  # learns from the raw plots
                reg.after(m, raw[n], rows, idx, self.tracks.x, self.tracks.P)
            rows_.append(rows)
            # m.index[idx], and refs_ extended by each report's SourceRef: one kernel call
            index_.append(_cycle.sources(self.sources.refs(m.source), m.index,
                                         m.track_number, idx, refs_))
        if len(parts) == 1:
            rows, index = rows_[0], index_[0]
        else:
            rows = np.concatenate(rows_) if rows_ else np.zeros(0, np.int64)
            index = np.concatenate(index_) if index_ else np.zeros(0, np.int64)
        # merged away later in the same batch?  Only a merge frees a row mid-batch: without
        # one every row is live (count_nonzero: a fifth of all()'s cost)
        if self._merges != merges:
            alive = self.tracks.alive[rows]
            if np.count_nonzero(alive) < len(alive):
                keep = alive.nonzero()[0]
                rows, index = rows[keep], index[keep]
                refs_ = [refs_[i] for i in keep.tolist()]
        out.extend(self._publish(rows, refs_, unique=len(parts) == 1))
        if self._pending:
            out.extend(self._pending)
            self._pending = []
        labels = self.tracks.label
        self.last_association = Association(  # take: fancy indexing's result, cheaper
            index, self.tracks.uid.take(rows), list(map(labels.__getitem__, rows.tolist())))
        if self.now >= self._due:
            out.extend(self._lifecycle(self.now))
        return out

    def tick(self, now: float) -> list[Fused]:
        """The clock moved on to ``now`` without data: coasting and ended tracks, and the
        periodic output due."""
        self.now = max(self.now, float(now))
        out = self._lifecycle(self.now) if self.now >= self._due else []
        if self.now >= self._next_output:
            out.extend(self._periodic(self.now))
        return out

    def set_plan(self, track_id: str, plan: FlightPlan | None) -> bool:
        """Give the live fused track ``track_id`` this flight plan (None: take it away).

        For plans that reach the pipeline by another way than an SDPS track's I390 (a
        filed-plan feed correlated with the track, at radar-only sites): the track's
        updates carry it from its next one on, like an I390 plan, and a plan that comes
        later, an SDPS's I390 or another call of this, replaces it.  False (nothing
        changed) when no live track has that id."""
        row = self.tracks.row_of(track_id)
        if row is None:
            return False
        self.tracks.fpl[row] = plan
        return True

    # -- one association cycle (one source's measurements) ---------------------------------

    def _cycle(self, m: Measurements, earliest: float) -> tuple[np.ndarray, np.ndarray]:
        """Associate, update, initiate (``earliest``: m's earliest time); returns (track
        rows, measurement indices) touched."""
        tracks, counters = self.tracks, self.counters
        # the live rows as the gater reads them (None: from the table's alive mask, not
        # gathered here: this gater needs only whether there are any)
        hyp = self.gater.hypothesise(tracks, None, m, self.filter)
        chosen = hyp.take(self.associator.associate(hyp.track, hyp.meas, hyp.cost))
        rows, idx = chosen.track, chosen.meas
        counters["associated"] += len(rows)
        if len(rows):
            self._kinematics(chosen, m)
        # what is left starts tracks: not the late, duplicate or diverged reports
        new_idx, dropped = _gating.leftover(len(m), idx, hyp.late, hyp.duplicate,
                                            hyp.conflict, hyp.diverged)
        if dropped is not None:
            late, conflict, duplicate, diverged = dropped
            counters["late-measurement-dropped"] += late
            counters["modes-address-conflict"] += conflict
            counters["duplicate-report"] += duplicate
            if hyp.diverged is not None:
                counters["diverged-report"] += diverged
        if len(new_idx):
            new_rows = self.initiator.initiate(tracks, m.take(new_idx), self.filter)
            counters["track-started"] += len(new_rows)
            rows = np.concatenate([rows, new_rows])
            idx = np.concatenate([idx, new_idx])
        if len(rows) == 0:
            return rows, idx
        self._due = min(self._due, earliest + self.deleter.shortest)
        if isinstance(self.deleter, TimeoutDeleter) and m.source >= 0:  # learns scan periods
            sac, sic, _cat = self.sources.keys[m.source]
            self.deleter.observe(tracks, rows, (sac, sic), m.t[idx])
        changed = self._absorb(rows, m, idx)
        if len(changed):
            gone = self._merge(changed)
            if len(gone):
                keep = ~np.isin(rows, gone)
                rows, idx = rows[keep], idx[keep]
        return rows, idx

    def _kinematics(self, chosen: Hypotheses, m: Measurements) -> None:
        """Filter update of each chosen track from the prediction its hypothesis carries."""
        skipped, back = self.filter.update_pairs(
            self.tracks, chosen.track, chosen.dt, chosen.x, chosen.P, chosen.nu,
            chosen.s_inv, m.R, chosen.meas, m.sdps, chosen.models)
        if skipped:  # a covariance not positive definite: nothing to intersect
            self.counters["sdps-not-intersected"] += skipped
        # out of sequence: updated in the past, brought back to the present by the filter
        # (the state's time stays: fmax(t, t + dt))
        if back:
            self.counters["late-measurement-used"] += back

    def _absorb(self, rows: np.ndarray, m: Measurements, idx: np.ndarray) -> np.ndarray:
        """Times, counts, identity, level and pairings of tracks updated (or started) by
        m[idx]; returns the rows whose identity (address or discrete code) changed.

        The latest update time; a tentative track's count and hit times (what M-of-N
        confirmation counts); identity, the latest known of each (an address never changes
        on a track: the gate forbids another one); ``tracked`` where a source's track
        number came; an SDPS's flag and latest rate of climb: one kernel call
        (gateway._cycle.absorb, held to the numpy code it replaced by
        tests/test_cycle_kernel.py), which also finds the track numbers that are new to
        their rows (``TrackTable.pair``: which source track number feeds which track) and,
        for the plain level filter (``LevelFilter.kernel``), steps the level rows by its
        code (``LevelFilter.absorb``'s, ext/level.pxi), without gathering the reports."""
        tr = self.tracks  # rows and idx: int64, contiguous (the gater's, the initiator's)
        view = self._absorb_view = views_of(
            self._absorb_view, _cycle.AbsorbTable, tr.state, tr.t_update, tr.n_updates,
            tr.hit_t, tr.ident, tr.tracked, tr.sdps, tr.roc_sdps, tr.level)
        # the level filter's step in the same call, unless it is another filter's code
        level = self.level.kernel()
        moved, renamed, paired = _cycle.absorb_view(
            view, rows, idx, m.t, m.ident, m.track_number, m.roc, m.sdps,
            tr.trn[:, m.source], m.fl, level)
        if len(renamed):
            text, labels = m.callsign_text, tr.callsign_text
            for r, i in zip(rows[renamed].tolist(), idx[renamed].tolist(), strict=True):
                labels[r] = text[i]
        if m.fpl is not None:  # the latest plan an SDPS sent stands until a newer one
            plans, fpl = m.fpl, tr.fpl
            for r, i in zip(rows.tolist(), idx.tolist(), strict=True):
                if plans[i] is not None:
                    fpl[r] = plans[i]
        if level is None:
            self.level.absorb(tr.level, rows, m.fl[idx], m.t[idx])
        if len(paired):
            trn = m.track_number[idx[paired]]
            self.counters["pairing-moved"] += tr.pair(rows[paired], m.source, trn)
        return moved

    def _merge(self, rows: np.ndarray) -> np.ndarray:
        """Tracks that just took an identity another live track has, and are close enough
        to it to be the same aircraft, are one track: the senior (published first, else
        older) goes on, the junior ends.  Duplicates come from a track that started
        position-only (a primary plot of an SSR aircraft) and learnt its code later.
        Returns the rows that ended."""
        tr, p = self.tracks, self.parameters
        gone: list[int] = []
        for a in self._sharing(rows).tolist():
            if not tr.alive[a]:
                continue
            same = np.zeros(tr.capacity, dtype=bool)
            if tr.icao24[a] >= 0:
                same |= tr.icao24 == tr.icao24[a]
            if tr.code[a] >= 0:
                same |= (tr.code == tr.code[a]) & ((tr.icao24 < 0) | (tr.icao24[a] < 0)
                                                    | (tr.icao24 == tr.icao24[a]))
            same &= tr.alive
            same[a] = False
            for b in same.nonzero()[0].tolist():
                t = max(tr.t[a], tr.t[b])
                xa, ya, *sa = self.filter.predict_position(
                    tr.x[[a]], tr.P[[a]], np.array([t - tr.t[a]]))
                xb, yb, *sb = self.filter.predict_position(
                    tr.x[[b]], tr.P[[b]], np.array([t - tr.t[b]]))
                ex, ey = float(xa[0] - xb[0]), float(ya[0] - yb[0])
                s11, s12, s22 = (float(u[0] + v[0]) for u, v in zip(sa, sb, strict=True))
                d2 = (s22 * ex * ex - 2 * s12 * ex * ey + s11 * ey * ey) / (s11 * s22 - s12 * s12)
                if d2 > p.identity_gate_chi2 or ex * ex + ey * ey > p.cap_m ** 2:
                    continue
                senior, junior = sorted((a, b), key=lambda r: (
                    not tr.published[r], tr.state[r] == TENTATIVE, tr.uid[r]))
                for s in ((tr.trn[senior] < 0) & (tr.trn[junior] >= 0)).nonzero()[0].tolist():
                    number = tr.trn[junior, s]
                    tr.pair(np.array([senior]), s, np.array([number]))
                tr.n_updates[senior] = max(tr.n_updates[senior], tr.n_updates[junior])
                if tr.fpl[senior] is None:
                    tr.fpl[senior] = tr.fpl[junior]
                self.counters["track-merged"] += 1
                if tr.published[junior]:
                    self._pending.extend(self._messages(
                        np.array([junior]), tr.x[[junior]], tr.P[[junior]],
                        np.array([self.now]), None, ended=True))
                    self._note(np.array([junior]))
                    self._labels_in_use.discard(tr.label[junior])
                tr.free(np.array([junior]))
                self._merges += 1
                gone.append(junior)
                if junior == a:
                    break
        return np.array(gone, dtype=np.int64)

    def _sharing(self, rows: np.ndarray) -> np.ndarray:
        """Those of ``rows`` (in their order) whose address or code another live track
        also has: the only ones ``_merge`` can merge.  A cycle that starts hundreds of
        tracks (an SDPS's first) changed the identity of every one; looking for each one's
        twin over the whole table was the start-up's costliest step (issue 16: latency).
        Merging frees tracks and changes no identity, so nothing outside these can come
        to share one during the merge."""
        tr = self.tracks
        live = tr.alive.nonzero()[0]
        shared = np.zeros(len(rows), dtype=bool)
        for column in (tr.icao24, tr.code):
            values = column[live]
            values = np.sort(values[values >= 0])
            twice = values[1:][values[1:] == values[:-1]]
            if len(twice):
                mine = column[rows]
                shared |= (mine >= 0) & np.isin(mine, twice)
        return rows[shared]

    # -- lifecycle and output --------------------------------------------------------------

    def _lifecycle(self, now: float) -> list[Fused]:
        """Coast, end and drop what is due at ``now``; then when to look again."""
        tracks = self.tracks
        rows = tracks.active()
        if len(rows) == 0:
            self._due = float("inf")
            return []
        coast, end, drop = self.deleter.review(tracks, rows, now)
        out: list[Fused] = []
        if len(coast):
            tracks.state[coast] = COASTING
            self.counters["track-coasting"] += len(coast)
            shown = coast[tracks.published[coast]]
            if len(shown):
                dt = now - tracks.t[shown]
                x, P, _ = self.filter.predict_tracks(tracks, shown, dt)
                out.extend(self._messages(shown, x, P, np.full(len(shown), now), None))
        if len(end):
            self.counters["track-ended"] += len(end)
            shown = end[tracks.published[end]]
            if len(shown):
                out.extend(self._messages(shown, tracks.x[shown], tracks.P[shown],
                                          np.full(len(shown), now), None, ended=True))
            self._note(shown)
            self._remember(shown, now)
            tracks.free(end)
        if len(drop):
            self.counters["tentative-dropped"] += len(drop)
            self.initiator.dropped(tracks, drop, now)  # the clutter map learns
            tracks.free(drop)
        # the live rows: those reviewed while none ended or was dropped
        self._due = self.deleter.due(tracks, tracks.active() if len(end) or len(drop)
                                     else rows)
        return out

    def _periodic(self, until: float) -> list[Fused]:
        """Periodic output (``output_period_s``) at each multiple T of the period up to
        ``until`` not yet done (called before a batch with the batch's earliest time, so
        that T's output is what was known at T, and by ``tick``).  More than ten periods
        at once (a jump of the clock) are not made up: the latest stands for them."""
        period = self.parameters.output_period_s
        if period <= 0:
            self._next_output = np.inf
            return []
        last = int(np.floor(until / period))
        if not np.isfinite(self._next_output):  # a first look at the clock
            self._next_output = (last + 1) * period
            return []
        first = int(round(self._next_output / period))
        if last < first:
            return []
        self._next_output = (last + 1) * period
        out: list[Fused] = []
        for k in range(max(first, last - 10), last + 1):
            out.extend(self._output_at(k * period, period))
        return out

    def _output_at(self, at: float, period: float) -> list[Fused]:
        """Each published, confirmed or coasting track without a message since
        ``at - period`` (and none after ``at``), predicted to ``at``, ``extrapolated``."""
        tr = self.tracks
        rows = tr.active()
        if len(rows) == 0:
            return []
        rows = rows[tr.published[rows] & (tr.state[rows] != TENTATIVE)
                    & ~(tr.t_out[rows] > at - period) & (tr.t[rows] <= at)]
        if len(rows) == 0:
            return []
        # the filter's own prediction, as for a coasting message (an IMM's turning models
        # turn for at most turn_limit_s of a long gap: see InteractingMultipleModel)
        x, P, _ = self.filter.predict_tracks(tr, rows, at - tr.t[rows])
        self.counters["extrapolated"] += len(rows)
        return self._messages(rows, x, P, np.full(len(rows), at), None, extrapolated=True)

    def _publish(self, rows: np.ndarray, refs: list[SourceRef], unique: bool,
                 ) -> list[Fused]:
        """Confirm what the updates confirmed; one message per touched, publishable track
        with the sources that fed it (``unique``: each row appears once)."""
        if len(rows) == 0:
            return []
        tracks = self.tracks
        order: np.ndarray | None = None
        starts: np.ndarray | None = None
        ends: np.ndarray | None = None
        if not unique:  # several sources in one batch: one message per track, the rows
            # ascending with the span of each in the stable order (gateway._cycle.spans)
            order, rows, starts, ends = _cycle.spans(np.ascontiguousarray(rows,
                                                                          dtype=np.int64))
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        # the common case, every row confirmed and published already, in one call
        tentative, coasting, unnamed = _cycle.census(tracks.state, tracks.published, rows,
                                                     TENTATIVE, COASTING)
        if tentative or coasting:
            state = tracks.state.take(rows)
            if tentative:
                confirmed = self.initiator.confirm(tracks, rows)
                self.counters["track-confirmed"] += len(confirmed)
                state = tracks.state.take(rows)
            resumed = state == COASTING
            if resumed.any():
                tracks.state[rows[resumed]] = CONFIRMED
                state = tracks.state.take(rows)
            if not self.parameters.publish_tentative:
                show = (state != TENTATIVE).nonzero()[0]
                if len(show) < len(rows):
                    if starts is None or ends is None:  # one source per row: its own span
                        starts = np.arange(len(rows))
                        ends = starts + 1
                    rows, starts, ends = rows[show], starts[show], ends[show]
            if len(rows) == 0:
                return []
        if unnamed:
            published = tracks.published
            for r in rows[~published[rows]].tolist():
                tracks.name(r, self._reacquired(r) or self._handed_over(r)
                            or self._recalled(r) or self._new_label())
                published[r] = True
                self.named += 1
                self._note(np.array([r]))
        # take: the rows' states without fancy indexing's machinery (a quarter of its cost)
        return self._messages(rows, tracks.x.take(rows, 0), tracks.P, tracks.t,
                              (refs, order, starts, ends), at_rows=True)

    def _remember(self, rows: np.ndarray, now: float) -> None:
        """Published tracks ending: their ids are kept for their Mode S address a while
        (``reacquire_window_s``), reserved, in case the aircraft comes back."""
        tr, window = self.tracks, self.parameters.reacquire_window_s
        for r in rows.tolist():
            label, address = tr.label[r], int(tr.ident[r, ADDRESS])
            code = int(tr.ident[r, CODE])
            if window > 0 and address >= 0 and label is not None:
                old = self._memory.pop(address, None)
                if old is not None:
                    self._labels_in_use.discard(old[0])
                self._memory[address] = (label, float(tr.t[r]), float(tr.x[r, 0]),
                                         float(tr.x[r, 1]))
            elif window > 0 and code >= 0 and label is not None:  # Mode A/C: by its code
                kept = self._code_memory.pop(code, None)
                if kept is not None:
                    self._labels_in_use.discard(kept[0])
                self._code_memory[code] = (label, float(tr.t[r]), tr.x[r].copy(),
                                           int(tr.ident[r, CALLSIGN]), float(tr.fl_last[r]))
            else:
                self._labels_in_use.discard(label)
        p = self.parameters
        code_window = max(window, p.reacquire_straight_window_s) if window > 0 else 0.0
        for memory, kept_s in ((self._memory, window), (self._code_memory, code_window)):
            for key in list(memory):  # forget what is too old (about oldest first)
                label, t_last = memory[key][:2]
                if now - t_last <= kept_s + p.end_after_s:
                    break
                del memory[key]
                self._labels_in_use.discard(label)

    def _reacquired(self, row: int) -> str | None:
        """The id a track with this Mode S address had before its coverage gap, if it
        ended recently and near enough to where the aircraft is now."""
        tr, p = self.tracks, self.parameters
        address = int(tr.ident[row, ADDRESS])
        if address < 0:
            return self._reacquired_code(row)
        kept = self._memory.get(address)
        if kept is None:
            return None
        label, t_last, x, y = kept
        elapsed = float(tr.t[row]) - t_last  # since the old track's last update
        reach = p.max_speed_mps * max(elapsed, 0.0) + p.modes_cap_m
        if elapsed > p.reacquire_window_s + p.end_after_s or np.hypot(
                tr.x[row, 0] - x, tr.x[row, 1] - y) > reach:
            return None
        del self._memory[address]
        self.counters["track-reacquired"] += 1
        return label

    def _reacquired_code(self, row: int) -> str | None:
        """The id a Mode A/C track (no address) with this discrete Mode-3/A code had before
        its coverage gap: the same identification when both have one, ended recently, and
        near where its velocity would have taken it (``reacquire_accel_mps2``)."""
        tr, p = self.tracks, self.parameters
        code = int(tr.ident[row, CODE])
        kept = self._code_memory.get(code) if code >= 0 else None
        if kept is None:
            return None
        label, t_last, x, callsign, level = kept
        elapsed = float(tr.t[row]) - t_last
        if elapsed <= p.reacquire_window_s + p.end_after_s:
            if not self._continues(row, x, t_last, callsign):
                return None
        elif (elapsed > p.reacquire_straight_window_s + p.end_after_s
              or not self._straight_on(row, x, t_last, callsign, level)):
            return None
        else:
            self.counters["track-reacquired-straight"] += 1
        del self._code_memory[code]
        self.counters["track-reacquired-code"] += 1
        return label

    def _straight_on(self, row: int, x: np.ndarray, t: float, callsign: int,
                     level: float) -> bool:
        """Whether track ``row`` is, after a longer gap than ``reacquire_window_s``, the
        aircraft of an older Mode A/C track with its code (state x at time t, callsign
        hash, level FL): identifications that agree where both have one, the same level,
        and near the old track's straight line (``reacquire_straight_window_s``)."""
        tr, p = self.tracks, self.parameters
        now_fl = float(tr.fl_last[row])
        if not (abs(now_fl - level) <= p.reacquire_level_fl):  # nan: no level, no match
            return False
        dt = float(tr.t[row]) - t
        return self._off_the_line(row, x, t, callsign) <= p.cap_m + p.reacquire_drift_mps * dt

    def _continues(self, row: int, x: np.ndarray, t: float, callsign: int) -> bool:
        """Whether track ``row`` may be the aircraft of an older Mode A/C track (state x
        at time t, callsign hash) with its code: the identifications agree where both
        have one, and it is near where the old velocity leads (``reacquire_accel_mps2``:
        the reach grows with the time since, as a gate grows with coasting)."""
        tr, p = self.tracks, self.parameters
        elapsed = abs(float(tr.t[row]) - t)
        reach = min(p.cap_m + 0.5 * p.reacquire_accel_mps2 * elapsed * elapsed,
                    p.cap_m + p.max_speed_mps * elapsed)
        return self._off_the_line(row, x, t, callsign) <= reach

    def _off_the_line(self, row: int, x: np.ndarray, t: float, callsign: int) -> float:
        """How far track ``row`` is from where an older track (state x at time t, callsign
        hash) flying straight on would be now; inf where their identifications disagree
        (both known and different): the one test of both re-acquisition rules."""
        tr = self.tracks
        ident = int(tr.ident[row, CALLSIGN])
        if callsign >= 0 and ident >= 0 and callsign != ident:
            return float("inf")
        dt = float(tr.t[row]) - t
        return float(np.hypot(tr.x[row, 0] - (x[0] + x[2] * dt),
                              tr.x[row, 1] - (x[1] + x[3] * dt)))

    def _handed_over(self, row: int) -> str | None:
        """The id of a published track of the same identity (Mode S address; without one,
        discrete Mode-3/A code) that has had no report since this track began: every
        report since came here, so the old track lost the aircraft (its filter went
        astray: a missed turn, a bad start; or it was hidden in a coverage gap and the
        aircraft came out beyond its gate) and this one is its continuation.  The old
        track is dropped without an ``ended`` message; its id goes on here.  (An address
        really on two targets at once keeps both tracks busy, and both ids.)  By code, the
        identifications must agree and the new track be near the old one's prediction
        (``_continues``)."""
        tr = self.tracks
        address, code = int(tr.ident[row, ADDRESS]), int(tr.ident[row, CODE])
        if address >= 0:
            same = tr.ident[:, ADDRESS] == address
        elif code >= 0:
            same = (tr.ident[:, CODE] == code) & (tr.ident[:, ADDRESS] < 0)
        else:
            return None
        old = (same & tr.alive & tr.published & (tr.t_update < tr.t_first[row])).nonzero()[0]
        if len(old) == 0:
            return None
        r = int(old[np.argmax(tr.t_update[old])])
        if address < 0 and not self._continues(row, tr.x[r], float(tr.t[r]),
                                               int(tr.ident[r, CALLSIGN])):
            return None  # a code, unlike an address, may be another aircraft's
        label = tr.label[r]
        tr.free(np.array([r]))
        self.counters["track-handover"] += 1
        return label

    def _recalled(self, row: int) -> str | None:
        """The id this flight (Mode S address, else callsign) had before a restart, from
        the stored identity map (``Identities.recall``)."""
        tr = self.tracks
        label = self.identities.recall(int(tr.ident[row, ADDRESS]), tr.callsign_text[row],
                                       float(tr.t[row]), self._labels_in_use)
        if label is not None:
            self._labels_in_use.add(label)
            self.counters["track-id-recalled"] += 1
        return label

    def _new_label(self) -> str:
        label = self.identities.next_label(self._labels_in_use)
        self._labels_in_use.add(label)
        return label

    def _note(self, rows: np.ndarray) -> None:
        """The identity map learns which flight holds each of these published ids."""
        tr = self.tracks
        for r in rows.tolist():
            label = tr.label[r]
            if label is not None:
                self.identities.note(label, int(tr.ident[r, ADDRESS]), tr.callsign_text[r],
                                     float(tr.t[r]))

    def identity_state(self) -> dict[str, object]:
        """The id sequence and identity map as the store keeps them (JSON), with every
        live published track's identity as it is now; entries too old are forgotten."""
        rows = self.tracks.active()
        self._note(rows[self.tracks.published[rows]])
        if np.isfinite(self.now):
            self.counters["track-id-forgotten"] += self.identities.forget(self.now)
        return self.identities.to_json()

    def restore_identities(self, data: dict[str, object] | None) -> None:
        """The stored sequence and map (None: nothing seen): new ids go on after every id
        the store may have seen handed out; flights in the map get their ids back."""
        self.identities.load(data)

    def live_states(self) -> list[TrackState]:
        """Every live published track as a redundant pair's store keeps it (what the
        process taking over matches its own tracks to: ``gateway.associate.takeover``)."""
        tr = self.tracks
        rows = tr.active()
        rows = rows[tr.published[rows]]
        if len(rows) == 0:
            return []
        x = tr.x[rows]
        lat, lon = self.frame.to_latlon(x[:, 0], x[:, 1])
        # the plane's velocity as a true one: bearing less grid north, speed over the scale
        bearing = np.arctan2(x[:, 2], x[:, 3]) - self.frame.north(lon)
        speed = np.hypot(x[:, 2], x[:, 3]) / self.frame.scale(lat)
        ve, vn = speed * np.sin(bearing), speed * np.cos(bearing)
        ident, t = tr.ident[rows], tr.t[rows]
        return [TrackState(str(tr.label[r]), int(ident[i, ADDRESS]), tr.callsign_text[r],
                           int(ident[i, MODE3A]), float(lat[i]), float(lon[i]), float(t[i]),
                           float(ve[i]), float(vn[i]))
                for i, r in enumerate(rows.tolist())]

    def picture(self) -> list[Fused]:
        """Every live published, confirmed or coasting track as last estimated (what a
        handoff engine restored at a takeover is shown first: ``Handoff.show``).  Nothing
        is published of it, and the periodic output's timing is left as it was."""
        tr = self.tracks
        rows = tr.active()
        rows = rows[tr.published[rows] & (tr.state[rows] != TENTATIVE)]
        if len(rows) == 0:
            return []
        t_out = tr.t_out[rows].copy()
        out = self._messages(rows, tr.x[rows], tr.P[rows], tr.t[rows], None)
        tr.t_out[rows] = t_out
        return out

    def take_over(self, saved: Sequence[TrackState],
                  identities: dict[str, object] | None) -> Matched:
        """This process takes over from the active one of a redundant pair, before it
        publishes anything: its live tracks take the ids the old one published for the
        same aircraft (``saved``, matched by ``takeover.match``), the others new ids after
        the old sequence's end (``identities``, as the store holds it, with the identity
        map by which aircraft not tracked here now get their old ids back).  The ids this
        process gave while it was the standby were never published: none is kept, nor
        remembered for re-acquisition.  Counted: ``takeover-renamed``, ``-unmatched``,
        ``-missing``, ``-dropped``."""
        tr = self.tracks
        own = self.live_states()
        # no data yet: the saved states' own time (nothing is dropped for age)
        now = self.now if np.isfinite(self.now) else max((s.t for s in saved), default=0.0)
        matched = match(saved, own, now)
        rows = {o.id: tr.row_of(o.id) for o in own}
        self.identities = Identities(self.id_prefix, ID_DIGITS)
        self.identities.load(identities)
        self._memory.clear()
        self._code_memory.clear()
        tr.rows_by_label.clear()
        self._labels_in_use = set(matched.ids.values())
        for own_id, label in sorted(matched.ids.items()):
            row = rows[own_id]
            assert row is not None
            tr.name(row, label)
        for own_id in matched.unmatched:  # an aircraft seen before may get its id back
            row = rows[own_id]
            assert row is not None  # every live published track has its row
            tr.name(row, self._recalled(row) or self._new_label())
        self.named += len(own)
        self._note(np.array([r for r in rows.values() if r is not None], dtype=np.int64))
        for what, n in (("renamed", len(matched.ids)), ("unmatched", len(matched.unmatched)),
                        ("missing", len(matched.missing)), ("dropped", len(matched.dropped))):
            self.counters[f"takeover-{what}"] += n
        return matched

    def _messages(self, rows: np.ndarray, x: np.ndarray, P: np.ndarray, t: np.ndarray,
                  sources: _Sources | None, ended: bool = False,
                  extrapolated: bool = False, at_rows: bool = False) -> list[Fused]:
        """Fused messages for track rows with states x, P at times t (``at_rows``: P and t
        are the table's, read at the rows); ``sources`` (see ``_Sources``; None: none);
        ``extrapolated``: predictions of the periodic output.

        Two numpy calls and one kernel call (gateway._fused.messages: the identity
        columns, scale, speed, sigma, rate, level, track angle and the structs; held by
        tests/test_fused_kernel.py to the numpy it replaced): a batch has ~7 messages, so
        what each call costs counts more than what each message does."""
        tr = self.tracks
        lat, lon = self.frame.latlon_of(x)
        # arctan2 stays numpy's: its SIMD arctan2 is not libm's to the bit
        bearing = np.arctan2(x[:, 2], x[:, 3])
        refs, order, starts, ends = sources if sources is not None else (None, None, None, None)
        return _fused.messages(
            self._output, np.ascontiguousarray(rows, dtype=np.int64), x, P, t, at_rows, lat,
            lon, bearing, tr.t_out, tr.ident, tr.state, tr.t_hidden, tr.t_update, tr.level,
            tr.roc_sdps, tr.label, tr.callsign_text, tr.fpl, refs, order, starts, ends,
            ended, extrapolated)
