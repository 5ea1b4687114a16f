"""The tracker against the field's peer in the same run (issue 16): Stone Soup, the open
tracking framework (pure Python), as a comparable multi-target tracker on the same timed
data of ``test_associate_speed``'s scenario (1,000 aircraft, 8 radars x 16 sectors and
2 SDPS).

Stone Soup is set up as its documentation builds a GNN tracker: per batch, a
``KalmanPredictor`` on a constant-velocity model in x and y, a ``KalmanUpdater`` on a linear
position measurement, a ``DistanceHypothesiser`` on the Mahalanobis distance, and
``GNNWith2DAssignment``.  Each plot's measurement noise is its radar's range and azimuth
noise turned into the plane at its own range and bearing (what our tracker's plot ellipse
also starts from); an SDPS track's is 100 m, the figure our tracker is given.  Its tracks
start from our tracker's confirmed tracks at the end of the same warm-up (so both start
from the same picture and the warm-up stays out of the timing), and it initiates none.

Stone Soup predicts every track to every detection's own time (plots carry the time the
beam crossed them), then the measurement and the distance, in Python objects: with ~1,000
tracks a plot costs it ~1,000 of those, about a third of a second of CPU here.  The whole
minute (29,466 updates) would take it hours, so both are timed on the same fixed prefix of
the timed minute, ``PREFIX_S``: its first second, 18 radar sectors and one SDPS cycle
(~1,000 updates, three quarters of them SDPS tracks, against about half in the whole
minute; an SDPS cycle shares one time, so Stone Soup's prediction cache makes its tracks
cheaper than its plots).  In the smoke run (benchmarks disabled) the prefix is 0.1 s, two
sectors, some 10 s of Stone Soup.  Our tracker is timed from its warm state through the
same batches, its message conversion included; Stone Soup's detections are made
beforehand, outside its timing.  Both are timed in CPU seconds of this process (the
machine may be shared): ours best of five rounds, Stone Soup's one run.

Run with ``pytest benchmarks/test_associate_peer.py --benchmark-enable``.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import numpy as np
import pytest
from test_associate_speed import (
    Batch,
    _correct_share,
    _feed,
    _pairs,
    _warm_tracker,
    scenario,  # noqa: F401  (the module's fixture, shared)
)

from gateway.associate import ConformalFrame, RadarNoise, Tracker
from gateway.messages import Plot

PREFIX_S = 1.0  # of the timed minute, in the timed run
SMOKE_PREFIX_S = 0.1  # in the smoke run (benchmarks disabled)
SDPS_SIGMA_M = 100.0
Q = 6.0  # m^2/s^3, our tracker's CV figure (TrackerParameters.q)
GATE = 4.0  # Mahalanobis distance (not squared): 99.97 % of a 2-d Gaussian inside

stonesoup = pytest.importorskip("stonesoup")
from stonesoup.dataassociator.neighbour import GNNWith2DAssignment  # noqa: E402
from stonesoup.hypothesiser.distance import DistanceHypothesiser  # noqa: E402
from stonesoup.measures import Mahalanobis  # noqa: E402
from stonesoup.models.measurement.linear import LinearGaussian  # noqa: E402
from stonesoup.models.transition.linear import (  # noqa: E402
    CombinedLinearGaussianTransitionModel,
    ConstantVelocity,
)
from stonesoup.predictor.kalman import KalmanPredictor  # noqa: E402
from stonesoup.types.detection import Detection  # noqa: E402
from stonesoup.types.state import GaussianState  # noqa: E402
from stonesoup.types.track import Track as SoupTrack  # noqa: E402
from stonesoup.updater.kalman import KalmanUpdater  # noqa: E402

ORDER = [0, 2, 1, 3]  # ours [x, y, vx, vy] -> Stone Soup's [x, vx, y, vy]


def _when(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.UTC)


def _detections(batches: list[Batch], radars: dict[tuple[int, int], RadarNoise],
                frame: ConformalFrame) -> list[list[tuple[int, Detection]]]:
    """Per batch, (message index, Stone Soup detection) of every message, x/y in our plane."""
    sites = {k: frame.to_xy(np.array([r.lat]), np.array([r.lon])) for k, r in radars.items()}
    out = []
    for b in batches:
        lat = np.array([m.lat for m in b.messages])
        lon = np.array([m.lon for m in b.messages])
        x, y = frame.to_xy(lat, lon)
        dets = []
        for i, m in enumerate(b.messages):
            if type(m) is Plot:
                r = radars[(m.src.sac, m.src.sic)]
                xr, yr = sites[(m.src.sac, m.src.sic)]
                bearing = np.arctan2(x[i] - xr[0], y[i] - yr[0])
                u = np.array([np.sin(bearing), np.cos(bearing)])  # along the line of sight
                v = np.array([u[1], -u[0]])
                across = np.hypot(x[i] - xr[0], y[i] - yr[0]) * np.radians(r.sigma_azimuth_deg)
                R = r.sigma_range_m ** 2 * np.outer(u, u) + across ** 2 * np.outer(v, v)
            else:
                R = np.eye(2) * SDPS_SIGMA_M ** 2
            model = LinearGaussian(ndim_state=4, mapping=(0, 2), noise_covar=R)
            dets.append((i, Detection([[x[i]], [y[i]]], timestamp=_when(m.t),
                                      measurement_model=model)))
        out.append(dets)
    return out


def _soup_tracks(tracker: Tracker) -> dict[SoupTrack, int]:
    """Our confirmed tracks as Stone Soup tracks, each with our uid."""
    t = tracker.tracks
    rows = np.flatnonzero(t.alive & (t.state > 0))
    return {SoupTrack([GaussianState(t.x[r][ORDER][:, None], t.P[r][np.ix_(ORDER, ORDER)],
                                     timestamp=_when(float(t.t[r])))]): int(t.uid[r])
            for r in rows.tolist()}


def _stonesoup_gnn() -> tuple[GNNWith2DAssignment, KalmanUpdater]:
    transition = CombinedLinearGaussianTransitionModel([ConstantVelocity(Q),
                                                        ConstantVelocity(Q)])
    updater = KalmanUpdater(LinearGaussian(ndim_state=4, mapping=(0, 2),
                                           noise_covar=np.eye(2) * SDPS_SIGMA_M ** 2))
    hypothesiser = DistanceHypothesiser(KalmanPredictor(transition), updater, Mahalanobis(),
                                        missed_distance=GATE)
    return GNNWith2DAssignment(hypothesiser), updater


def _run_stonesoup(tracks: dict[SoupTrack, int], batches: list[Batch],
                   detections: list[list[tuple[int, Detection]]]) -> list:
    """Every batch through Stone Soup's GNN: associate, update the associated tracks (a
    missed track keeps its state: no prediction appended); where each message went, as
    ``_feed`` reports it."""
    associator, updater = _stonesoup_gnn()
    went = []
    for b, dets in zip(batches, detections, strict=True):
        index_of = {id(d): i for i, d in dets}
        hyps = associator.associate(tracks.keys(), {d for _, d in dets}, _when(b.t_sent))
        index, uid = [], []
        for track, hyp in hyps.items():
            if hyp:
                track.append(updater.update(hyp))
                index.append(index_of[id(hyp.measurement)])
                uid.append(tracks[track])
        went.append((b.truth, np.array(index, dtype=np.int64), np.array(uid, dtype=np.int64)))
    return went


def _warm_with_owners(warm: list[Batch], radars: dict[tuple[int, int], RadarNoise]
                      ) -> tuple[Tracker, dict[int, int]]:
    """Our tracker after the warm-up, and each aircraft's track (uid) in it: the one most
    of its warm-up updates went to.  Both trackers start from these tracks."""
    tracker = _warm_tracker([], radars)
    _, went = _feed(tracker, warm)
    best: dict[int, tuple[int, int]] = {}
    for (aircraft, uid), c in _pairs(went).items():
        if uid >= 0 and c > best.get(aircraft, (-1, 0))[1]:
            best[aircraft] = (uid, c)
    return tracker, {aircraft: uid for aircraft, (uid, _) in best.items()}


def _to_owner(went: list, owners: dict[int, int], batches: list[Batch]) -> float:
    """Share of the aircraft's updates (clutter left out) that went to the aircraft's
    track at the end of the warm-up; an update left unassociated counts as wrong.  (With a
    prefix of a second or two most aircraft are seen once, so ``_correct_share``, which
    takes each aircraft's track to be the one most of its updates went to, is near 1 for
    any association; this one is not.)"""
    right = sum(c for (aircraft, uid), c in _pairs(went).items() if owners.get(aircraft) == uid)
    return right / sum(int((b.truth >= 0).sum()) for b in batches)


def test_against_stonesoup(benchmark: Any, request: Any, scenario: Any,  # noqa: F811
                           against_the_peer: Any) -> None:
    warm, timed, radars = scenario
    enabled = not request.config.getoption("benchmark_disable")
    prefix_s = PREFIX_S if enabled else SMOKE_PREFIX_S
    first = timed[0].t_sent
    batches = [b for b in timed if b.t_sent < first + prefix_s]
    updates = sum(len(b.messages) for b in batches)
    sdps = sum(len(b.messages) for b in batches if type(b.messages[0]) is not Plot)
    start_from, owners = _warm_with_owners(warm, radars)
    detections = _detections(batches, radars, start_from.frame)
    result: dict[str, Any] = {}

    def setup() -> tuple[tuple[Tracker], dict[str, Any]]:
        return (_warm_tracker(warm, radars),), {}

    def ours(tracker: Tracker) -> int:
        start = time.process_time()
        n, went = _feed(tracker, batches)
        cpu = time.process_time() - start
        result.update(ours_cpu=min(result.get("ours_cpu", np.inf), cpu), ours_went=went)
        return n

    assert benchmark.pedantic(ours, setup=setup, rounds=5 if enabled else 1,
                              iterations=1) == updates
    tracks = _soup_tracks(start_from)
    start = time.process_time()
    peer_went = _run_stonesoup(tracks, batches, detections)
    peer_cpu = time.process_time() - start
    ours_share = _to_owner(result["ours_went"], owners, batches)
    peer_share = _to_owner(peer_went, owners, batches)
    assert updates >= 25 and len(tracks) >= 950
    assert ours_share > 0.99, ours_share
    # Stone Soup's GNN, started from the same tracks, keeps the aircraft on them
    assert peer_share > 0.97, peer_share
    if benchmark.stats:
        rate = updates / result["ours_cpu"]
        peer_rate = updates / peer_cpu
        benchmark.extra_info.update(against_the_peer(benchmark, {
            "prefix_s": prefix_s, "updates": updates, "sdps_updates": sdps,
            "tracks": len(tracks), "updates_per_cpu_s": round(rate),
            "correct_share": round(_correct_share(_pairs(result["ours_went"])), 5),
            "to_warm_track_share": round(ours_share, 5),
            "peer_updates_per_cpu_s": round(peer_rate, 1),
            "peer_cpu_s": round(peer_cpu, 1),
            "peer_correct_share": round(_correct_share(_pairs(peer_went)), 5),
            "peer_to_warm_track_share": round(peer_share, 5),
            "cpu_ratio_to_peer": round(rate / peer_rate)}))
