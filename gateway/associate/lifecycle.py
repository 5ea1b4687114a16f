"""Initiator and deleter: how tracks are born, confirmed, coast and end.

Birth.  Every measurement that no track takes starts a tentative track (the tracker keeps
back late ones, duplicates of a track it already has, and SDPS reports that no longer fit
the track their number feeds), with the source's own velocity when it gave one: a radar
tracker's I200 or an SDPS track's velocity, which makes the second gate tight.  A tentative
track fed only by untracked primary plots looks like clutter: a report with an identity or
with its source's own track number does not join it (the gater sees to that), so clutter
never lends a new aircraft a made-up velocity.

Confirmation is M-of-N, with N as a time window.  A report with an identity (Mode S
address, a discrete Mode-3/A code) or from an SDPS (a track another system confirmed) needs
``confirm_updates_identity`` (2) updates; a position-only track needs
``confirm_updates_position`` (3) within ``confirm_window_s``: PSR clutter (a few false plots
per scan, spread over the coverage) starts tentative tracks all the time but almost never
lines up three times.  A tentative track is never published as confirmed.

Death is by silence.  A confirmed track that no source has updated for ``coast_after_s`` is
coasting (about twice the slowest antenna: one missed scan of every radar is not news);
after ``end_after_s`` it has ended.  A tentative track dies sooner, silently.  Silence is
not news either where no radar can see: with a coverage model (``coverage.py``) a coasting
track whose predicted position is hidden (a cone of silence no other radar covers) is
looked at every ``hidden_review_s`` and does not end while it is hidden (up to
``hidden_max_s`` since its last update); the ``end_after_s`` of silence then counts from
the last time it was hidden, so that it is re-associated when plots come back.

Ids are the tracker's: given at confirmation (so clutter never uses up numbers), taken back
by an aircraft that returns from a coverage gap (``reacquire_window_s``: by Mode S address,
else by discrete code and identification near the predicted position), and handed on from a
track that lost its aircraft to the track that picked it up.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from gateway.associate.coverage import Coverage
from gateway.associate.filter import ConstantVelocity
from gateway.associate.frame import ConformalFrame
from gateway.associate.measurements import Measurements
from gateway.associate.parameters import TrackerParameters
from gateway.associate.tracks import CONFIRMED, LEVEL_LAST, LEVEL_T, TENTATIVE, TrackTable
from gateway.units import FT

__all__ = ["MofNInitiator", "TimeoutDeleter"]


class MofNInitiator:
    """Starts tentative tracks from single measurements; confirms them M-of-N."""

    def __init__(self, parameters: TrackerParameters,
                 frame: ConformalFrame | None = None) -> None:
        self.p = parameters
        self.frame = frame or ConformalFrame(parameters.frame)

    @property
    def hits(self) -> int:
        """How many update times a track must remember for the rule."""
        return max(self.p.confirm_updates_identity, self.p.confirm_updates_position)

    def initiate(self, tracks: TrackTable, m: Measurements,
                 model: ConstantVelocity) -> np.ndarray:
        """New tentative rows, one per measurement, with their kinematic state and times
        (identity, level and counts are the tracker's, as for any update)."""
        rows = tracks.new(len(m))
        if len(rows) == 0:
            return rows
        v, v_var = m.velocity(self.frame)
        x, P = model.initiate(m.xy, m.R, v, v_var)
        tracks.x[rows] = x
        tracks.P[rows] = P
        tracks.t[rows] = m.t
        tracks.t_first[rows] = m.t
        tracks.state[rows] = TENTATIVE
        return rows

    def confirm(self, tracks: TrackTable, rows: np.ndarray) -> np.ndarray:
        """Tentative rows among ``rows`` that now meet the rule: set confirmed, returned."""
        tentative = rows[tracks.state[rows] == TENTATIVE]
        if len(tentative) == 0:
            return tentative
        identity = ((tracks.icao24[tentative] >= 0) | (tracks.code[tentative] >= 0)
                    | tracks.sdps[tentative])
        need = np.where(identity, self.p.confirm_updates_identity,
                        self.p.confirm_updates_position)
        oldest = tracks.hit_t[tentative, tracks.hits - need]
        ok = (tracks.n_updates[tentative] >= need) & (
            tracks.t_update[tentative] - oldest <= self.p.confirm_window_s)
        done = tentative[ok]
        tracks.state[done] = CONFIRMED
        return done


class TimeoutDeleter:
    """Coasting and ending by time since the last update, and by coverage (``coverage``:
    None or no radar, or ``hidden_max_s`` 0: by time alone)."""

    def __init__(self, parameters: TrackerParameters,
                 coverage: Coverage | None = None) -> None:
        self.p = parameters
        self.coverage = coverage if coverage is not None and len(coverage) else None
        self.counters: Counter[str] = Counter()  # the tracker shares its own
        self._recheck = float("inf")  # next time a coasting track's coverage is looked at

    @property
    def modelled(self) -> bool:
        """Whether coverage gaps keep tracks alive."""
        return self.coverage is not None and self.p.hidden_max_s > 0

    def review(self, tracks: TrackTable, rows: np.ndarray, now: float,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows to coast, confirmed rows that ended, tentative rows to drop) at ``now``."""
        p = self.p
        age = now - tracks.t_update[rows]
        state = tracks.state[rows]
        tentative = state == TENTATIVE
        drop = rows[tentative & (age > p.tentative_timeout_s)]
        silent = now - np.fmax(tracks.t_update[rows], tracks.t_hidden[rows])
        self._recheck = float("inf")
        if self.modelled:
            look = (~tentative & (age > p.coast_after_s) & (age <= p.hidden_max_s)).nonzero()[0]
            if len(look):
                r = rows[look]
                hidden = self._hidden(tracks, r, now, p.hidden_max_s - age[look])
                if hidden.any():
                    newly = r[hidden & ~(tracks.t_hidden[r] >= tracks.t_update[r])]
                    self.counters["track-hidden"] += len(newly)
                    tracks.t_hidden[r[hidden]] = now
                    silent[look[hidden]] = 0.0
                self._recheck = now + p.hidden_review_s
        over = ~tentative & (silent > p.end_after_s)
        end = rows[over]
        coast = rows[(state == CONFIRMED) & (age > p.coast_after_s) & ~over]
        return coast, end, drop

    def _hidden(self, tracks: TrackTable, rows: np.ndarray, now: float,
                ahead_s: np.ndarray) -> np.ndarray:
        """Which of these tracks' straight-line predictions at ``now`` are hidden (seen by
        no radar, seen again within ``ahead_s``), from their latest level on at the level
        filter's rate of climb."""
        assert self.coverage is not None
        x = tracks.x[rows]
        dt = now - tracks.t[rows]
        level = tracks.level[rows]
        fl = level[:, LEVEL_LAST]
        rate = np.nan_to_num(level[:, 1]) * 100.0 * FT  # m/s
        since = np.nan_to_num(now - level[:, LEVEL_T])
        h = np.where(fl == fl, np.fmax(fl * 100.0 * FT + rate * since, 0.0),
                     self.p.hidden_height_m)
        return self.coverage.hidden(x[:, 0] + x[:, 2] * dt, x[:, 1] + x[:, 3] * dt,
                                    x[:, 2], x[:, 3], h, ahead_s, vz=rate)

    def due(self, tracks: TrackTable, rows: np.ndarray) -> float:
        """The earliest time at which ``review`` could change one of these rows (if none
        of them is updated before): the tracker need not review before."""
        if len(rows) == 0:
            return float("inf")
        p = self.p
        state = tracks.state[rows]
        since = np.where(state == TENTATIVE, tracks.t_update[rows],
                         np.fmax(tracks.t_update[rows], tracks.t_hidden[rows]))
        limit = np.where(state == TENTATIVE, p.tentative_timeout_s,
                         np.where(state == CONFIRMED, p.coast_after_s, p.end_after_s))
        return min(float((since + limit).min()), self._recheck)

    @property
    def shortest(self) -> float:
        """The shortest silence that changes a track's state."""
        return min(self.p.tentative_timeout_s, self.p.coast_after_s, self.p.end_after_s)
