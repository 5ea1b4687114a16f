"""How good is a fused air picture: association and accuracy figures against ground truth.

The truth file (gateway/sim/truth.py) says where every flight was each second and which flight
each source track number stood for over which time (the track-map).  The tracks file holds
shared-format messages: the ``fused`` updates under evaluation and, when present, the
single-source ``plot`` (CAT048) and ``track`` (CAT062) messages, which give the baselines: each
source's own tracks scored the same way.  The exact definitions are in docs/evaluation.md; the
names below follow it.

Sans-IO: ``parse_truth`` and ``parse_tracks`` take lines, ``build_truth`` and ``Picture`` take
columns, ``score`` and ``evaluate_parsed`` take those and return figures; only ``evaluate``
opens files.  Hostile input (bad JSON, unknown kinds, messages failing validation) is counted
and skipped, never fatal.
"""

from __future__ import annotations

import gzip
import io
import math
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, TypedDict

import msgspec
import numpy as np
from msgspec import Meta
from pyproj import Geod

from gateway.messages import KINDS, Fused, MessageError, Plot, Registration, Track, decode

__all__ = [
    "DRONE",
    "KINDS_REPORTED",
    "PRIMARY",
    "PRIMARY_ONLY",
    "TRANSPONDER",
    "Comparison",
    "ErrorStats",
    "EvaluationError",
    "Figures",
    "KindFigures",
    "Params",
    "Picture",
    "Ratio",
    "Report",
    "SourceUpdates",
    "Span",
    "TracksInput",
    "Truth",
    "build_truth",
    "evaluate",
    "evaluate_parsed",
    "parse_tracks",
    "parse_truth",
    "score",
    "source_picture",
]

TRANSPONDER = frozenset({"modes", "modeac"})  # truth `transponder` values of equipped flights
PRIMARY = "psr"  # primary-only: no transponder
DRONE = "drone"  # no transponder either: a drone (40-150 kt, below 2,000 ft)
PRIMARY_ONLY = frozenset({PRIMARY, DRONE})  # what the primary-only figures count
# The target kinds reported on their own (Figures.by_kind), and their names in the table.
KINDS_REPORTED = {"modes": "Mode S", "modeac": "Mode A/C", PRIMARY: "primary-only aircraft",
                  DRONE: "drones"}

# fused states as small integers in the columns; single-source updates count as confirmed
TENTATIVE, CONFIRMED, COASTING, ENDED = 0, 1, 2, 3
_STATES = {"tentative": TENTATIVE, "confirmed": CONFIRMED, "coasting": COASTING, "ended": ENDED}

_GEOD = Geod(ellps="WGS84")
_EARTH_M = 6371008.8  # mean radius: only for the nearest-flight search, never for errors


class EvaluationError(ValueError):
    """The input cannot be evaluated at all (unreadable compressed data, no truth)."""


# -- parameters and figures -----------------------------------------------------------------

@dataclass(frozen=True)
class Params:
    recent_s: float = 12.0  # completeness: a matching update no older than this
    max_distance_m: float = 2000.0  # completeness and position ownership: within this of truth
    duplicate_s: float = 30.0  # duplicate: alive alongside another of the flight this long
    span_tolerance_s: float = 1.0  # track-map span edges and truth ends


@dataclass(frozen=True)
class Ratio:
    hits: int
    total: int
    share: float | None  # hits / total; null when total is 0

    @classmethod
    def of(cls, hits: int, total: int) -> Ratio:
        hits, total = int(hits), int(total)
        return cls(hits, total, hits / total if total else None)


@dataclass(frozen=True)
class ErrorStats:
    samples: int
    rms_m: float | None
    p95_m: float | None

    @classmethod
    def of(cls, d: np.ndarray) -> ErrorStats:
        if len(d) == 0:
            return cls(0, None, None)
        return cls(len(d), float(np.sqrt(np.mean(np.square(d)))), float(np.percentile(d, 95)))


@dataclass(frozen=True)
class KindFigures:
    """Completeness and error of the flights of one target kind (truth ``transponder``)."""

    flights_in_coverage: int
    completeness: Ratio
    error: ErrorStats
    id_changes: int
    merged_updates: int  # its source updates in tracks of a transponder flight (primary-only)


@dataclass(frozen=True)
class Figures:
    """The figures of one picture: the fused tracks, or one source's own tracks."""

    name: str
    source: dict[str, int] | None  # {sac, sic, cat} of a single source; null for fused
    updates: int
    tracks: int
    tracks_confirmed: int  # the tracks scored by false/duplicate/merge figures
    tracks_never_confirmed: int
    correctness: Ratio  # source updates assigned to the track of their own flight
    untracked_updates: int  # source updates without a track number: not scored
    unmapped_updates: int  # with a track number no track-map span covers: not scored
    flights_in_coverage: int
    id_changes: int
    id_changes_per_100_flights: float | None
    completeness: Ratio  # truth seconds in coverage with a matching track
    completeness_transponder: Ratio
    completeness_primary: Ratio
    false_tracks: Ratio  # of confirmed tracks
    duplicate_tracks: Ratio  # of confirmed tracks
    tracks_owned_by_position: int  # confirmed tracks without scored updates, owned by position
    error: ErrorStats
    error_transponder: ErrorStats
    error_primary: ErrorStats
    error_by_kind: dict[str, ErrorStats]
    error_without_truth: int  # updates of owned tracks at a time their flight has no truth
    merges: int  # tracks of a transponder flight fed by a primary-only flight
    merged_updates: int  # the primary-only flight's source updates in those tracks
    by_kind: dict[str, KindFigures] = field(default_factory=dict)  # every KINDS_REPORTED key
    # the updates that were predictions at a periodic output time (``extrapolated``),
    # already counted in ``error``: what they cost
    error_extrapolated: ErrorStats = ErrorStats(0, None, None)


@dataclass(frozen=True)
class Comparison:
    """Fused against one source on the flights both saw, while that source covered them."""

    source: str
    flights: int
    fused: ErrorStats
    single: ErrorStats


class TruthSummary(TypedDict):
    """The truth file's counts as the report (and its JSON) shows them."""

    flights: int
    flights_by_kind: dict[str, int]
    samples: int
    spans: int
    skipped: dict[str, int]  # lines by reason


