"""Initiator and deleter: how tracks are born, confirmed, coast and end.

Birth.  Every measurement that no track takes starts a tentative track (the tracker keeps
back late ones, duplicates of a track it already has, and SDPS reports that no longer fit
the track their number feeds), with the source's own velocity when it gave one: a radar
tracker's I200 or an SDPS track's velocity, which makes the second gate tight.  A tentative
track fed only by untracked primary plots looks like clutter: a report with an identity or
with its source's own track number does not join it (the gater sees to that), so clutter
never lends a new aircraft a made-up velocity.

Confirmation is M-of-N, with N as a time window.  A report with a Mode S address or from an
SDPS (a track another system confirmed) needs ``confirm_updates_modes`` (1): the first
report is published; one with a discrete Mode-3/A code ``confirm_updates_identity`` (2)
updates; a position-only track needs
``confirm_updates_position`` (3) within ``confirm_window_s``: PSR clutter (a few false plots
per scan, spread over the coverage) starts tentative tracks all the time but almost never
lines up three times; ``confirm_updates_tracked`` (2) when its plots carry a radar's own
track number in a clean cell of the clutter map (the radar's tracker saw them line up).
A tentative track is never published as confirmed.

Position-only tracks (primary plots: clutter, or an aircraft without a transponder) must
also pass two gates of plausibility before they are confirmed (``MofNInitiator.plausible``):
the speed their plots imply (from the first plot to now) and the filter's speed lie between
``min_speed_mps`` and ``max_speed_primary_mps``, and the filter's velocity differs from
that mean velocity by no more than ``max_accel_mps2`` over the time (no impossible
manoeuvre); each with an allowance of ``initiation_gate_sigmas`` for the plots' noise (so
the floor only holds back what is clearly slow: a point that stands still looks like a
20 kt target for the first few scans).  A track that fails stays tentative: it may pass
later, once its plots say more.  Measured on the border scenario with 20 false plots per
radar per scan: these gates are what stops the few clutter plots that line up (at 600 kt).

Where false plots are many, more updates are asked: each radar has a clutter map
(``ClutterMap``, range x azimuth cells) learnt from the plots that never joined a confirmed
track; a position-only track started in a dense cell needs up to ``clutter_max_extra_hits``
more updates, within a window stretched in proportion.  Against clutter concentrated in
one place (a rain cell: 10 false plots a scan in 10 x 10 km) it cuts the confirmed false
tracks about five-fold; against clutter spread evenly it costs primary-only targets a
little completeness (the whole map is a little dense) and changes nothing else.

Death is by missed scans, ARTAS-like.  A confirmed track that no source has updated for
``coast_after_s`` is coasting (about twice the slowest antenna: one missed scan of every
radar is not news).  Whether it has ended depends on who should have seen it: the radars
whose coverage (``coverage.py``) holds its prediction made k scans since its last update
(each radar's scan period learnt from its plots, ``TimeoutDeleter.observe``), and it ends
once k misses in a row are less likely than ``end_probability``, at a detection
probability of its kind (``detection_probability``, ``detection_probability_primary``),
never before ``end_min_s`` and at the latest after ``end_max_s``.  Under one 12 s radar a
track outlives five missed scans (a run that happens over thousands of tracks); under
four radars of 4.6-6 s it ends at ``end_min_s``, before it takes other aircraft's plots.
A tentative track dies sooner (``tentative_end_probability``, at most
``tentative_timeout_s``), silently.  Where no radar is expected to see (leaving the
coverage, no scan period known yet) it ends after ``end_after_s``.  Silence is not news
where no radar can see but one will: a coasting track whose predicted position is hidden
(a cone of silence no other radar covers) is looked at every ``hidden_review_s`` and does
not end while it is hidden (up to ``hidden_max_s`` since its last update); the silence
then counts from the last time it was hidden, so that it is re-associated when plots come
back.

Ids are the tracker's: given at confirmation (so clutter never uses up numbers), taken back
by an aircraft that returns from a coverage gap (``reacquire_window_s``: by Mode S address,
else by discrete code and identification near the predicted position), and handed on from a
track that lost its aircraft to the track that picked it up.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from gateway import _lifecycle
from gateway.associate.coverage import Coverage
from gateway.associate.filter import ConstantVelocity, max_eigen2
from gateway.associate.frame import ConformalFrame
from gateway.associate.measurements import Measurements
from gateway.associate.parameters import TrackerParameters
from gateway.associate.tracks import (
    ADDRESS,
    COASTING,
    CODE,
    CONFIRMED,
    LEVEL_LAST,
    LEVEL_T,
    MODE3A,
    TENTATIVE,
    TrackTable,
)
from gateway.units import FT

__all__ = ["ClutterMap", "MofNInitiator", "TimeoutDeleter"]

# review's answers for no row looked at (never written)
_NONE = np.zeros(0, dtype=np.int64)
_NO_K = np.zeros(0, dtype=np.float64)
_NO_COVER = np.zeros(0, dtype=bool)


class ClutterMap:
    """The density of false plots of each radar, by range x azimuth cell, learnt online.

    A cell's value is the number of plots in it that never joined a confirmed track,
    decaying exponentially with ``clutter_memory_s``: a count over about that much recent
    time, so that the map follows weather and ground clutter as they come and go.  Cells
    are fixed polar cells of each radar (its range rings and azimuth sectors), so the
    memory is bounded: sources x cells, whatever the traffic.  Sources without a known
    antenna position (SDPS, an unconfigured radar) have no cell: they never learn or pay.
    """

    def __init__(self, parameters: TrackerParameters) -> None:
        p = self.p = parameters
        self.n_range = max(1, int(np.ceil(p.clutter_max_range_m / p.clutter_cell_range_m)))
        self.n_azimuth = max(1, int(np.ceil(360.0 / p.clutter_cell_azimuth_deg)))
        self.density = np.zeros((0, self.n_range * self.n_azimuth))
        self.t = np.zeros((0, self.n_range * self.n_azimuth))
        self.start = np.zeros(0)  # when each source's map began to learn

    # a map younger than this is read as if this old: its first plots are not a rate yet
    WARM_S = 60.0

    def cells(self, m: Measurements) -> np.ndarray:
        """The cell of each measurement in its radar's map (-1: none, no known geometry).
        In C (ext/lifecycle.pyx: a track starts from one plot or two, where a dozen numpy
        calls cost more than their elements); tests/test_clutter_kernel.py holds it to
        the numpy it replaced."""
        p = self.p
        return _lifecycle.clutter_cells(m.ground_m, m.los_x, m.los_y, p.clutter_cell_range_m,
                                        p.clutter_cell_azimuth_deg, self.n_range,
                                        self.n_azimuth)

    def _ensure(self, source: int) -> None:
        if source >= len(self.density):
            n = source + 1
            self.density = np.vstack([self.density,
                                      np.zeros((n - len(self.density), self.density.shape[1]))])
            self.t = np.vstack([self.t, np.zeros((n - len(self.t), self.t.shape[1]))])
            self.start = np.concatenate([self.start, np.full(n - len(self.start), np.nan)])

    def at(self, source: np.ndarray, cell: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The density of each (source, cell) at times t (0 where no cell): the decayed
        count, divided by what the decay has let accumulate since the map began (a young
        map reads the rate it has seen, not a count still building up).  In C, numpy's
        exp and expm1 but for the arithmetic (ext/lifecycle.pyx), as ``cells``."""
        return _lifecycle.clutter_density(source, cell, t, self.density, self.t, self.start,
                                          self.p.clutter_memory_s, self.WARM_S)

    def learn(self, source: np.ndarray, cell: np.ndarray, t: np.ndarray,
              plots: np.ndarray) -> None:
        """``plots`` false plots more in each (source, cell), as of times t: each touched
        cell decays to the latest of these times and gains the plots decayed from theirs.
        In C, numpy's exp but for the arithmetic (ext/lifecycle.pyx), as ``cells``."""
        top = _lifecycle.clutter_top(source, cell)
        if top < 0:
            return
        self._ensure(top)
        _lifecycle.clutter_learn(source, cell, t, plots, self.density, self.t, self.start,
                                 self.p.clutter_memory_s)


