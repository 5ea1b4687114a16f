"""The deleter's miss-counting rule (``end_probability``): a silent track ends once the radars
whose coverage its prediction is in should have seen it so often that the chance of that
many misses in a row, (1 - Pd)^k, is below the threshold.  One slow radar keeps a track
through misses that dense coverage does not; a tentative track goes sooner; where no radar
sees, the timeouts stay."""

from __future__ import annotations

import dataclasses

import numpy as np

from gateway.associate import ConformalFrame, TrackerParameters
from gateway.associate.coverage import Coverage, RadarCoverage
from gateway.associate.lifecycle import TimeoutDeleter
from gateway.associate.tracks import CODE, CONFIRMED, MODE3A, TENTATIVE, TrackTable

T0 = 1_779_868_800.0
FRAME = ConformalFrame()
SITE = (30.0, -104.0, 300.0)  # lat, lon, antenna height (m)
SLOW = (12.0,)  # one en-route radar of 12 s
DENSE = (4.6, 4.8, 5.0, 6.0)  # four radars at the same place, 4.6-6 s


def deleter(periods: tuple[float, ...], **changes: float) -> TimeoutDeleter:
    sites = [RadarCoverage(*SITE, key=(1, n), period_s=T) for n, T in enumerate(periods)]
    p = dataclasses.replace(TrackerParameters(), **changes)
    return TimeoutDeleter(p, Coverage(FRAME, sites))


def track(state: int = CONFIRMED, code: int = 0o2345, east_m: float = 30_000.0,
          ) -> tuple[TrackTable, np.ndarray]:
    """One silent track since T0, ``east_m`` east of the radars, flying north at 60 m/s
    and 600 m (no level: the deleter's default height), with a Mode-3/A code (-1: none)."""
    tracks = TrackTable(hits=3)
    rows = tracks.new(1)
    x, y = FRAME.to_xy(np.array([SITE[0]]), np.array([SITE[1]]))
    tracks.x[rows] = [x[0] + east_m, y[0], 0.0, 60.0]
    tracks.t[rows] = tracks.t_update[rows] = tracks.t_first[rows] = T0
    tracks.state[rows] = state
    tracks.ident[rows, CODE] = code
    tracks.ident[rows, MODE3A] = code
    return tracks, rows


def ends(d: TimeoutDeleter, tracks: TrackTable, rows: np.ndarray, silent: float) -> bool:
    _coast, end, drop = d.review(tracks, rows, T0 + silent)
    return bool(len(end) or len(drop))


def test_misses_to_end_follow_the_detection_probability() -> None:
    d = deleter(SLOW)
    tracks, rows = track()
    assert d.misses_to_end(tracks, rows)[0] == 6  # 0.1^6 <= 1e-6
    tracks.ident[rows, CODE] = tracks.ident[rows, MODE3A] = -1  # primary only: Pd 0.5
    assert d.misses_to_end(tracks, rows)[0] == 20
    tracks.state[rows] = TENTATIVE
    assert d.misses_to_end(tracks, rows)[0] == 7  # 0.5^7 <= 0.01


def test_one_slow_radar_keeps_a_track_that_dense_coverage_ends() -> None:
    slow, dense = deleter(SLOW), deleter(DENSE)
    # 70 s: five missed scans of the 12 s radar (a run that happens over thousands of
    # tracks), beyond the old constant end_after_s
    assert 70.0 > TrackerParameters().end_after_s
    assert not ends(slow, *track(), 70.0)
    # the same silence under four radars of 4.6-6 s: 49 missed scans
    assert ends(dense, *track(), 70.0)
    # the slow radar's sixth miss ends it (12 s x 6.5: half a scan for the plot on its way)
    assert not ends(slow, *track(), 77.0)
    assert ends(slow, *track(), 79.0)


