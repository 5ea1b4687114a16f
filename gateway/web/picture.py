"""The air picture the web map shows, made from what the pipeline publishes (sans-IO).

``AirPicture.take`` is handed every batch the pipeline publishes (the service's own output,
not MQTT read back); ``snapshot`` and ``update`` turn it into the events of the page's
protocol (docs/web.md), and ``details`` into one track's page.  No socket and no clock:
every time comes in as an argument, so the same batches always give the same picture.

Everything held is bounded, because the picture lives as long as the gateway and its input
is the traffic: at most ``max_tracks`` live tracks (beyond it the one silent longest is
dropped, counted, and listed as gone), a trail of at most ``TRAIL_LONG`` positions each (a
fixed numpy ring: 7 KiB a track), each radar's plots of the last ``PLOT_WINDOW_S`` of
picture time up to ``max_plots`` per radar, the last ``aidc_log`` AIDC messages and
``alert_log`` alerts, and at most ``MAX_SOURCES`` sources.  What is dropped is counted in
``counters``.

Events and clients: every event carries what changed since the previous *update* (the
server sends one update to all clients).  A snapshot made between two updates holds the
tracks as they are now, but the plots, AIDC messages and alerts only up to the previous
update (``_mark``): the next update brings the rest, so a new client neither misses nor
repeats one.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec
import numpy as np

from gateway.messages import Aidc, Alert, Fused, Plot, Track
from gateway.publish.batch import Kind, Published

TRAIL_SHORT = 20  # positions of a track in a snapshot
TRAIL_LONG = 300  # positions of a track's history (its details)
TRAIL_STEP_S = 1.0  # a new trail position at most this often (picture time)
PLOT_WINDOW_S = 60.0  # plots kept per radar, picture time
MAX_SOURCES = 256  # radars and SDPS whose last time is kept
GONE_MAX_FACTOR = 2  # gone ids listed per event at most: this many times max_tracks

# The plots behind a track (``details``): a plot without the identity to match is taken
# when it is the nearest of its radar's plots to the track's position within these.
NEAR_S = 2.0
NEAR_NM = 3.0
MAX_BEHIND = 2000  # plots listed behind one track at most
NM_M = 1852.0
EARTH_M = 6_371_000.0

_COORDINATION = {"idle": "none"}


@dataclass(frozen=True)
class Limits:
    """The picture's bounds ([web] in the configuration)."""

    max_tracks: int = 5000
    max_plots: int = 20_000  # per radar, in the last PLOT_WINDOW_S
    plots_per_event: int = 2000  # per radar, in one event
    aidc_log: int = 500
    alert_log: int = 200


class _PlotEntry(NamedTuple):
    """A plot as kept: a tuple (a third of a Plot's size and quick to make)."""

    seq: int
    t: float
    lat: float
    lon: float
    fl: float | None
    mode3a: str | None
    icao24: str | None


_EMPTY_RING = bytes(8 * 3 * TRAIL_LONG)


class _LiveTrack:
    """One live track: its last fused update, and its trail as a fixed ring of
    (t, lat, lon) doubles (an array, not objects: 7 KiB whatever it holds)."""

    __slots__ = ("last", "ring", "head", "count", "last_t")

    def __init__(self, last: Fused) -> None:
        self.last = last
        self.ring = array("d", _EMPTY_RING)
        self.head = 0  # where the next position goes
        self.count = 0
        self.last_t = -math.inf  # of the newest position

    def add(self, t: float, lat: float, lon: float) -> None:
        if t < self.last_t + TRAIL_STEP_S:
            return
        i = 3 * self.head
        self.ring[i:i + 3] = array("d", (t, lat, lon))
        self.head = (self.head + 1) % TRAIL_LONG
        self.count = min(self.count + 1, TRAIL_LONG)
        self.last_t = t

    def trail(self, n: int) -> np.ndarray:
        """The last ``n`` positions (t, lat, lon), oldest first."""
        n = min(n, self.count)
        ring = np.frombuffer(self.ring, dtype=np.float64).reshape(TRAIL_LONG, 3)
        return ring[np.arange(self.head - n, self.head) % TRAIL_LONG]


