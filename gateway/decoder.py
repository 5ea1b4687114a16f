"""The columnar decoder: datagrams in, one batch of numpy columns per category out.

A thin typed layer over the Cython walker (gateway._decoder).  Records become rows; the
fields the gateway uses become columns with a presence mask (a missing field is masked, never
zero); every item's offset and length are kept so anything else can be decoded on demand
through the reference codec.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import numpy as np

from gateway import _decoder
from gateway.asterix import CATEGORIES, COLUMNS
from gateway.asterix.codec import ICAO_CHARS, RecordCodec
from gateway.asterix.layout import (
    ASCII,
    ICAO,
    SQUANTITY,
    UQUANTITY,
    ColumnSpec,
    by_kind,
    column,
    column_array,
    tables,
)

PROBLEM_KINDS: tuple[str, ...] = tuple(_decoder.PROBLEMS)
_decoder.set_icao_chars(ICAO_CHARS.encode("ascii"))

@dataclass
class Problems:
    """Problems counted by kind; nothing about a bad datagram is ever raised."""

    counts: Counter[str] = field(default_factory=Counter)

    def add(self, other: Problems | dict[str, int]) -> None:
        self.counts.update(other.counts if isinstance(other, Problems) else other)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        """One line, e.g. ``item-overrun=3 block-truncated=1``, or ``no problems``."""
        parts = [f"{k}={v}" for k, v in sorted(self.counts.items()) if v]
        return " ".join(parts) if parts else "no problems"


@dataclass
class Batch:
    """The records of one category from one decode call, as columns.

    Offsets index ``data``; ``datagram`` indexes the datagrams of the call.
    """

    category: int
    data: bytes
    record_offset: np.ndarray
    record_length: np.ndarray
    datagram: np.ndarray
    t_capture: np.ndarray
    item_start: np.ndarray  # uint16 [n, FRNs]: item offset within its record, 0 = absent
    item_length: np.ndarray
    columns: dict[str, np.ndarray]
    present: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.record_offset)

    def __getitem__(self, path: str) -> np.ma.MaskedArray:
        """A column with its absent values masked, e.g. ``batch["040/RHO"]``."""
        return np.ma.MaskedArray(self.columns[path], mask=~self.present[path])

    @property
    def item_offset(self) -> np.ndarray:
        """Item offsets into ``data`` (int64 [n, FRNs], -1 where the item is absent)."""
        return np.where(self.item_start > 0, self.record_offset[:, None] + self.item_start, -1)

    def item_bytes(self, row: int) -> dict[str, bytes]:
        """The raw bytes of every item of one record, keyed by item number, in UAP order."""
        uap = CATEGORIES[self.category].uap
        start = int(self.record_offset[row])
        out: dict[str, bytes] = {}
        for f, (offset, length) in enumerate(zip(self.item_start[row].tolist(),
                                                 self.item_length[row].tolist(), strict=True)):
            if offset:
                out[uap[f]] = self.data[start + offset:start + offset + length]  # type: ignore[index]
        return out

    def record(self, row: int) -> dict[str, Any]:
        """One record fully decoded by the reference codec (item number -> value)."""
        codec = _codec(self.category)
        return {n: codec.decode_item(n, b) for n, b in self.item_bytes(row).items()}

    @classmethod
    def concat(cls, batches: Sequence[Batch]) -> Batch:
        """Join batches of one category (offsets are rebased onto the joined data)."""
        if len(batches) == 1:
            return batches[0]
        shifts = np.cumsum([0] + [len(b.data) for b in batches[:-1]])
        dg_shift = np.cumsum([0] + [int(b.datagram.max(initial=-1)) + 1 for b in batches[:-1]])
        pairs = list(zip(batches, shifts, strict=True))
        first = batches[0]
        return cls(
            first.category,
            b"".join(b.data for b in batches),
            np.concatenate([b.record_offset + s for b, s in pairs]),
            np.concatenate([b.record_length for b in batches]),
            np.concatenate([b.datagram + s for b, s in zip(batches, dg_shift, strict=True)]
                           ).astype(np.int32),
            np.concatenate([b.t_capture for b in batches]),
            np.concatenate([b.item_start for b in batches]),
            np.concatenate([b.item_length for b in batches]),
            {k: np.concatenate([b.columns[k] for b in batches]) for k in first.columns},
            {k: np.concatenate([b.present[k] for b in batches]) for k in first.present},
        )


_CODECS: dict[int, RecordCodec] = {}


def _codec(category: int) -> RecordCodec:
    if category not in _CODECS:
        _CODECS[category] = RecordCodec(CATEGORIES[category])
    return _CODECS[category]


class Decoder:
    """Decodes datagrams of the categories asked for (all four by default)."""

    def __init__(self, categories: Iterable[int] | None = None) -> None:
        wanted = sorted(CATEGORIES if categories is None else set(categories))
        unknown = [c for c in wanted if c not in CATEGORIES]
        if unknown:
            raise ValueError(f"no definition for categories {unknown}; have {sorted(CATEGORIES)}")
        self.categories = wanted
        self._cat_index = np.full(256, -1, dtype=np.int32)
        for c in CATEGORIES:
            self._cat_index[c] = -2
        self._tables = []
        self._specs: list[list[tuple[ColumnSpec, int]]] = []
        self._plans: list[_Plan] = []
        for i, c in enumerate(wanted):
            self._cat_index[c] = i
            t = tables(CATEGORIES[c])
            specs = by_kind([column(CATEGORIES[c], p) for p in COLUMNS[c]])
            spec, scales, widths = column_array(specs)
            self._tables.append((t.uap, t.nodes.reshape(-1), t.children, spec.reshape(-1),
                                 scales, *widths))
            self._specs.append([(s, int(d)) for s, d in zip(specs, spec[:, 6], strict=True)])
            self._plans.append(_plan(self._specs[-1]))

    def decode(self, payloads: Sequence[bytes] | bytes,
               t_capture: Sequence[float | None] | np.ndarray | None = None,
               ) -> tuple[dict[int, Batch], Problems]:
        """Decode datagrams (or one buffer of datablocks); return batches and problems."""
        if isinstance(payloads, (bytes, bytearray, memoryview)):
            payloads = [bytes(payloads)]
        data = b"".join(payloads)
        starts = np.fromiter(accumulate(map(len, payloads), initial=0), dtype=np.int64,
                             count=len(payloads) + 1)
        times = np.full(len(payloads), np.nan) if t_capture is None else np.asarray(
            [np.nan if t is None else t for t in t_capture], dtype=np.float64)
        counts = np.zeros(len(PROBLEM_KINDS), dtype=np.int64)
        buf = np.frombuffer(data, dtype=np.uint8) if data else np.zeros(0, dtype=np.uint8)
        rows, _blocks = _decoder.walk(buf, starts, self._cat_index, self._tables, counts)
        batches: dict[int, Batch] = {}
        for c, r, plan in zip(self.categories, rows, self._plans, strict=True):
            n = r.n
            if n == 0:
                continue
            floats, ints, chars, flags = r.floats[:n], r.ints[:n], r.chars[:n], r.present[:n]
            values: dict[str, np.ndarray] = {p: floats[:, d] for p, d in plan.floats}
            values.update({p: ints[:, d] for p, d in plan.ints})
            for p, d, width, dtype in plan.chars:
                values[p] = np.ascontiguousarray(chars[:, d:d + width]).view(dtype).reshape(n)
            values = {p: values[p] for p in plan.order}  # the specs' order, as before
            flags = flags.view(bool)
            present = {p: flags[:, i] for i, p in enumerate(plan.order)}
            dg = r.datagram[:n]
            batches[c] = Batch(c, data, r.rec_offset[:n], r.rec_length[:n], dg, times[dg],
                               r.item_start[:n], r.item_length[:n], values, present)
        named = zip(PROBLEM_KINDS, counts.tolist(), strict=True)
        problems = Problems(Counter({k: v for k, v in named if v}))
        return batches, problems


@dataclass(frozen=True)
class _Plan:
    """One category's columns, sorted by where the walker puts them, made once per Decoder:
    decode runs per datagram live (issue 16), and sorting each spec by kind and reading
    its dtype again per column was most of a small call's cost."""

    order: tuple[str, ...]  # every path, in the specs' order (presence column i)
    floats: tuple[tuple[str, int], ...]  # (path, column of the walker's floats)
    ints: tuple[tuple[str, int], ...]
    chars: tuple[tuple[str, int, int, np.dtype], ...]  # (path, first char, width, dtype)