class MofNInitiator:
    """Starts tentative tracks from single measurements; confirms them M-of-N, position-only
    ones after the speed and manoeuvre gates, with more updates in cluttered cells."""

    def __init__(self, parameters: TrackerParameters,
                 frame: ConformalFrame | None = None) -> None:
        self.p = parameters
        self.frame = frame or ConformalFrame(parameters.frame)
        self.clutter = ClutterMap(parameters)
        self.counters: Counter[str] = Counter()  # the tracker's, once it has one
        # per track row, from the measurement that started it: where it began (plane),
        # that plot's position variance (larger axis), its radar and clutter cell, and how
        # many more updates than M its cell asked for
        self._x0 = np.zeros((0, 2))
        self._r0 = np.zeros(0)
        self._source = np.zeros(0, dtype=np.int64)
        self._cell = np.zeros(0, dtype=np.int64)
        self._extra = np.zeros(0, dtype=np.int64)

    @property
    def hits(self) -> int:
        """How many update times a track must remember for the rule."""
        return max(self.p.confirm_updates_identity, self.p.confirm_updates_modes,
                   self.p.confirm_updates_position + self.p.clutter_max_extra_hits)

    def _room(self, capacity: int) -> None:
        old = len(self._r0)
        if capacity > old:
            grow = capacity - old
            self._x0 = np.vstack([self._x0, np.zeros((grow, 2))])
            self._r0 = np.concatenate([self._r0, np.full(grow, np.nan)])  # nan: not ours
            self._source = np.concatenate([self._source, np.full(grow, -1, np.int64)])
            self._cell = np.concatenate([self._cell, np.full(grow, -1, np.int64)])
            self._extra = np.concatenate([self._extra, np.zeros(grow, np.int64)])

    def initiate(self, tracks: TrackTable, m: Measurements,
                 model: ConstantVelocity) -> np.ndarray:
        """New tentative rows, one per measurement, with their kinematic state and times
        (identity, level and counts are the tracker's, as for any update).

        The rows' writes are one kernel call (``_lifecycle.start_rows``: a track starts
        from one plot or two, where the twenty numpy calls they took cost more than their
        elements); a filter with another ``initiate`` gets the numpy code (``_start``,
        which tests/test_lifecycle_kernel.py holds the kernel to, to the bit)."""
        rows = tracks.new(len(m))
        if len(rows) == 0:
            return rows
        v, v_var = m.velocity(self.frame)
        self._room(tracks.capacity)
        p = self.p
        cell = self.clutter.cells(m)
        source = np.full(len(m), m.source, dtype=np.int64)
        density = self.clutter.at(source, cell, m.t)
        if type(model).initiate is not ConstantVelocity.initiate:
            extra = self._start(tracks, rows, m, model, v, v_var, cell, density)
        else:
            extra = _lifecycle.start_rows(
                rows, m.xy, m.R, v, v_var, model.initial_speed_sigma_mps ** 2, m.t, cell,
                density, m.source, p.clutter_plots_per_extra_hit,
                p.clutter_max_extra_hits, tracks.x, tracks.P, tracks.t, tracks.t_first,
                tracks.state, TENTATIVE, self._x0, self._r0, self._source, self._cell,
                self._extra)
        self.counters["track-started-in-clutter"] += extra
        return rows

    def _start(self, tracks: TrackTable, rows: np.ndarray, m: Measurements,
               model: ConstantVelocity, v: np.ndarray, v_var: np.ndarray, cell: np.ndarray,
               density: np.ndarray) -> int:
        """``initiate``'s writes of the new ``rows`` by numpy and the filter's own
        ``initiate`` (the kernel's reference); returns how many rows got extra hits."""
        x, P = model.initiate(m.xy, m.R, v, v_var)
        tracks.x[rows] = x
        tracks.P[rows] = P
        tracks.t[rows] = m.t
        tracks.t_first[rows] = m.t
        tracks.state[rows] = TENTATIVE
        p = self.p
        self._x0[rows] = m.xy
        self._r0[rows] = max_eigen2(m.R[:, 0, 0], m.R[:, 0, 1], m.R[:, 1, 1])
        self._source[rows] = m.source
        self._cell[rows] = cell
        extra = self._extra[rows] = np.minimum(density // p.clutter_plots_per_extra_hit,
                                               p.clutter_max_extra_hits).astype(np.int64)
        return int(np.count_nonzero(extra))

    def confirm(self, tracks: TrackTable, rows: np.ndarray) -> np.ndarray:
        """Tentative rows among ``rows`` that now meet the rule: set confirmed, returned."""
        tentative = rows[tracks.state[rows] == TENTATIVE]
        if len(tentative) == 0:
            return tentative
        self._room(tracks.capacity)  # rows another part made: no start of their own
        p = self.p
        # the address is a key only while it is unique: a second target replying with the
        # address of a confirmed track (a duplicate, a garbled reply) waits like a code
        address = tracks.icao24[tentative]
        clash = _NO_COVER
        # (most tentative tracks are clutter: no address; count_nonzero: a fraction of
        # any()'s cost)
        if np.count_nonzero(address >= 0):
            live = tracks.active()
            taken = tracks.icao24[live[tracks.state[live] != TENTATIVE]]
            clash = np.isin(address, taken[taken >= 0])
        # the rule in C (ext/lifecycle.pyx: a few rows a batch, where numpy's masks cost
        # more than their elements); tests/test_lifecycle_kernel.py holds it to the numpy
        ok, identity = _lifecycle.confirm_rule(
            tentative, tracks.ident, ADDRESS, CODE, tracks.sdps, tracks.tracked, self._extra,
            clash, tracks.n_updates, tracks.t_update, tracks.hit_t, p.confirm_updates_modes,
            p.confirm_updates_identity, p.confirm_updates_position,
            min(p.confirm_updates_tracked, p.confirm_updates_position), p.confirm_window_s)
        plain = (ok & ~identity).nonzero()[0]
        if len(plain):
            passed = self.plausible(tracks, tentative[plain])
            ok[plain] = passed
            self.counters["initiation-gated"] += int(np.count_nonzero(~passed))
        done = tentative[ok]
        tracks.state[done] = CONFIRMED
        return done

    def plausible(self, tracks: TrackTable, rows: np.ndarray) -> np.ndarray:
        """The speed and manoeuvre gates of position-only tracks (bool per row): the mean
        velocity from the first plot to the track's state, and the filter's velocity, are
        those of an aircraft, within ``initiation_gate_sigmas`` of the noise."""
        p, k = self.p, self.p.initiation_gate_sigmas
        x, P = tracks.x[rows], tracks.P[rows]
        v = x[:, 2:4]
        v_sig = np.sqrt(P[:, 2, 2] + P[:, 3, 3])
        speed = np.hypot(v[:, 0], v[:, 1])
        ok = (speed - k * v_sig <= p.max_speed_primary_mps) & (speed + k * v_sig >= p.min_speed_mps)
        dt = tracks.t[rows] - tracks.t_first[rows]
        # plots of one instant (several radars at once) say no speed; nor does a row this
        # initiator did not start
        long = (dt > 1.0) & np.isfinite(self._r0[rows])
        if long.any():
            r, d = rows[long], dt[long]
            chord = (x[long, :2] - self._x0[r]) / d[:, None]
            c_sig = np.sqrt(self._r0[r] + max_eigen2(P[long, 0, 0], P[long, 0, 1],
                                                     P[long, 1, 1])) / d
            c_speed = np.hypot(chord[:, 0], chord[:, 1])
            dv = np.hypot(*(v[long] - chord).T)
            dv_sig = np.hypot(v_sig[long], c_sig)
            ok[long] &= ((c_speed - k * c_sig <= p.max_speed_primary_mps)
                         & (c_speed + k * c_sig >= p.min_speed_mps)
                         & (2.0 * (dv - k * dv_sig) / d <= p.max_accel_mps2))
        return ok

    def dropped(self, tracks: TrackTable, rows: np.ndarray, now: float) -> None:
        """Tentative tracks given up: their plots never joined a confirmed track.  Those of
        position-only tracks are clutter the map learns, in the cell where each began."""
        if len(rows) == 0 or len(self._r0) == 0:
            return
        # no address, no discrete code, no SDPS, not tracked: in C (ext/lifecycle.pyx: a
        # few rows, where numpy's masks cost more than their elements), held to the numpy
        # by tests/test_lifecycle_kernel.py
        plain = _lifecycle.plain_rows(rows, tracks.ident, ADDRESS, CODE, tracks.sdps,
                                      tracks.tracked)
        if len(plain):
            self.clutter.learn(self._source[plain], self._cell[plain], tracks.t_update[plain],
                               tracks.n_updates[plain].astype(np.float64))