def _r(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)


def _src(sac: int, sic: int) -> str:
    return f"{sac}-{sic}"


def track_kind(m: Fused) -> str:
    """mode-s: has an ICAO address; mode-ac: a Mode 3/A code or a level but no address;
    primary: neither."""
    if m.icao24 is not None:
        return "mode-s"
    if m.mode3a is not None or m.fl is not None:
        return "mode-ac"
    return "primary"


def track_dict(m: Fused) -> dict[str, Any]:
    """A track as the protocol's ``Track`` (without ``trail``)."""
    c = m.fpl.coordination if m.fpl is not None else None
    sources: list[str] = []
    for s in m.sources:
        name = _src(s.sac, s.sic)
        if name not in sources:
            sources.append(name)
    return {
        "id": m.id, "state": m.state, "kind": track_kind(m),
        "lat": _r(m.lat, 5), "lon": _r(m.lon, 5), "fl": _r(m.fl, 1),
        "roc_fpm": _r(m.roc_fpm, 0), "gs_kt": _r(m.gs_kt, 0), "trk_deg": _r(m.trk_deg, 0),
        "callsign": m.callsign, "mode3a": m.mode3a, "icao24": m.icao24,
        "sources": sources,
        "handoff": "none" if c is None else _COORDINATION.get(c.state, c.state),
        "from": None if c is None else c.from_, "to": None if c is None else c.to,
    }


def _trail_list(ring: np.ndarray) -> list[list[float]]:
    return [[round(float(lat), 5), round(float(lon), 5)] for _, lat, lon in ring]