def _plan(specs: Sequence[tuple[ColumnSpec, int]]) -> _Plan:
    floats, ints, chars = [], [], []
    for spec, dest in specs:
        if spec.kind in (UQUANTITY, SQUANTITY):
            floats.append((spec.path, dest))
        elif spec.kind in (ICAO, ASCII):
            chars.append((spec.path, dest, spec.dtype.itemsize, spec.dtype))
        else:
            ints.append((spec.path, dest))
    return _Plan(tuple(s.path for s, _d in specs), tuple(floats), tuple(ints), tuple(chars))


def iter_chunks(payloads: Iterable[tuple[bytes, float | None]], chunk_bytes: int = 1 << 20,
                ) -> Iterator[tuple[list[bytes], list[float | None]]]:
    """Group (payload, time) pairs into chunks of about ``chunk_bytes`` for one decode call."""
    data: list[bytes] = []
    times: list[float | None] = []
    size = 0
    for payload, t in payloads:
        data.append(payload)
        times.append(t)
        size += len(payload)
        if size >= chunk_bytes:
            yield data, times
            data, times, size = [], [], 0
    if data:
        yield data, times


@dataclass
class Decoded:
    """All records of one source: a batch per category, problems, and what ingest skipped."""

    batches: dict[int, Batch]
    problems: Problems
    ingest: Any = None  # gateway.ingest.IngestStats for captures and raw files


