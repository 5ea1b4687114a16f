"""The normaliser: decoded batches in, batches of shared-format messages out (sans-IO).

It keeps what spans decode calls: each radar's plots since its last sector crossing (a
published plot batch is one sector, closed by the radar's CAT034 message), its measured
rotation period, each SDPS's tracks since its last end-of-batch (CAT065) and its status.
With ``[normalize] sectors_per_batch`` above 1, a radar's batch closes only at every that
many crossings: fewer association cycles, each paying its fixed cost once (issue 16), for
latency (the config's reference says how much).
A source that never sends those service messages is batched per datagram.  Plots or tracks
of sources the configuration does not know are counted, not guessed at.

An SDPS's first cycle is held until its first end of batch, for at most
``FIRST_CYCLE_HOLD_S`` of data time.  Batched per datagram, a cycle of several hundred
tracks arriving at start-up was some fifteen association cycles (the border capture:
15 tracks a datagram, 204 and 229 in the first cycles), each with its fixed cost
and the whole handoff pass, one after the other: the datagrams behind them waited
(issue 16: the first seconds' latency).  Held, it is one cycle, as every later one.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Literal

import numpy as np
from pyproj import Transformer

from gateway import _normalize
from gateway.config import Config
from gateway.decoder import Batch
from gateway.messages import (
    ICAO24_TEXT,
    MODE3A_TEXT,
    WAKE_CATEGORIES,
    FlightPlan,
    Plot,
    Source,
    Track,
    Wake,
)
from gateway.normalize.geometry import RadarGeometry
from gateway.normalize.plots import DETECTION, FLAG_NAMES, HeightRules, normalise_plots
from gateway.normalize.tracks import TRACK_FLAG_COLUMNS, normalise_tracks, system_plane

MAX_PENDING = 20_000  # messages held for one source before its batch is closed anyway
# An SDPS's tracks before its first end of batch (CAT065) are held for it, for at most this
# long in data time; after that, a source that has sent none is batched per datagram.
FIRST_CYCLE_HOLD_S = 0.5
# Flight plans kept for the tracks that carry them again (_normalize.track_messages): more
# than a busy SDPS's flights; a feed of ever new plans empties the dict now and then.
PLANS_KEPT = 10_000
NORTH_MARKER, SECTOR_CROSSING = 1, 2  # I034/000
END_OF_BATCH = 2  # I065/000


@dataclass(slots=True)
class SourceBatch:
    """One batch of one source's messages: a radar's sector of plots or an SDPS's cycle of
    tracks.

    Plain data: what kind of batch (``"plots"`` or ``"tracks"``) and which source (sac,
    sic) it is.  Where it is published is not the normaliser's business (core packages do
    not import publish); the pipeline turns it into a published batch.
    ``at``: where in the decode call's datagram stream the batch was closed (the closing
    record's byte offset); batches of one call go out in that order, whatever their
    category, so downstream sees time order.  ``datagram``: the index, in the decode
    call's datagrams, of the one that released the batch (None: no datagram did, as at
    the end of input): a byte offset is no datagram index, and latency is measured from
    that datagram's receipt.
    """

    kind: Literal["plots", "tracks"]
    source: tuple[int, int]
    messages: list[Any]
    at: int = 0
    datagram: int | None = None


@dataclass
class _Source:
    kind: Literal["plots", "tracks"]
    key: tuple[int, int]  # (sac, sic)
    pending: list[Any] = field(default_factory=list)
    framed: bool = False  # has sent a CAT034 sector message / CAT065 end of batch
    last_north_tod: float | None = None
    rotation_s: float | None = None  # measured between north markers
    status: dict[str, Any] = field(default_factory=dict)  # last CAT065 record, decoded
    hold_s: float = 0.0  # data time its first cycle may wait for its first framing message
    held_since: float | None = None  # data time of the first message held
    crossings: int = 0  # framing messages since its batch last closed

    def close(self, out: list[SourceBatch], at: int = 0, datagram: int | None = None) -> None:
        if self.pending:
            out.append(SourceBatch(self.kind, self.key, self.pending, at, datagram))
            self.pending = []


# each radar's or SDPS's position (an SDPS: its system plane, if I100 is used) and batching
Sites = Mapping[tuple[int, int], tuple[object, _Source]]


# A wake category only if it is one of ICAO's: an SDPS's odd letter is not passed on as if
# it were one (the shared format would refuse it downstream).
_WAKES: dict[str | None, Wake] = {w: w for w in WAKE_CATEGORIES}


class Normalizer:
    """Feed it each decode call's batches, in order; it returns what is ready to publish."""

    def __init__(self, config: Config) -> None:
        norm = config.normalize
        self.heights = HeightRules(norm.height_offset_m, norm.fallback_height_m)
        self.window = (norm.max_late_s, norm.max_early_s)
        self.sectors_per_batch = norm.sectors_per_batch
        self.radars = {(r.sac, r.sic): (RadarGeometry(r.lat, r.lon, r.alt_m),
                                         _Source("plots", (r.sac, r.sic)))
                       for r in config.radars}
        self.sdps: dict[tuple[int, int], tuple[Transformer | None, _Source]] = {}
        for s in config.sdps:
            use_i100 = s.use_i100 if s.use_i100 is not None else norm.use_i100
            plane = (system_plane(s.srp_lat, s.srp_lon)
                     if use_i100 and s.srp_lat is not None and s.srp_lon is not None else None)
            self.sdps[(s.sac, s.sic)] = (plane, _Source("tracks", (s.sac, s.sic),
                                                        hold_s=FIRST_CYCLE_HOLD_S))
        self.counters: Counter[str] = Counter()
        self._plans: dict[tuple[object, ...], FlightPlan] = {}  # track_messages' plans

    def feed(self, batches: dict[int, Batch], now: float | None = None) -> list[SourceBatch]:
        """``now``: the reference clock for records that carry no capture time."""
        out: list[SourceBatch] = []
        self._frames(batches.get(34), self.radars, "000", (NORTH_MARKER, SECTOR_CROSSING),
                     batches.get(48), self._plots, now, out)
        self._frames(batches.get(65), self.sdps, "000", (END_OF_BATCH,),
                     batches.get(62), self._tracks, now, out)
        out.sort(key=lambda p: p.at)  # stable: one source's batches keep their order
        return out

    def flush(self) -> list[SourceBatch]:
        """End of input: whatever is pending goes out."""
        out: list[SourceBatch] = []
        for _site, source in (*self.radars.values(), *self.sdps.values()):
            source.close(out)
        return out

    def rotation_periods(self) -> dict[tuple[int, int], float | None]:
        """Each radar's rotation period, by (sac, sic)."""
        return {key: src.rotation_s for key, (_g, src) in self.radars.items()}

    # -- per decode call -------------------------------------------------------------------

    def _frames(self, service: Batch | None, sites: Sites, type_path: str,
                closing: tuple[int, ...], data: Batch | None,
                convert: Callable[..., tuple[Sequence[Plot | Track], np.ndarray]],
                now: float | None,
                out: list[SourceBatch]) -> None:
        """Interleave a category's messages with its sources' service messages by position
        in the datagram stream, closing a source's batch at each framing message."""
        # the events, one column a list: offset * 2 + is_service (a service message sorts
        # after data at one offset), key, row of a service message or a message, its kind,
        # datagram; put in stream order by one stable argsort of the first (no tuple made
        # per message, nor sorted by a Python key: issue 16)
        ranks: list[int] = []
        keys: list[tuple[int, int]] = []
        items: list[Any] = []
        kinds: list[int] = []
        datagrams: list[int] = []
        if service is not None:
            is_status = service.category == 65
            for key, rows in self._groups(service, sites):
                types = service.columns[type_path][rows].tolist()
                offsets = service.record_offset[rows].tolist()
                where = service.datagram[rows].tolist()
                for r, kind, offset, datagram in zip(rows.tolist(), types, offsets, where,
                                                     strict=True):
                    if kind in closing:
                        ranks.append(2 * offset + 1)
                        keys.append(key)
                        items.append(r)
                        kinds.append(kind)
                        datagrams.append(datagram)
                    if is_status:  # SDPS status, as last reported
                        sites[key][1].status = service.record(r)
        # each source's messages of this call: (key, their ranks, the messages, datagrams)
        groups: list[tuple[tuple[int, int], np.ndarray, Sequence[Any], np.ndarray]] = []
        if data is not None:
            reference = data.t_capture.copy()
            if now is not None:
                reference[np.isnan(reference)] = now
            for key, rows in self._groups(data, sites):
                messages, kept = convert(data, rows, sites[key][0], reference)
                groups.append((key, 2 * data.record_offset[kept], messages,
                               data.datagram[kept]))
        if all(self._steady(sites[key][1], r, m) for key, r, m, _d in groups):
            self._steady_frames(ranks, keys, items, kinds, datagrams, groups, sites,
                                service, out)
            return
        for key, r, messages, where in groups:
            ranks.extend(r.tolist())
            keys.extend(repeat(key, len(messages)))
            items.extend(messages)
            kinds.extend(repeat(0, len(messages)))
            datagrams.extend(where.tolist())
        order = np.argsort(np.array(ranks, dtype=np.int64), kind="stable").tolist()
        events = zip([ranks[j] for j in order], [keys[j] for j in order],
                     [items[j] for j in order], [kinds[j] for j in order],
                     [datagrams[j] for j in order], strict=True)
        # Unframed sources' batches still open: key -> (their datagram, last offset).  Each
        # closes as soon as the stream moves past its datagram, whatever comes next, so the
        # batches do not depend on where the stream was cut into decode calls (live, the
        # calls are small; in a replay, large).
        unframed: dict[Any, tuple[int, int]] = {}
        for rank, key, item, kind, datagram in events:
            offset, is_service = rank >> 1, rank & 1
            if unframed:
                for k in [k for k, (d, _) in unframed.items() if d != datagram]:
                    d, last = unframed.pop(k)
                    sites[k][1].close(out, last, d)  # a batch per datagram
            source = sites[key][1]
            if is_service:
                self._framing(source, offset, kind, item, datagram, service, out)
                unframed.pop(key, None)
                continue
            if not source.framed and not self._held(source, item, out, offset, datagram):
                unframed[key] = (datagram, offset)
            source.pending.append(item)
            if len(source.pending) >= MAX_PENDING:
                self.counters["batch-closed-at-limit"] += 1
                source.close(out, offset, datagram)
        for key, (d, last) in unframed.items():
            sites[key][1].close(out, last, d)

    @staticmethod
    def _steady(source: _Source, ranks: np.ndarray, messages: Sequence[Any]) -> bool:
        """Does this source's part of a call take the steady path (``_steady_frames``)?  It
        is framed (so none of its messages is held or batched per datagram), its batch
        cannot reach ``MAX_PENDING`` within the call, and its messages are in stream order
        (as the decoder's rows are)."""
        return (source.framed and len(source.pending) + len(messages) < MAX_PENDING
                and bool((ranks[1:] > ranks[:-1]).all()))

    def _steady_frames(self, ranks: list[int], keys: list[tuple[int, int]], items: list[Any],
                       kinds: list[int], datagrams: list[int],
                       groups: list[tuple[tuple[int, int], np.ndarray, Sequence[Any], np.ndarray]],
                       sites: Sites, service: Batch | None, out: list[SourceBatch]) -> None:
        """``_frames`` where every source with messages in the call is ``_steady``: the
        same batches, closed in the same order, with no step per message.  A framed
        source's message only joins its pending batch, so the messages before each framing
        message of its source join that batch at once (a slice, found by bisection of the
        source's ranks), and what follows the last one joins after the framing messages."""
        mine = {key: (r.tolist(), messages) for key, r, messages, _d in groups}
        taken = dict.fromkeys(mine, 0)
        for j in np.argsort(np.array(ranks, dtype=np.int64), kind="stable").tolist():
            rank, key = ranks[j], keys[j]
            source = sites[key][1]
            if key in mine:
                before, messages = mine[key]
                start = taken[key]
                end = taken[key] = bisect_left(before, rank, start)
                source.pending += messages[start:end]
            self._framing(source, rank >> 1, kinds[j], items[j], datagrams[j], service, out)
        for key, (_r, messages) in mine.items():
            sites[key][1].pending += messages[taken[key]:]

    def _framing(self, source: _Source, offset: int, kind: int, row: int, datagram: int,
                 service: Batch | None, out: list[SourceBatch]) -> None:
        """A source's framing message (``row`` of ``service``): its batch closes (every
        ``sectors_per_batch`` crossings for a radar); a north marker times the rotation."""
        source.framed = True
        source.hold_s = 0.0
        source.crossings += 1
        if source.kind == "tracks" or source.crossings >= self.sectors_per_batch:
            source.crossings = 0
            source.close(out, offset, datagram)
        if kind == NORTH_MARKER and service is not None:
            self._north(source, service, row)

    def _held(self, source: _Source, message: Plot | Track, out: list[SourceBatch],
              offset: int, datagram: int) -> bool:
        """Is this message of a source not framed yet held for its first cycle?  When the
        hold runs out (``hold_s`` of data time past the first held message with no framing
        message), what was held goes out, released by this datagram, and the source is
        batched per datagram from then on."""
        if not source.hold_s:
            return False
        t = message.t
        if source.held_since is None:
            source.held_since = t if t == t else None  # a NaN time starts no hold
            return True
        if not t - source.held_since > source.hold_s:
            return True
        source.hold_s = 0.0
        self.counters["first-cycle-hold-expired"] += 1
        source.close(out, offset, datagram)
        return False

    def _groups(self, batch: Batch, sites: Sites) -> list[tuple[tuple[int, int], np.ndarray]]:
        """The rows of each known source (by key, sorted); the rest are counted.  A batch
        of one source, as a live datagram is, takes a shortcut (issue 16: per-call cost)."""
        sac, sic = batch.columns["010/SAC"], batch.columns["010/SIC"]
        present = batch.present["010/SAC"] & batch.present["010/SIC"]
        if present.all():
            key = (int(sac[0]), int(sic[0]))
            if (sac == key[0]).all() and (sic == key[1]).all():
                self.counters["record-without-source"] += 0
                if key in sites:
                    return [(key, np.arange(len(sac)))]
                self.counters[f"unknown-source-cat{batch.category:03d}"] += len(sac)
                return []
        return [(key, self._rows(batch, key)) for key in self._keys(batch, sites)]

    def _keys(self, batch: Batch, sites: Sites) -> list[tuple[int, int]]:
        sac, sic = batch.columns["010/SAC"], batch.columns["010/SIC"]
        present = batch.present["010/SAC"] & batch.present["010/SIC"]
        self.counters["record-without-source"] += int((~present).sum())
        keys = set(zip(sac[present].tolist(), sic[present].tolist(), strict=True))
        for key in keys - sites.keys():
            rows = self._rows(batch, key)
            self.counters[f"unknown-source-cat{batch.category:03d}"] += len(rows)
        return sorted(keys & sites.keys())

    @staticmethod
    def _rows(batch: Batch, key: tuple[int, int]) -> np.ndarray:
        return np.flatnonzero(batch.present["010/SAC"] & (batch.columns["010/SAC"] == key[0])
                              & (batch.columns["010/SIC"] == key[1]))

    @staticmethod
    def _north(source: _Source, service: Batch, row: int) -> None:
        """Rotation period: measured between north markers, else as the radar declares it."""
        tod = float(service.columns["030"][row]) if service.present["030"][row] else None
        if tod is not None and source.last_north_tod is not None:
            source.rotation_s = (tod - source.last_north_tod) % 86400.0
        elif service.present["041"][row]:
            source.rotation_s = float(service.columns["041"][row])
        if tod is not None:
            source.last_north_tod = tod

    def _plots(self, batch: Batch, rows: np.ndarray, site: RadarGeometry,
               reference: np.ndarray) -> tuple[list[Plot], np.ndarray]:
        cols, dropped = normalise_plots(batch, rows, site, self.heights, reference[rows],
                                        self.window)
        self.counters.update({k: v for k, v in dropped.items() if v})
        src = Source(sac=int(batch.columns["010/SAC"][rows[0]]),
                     sic=int(batch.columns["010/SIC"][rows[0]]), cat=48)
        messages = _normalize.plot_messages(
            Plot, src, np.round(cols.t, 6), _f(cols.lat), _f(cols.lon), _f(cols.rho_nm),
            _f(cols.theta_deg), _f(cols.fl), _i(cols.mode3a), _i(cols.icao24),
            cols.callsign.tolist(), _i(cols.track_number), _f(cols.gs_kt), _f(cols.hdg_deg),
            _i(cols.typ), _i(cols.flags), MODE3A_TEXT, ICAO24_TEXT, DETECTION, FLAG_NAMES)
        self.counters["plots"] += len(messages)
        return messages, cols.rows

    def _tracks(self, batch: Batch, rows: np.ndarray, plane: Any,
                reference: np.ndarray) -> tuple[list[Track], np.ndarray]:
        cols, dropped = normalise_tracks(batch, rows, plane, reference[rows], self.window)
        self.counters.update({k: v for k, v in dropped.items() if v})
        src = Source(sac=int(batch.columns["010/SAC"][rows[0]]),
                     sic=int(batch.columns["010/SIC"][rows[0]]), cat=62)
        fpl = cols.fpl
        messages = _normalize.track_messages(
            Track, FlightPlan, src, np.round(cols.t, 6), _i(cols.track_number), _f(cols.lat),
            _f(cols.lon), _f(cols.fl), _f(cols.gs_kt), _f(cols.trk_deg), _f(cols.roc_fpm),
            _i(cols.mode3a), _i(cols.icao24), cols.callsign.tolist(), _i(cols.flags),
            np.ascontiguousarray(cols.has_fpl).view(np.uint8), fpl["390/CS"].tolist(),
            fpl["390/DEP"].tolist(), fpl["390/DST"].tolist(), _f(fpl["390/CFL"]),
            fpl["390/TAC"].tolist(), fpl["390/WTC"].tolist(), _WAKES, MODE3A_TEXT,
            ICAO24_TEXT, _TRACK_FLAGS, self._plans)
        if len(self._plans) > PLANS_KEPT:
            self._plans.clear()
        self.counters["tracks"] += len(messages)
        return messages, cols.rows


_TRACK_FLAGS = tuple(name for name, _path in TRACK_FLAG_COLUMNS)


def _f(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


def _i(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.int64)