def distance_nm(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on a sphere: enough to tell 3 NM from 30."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(a))) / NM_M


class AirPicture:
    """The live tracks, their trails, recent plots, the AIDC log and alerts, each source's
    last time; fed with ``take``, read with ``snapshot``, ``update`` and ``details``."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.tracks: OrderedDict[str, _LiveTrack] = OrderedDict()  # least recently updated first
        self.plots: dict[str, deque[_PlotEntry]] = {}
        self.aidc: deque[tuple[int, dict[str, Any]]] = deque(maxlen=self.limits.aidc_log)
        self.alerts: deque[tuple[int, dict[str, Any]]] = deque(maxlen=self.limits.alert_log)
        self.source_t: dict[str, float] = {}
        self.t: float | None = None  # the latest time of a message taken
        self.counters: Counter[str] = Counter()
        self._seq = 0  # numbers plots, AIDC messages and alerts as they come
        self._mark = 0  # the last number the previous update carried
        self._changed: set[str] = set()
        self._gone: list[str] = []
        self._last_update_t: float | None = None
        self._plots_since = 0
        self.plots_per_s = 0.0

    # -- feeding ------------------------------------------------------------------------------

    def take(self, published: Iterable[Published]) -> None:
        """Batches the pipeline published, in order."""
        for batch in published:
            if batch.kind is Kind.PICTURE:
                latest = None
                for m in batch.messages:
                    if isinstance(m, Fused):
                        self._fused(m)
                        latest = m.t if latest is None or m.t > latest else latest
                if latest is not None:
                    self.counters["fused"] += len(batch.messages)
                    self._time(latest)
            elif batch.kind is Kind.PLOTS:
                self._plots(batch)
            elif batch.kind is Kind.TRACKS:
                for m in batch.messages:
                    if isinstance(m, Track):
                        self._seen(_src(m.src.sac, m.src.sic), m.t)
            elif batch.kind is Kind.AIDC:
                for m in batch.messages:
                    if isinstance(m, Aidc):
                        self._log(self.aidc, {
                            "t": m.t, "msg": m.msg, "from": m.from_, "to": m.to,
                            "callsign": m.callsign, "track_id": m.track_id,
                            "serial": m.serial}, m.t)
                        self.counters["aidc"] += 1
            elif batch.kind is Kind.ALERTS:
                for m in batch.messages:
                    if isinstance(m, Alert):
                        self._log(self.alerts, {"t": m.t, "type": m.type,
                                                "track_id": m.track_id, "text": m.text}, m.t)
                        self.counters["alerts"] += 1

    def _time(self, t: float) -> None:
        if math.isfinite(t) and (self.t is None or t > self.t):
            self.t = t

    def _seen(self, source: str, t: float) -> None:
        if source not in self.source_t and len(self.source_t) >= MAX_SOURCES:
            self.counters["sources-dropped"] += 1
            return
        previous = self.source_t.get(source)
        if previous is None or t > previous:
            self.source_t[source] = t
        self._time(t)

    def _log(self, log: deque[tuple[int, dict[str, Any]]], entry: dict[str, Any],
             t: float) -> None:
        if log.maxlen is not None and len(log) == log.maxlen:
            self.counters["log-dropped"] += 1
        self._seq += 1
        log.append((self._seq, entry))
        self._time(t)

    def _fused(self, m: Fused) -> None:
        tracks = self.tracks
        live = tracks.get(m.id)
        if m.state == "ended":
            self._changed.discard(m.id)
            if live is not None:
                del tracks[m.id]
                self._went(m.id)
            return
        if live is None:
            live = _LiveTrack(m)
            if len(tracks) >= self.limits.max_tracks:
                oldest, _ = tracks.popitem(last=False)
                self.counters["tracks-dropped"] += 1
                self._changed.discard(oldest)
                self._went(oldest)
            tracks[m.id] = live
        else:
            tracks.move_to_end(m.id)  # last: the most recently updated
            live.last = m
        if m.lat is not None and m.lon is not None:
            live.add(m.t, m.lat, m.lon)
        self._changed.add(m.id)

    def _went(self, track_id: str) -> None:
        if len(self._gone) >= GONE_MAX_FACTOR * self.limits.max_tracks:
            self.counters["gone-dropped"] += 1
            return
        self._gone.append(track_id)

    def _plots(self, batch: Published) -> None:
        if batch.source is None:
            return
        name = _src(*batch.source)
        store = self.plots.get(name)
        if store is None:
            if len(self.plots) >= MAX_SOURCES:
                self.counters["sources-dropped"] += 1
                return
            store = self.plots[name] = deque(maxlen=self.limits.max_plots)
        latest = None
        for m in batch.messages:
            if not isinstance(m, Plot) or m.lat is None or m.lon is None:
                continue
            if len(store) == store.maxlen:
                self.counters["plots-dropped"] += 1
            self._seq += 1
            store.append(_PlotEntry(self._seq, m.t, m.lat, m.lon, m.fl, m.mode3a, m.icao24))
            self._plots_since += 1
            latest = m.t if latest is None else max(latest, m.t)
        if latest is not None:
            self._seen(name, latest)
            while store and store[0].t < latest - PLOT_WINDOW_S:
                store.popleft()

    # -- events -------------------------------------------------------------------------------

    def snapshot(self, now: float) -> dict[str, Any]:
        """Every live track with its short trail; plots, AIDC messages and alerts up to the
        previous update.  ``now``: the picture's time to put on it."""
        tracks = []
        for live in self.tracks.values():
            d = self._positioned(live)
            if d is not None:
                d["trail"] = _trail_list(live.trail(TRAIL_SHORT))
                tracks.append(d)
        return self._event(now, tracks, [], lambda seq: seq <= self._mark)

    def update(self, now: float) -> dict[str, Any]:
        """What changed since the previous update (the tracks without their trail); from
        here on the next update starts."""
        tracks = []
        for track_id in sorted(self._changed):
            live = self.tracks.get(track_id)
            d = None if live is None else self._positioned(live)
            if d is not None:
                tracks.append(d)
        mark = self._mark
        if self._last_update_t is not None and now > self._last_update_t:
            self.plots_per_s = round(self._plots_since / (now - self._last_update_t), 1)
        event = self._event(now, tracks, self._gone, lambda seq: seq > mark)
        self._changed = set()
        self._gone = []
        self._mark = self._seq
        self._last_update_t = now
        self._plots_since = 0
        return event

    def _positioned(self, live: _LiveTrack) -> dict[str, Any] | None:
        m = live.last
        return track_dict(m) if m.lat is not None and m.lon is not None else None

    def _event(self, now: float, tracks: list[dict[str, Any]], gone: list[str],
               wanted: Any) -> dict[str, Any]:
        cap = self.limits.plots_per_event
        plots: dict[str, list[list[Any]]] = {}
        for name, store in self.plots.items():
            chosen: list[list[Any]] = []
            for p in reversed(store):  # the newest first, so that the cap keeps them
                if not wanted(p.seq):
                    if p.seq <= self._mark:
                        break  # older ones are all taken already (snapshot: want them)
                    continue
                if len(chosen) >= cap:
                    self.counters["event-plots-capped"] += 1
                    break
                chosen.append([round(p.t, 2), round(p.lat, 5), round(p.lon, 5),
                               _r(p.fl, 1), p.mode3a])
            if chosen:
                chosen.reverse()
                plots[name] = chosen
        return {
            "t": now,
            "tracks": tracks,
            "gone": list(gone),
            "plots": plots,
            "aidc": [e for seq, e in self.aidc if wanted(seq)],
            "alerts": [e for seq, e in self.alerts if wanted(seq)],
            "sources": {name: round(max(now - t, 0.0), 1)
                        for name, t in sorted(self.source_t.items())},
            "counts": {"tracks": len(self.tracks), "plots_per_s": self.plots_per_s},
        }

    # -- one track ----------------------------------------------------------------------------

    def details(self, track_id: str) -> dict[str, Any] | None:
        """One track with its long trail, its flight plan and the plots behind it (None:
        no such live track)."""
        live = self.tracks.get(track_id)
        if live is None:
            return None
        m = live.last
        track = track_dict(m)
        track["trail"] = _trail_list(live.trail(TRAIL_LONG))
        return {"track": track,
                "fpl": None if m.fpl is None else msgspec.to_builtins(m.fpl),
                "plots": self.behind(live)}

    def behind(self, live: _LiveTrack) -> list[dict[str, Any]]:
        """The plots of the last ``PLOT_WINDOW_S`` that made this track, as far as plots
        say: one with an ICAO address where the track has one matches by that address
        alone (any radar); else one with a Mode 3/A code, of a radar behind the track, by
        the code, where the track has one; else (a primary plot, or a track without that
        identity) the nearest plot of a radar behind the track within ``NEAR_S`` and
        ``NEAR_NM`` of the track's trail position nearest in time."""
        m = live.last
        radars = {_src(s.sac, s.sic) for s in m.sources if s.cat == 48}
        trail = live.trail(TRAIL_LONG)
        out: list[tuple[str, _PlotEntry]] = []
        nearest: dict[tuple[str, int], tuple[float, _PlotEntry]] = {}
        for name, store in self.plots.items():
            ours = name in radars
            for p in store:
                if m.icao24 is not None and p.icao24 is not None:
                    if p.icao24 == m.icao24:
                        out.append((name, p))
                    continue
                if not ours:
                    continue
                if m.mode3a is not None and p.mode3a is not None:
                    if p.mode3a == m.mode3a:
                        out.append((name, p))
                    continue
                near = self._near(trail, p)
                if near is not None:
                    i, d = near
                    best = nearest.get((name, i))
                    if best is None or d < best[0]:
                        nearest[(name, i)] = (d, p)
        out += [(name, p) for (name, _), (_, p) in nearest.items()]
        out.sort(key=lambda x: x[1].t)
        if len(out) > MAX_BEHIND:
            out = out[-MAX_BEHIND:]
        return [{"src": name, "t": p.t, "lat": round(p.lat, 5), "lon": round(p.lon, 5),
                 "fl": p.fl, "mode3a": p.mode3a, "icao24": p.icao24} for name, p in out]

    @staticmethod
    def _near(trail: np.ndarray, p: _PlotEntry) -> tuple[int, float] | None:
        """The index of the trail position nearest in time to the plot, and its distance
        in NM, if within NEAR_S and NEAR_NM."""
        if not len(trail):
            return None
        i = int(np.argmin(np.abs(trail[:, 0] - p.t)))
        t, lat, lon = trail[i]
        if abs(t - p.t) > NEAR_S:
            return None
        d = distance_nm(float(lat), float(lon), p.lat, p.lon)
        return (i, d) if d <= NEAR_NM else None