@dataclass(frozen=True)
class Report:
    params: Params
    truth: TruthSummary
    tracks_input: dict[str, int]  # lines by kind, skipped lines by reason
    fused: Figures
    sources: tuple[Figures, ...]
    comparisons: tuple[Comparison, ...]
    registration: tuple[RegistrationRow, ...] = ()

    def to_json(self) -> str:
        return msgspec.json.format(msgspec.json.encode(self).decode(), indent=2) + "\n"

    def table(self) -> str:
        return _table(self)


# -- truth ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Span:
    """One track-map line: source track ``track_number`` stood for ``flight``."""

    src: tuple[int, int, int]  # sac, sic, cat
    track_number: int
    flight: str
    t_from: float
    t_to: float


@dataclass(frozen=True)
class RadarTruth:
    """One radar's true systematic errors, as the simulator applied them."""

    name: str
    bias_range_m: float
    range_gain: float
    bias_azimuth_deg: float
    time_offset_s: float


@dataclass(frozen=True)
class RegistrationRow:
    """One radar's last published registration (``registration`` message) against the
    truth's (None: the truth has no ``radar`` line for it)."""

    radar: str  # sac-sic
    name: str | None
    pairs: int
    range_bias_m: float
    range_gain: float
    azimuth_bias_deg: float
    time_offset_s: float
    range_bias_sigma_m: float
    azimuth_bias_sigma_deg: float
    true_range_bias_m: float | None
    true_range_gain: float | None
    true_azimuth_bias_deg: float | None
    true_time_offset_s: float | None


def registration_rows(truth: Truth, last: Mapping[tuple[int, int], Registration],
                      ) -> tuple[RegistrationRow, ...]:
    """Estimated against true biases, per radar with a published estimate."""
    rows = []
    for (sac, sic), m in sorted(last.items()):
        r = truth.radars.get((sac, sic))
        rows.append(RegistrationRow(
            f"{sac}-{sic}", r.name if r else None, m.pairs, m.range_bias_m, m.range_gain,
            m.azimuth_bias_deg, m.time_offset_s, m.range_bias_sigma_m,
            m.azimuth_bias_sigma_deg, r.bias_range_m if r else None,
            r.range_gain if r else None, r.bias_azimuth_deg if r else None,
            r.time_offset_s if r else None))
    return tuple(rows)


@dataclass(frozen=True)
class Truth:
    """Ground truth as columns.  Samples are grouped by flight (flight i owns
    ``offsets[i]:offsets[i+1]``), time-ordered, longitudes unwrapped along each flight."""

    flights: tuple[str, ...]
    transponder: tuple[str, ...]  # per flight; "" when the truth did not say
    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    offsets: np.ndarray
    span_src: np.ndarray  # packed (sac << 16 | sic << 8 | cat)
    span_number: np.ndarray
    span_flight: np.ndarray  # index into flights
    span_from: np.ndarray
    span_to: np.ndarray
    # each radar site's true systematic errors (the truth's "radar" lines), by (sac, sic)
    radars: Mapping[tuple[int, int], RadarTruth] = field(default_factory=dict)

    def index(self) -> dict[str, int]:
        return {f: i for i, f in enumerate(self.flights)}


def _pack(sac: int, sic: int, cat: int) -> int:
    return (sac << 16) | (sic << 8) | cat