def test_dense_coverage_ends_a_track_at_the_floor_not_before() -> None:
    p = TrackerParameters()
    d = deleter(DENSE)
    tracks, rows = track()
    k, covered = d.missed(tracks, rows, T0 + p.end_min_s - 1.0, np.array([p.end_min_s - 1.0]))
    assert covered[0] and k[0] >= d.misses_to_end(tracks, rows)[0]  # enough misses ...
    assert not ends(d, tracks, rows, p.end_min_s - 1.0)  # ... but not before end_min_s
    assert ends(d, tracks, rows, p.end_min_s + 0.5)


def test_a_tentative_track_dies_sooner_than_a_confirmed_one() -> None:
    d = deleter(DENSE)
    # 10 s under four radars: four missed scans; a tentative track with a code needs 2
    # (0.1^2 <= 0.01), a confirmed one 6 and end_min_s
    assert ends(d, *track(TENTATIVE), 10.0)
    assert not ends(d, *track(CONFIRMED), 10.0)
    # the same tentative track under one slow radar: one missed scan by 20 s, kept
    assert not ends(deleter(SLOW), *track(TENTATIVE), 20.0)


def test_a_primary_only_track_under_one_slow_radar_ends_at_the_ceiling() -> None:
    p = TrackerParameters()
    d = deleter(SLOW)
    tracks, rows = track(code=-1)
    assert not ends(d, tracks, rows, p.end_max_s - 1.0)  # 6 misses of 20
    assert ends(d, tracks, rows, p.end_max_s + 1.0)


def test_where_no_radar_sees_the_timeout_stays() -> None:
    """A track far beyond every radar's range (leaving the coverage for good) ends on
    ``end_after_s``, whatever the radars' periods."""
    p = TrackerParameters()
    d = deleter(DENSE)
    far = 600_000.0  # 324 NM: beyond the 250 NM range
    assert not ends(d, *track(east_m=far), p.end_after_s - 1.0)
    assert ends(d, *track(east_m=far), p.end_after_s + 1.0)


def test_no_period_known_means_no_miss_counted() -> None:
    """Radars whose scan period was neither given nor learnt yet (the first scans) count
    no miss: the track ends on ``end_after_s``, not on a guess."""
    p = TrackerParameters()
    sites = [RadarCoverage(*SITE, key=(1, 1))]
    d = TimeoutDeleter(p, Coverage(FRAME, sites))
    tracks, rows = track()
    k, covered = d.missed(tracks, rows, T0 + 59.0, np.array([59.0]))
    assert covered[0] and k[0] == 0
    assert not ends(d, tracks, rows, p.end_after_s - 1.0)
    assert ends(d, tracks, rows, p.end_after_s + 1.0)


def test_off_when_end_probability_is_zero() -> None:
    p = TrackerParameters()
    d = deleter(DENSE, end_probability=0.0, tentative_end_probability=0.0)
    assert not ends(d, *track(), p.end_after_s - 1.0)
    assert ends(d, *track(), p.end_after_s + 1.0)


def test_scan_period_learnt_from_plots_through_missed_scans() -> None:
    sites = [RadarCoverage(*SITE, key=(1, 1))]
    d = TimeoutDeleter(TrackerParameters(), Coverage(FRAME, sites))
    tracks = TrackTable(hits=3)
    rows = tracks.new(5)
    rng = np.random.default_rng(1)
    t = T0 + rng.uniform(0.0, 12.0, len(rows))
    d.observe(tracks, rows, (1, 1), t)
    assert np.isnan(d.period[0])  # one plot of each track: no interval yet
    for _scan in range(200):
        seen = rng.random(len(rows)) < 0.8  # one scan in five missed
        t = t + 12.0 + rng.normal(0.0, 0.05, len(rows))
        d.observe(tracks, rows[seen], (1, 1), t[seen])
    assert abs(d.period[0] - 12.0) < 0.3
    d.observe(tracks, rows, (9, 9), t + 12.0)  # a radar not in the coverage: ignored
    # a row given to another track starts afresh: no interval across the two
    before = d.period[0]
    tracks.free(rows[:1])
    new = tracks.new(1)
    d.observe(tracks, new, (1, 1), np.array([t[0] + 2.0]))
    assert d.period[0] == before