class TimeoutDeleter:
    """Coasting and ending by time since the last update, by coverage (``coverage``: None
    or no radar, or ``hidden_max_s`` 0: no hidden tracks) and by the scans missed of the
    radars that should have seen the track (``end_probability``; see ``missed``)."""

    # intervals between a track's plots of one radar longer than this say nothing of its
    # period (a gap in its coverage); shorter than MIN_PERIOD_S: a split plot
    MAX_PERIOD_S = 60.0
    MIN_PERIOD_S = 1.0
    PERIOD_GAIN = 0.05  # weight of one batch's intervals in a radar's learnt period

    def __init__(self, parameters: TrackerParameters,
                 coverage: Coverage | None = None) -> None:
        self.p = parameters
        self.coverage = coverage if coverage is not None and len(coverage) else None
        self.counters: Counter[str] = Counter()  # the tracker shares its own
        self._recheck = float("inf")  # next time a coasting track's coverage is looked at
        # due's silences indexed by state (TENTATIVE, CONFIRMED, COASTING)
        p = parameters
        assert (TENTATIVE, CONFIRMED, COASTING) == (0, 1, 2)
        self._limit_by_state = np.array([p.tentative_timeout_s, p.coast_after_s, p.end_after_s])
        self._end_by_state = np.array([np.inf, p.end_after_s, p.end_after_s])
        self._reviewed = -float("inf")  # time of the latest review
        sites = self.coverage.sites if self.coverage is not None else ()
        # each radar's scan period (nan: not known yet), and which are given, not learnt
        self.period = np.array([np.nan if s.period_s is None else s.period_s for s in sites],
                               dtype=np.float64)
        self._given = np.isfinite(self.period)
        self._site: dict[tuple[int, int], int] = {
            s.key: i for i, s in enumerate(sites) if s.key is not None}
        # per track row: the uid it belonged to, and the time of its latest plot of each radar
        self._uid = np.zeros(0, dtype=np.int64)
        self._last = np.zeros((0, len(sites)))
        # what follows from the periods, asked on every batch: made again when one changes
        self._first = self._shortest = self._least = float("inf")
        # due's silences: a row per rule, a column per state (TENTATIVE, CONFIRMED, COASTING);
        # the first miss's (tentative) is the periods'
        self._after = np.array([self._limit_by_state] + (
            [[np.inf, p.end_min_s, p.end_min_s], self._end_by_state] if self.counting else []))
        self._shortest_fixed = min(p.tentative_timeout_s, p.coast_after_s, p.end_after_s,
                                   p.end_min_s if self.counting else float("inf"))
        self._periods_changed()
        # misses_to_end by kind, read by index: 2 x tentative + transponder (the rule's
        # logarithms of two probabilities, computed once instead of per row and review)
        pd = np.array([p.detection_probability_primary, p.detection_probability] * 2)
        prob = np.repeat([p.end_probability, p.tentative_end_probability], 2)
        with np.errstate(divide="ignore"):
            k = np.log(prob) / np.log1p(-pd)  # inf where prob is 0: never
        self._misses_by_kind = np.ceil(k * (1.0 - 1e-9))

    @property
    def modelled(self) -> bool:
        """Whether coverage gaps keep tracks alive."""
        return self.coverage is not None and self.p.hidden_max_s > 0

    @property
    def counting(self) -> bool:
        """Whether the radars' missed scans end tracks (``end_probability``)."""
        return self.coverage is not None and self.p.end_probability > 0

    def observe(self, tracks: TrackTable, rows: np.ndarray, key: tuple[int, int],
                t: np.ndarray) -> None:
        """Plots of radar ``key`` (sac, sic) at times ``t`` updated or started these rows.
        The radar's scan period is learnt from the time between one track's successive
        plots of it: the median of a batch's intervals, each divided by the number of
        scans it spans at the period known so far (a missed scan doubles an interval),
        smoothed over batches."""
        site = self._site.get(key)
        if site is None or len(rows) == 0:
            return
        if len(self._uid) < tracks.capacity:
            grow = tracks.capacity - len(self._uid)
            self._uid = np.concatenate([self._uid, np.full(grow, -1, np.int64)])
            self._last = np.vstack([self._last, np.full((grow, self._last.shape[1]), np.nan)])
        known = float(self.period[site])
        # the median interval in [MIN_PERIOD_S, MAX_PERIOD_S] over the scans it spans at
        # ``known`` (a row another track had forgets its times first; nan: none), the
        # latest times moved on
        median = _lifecycle.scan_period(
            self._uid, self._last, rows, tracks.uid[rows], t, site, known,
            not self._given[site], self.MIN_PERIOD_S, self.MAX_PERIOD_S)
        if median != median:
            return
        if not math.isfinite(known):
            period = median
        else:
            period = known + self.PERIOD_GAIN * (median - known)
        self.period[site] = period
        # what follows from the periods is their least one's: it stays while this radar's
        # was not the least and is not less now (most batches)
        if known == self._least or not period >= self._least:
            self._periods_changed()

    def review(self, tracks: TrackTable, rows: np.ndarray, now: float,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows to coast, confirmed rows that ended, tentative rows to drop) at ``now``."""
        p = self.p
        # a row silent for less than the shortest rule's silence changes in none of them
        # (each rule's silence is at least as long as its age since the latest update);
        # the silence of the others counts from their latest update or time hidden
        rows, age, silent, state = _lifecycle.aged(tracks.state, tracks.t_update,
                                                   tracks.t_hidden, rows, now, self.shortest)
        self._recheck = float("inf")
        self._reviewed = now
        if len(rows) == 0:
            return rows, rows, rows
        # the rule in C, a step at a time (ext/lifecycle.pyx: a few dozen rows, where numpy's
        # masks cost more than their elements), the coverage between: the rows to look at,
        # then each row's verdict
        if self.modelled:
            look = _lifecycle.hide_look(state, age, p.coast_after_s, p.hidden_max_s)
            if len(look):
                r = rows[look]
                hidden = self._hidden(tracks, r, now, p.hidden_max_s - age[look])
                if hidden.any():
                    newly = r[hidden & ~(tracks.t_hidden[r] >= tracks.t_update[r])]
                    self.counters["track-hidden"] += len(newly)
                    tracks.t_hidden[r[hidden]] = now
                    silent[look[hidden]] = 0.0
                self._recheck = now + p.hidden_review_s
        first = self._first_miss()
        look, count, k, covered, need = _NONE, _NONE, _NO_K, _NO_COVER, _NO_K
        if self.counting and first < np.inf:
            look = _lifecycle.miss_look(state, age, silent, p.tentative_timeout_s, first,
                                        p.end_min_s)
            if len(look):
                # only the rows whose count could change their verdict: a count bounded
                # below its need, short of end_after_s and end_max_s, changes none
                # (``_lifecycle.may_end``; tests/test_lifecycle_kernel.py holds review
                # to counting them all), each with its ``misses_to_end``
                count, need = _lifecycle.may_end(
                    look, rows, silent, tracks.ident, tracks.state, ADDRESS, MODE3A,
                    self._misses_by_kind, self.period, min(p.end_after_s, p.end_max_s))
                if len(count):
                    k, covered = self.missed(tracks, rows[count], now, silent[count])
                self._recheck = min(self._recheck, now + p.hidden_review_s)
        coast, end, drop, by_misses = _lifecycle.verdicts(
            rows, state, age, silent, count, k, covered, need, p.tentative_timeout_s,
            p.coast_after_s, p.end_after_s, p.end_max_s)
        if len(look):  # counted (the key shown, 0 too) once the misses were looked at
            self.counters["track-ended-by-misses"] += by_misses
        return coast, end, drop

    def _periods_changed(self) -> None:
        """Makes again what follows from the periods (``_first_miss``, ``shortest``): only
        ``observe`` changes them, while every batch and review asks."""
        known = [v for v in self.period.tolist() if math.isfinite(v)]
        self._least = min(known) if known else float("inf")
        self._first = 1.5 * self._least if known else float("inf")
        self._shortest = min(self._shortest_fixed, self._first)
        if self.counting:  # due's first-miss rule, of tentative tracks
            self._after[1, 0] = self._first

    def _first_miss(self) -> float:
        """The shortest silence in which a radar can have missed a scan (inf: no period
        known)."""
        return self._first

    def misses_to_end(self, tracks: TrackTable, rows: np.ndarray) -> np.ndarray:
        """The scans missed in a row that end each track: the least k whose chance
        (1 - Pd)^k is at most the end probability of its state, Pd that of its kind
        (transponder or primary only)."""
        # in C (ext/lifecycle.pyx): by_kind read at 2 x tentative + transponder
        return _lifecycle.misses_needed(tracks.ident, tracks.state, rows, ADDRESS, MODE3A,
                                        self._misses_by_kind)

    def missed(self, tracks: TrackTable, rows: np.ndarray, now: float,
               silent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(k, covered) per row: the scans the radars that see each track's prediction at
        ``now`` made in its ``silent`` seconds, none of which detected it (each radar's
        whole scans since, less half a scan: the plot of the latest may be on its way, or
        its beam may cross the aircraft a little later than a period after the last); and
        whether any radar sees it.  A radar whose period is not known yet counts none."""
        assert self.coverage is not None
        x, y, _vx, _vy, h, _rate = self._predicted(tracks, rows, now)
        seen = self.coverage.seen_by(x, y, h)
        return _lifecycle.missed_scans(seen, silent, self.period)

    def _predicted(self, tracks: TrackTable, rows: np.ndarray, now: float,
                   ) -> tuple[np.ndarray, ...]:
        """Each track's straight-line prediction at ``now`` (x, y, vx, vy in the plane), its
        height (from its latest level on at the level filter's rate of climb; primary only:
        ``hidden_height_m``) and rate of climb (m/s)."""
        return _lifecycle.predicted(tracks.x, tracks.t, tracks.level, rows, now, LEVEL_T,
                                    LEVEL_LAST, FT, self.p.hidden_height_m)

    def _hidden(self, tracks: TrackTable, rows: np.ndarray, now: float,
                ahead_s: np.ndarray) -> np.ndarray:
        """Which of these tracks' straight-line predictions at ``now`` are hidden (seen by
        no radar, seen again within ``ahead_s``), from their latest level on at the level
        filter's rate of climb."""
        assert self.coverage is not None
        x, y, vx, vy, h, rate = self._predicted(tracks, rows, now)
        return self.coverage.hidden(x, y, vx, vy, h, ahead_s, vz=rate)

    def due(self, tracks: TrackTable, rows: np.ndarray) -> float:
        """The earliest time at which ``review`` could change one of these rows (if none
        of them is updated before): the tracker need not review before.  Times before
        the latest review were looked at then; what the missed scans may change later is
        looked at again at the recheck."""
        if len(rows) == 0:
            return float("inf")
        # each rule's silence from each row's silence start, by state; the earliest of
        # those not before the latest review
        at = _lifecycle.earliest(tracks.state, tracks.t_update, tracks.t_hidden, rows,
                                 self._after, self._reviewed)
        return min(at, self._recheck)

    @property
    def shortest(self) -> float:
        """The shortest silence that changes a track's state."""
        return self._shortest