def iter_decoded(datagrams: Iterable[Any], decoder: Decoder, chunk_bytes: int = 1 << 20,
                 ) -> Iterator[tuple[dict[int, Batch], Problems]]:
    """Decode a stream of Datagrams chunk by chunk, so memory stays bounded on any input."""
    for payloads, times in iter_chunks(((d.payload, d.t_capture) for d in datagrams),
                                       chunk_bytes):
        yield decoder.decode(payloads, times)


def decode(source: Any, *, categories: Iterable[int] | None = None,
           ports: Iterable[int] | None = None) -> Decoded:
    """Decode a capture, raw file, bytes or iterable of Datagrams into columnar batches.

    ``source`` is a path (pcap, pcapng or raw ASTERIX, told apart by content), ``bytes`` of
    datablocks, or Datagrams from gateway.ingest.  Everything is held in memory: for
    unbounded inputs use :func:`iter_decoded`.
    """
    from gateway.ingest import IngestStats, read_datagrams

    decoder = Decoder(categories)
    stats = None
    if isinstance(source, (bytes, bytearray, memoryview)):
        batches, problems = decoder.decode(bytes(source))
        return Decoded(batches, problems)
    if isinstance(source, (str, os.PathLike)):
        stats = IngestStats()
        source = read_datagrams(source, ports=None if ports is None else set(ports),
                                stats=stats)
    problems = Problems()
    parts: dict[int, list[Batch]] = {}
    for batches, chunk_problems in iter_decoded(source, decoder):
        problems.add(chunk_problems)
        for c, b in batches.items():
            parts.setdefault(c, []).append(b)
    return Decoded({c: Batch.concat(bs) for c, bs in parts.items()}, problems, stats)