def build_truth(flight: Sequence[str], t: Sequence[float] | np.ndarray,
                lat: Sequence[float] | np.ndarray, lon: Sequence[float] | np.ndarray,
                transponder: Mapping[str, str], spans: Sequence[Span] = ()) -> Truth:
    """Truth from one row per sample (any order) and the track-map spans."""
    names = list(dict.fromkeys([*flight, *transponder, *(s.flight for s in spans)]))
    index = {f: i for i, f in enumerate(names)}
    fi = np.fromiter((index[f] for f in flight), np.int64, len(flight))
    t_a = np.asarray(t, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    lon_a = np.asarray(lon, dtype=np.float64)
    order = np.lexsort((t_a, fi))
    fi, t_a, lat_a, lon_a = fi[order], t_a[order], lat_a[order], lon_a[order]
    keep = np.ones(len(fi), dtype=bool)  # one sample per flight and time
    keep[1:] = (fi[1:] != fi[:-1]) | (t_a[1:] != t_a[:-1])
    fi, t_a, lat_a, lon_a = fi[keep], t_a[keep], lat_a[keep], lon_a[keep]
    offsets = np.searchsorted(fi, np.arange(len(names) + 1))
    for i in range(len(names)):  # interpolation must not cross the antimeridian the long way
        a, b = offsets[i], offsets[i + 1]
        if b - a > 1:
            lon_a[a:b] = np.unwrap(lon_a[a:b], period=360.0)
    return Truth(
        flights=tuple(names),
        transponder=tuple(transponder.get(f) or "" for f in names),
        t=t_a, lat=lat_a, lon=lon_a, offsets=offsets,
        span_src=np.array([_pack(*s.src) for s in spans], dtype=np.int64),
        span_number=np.array([s.track_number for s in spans], dtype=np.int64),
        span_flight=np.array([index[s.flight] for s in spans], dtype=np.int64),
        span_from=np.array([s.t_from for s in spans], dtype=np.float64),
        span_to=np.array([s.t_to for s in spans], dtype=np.float64),
    )


_Time = Annotated[float, Meta(ge=0, le=1e11)]
_Byte = Annotated[int, Meta(ge=0, le=255)]
_FlightId = Annotated[str, Meta(min_length=1, max_length=64)]


class _Src(msgspec.Struct):
    sac: _Byte
    sic: _Byte
    cat: _Byte


class _TruthLine(msgspec.Struct, tag="truth", tag_field="kind"):
    t: _Time
    flight: _FlightId
    lat: Annotated[float, Meta(ge=-90, le=90)]
    lon: Annotated[float, Meta(ge=-180, le=180)]
    transponder: Annotated[str, Meta(max_length=16)] | None = None


class _MapLine(msgspec.Struct, tag="track-map", tag_field="kind"):
    src: _Src
    track_number: Annotated[int, Meta(ge=0, le=65535)]
    flight: _FlightId
    t_from: _Time
    t_to: _Time


class _PlanLine(msgspec.Struct, tag="plan", tag_field="kind"):
    """A flight's filed plan (``simulate``): not scored here, but known (not "unknown kind")."""

    flight: _FlightId


class _RadarLine(msgspec.Struct, tag="radar", tag_field="kind"):
    """A radar site's true systematic errors (``simulate``, one line per site)."""

    sac: _Byte
    sic: _Byte
    name: Annotated[str, Meta(max_length=64)] = ""
    bias_range_m: float = 0.0
    range_gain: float = 1.0
    bias_azimuth_deg: float = 0.0
    time_offset_s: float = 0.0


_truth_decoder = msgspec.json.Decoder(_TruthLine | _MapLine | _PlanLine | _RadarLine)
_TRUTH_KINDS = ("truth", "track-map", "plan", "radar")


def _why(line: bytes | str, kinds: Iterable[str]) -> str:
    """Why a line that failed to decode failed: the counter it goes to."""
    try:
        value = msgspec.json.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return "bad JSON"
    if not isinstance(value, dict):
        return "not an object"
    kind = value.get("kind")
    if not isinstance(kind, str) or kind not in kinds:
        return "unknown kind"
    return f"invalid {kind}"


def parse_truth(lines: Iterable[bytes | str]) -> tuple[Truth, Counter[str]]:
    """Truth from the lines of a truth file; lines that are not valid truth are counted."""
    counts: Counter[str] = Counter()
    flight: list[str] = []
    t: list[float] = []
    lat: list[float] = []
    lon: list[float] = []
    kinds: dict[str, str] = {}
    spans: list[Span] = []
    radars: dict[tuple[int, int], RadarTruth] = {}
    for line in lines:
        if not line.strip():
            continue
        try:
            row = _truth_decoder.decode(line)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            counts[_why(line, _TRUTH_KINDS)] += 1
            continue
        if isinstance(row, _PlanLine):
            counts["plan"] += 1
        elif isinstance(row, _RadarLine):
            counts["radar"] += 1
            radars[(row.sac, row.sic)] = RadarTruth(row.name, row.bias_range_m, row.range_gain,
                                                    row.bias_azimuth_deg, row.time_offset_s)
        elif isinstance(row, _TruthLine):
            flight.append(row.flight)
            t.append(row.t)
            lat.append(row.lat)
            lon.append(row.lon)
            if row.transponder is not None:
                kinds.setdefault(row.flight, row.transponder)
            else:
                kinds.setdefault(row.flight, "")
        elif row.t_to < row.t_from:
            counts["invalid track-map"] += 1
        else:
            s = row.src
            spans.append(Span((s.sac, s.sic, s.cat), row.track_number, row.flight,
                              row.t_from, row.t_to))
    counts["truth"] = len(t)
    counts["track-map"] = len(spans)
    truth = build_truth(flight, t, lat, lon, kinds, spans)
    if radars:
        truth = replace(truth, radars=radars)
    return truth, counts


# -- pictures -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Picture:
    """The updates of one track picture as columns.

    Update ``i`` belongs to track ``ids[track[i]]``; ``lat``/``lon`` are NaN without a
    position; ``state`` holds TENTATIVE..ENDED.  Source entry ``j`` (one element of a fused
    update's ``sources``; for a single source, the update itself) belongs to update
    ``entry_update[j]``, came from packed source ``entry_src[j]`` with track number
    ``entry_number[j]`` (-1: an untracked plot).
    """

    name: str
    ids: tuple[str, ...]
    track: np.ndarray
    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    state: np.ndarray
    entry_update: np.ndarray
    entry_src: np.ndarray
    entry_number: np.ndarray
    source: tuple[int, int, int] | None = None  # set for a single source's picture
    untracked: int = 0  # single source: its updates without a track number (in no track)
    extrapolated: np.ndarray | None = None  # bool per update: a periodic prediction

    @classmethod
    def empty(cls, name: str) -> Picture:
        i, f = np.zeros(0, dtype=np.int64), np.zeros(0)
        return cls(name, (), i, f, f, f, np.zeros(0, dtype=np.int8), i, i, i)


@dataclass(frozen=True)
class SourceUpdates:
    """One source's plots or tracks as read from the tracks file (number -1: none)."""

    t: np.ndarray
    number: np.ndarray
    lat: np.ndarray
    lon: np.ndarray


@dataclass(frozen=True)
class TracksInput:
    fused: Picture
    sources: dict[tuple[int, int, int], SourceUpdates]
    counts: Counter[str] = field(default_factory=Counter)
    # the last ``registration`` message of each radar, by (sac, sic)
    registration: dict[tuple[int, int], Registration] = field(default_factory=dict)


class _SourceColumns:
    __slots__ = ("lat", "lon", "number", "t")

    def __init__(self) -> None:
        self.t: list[float] = []
        self.number: list[int] = []
        self.lat: list[float] = []
        self.lon: list[float] = []


def _position(m: Fused | Plot | Track) -> tuple[float, float]:
    if m.lat is None or m.lon is None:
        return math.nan, math.nan
    return m.lat, m.lon


def parse_tracks(lines: Iterable[bytes | str]) -> TracksInput:
    """The fused updates and single-source updates of a tracks file; other kinds and lines
    that are not valid v1 messages are counted and skipped."""
    counts: Counter[str] = Counter()
    ids: dict[str, int] = {}
    track: list[int] = []
    t: list[float] = []
    lat: list[float] = []
    lon: list[float] = []
    state: list[int] = []
    extrapolated: list[bool] = []
    e_update: list[int] = []
    e_src: list[int] = []
    e_number: list[int] = []
    sources: dict[tuple[int, int, int], _SourceColumns] = {}
    registration: dict[tuple[int, int], Registration] = {}
    for line in lines:
        if not line.strip():
            continue
        try:
            m = decode(line)
        except MessageError:
            counts[_why(line, KINDS)] += 1
            continue
        if isinstance(m, Fused):
            counts["fused"] += 1
            n = len(t)
            track.append(ids.setdefault(m.id, len(ids)))
            t.append(m.t)
            la, lo = _position(m)
            lat.append(la)
            lon.append(lo)
            state.append(_STATES[m.state])
            extrapolated.append(m.extrapolated)
            for s in m.sources:
                e_update.append(n)
                e_src.append(_pack(s.sac, s.sic, s.cat))
                e_number.append(-1 if s.track_number is None else s.track_number)
        elif isinstance(m, (Plot, Track)):
            counts[str(m.__struct_config__.tag)] += 1  # msgspec types a tag as str | int
            key = (m.src.sac, m.src.sic, m.src.cat)
            cols = sources.get(key)
            if cols is None:
                cols = sources[key] = _SourceColumns()
            cols.t.append(m.t)
            cols.number.append(-1 if m.track_number is None else m.track_number)
            la, lo = _position(m)
            cols.lat.append(la)
            cols.lon.append(lo)
        elif isinstance(m, Registration):
            counts["registration"] += 1
            registration[(m.src.sac, m.src.sic)] = m
        else:
            counts["other kinds"] += 1
    fused = Picture(
        name="fused", ids=tuple(ids), track=np.array(track, dtype=np.int64),
        t=np.array(t, dtype=np.float64), lat=np.array(lat, dtype=np.float64),
        lon=np.array(lon, dtype=np.float64), state=np.array(state, dtype=np.int8),
        entry_update=np.array(e_update, dtype=np.int64),
        entry_src=np.array(e_src, dtype=np.int64),
        entry_number=np.array(e_number, dtype=np.int64),
        extrapolated=np.array(extrapolated, dtype=bool))
    singles = {k: SourceUpdates(np.array(c.t, dtype=np.float64),
                                np.array(c.number, dtype=np.int64),
                                np.array(c.lat, dtype=np.float64),
                                np.array(c.lon, dtype=np.float64))
               for k, c in sorted(sources.items())}
    return TracksInput(fused, singles, counts, registration)


def _source_name(src: tuple[int, int, int]) -> str:
    sac, sic, cat = src
    return f"{sac}-{sic} cat{cat:03d}"


def source_picture(truth: Truth, src: tuple[int, int, int], updates: SourceUpdates,
                   params: Params = Params()) -> Picture:
    """One source's own tracks as a picture: a track is one track-map span (a number that
    stood for one flight); a number no span covers is a track of its own, per number."""
    packed = _pack(*src)
    tracked = np.flatnonzero(updates.number >= 0)
    number = updates.number[tracked]
    t = updates.t[tracked]
    span = _lookup(truth, np.full(len(tracked), packed, dtype=np.int64), number, t,
                   params.span_tolerance_s)
    key = np.where(span >= 0, span, -1 - number)
    uniq, inverse = np.unique(key, return_inverse=True)
    ids = tuple(f"{truth.span_number[k]}@{truth.span_from[k]:.3f}" if k >= 0 else f"{-1 - k}?"
                for k in uniq.tolist())
    n = len(tracked)
    return Picture(
        name=_source_name(src), ids=ids, track=inverse.astype(np.int64), t=t,
        lat=updates.lat[tracked], lon=updates.lon[tracked],
        state=np.full(n, CONFIRMED, dtype=np.int8), entry_update=np.arange(n, dtype=np.int64),
        entry_src=np.full(n, packed, dtype=np.int64), entry_number=number,
        source=src, untracked=int(len(updates.number) - n))


# -- geometry -------------------------------------------------------------------------------

def _lookup(truth: Truth, src: np.ndarray, number: np.ndarray, t: np.ndarray,
            tol: float) -> np.ndarray:
    """Index of the track-map span of (source, number) at time t, -1 when none.

    The span containing t wins; otherwise the nearest within ``tol`` of its edges.
    """
    out = np.full(len(t), -1, dtype=np.int64)
    if len(t) == 0 or len(truth.span_src) == 0:
        return out
    span_key = (truth.span_src << 16) | truth.span_number
    order = np.lexsort((truth.span_from, span_key))
    keys, t_from, t_to = span_key[order], truth.span_from[order], truth.span_to[order]
    query = (src << 16) | number
    q_order = np.argsort(query, kind="stable")
    q_sorted = query[q_order]
    uniq, q_lo = np.unique(q_sorted, return_index=True)
    q_hi = np.append(q_lo[1:], len(q_sorted))
    s_lo = np.searchsorted(keys, uniq, "left")
    s_hi = np.searchsorted(keys, uniq, "right")
    for k in np.flatnonzero(s_hi > s_lo).tolist():
        a, b = s_lo[k], s_hi[k]
        rows = q_order[q_lo[k]:q_hi[k]]
        tq = t[rows]
        f, e = t_from[a:b], t_to[a:b]
        n = b - a
        j = np.searchsorted(f, tq, "right") - 1  # last span starting at or before t
        cand = np.stack([j, j - 1, j + 1])  # preference order when distances tie
        valid = (cand >= 0) & (cand < n)
        c = np.clip(cand, 0, n - 1)
        dist = np.maximum(np.maximum(f[c] - tq, tq - e[c]), 0.0)
        dist = np.where(valid, dist, np.inf)
        best = np.argmin(dist, axis=0)
        cols = np.arange(len(tq))
        ok = dist[best, cols] <= tol
        out[rows[ok]] = a + c[best, cols][ok]
    return np.where(out >= 0, order[np.maximum(out, 0)], -1)


def _interp(truth: Truth, f: int, tq: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Flight f's position at times tq (linear between samples; NaN beyond its ends + tol)."""
    a, b = int(truth.offsets[f]), int(truth.offsets[f + 1])
    lat = np.full(len(tq), np.nan)
    lon = np.full(len(tq), np.nan)
    if b == a:
        return lat, lon
    ts, la, lo = truth.t[a:b], truth.lat[a:b], truth.lon[a:b]
    inside = (tq >= ts[0] - tol) & (tq <= ts[-1] + tol)
    if b - a == 1:
        lat[inside], lon[inside] = la[0], lo[0]
        return lat, lon
    q = tq[inside]
    i = np.clip(np.searchsorted(ts, q, "right"), 1, b - a - 1)
    w = (q - ts[i - 1]) / (ts[i] - ts[i - 1])  # outside [0, 1] within tol of the ends
    lat[inside] = la[i - 1] + w * (la[i] - la[i - 1])
    lon[inside] = lo[i - 1] + w * (lo[i] - lo[i - 1])
    return lat, lon


def _groups(keys: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(key, row indices) for each distinct key, rows in their original order."""
    if len(keys) == 0:
        return
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    uniq, lo = np.unique(sorted_keys, return_index=True)
    hi = np.append(lo[1:], len(order))
    for k, a, b in zip(uniq.tolist(), lo.tolist(), hi.tolist(), strict=True):
        yield k, order[a:b]


def _truth_at(truth: Truth, flight: np.ndarray, t: np.ndarray,
              tol: float) -> tuple[np.ndarray, np.ndarray]:
    lat = np.full(len(t), np.nan)
    lon = np.full(len(t), np.nan)
    for f, rows in _groups(flight):
        if f >= 0:
            lat[rows], lon[rows] = _interp(truth, f, t[rows], tol)
    return lat, lon


def _distance(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray,
              lon2: np.ndarray) -> np.ndarray:
    """Geodesic distance on WGS-84, metres; NaN where a position is missing."""
    out = np.full(len(lat1), np.nan)
    ok = np.isfinite(lat1) & np.isfinite(lon1) & np.isfinite(lat2) & np.isfinite(lon2)
    if ok.any():
        out[ok] = _GEOD.inv(lon1[ok], lat1[ok], lon2[ok], lat2[ok])[2]
    return out


def _nearest_flight(truth: Truth, t: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                    max_m: float, tol: float) -> np.ndarray:
    """For each position, the flight nearest to it at its time if within max_m, else -1
    (spherical distance: only good for deciding "within a few km")."""
    best = np.full(len(t), np.inf)
    who = np.full(len(t), -1, dtype=np.int64)
    if len(t) == 0:
        return who
    coslat = np.cos(np.radians(lat))
    for f in range(len(truth.flights)):
        a, b = int(truth.offsets[f]), int(truth.offsets[f + 1])
        if b == a:
            continue
        rows = np.flatnonzero((t >= truth.t[a] - tol) & (t <= truth.t[b - 1] + tol))
        if len(rows) == 0:
            continue
        la, lo = _interp(truth, f, t[rows], tol)
        dy = np.radians(la - lat[rows])
        dx = np.radians((lo - lon[rows] + 180.0) % 360.0 - 180.0) * coslat[rows]
        d = np.hypot(dx, dy) * _EARTH_M
        better = d < best[rows]
        best[rows[better]] = d[better]
        who[rows[better]] = f
    return np.where(best <= max_m, who, -1)


def _coverage(truth: Truth, src: int | None) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per flight, the merged time intervals some track-map span (of ``src``, or of any
    source) covers."""
    sel = np.flatnonzero(truth.span_src == src) if src is not None else np.arange(
        len(truth.span_src))
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for f, rows in _groups(truth.span_flight[sel]):
        rows = sel[rows]
        order = np.argsort(truth.span_from[rows], kind="stable")
        s, e = truth.span_from[rows][order], truth.span_to[rows][order]
        reach = np.maximum.accumulate(e)
        new = np.ones(len(s), dtype=bool)
        new[1:] = s[1:] > reach[:-1]
        first = np.flatnonzero(new)
        last = np.append(first[1:] - 1, len(s) - 1)
        out[f] = (s[first], reach[last])
    return out


def _covered(intervals: tuple[np.ndarray, np.ndarray], t: np.ndarray) -> np.ndarray:
    starts, ends = intervals
    j = np.searchsorted(starts, t, "right") - 1
    return (j >= 0) & (t <= ends[np.maximum(j, 0)])


# -- scoring --------------------------------------------------------------------------------

def _majority(track: np.ndarray, flight: np.ndarray, t: np.ndarray,
              n_tracks: int) -> tuple[np.ndarray, np.ndarray]:
    """Per track, the flight most of its rows name (ties: the one named first) and how many
    rows name it; -1 and 0 for a track without rows."""
    lead = np.full(n_tracks, -1, dtype=np.int64)
    top = np.zeros(n_tracks, dtype=np.int64)
    if len(track) == 0:
        return lead, top
    nf = int(flight.max()) + 1
    uniq, inverse, counts = np.unique(track * nf + flight, return_inverse=True,
                                      return_counts=True)
    first = np.full(len(uniq), np.inf)
    np.minimum.at(first, inverse, t)
    ut, uf = uniq // nf, uniq % nf
    order = np.lexsort((first, -counts, ut))
    ut, uf, counts = ut[order], uf[order], counts[order]
    head = np.ones(len(ut), dtype=bool)
    head[1:] = ut[1:] != ut[:-1]
    lead[ut[head]] = uf[head]
    top[ut[head]] = counts[head]
    return lead, top


def _id_changes(t: np.ndarray, track: np.ndarray, recent_s: float) -> int:
    """Changes of the track a flight is held by, over its owned updates in time order.

    The holding track is kept while it is alive (updated within ``recent_s``): another
    track's updates alongside it are duplicates, not id changes.
    """
    if len(t) == 0:
        return 0
    order = np.argsort(t, kind="stable")
    t, track = t[order], track[order]
    brk = np.flatnonzero(track[1:] != track[:-1]) + 1
    starts = np.concatenate([[0], brk])
    ends = np.append(brk, len(t)) - 1
    run_id, run_last = track[starts].tolist(), t[ends].tolist()
    current, last, changes = run_id[0], run_last[0], 0
    for rid, rlast in zip(run_id[1:], run_last[1:], strict=True):
        if rid == current:
            last = max(last, rlast)
        elif rlast - last > recent_s:  # the holder went stale while this one kept updating
            changes += 1
            current, last = rid, rlast
    return changes


def _alive(track: np.ndarray, t: np.ndarray, recent_s: float,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A track's alive intervals: runs of its updates no more than recent_s apart.
    Returns (track, start, end) per interval, ordered by track then time."""
    order = np.lexsort((t, track))
    track, t = track[order], t[order]
    new = np.ones(len(t), dtype=bool)
    new[1:] = (track[1:] != track[:-1]) | (t[1:] - t[:-1] > recent_s)
    first = np.flatnonzero(new)
    last = np.append(first[1:] - 1, len(t) - 1)
    return track[first], t[first], t[last]


def _duplicates(track: np.ndarray, t: np.ndarray, owner: np.ndarray, confirmed: np.ndarray,
                params: Params) -> int:
    """Confirmed tracks alive alongside a senior track of the same flight (one that was
    shown first) for more than duplicate_s in all."""
    if len(t) == 0:
        return 0
    iv_track, iv_from, iv_to = _alive(track, t, params.recent_s)
    keep = confirmed[iv_track] & (owner[iv_track] >= 0)
    iv_track, iv_from, iv_to = iv_track[keep], iv_from[keep], iv_to[keep]
    duplicates = 0
    for _f, rows in _groups(owner[iv_track]):
        tracks = iv_track[rows]
        starts: dict[int, float] = {}
        for k, s in zip(tracks.tolist(), iv_from[rows].tolist(), strict=True):
            starts.setdefault(k, s)  # intervals come time-ordered per track
        senior = sorted(starts, key=lambda k: (starts[k], k))
        mine = {k: rows[tracks == k] for k in senior}
        for n, k in enumerate(senior[1:], 1):
            a_from, a_to = iv_from[mine[k]][:, None], iv_to[mine[k]][:, None]
            for j in senior[:n]:
                b_from, b_to = iv_from[mine[j]][None, :], iv_to[mine[j]][None, :]
                overlap = np.maximum(np.minimum(a_to, b_to) - np.maximum(a_from, b_from), 0)
                if overlap.sum() > params.duplicate_s:
                    duplicates += 1
                    break
    return duplicates


@dataclass(frozen=True)
class _Samples:
    """Error samples of a picture, for comparisons: flight, time, distance."""

    flight: np.ndarray
    t: np.ndarray
    d: np.ndarray


def _kind_groups(truth: Truth) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    kinds = np.array(truth.transponder, dtype=object)
    is_tx = np.array([k in TRANSPONDER for k in truth.transponder], dtype=bool)
    is_psr = np.array([k in PRIMARY_ONLY for k in truth.transponder], dtype=bool)
    return kinds, is_tx, is_psr


def score(truth: Truth, picture: Picture, params: Params = Params()) -> Figures:
    """The figures of one picture (docs/evaluation.md has the definitions)."""
    return _score(truth, picture, params)[0]


def _score(truth: Truth, pic: Picture, params: Params) -> tuple[Figures, _Samples]:
    tol, n_tracks = params.span_tolerance_s, len(pic.ids)
    kinds, is_tx, is_psr = _kind_groups(truth)

    # 1. each source entry's true flight, through the track-map
    e_t = pic.t[pic.entry_update]
    e_track = pic.track[pic.entry_update]
    tracked = pic.entry_number >= 0
    span = np.full(len(e_t), -1, dtype=np.int64)
    span[tracked] = _lookup(truth, pic.entry_src[tracked], pic.entry_number[tracked],
                            e_t[tracked], tol)
    e_flight = np.where(span >= 0, truth.span_flight[np.maximum(span, 0)], -1)
    scored = e_flight >= 0
    s_track, s_flight = e_track[scored], e_flight[scored]

    # ownership: the majority flight of the scored entries, if at least half of them
    lead, top = _majority(s_track, s_flight, e_t[scored], n_tracks)
    total = np.bincount(s_track, minlength=n_tracks)
    owner = np.where((total > 0) & (2 * top >= total), lead, -1)

    confirmed = np.zeros(n_tracks, dtype=bool)
    confirmed[pic.track[pic.state == CONFIRMED]] = True
    has_pos = np.isfinite(pic.lat) & np.isfinite(pic.lon)
    shown = (confirmed[pic.track] & ((pic.state == CONFIRMED) | (pic.state == COASTING))
             & has_pos)

    # confirmed tracks no source entry scores for: owned by position, or false
    by_position = confirmed & (total == 0)
    rows = np.flatnonzero(shown & by_position[pic.track])
    near = _nearest_flight(truth, pic.t[rows], pic.lat[rows], pic.lon[rows],
                           params.max_distance_m, tol)
    hit = near >= 0
    p_lead, p_top = _majority(pic.track[rows][hit], near[hit], pic.t[rows][hit], n_tracks)
    p_total = np.bincount(pic.track[rows], minlength=n_tracks)
    p_owned = by_position & (p_top > 0) & (2 * p_top >= p_total)
    owner = np.where(p_owned, p_lead, owner)

    correct = int(np.count_nonzero(s_flight == owner[s_track]))

    # 5. errors of shown updates of owned tracks against their flight's truth
    u_owner = owner[pic.track]
    rows = np.flatnonzero(shown & (u_owner >= 0))
    t_lat, t_lon = _truth_at(truth, u_owner[rows], pic.t[rows], tol)
    dist = _distance(pic.lat[rows], pic.lon[rows], t_lat, t_lon)
    with_truth = np.isfinite(dist)
    err_rows, err_d = rows[with_truth], dist[with_truth]
    err_flight = u_owner[err_rows]

    # 3. completeness: truth seconds in coverage with a good update at most recent_s old
    coverage = _coverage(truth, _pack(*pic.source) if pic.source else None)
    good = err_d <= params.max_distance_m
    good_by_flight = dict(_groups(err_flight[good]))
    good_t = pic.t[err_rows[good]]
    hits = np.zeros(len(truth.flights), dtype=np.int64)
    need = np.zeros(len(truth.flights), dtype=np.int64)
    for f, iv in coverage.items():
        a, b = int(truth.offsets[f]), int(truth.offsets[f + 1])
        ts = truth.t[a:b][_covered(iv, truth.t[a:b])]
        need[f] = len(ts)
        g = np.sort(good_t[good_by_flight[f]]) if f in good_by_flight else np.zeros(0)
        if len(g) and len(ts):
            j = np.searchsorted(g, ts, "right") - 1
            hits[f] = np.count_nonzero((j >= 0) & (ts - g[np.maximum(j, 0)]
                                                   <= params.recent_s))

    # 2. id changes: the owned tracks' shown updates while the flight was in coverage
    owned_rows = np.flatnonzero(shown & (u_owner >= 0))
    changes_of = np.zeros(len(truth.flights), dtype=np.int64)
    for f, r in _groups(u_owner[owned_rows]):
        seen = coverage.get(f)
        if seen is None:
            continue
        r = owned_rows[r]
        r = r[_covered(seen, pic.t[r])]
        changes_of[f] = _id_changes(pic.t[r], pic.track[r], params.recent_s)
    changes = int(changes_of.sum())
    in_coverage = int(np.count_nonzero(need))

    # 4. false and duplicate tracks, among confirmed ones
    false_tracks = int(np.count_nonzero(confirmed & (owner < 0)))
    duplicates = _duplicates(pic.track[owned_rows], pic.t[owned_rows], owner,
                             confirmed, params)

    # 6. primary-only flights merged into a transponder flight's track
    e_owner = owner[s_track]
    merged = (confirmed[s_track] & (e_owner >= 0) & is_tx[np.maximum(e_owner, 0)]
              & is_psr[s_flight])

    n_confirmed = int(np.count_nonzero(confirmed))
    flight_kind = kinds[err_flight] if len(err_flight) else np.zeros(0, dtype=object)
    figures = Figures(
        name=pic.name,
        source=(dict(zip(("sac", "sic", "cat"), pic.source, strict=True))
                if pic.source else None),
        updates=len(pic.t), tracks=n_tracks, tracks_confirmed=n_confirmed,
        tracks_never_confirmed=n_tracks - n_confirmed,
        correctness=Ratio.of(correct, len(s_flight)),
        untracked_updates=int(np.count_nonzero(~tracked)) + pic.untracked,
        unmapped_updates=int(np.count_nonzero(tracked & (span < 0))),
        flights_in_coverage=in_coverage, id_changes=changes,
        id_changes_per_100_flights=100.0 * changes / in_coverage if in_coverage else None,
        completeness=Ratio.of(hits.sum(), need.sum()),
        completeness_transponder=Ratio.of(hits[is_tx].sum(), need[is_tx].sum()),
        completeness_primary=Ratio.of(hits[is_psr].sum(), need[is_psr].sum()),
        false_tracks=Ratio.of(false_tracks, n_confirmed),
        duplicate_tracks=Ratio.of(duplicates, n_confirmed),
        tracks_owned_by_position=int(np.count_nonzero(p_owned)),
        error=ErrorStats.of(err_d),
        error_transponder=ErrorStats.of(err_d[is_tx[err_flight]]),
        error_primary=ErrorStats.of(err_d[is_psr[err_flight]]),
        error_by_kind={str(k): ErrorStats.of(err_d[flight_kind == k])
                       for k in sorted(set(flight_kind.tolist()))},
        error_without_truth=int(np.count_nonzero(~with_truth)),
        merges=len(np.unique(s_track[merged])), merged_updates=int(np.count_nonzero(merged)),
        by_kind={k: _kind_figures(kinds == k, hits, need, err_d, err_flight, changes_of,
                                  s_flight[merged])
                 for k in KINDS_REPORTED},
        error_extrapolated=ErrorStats.of(err_d[pic.extrapolated[err_rows]]
                                         if pic.extrapolated is not None else err_d[:0]),
    )
    return figures, _Samples(err_flight, pic.t[err_rows], err_d)


def _kind_figures(of_kind: np.ndarray, hits: np.ndarray, need: np.ndarray, err_d: np.ndarray,
                  err_flight: np.ndarray, changes: np.ndarray,
                  merged_flight: np.ndarray) -> KindFigures:
    """The figures of the flights ``of_kind`` (bool per flight)."""
    return KindFigures(int(np.count_nonzero(need[of_kind])),
                       Ratio.of(hits[of_kind].sum(), need[of_kind].sum()),
                       ErrorStats.of(err_d[of_kind[err_flight]]),
                       int(changes[of_kind].sum()),
                       int(np.count_nonzero(of_kind[merged_flight])))


def _compare(truth: Truth, name: str, src: tuple[int, int, int], fused: _Samples,
             single: _Samples) -> Comparison:
    coverage = _coverage(truth, _pack(*src))
    keep = np.zeros(len(fused.t), dtype=bool)
    for f, rows in _groups(fused.flight):
        if f in coverage:
            keep[rows] = _covered(coverage[f], fused.t[rows])
    both = np.intersect1d(fused.flight[keep], single.flight)
    f_sel = keep & np.isin(fused.flight, both)
    s_sel = np.isin(single.flight, both)
    return Comparison(name, len(both), ErrorStats.of(fused.d[f_sel]),
                      ErrorStats.of(single.d[s_sel]))


def evaluate_parsed(truth: Truth, tracks: TracksInput, params: Params = Params(), *,
                    truth_counts: Mapping[str, int] | None = None) -> Report:
    """Every figure of a tracks input against a truth (the sans-IO core of ``evaluate``)."""
    fused, fused_samples = _score(truth, tracks.fused, params)
    sources: list[Figures] = []
    comparisons: list[Comparison] = []
    for src, updates in tracks.sources.items():
        pic = source_picture(truth, src, updates, params)
        figures, samples = _score(truth, pic, params)
        sources.append(figures)
        comparisons.append(_compare(truth, pic.name, src, fused_samples, samples))
    kinds = Counter(truth.transponder)
    summary: TruthSummary = {
        "flights": len(truth.flights),
        "flights_by_kind": {k or "unknown": v for k, v in sorted(kinds.items())},
        "samples": len(truth.t), "spans": len(truth.span_src),
        "skipped": {k: v for k, v in sorted((truth_counts or {}).items())
                    if k not in _TRUTH_KINDS},
    }
    return Report(params, summary, dict(sorted(tracks.counts.items())), fused, tuple(sources),
                  tuple(comparisons), registration_rows(truth, tracks.registration))


# -- files ----------------------------------------------------------------------------------

def _read_lines(path: str | Path) -> Iterator[bytes]:
    """The lines of a file, gunzipped when its name ends in .gz; OSError when unreadable."""
    name = str(path)
    with open(name, "rb") as raw:
        if not name.endswith(".gz"):
            yield from raw
            return
        # GzipFile.readline is Python code per line; a buffered reader over it is not
        with gzip.GzipFile(fileobj=raw, mode="rb") as gz, io.BufferedReader(gz, 1 << 20) as f:
            try:
                yield from f
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                raise EvaluationError(f"{name}: unreadable compressed data ({exc})") from None


def evaluate(truth_path: str | Path, tracks_path: str | Path, *, recent_s: float = 12.0,
             max_distance_m: float = 2000.0, duplicate_s: float = 30.0,
             span_tolerance_s: float = 1.0) -> Report:
    """Evaluate the fused picture (and each single source) of a tracks file against a truth
    file.  Raises OSError for a missing or unreadable file, EvaluationError for corrupt
    compressed data or a truth file without truth."""
    params = Params(recent_s, max_distance_m, duplicate_s, span_tolerance_s)
    truth, truth_counts = parse_truth(_read_lines(truth_path))
    if len(truth.t) == 0:
        raise EvaluationError(f"{truth_path}: no truth lines")
    tracks = parse_tracks(_read_lines(tracks_path))
    return evaluate_parsed(truth, tracks, params, truth_counts=truth_counts)


# -- the table ------------------------------------------------------------------------------

def _pct(r: Ratio) -> str:
    return "n/a" if r.share is None else f"{100 * r.share:.2f} %"


def _m(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0f}" if x >= 10 else f"{x:.2f}"


def _err(e: ErrorStats) -> str:
    return f"RMS {_m(e.rms_m)} m, p95 {_m(e.p95_m)} m (n={e.samples})"


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def _table(r: Report) -> str:
    f = r.fused
    skipped = {k: v for k, v in r.tracks_input.items()
               if k not in ("fused", "plot", "track", "registration", "other kinds")}
    read = {k: v for k, v in r.tracks_input.items() if k not in skipped}
    p = r.params
    lines = [
        f"truth: {r.truth['flights']} flights ({_counts(r.truth['flights_by_kind'])}), "
        f"{r.truth['spans']} source track spans; skipped lines: {_counts(r.truth['skipped'])}",
        f"tracks file: {_counts(read)}; skipped lines: {_counts(skipped)}",
        f"parameters: recent {p.recent_s:g} s, distance {p.max_distance_m:g} m, "
        f"duplicate {p.duplicate_s:g} s, span tolerance {p.span_tolerance_s:g} s",
        "",
        "fused picture",
        f"  tracks                  {f.tracks_confirmed} confirmed, "
        f"{f.tracks_never_confirmed} never confirmed ({f.updates} updates)",
        f"  association correctness {_pct(f.correctness)} ({f.correctness.hits} of "
        f"{f.correctness.total} source updates; not scored: {f.untracked_updates} untracked, "
        f"{f.unmapped_updates} without span)",
        f"  id changes              {f.id_changes} "
        f"({_m(f.id_changes_per_100_flights)} per 100 flights; "
        f"{f.flights_in_coverage} flights in coverage)",
        f"  completeness            {_pct(f.completeness)} (transponder "
        f"{_pct(f.completeness_transponder)}, primary-only {_pct(f.completeness_primary)})",
        f"  false tracks            {f.false_tracks.hits} ({_pct(f.false_tracks)}; "
        f"{f.tracks_owned_by_position} owned by position)",
        f"  duplicate tracks        {f.duplicate_tracks.hits} ({_pct(f.duplicate_tracks)})",
        f"  horizontal error        {_err(f.error)}",
        f"    transponder           {_err(f.error_transponder)}",
        f"    primary-only          {_err(f.error_primary)}",
        *([f"    extrapolated          {_err(f.error_extrapolated)}"]
          if f.error_extrapolated.samples else []),
        f"  primary-only merges     {f.merges} tracks ({f.merged_updates} source updates)",
        f"  by target kind          {'flights':>7}{'complete':>10}{'RMS m':>8}{'p95 m':>8}"
        f"{'samples':>9}{'id ch':>7}{'merged':>8}",
    ]
    for k, name in KINDS_REPORTED.items():
        g = f.by_kind.get(k)
        if g is not None:
            lines.append(f"    {name:<22}{g.flights_in_coverage:>7}{_pct(g.completeness):>10}"
                         f"{_m(g.error.rms_m):>8}{_m(g.error.p95_m):>8}{g.error.samples:>9}"
                         f"{g.id_changes:>7}{g.merged_updates:>8}")
    if r.sources:
        head = (f"  {'source':<14}{'tracks':>7}{'correct':>10}{'id ch/100':>10}"
                f"{'complete':>10}{'false':>7}{'dup':>5}{'RMS m':>8}{'p95 m':>8}{'untracked':>10}")
        lines += ["", "single sources (baselines)", head]
        for s in r.sources:
            lines.append(
                f"  {s.name:<14}{s.tracks_confirmed:>7}{_pct(s.correctness):>10}"
                f"{_m(s.id_changes_per_100_flights):>10}{_pct(s.completeness):>10}"
                f"{s.false_tracks.hits:>7}{s.duplicate_tracks.hits:>5}{_m(s.error.rms_m):>8}"
                f"{_m(s.error.p95_m):>8}{s.untracked_updates:>10}")
        lines += ["", "fused vs each source: same flights, fused samples while that source "
                  "covered them",
                  f"  {'source':<14}{'flights':>8}{'fused RMS m':>13}{'source RMS m':>14}"
                  f"{'fused p95 m':>13}{'source p95 m':>14}"]
        for c in r.comparisons:
            lines.append(f"  {c.source:<14}{c.flights:>8}{_m(c.fused.rms_m):>13}"
                         f"{_m(c.single.rms_m):>14}{_m(c.fused.p95_m):>13}"
                         f"{_m(c.single.p95_m):>14}")
    if r.registration:
        lines += _registration_table(r.registration)
    return "\n".join(lines) + "\n"


def _registration_table(rows: Sequence[RegistrationRow]) -> list[str]:
    """Each radar's last estimate, the truth and the error (estimate - truth)."""
    def f(x: float | None, form: str) -> str:
        return "n/a" if x is None else format(x, form)

    def err(a: float, b: float | None, form: str) -> str:
        return "n/a" if b is None else format(a - b, form)

    out = ["", "radar registration: last estimate, truth, error (estimate - truth)",
           f"  {'radar':<8}{'pairs':>7}{'range bias m':>24}{'gain ppm':>20}"
           f"{'azimuth bias deg':>30}{'time offset s':>24}",
           f"  {'':<15}{'est':>8}{'true':>8}{'error':>8}{'est':>7}{'true':>7}{'error':>6}"
           f"{'est':>10}{'true':>10}{'error':>10}{'est':>8}{'true':>8}{'error':>8}"]
    for r in rows:
        g = (r.range_gain - 1) * 1e6
        tg = None if r.true_range_gain is None else (r.true_range_gain - 1) * 1e6
        out.append(
            f"  {r.radar:<8}{r.pairs:>7}"
            f"{r.range_bias_m:>8.1f}{f(r.true_range_bias_m, '8.1f')}"
            f"{err(r.range_bias_m, r.true_range_bias_m, '+8.1f')}"
            f"{g:>7.0f}{f(tg, '7.0f')}{err(g, tg, '+6.0f')}"
            f"{r.azimuth_bias_deg:>10.4f}{f(r.true_azimuth_bias_deg, '10.4f')}"
            f"{err(r.azimuth_bias_deg, r.true_azimuth_bias_deg, '+10.4f')}"
            f"{r.time_offset_s:>8.3f}{f(r.true_time_offset_s, '8.3f')}"
            f"{err(r.time_offset_s, r.true_time_offset_s, '+8.3f')}")
    return out
