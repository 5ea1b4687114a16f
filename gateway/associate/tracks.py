"""The fused tracks as a table of columns: one row (slot) per live track.

Every part of the tracker reads and writes these arrays for many tracks at once, which is
why a track is a row index, not an object.  Rows are reused after a track ends; ``uid``
tells apart the tracks that held a row.  The table grows by doubling when full.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import numpy as np
from numpy.typing import DTypeLike, NDArray

from gateway import _lifecycle
from gateway.messages import FlightPlan, FusedState

__all__ = ["ADDRESS", "CALLSIGN", "CODE", "COASTING", "CONFIRMED", "LEVEL_COV", "LEVEL_LAST",
           "LEVEL_STATE", "LEVEL_T", "MODE3A", "STATE_NAMES", "TENTATIVE", "TrackTable", "views_of"]

TENTATIVE, CONFIRMED, COASTING = 0, 1, 2
TRACK_NUMBERS = 1 << 16  # a source's track numbers are 16 bits at most (docs/messages.md)
# columns of an identity: [icao24, discrete code, callsign hash, latest code of any kind]
ADDRESS, CODE, CALLSIGN, MODE3A = 0, 1, 2, 3
# columns of the packed level state
LEVEL_STATE, LEVEL_COV, LEVEL_T, LEVEL_LAST = slice(0, 2), slice(2, 6), 6, 7
STATE_NAMES: tuple[FusedState, ...] = ("tentative", "confirmed", "coasting")

class _Views(Protocol):
    def views(self, *arrays: Any) -> bool: ...


V = TypeVar("V", bound=_Views)


def views_of(view: V | None, make: Callable[..., V], *arrays: Any) -> V:
    """A kernel's views of ``arrays`` (the table's columns, a filter's constants): ``view``
    while it was made of these very arrays, else ``make(*arrays)``.  The kernels take the
    buffers once (a typed argument costs half a microsecond at every call); the table
    makes new arrays when it grows, or it is another table, and then they are taken again."""
    if view is None or not view.views(*arrays):
        return make(*arrays)
    return view


# column name -> (trailing shape, dtype, fill for a fresh row)
_COLUMNS: dict[str, tuple[tuple[int, ...], DTypeLike, float]] = {
    "alive": ((), bool, False),
    "uid": ((), np.int64, -1),
    "state": ((), np.int8, TENTATIVE),
    "published": ((), bool, False),  # has an id and has been published
    "x": ((4,), np.float64, 0.0),  # [x, y, vx, vy] in the plane
    "P": ((4, 4), np.float64, 0.0),
    "t": ((), np.float64, np.nan),  # time of the state
    "t_update": ((), np.float64, np.nan),  # latest measurement time
    "t_first": ((), np.float64, np.nan),
    "n_updates": ((), np.int64, 0),  # updates while tentative (what confirmation counts)
    # identity [address, discrete code, callsign hash, latest code], -1 unknown
    "ident": ((4,), np.int64, -1),
    # level filter, packed to be read and written at once (see LEVEL_*): filtered level
    # and rate [FL, FL/s], their 2x2 covariance, the time of the latest report, its level
    "level": ((8,), np.float64, np.nan),
    "roc_sdps": ((), np.float64, np.nan),  # latest SDPS rate of climb (fpm)
    "sdps": ((), bool, False),  # an SDPS has reported it
    "tracked": ((), bool, False),  # a report with its source's track number has fed it
    "t_hidden": ((), np.float64, np.nan),  # latest time coverage said it was hidden
    "t_out": ((), np.float64, np.nan),  # time of the latest message published of it
}


class TrackTable:
    """Columns of every track row; ``hits`` keeps the last H update times for M-of-N."""

    # The columns of _COLUMNS (made by _grow), declared for the type checker; checked
    # against _COLUMNS below.
    alive: NDArray[np.bool_]
    uid: NDArray[np.int64]
    state: NDArray[np.int8]
    published: NDArray[np.bool_]
    x: NDArray[np.float64]
    P: NDArray[np.float64]
    t: NDArray[np.float64]
    t_update: NDArray[np.float64]
    t_first: NDArray[np.float64]
    n_updates: NDArray[np.int64]
    ident: NDArray[np.int64]
    level: NDArray[np.float64]
    roc_sdps: NDArray[np.float64]
    sdps: NDArray[np.bool_]
    tracked: NDArray[np.bool_]
    t_hidden: NDArray[np.float64]
    t_out: NDArray[np.float64]

    def __init__(self, capacity: int = 1024, hits: int = 3, models: int = 0) -> None:
        self.capacity = 0
        self.hits = hits
        self.models = models
        self.n_sources = 0
        self._next_uid = 0
        self._free: list[int] = []
        self.label: list[str | None] = []
        self.callsign_text: list[str | None] = []
        # the flight plan of each row (None: none known), kept until a newer one comes
        self.fpl: list[FlightPlan | None] = []
        # published id -> its row, for what reaches a track by its id (``Tracker.set_plan``)
        self.rows_by_label: dict[str, int] = {}
        for name, (shape, dtype, fill) in _COLUMNS.items():
            setattr(self, name, np.full((0, *shape), fill, dtype=dtype))
        self.hit_t = np.full((0, hits), np.nan)
        # per-model states of a multiple-model filter (``models`` of them; none for CV):
        # states, covariances and mode probabilities (nan: not started, see the filter)
        self.xm = np.zeros((0, models, 4))
        self.Pm = np.zeros((0, models, 4, 4))
        self.mu = np.full((0, models), np.nan)
        self.trn = np.full((0, 0), -1, dtype=np.int64)  # [row, source]: paired track number
        self.owner = np.full((0, TRACK_NUMBERS), -1, dtype=np.int64)  # [source, number]: row
        self._grow(capacity)

    # -- rows ------------------------------------------------------------------------------

    def _grow(self, capacity: int) -> None:
        old = self.capacity
        for name, (shape, dtype, fill) in _COLUMNS.items():
            a = np.full((capacity, *shape), fill, dtype=dtype)
            a[:old] = getattr(self, name)
            setattr(self, name, a)
        hit_t = np.full((capacity, self.hits), np.nan)
        hit_t[:old] = self.hit_t
        self.hit_t = hit_t
        M = self.models
        xm, Pm, mu = (np.zeros((capacity, M, 4)), np.zeros((capacity, M, 4, 4)),
                      np.full((capacity, M), np.nan))
        xm[:old], Pm[:old], mu[:old] = self.xm, self.Pm, self.mu
        self.xm, self.Pm, self.mu = xm, Pm, mu
        trn = np.full((capacity, self.n_sources), -1, dtype=np.int64)
        trn[:old] = self.trn
        self.trn = trn
        self.label.extend([None] * (capacity - old))
        self.callsign_text.extend([None] * (capacity - old))
        self.fpl.extend([None] * (capacity - old))
        self._free.extend(range(capacity - 1, old - 1, -1))
        self.capacity = capacity
        self._refill()

    def _refill(self) -> None:
        """``new``'s reset of a row in one kernel call (``_lifecycle.RowFill``: a track
        starts from one plot, where twenty numpy assignments, one a column, cost more than
        the bytes they wrote); made again with the columns, by ``_grow`` and
        ``ensure_sources`` (no other code replaces a column).  The fills are np.full's
        bytes; tests/test_lifecycle_kernel.py holds ``new`` to the numpy it replaced."""
        columns: list[np.ndarray] = [getattr(self, name) for name in _COLUMNS]
        fills = [fill for _shape, _dtype, fill in _COLUMNS.values()]
        columns += [self.hit_t, self.mu, self.trn]
        fills += [np.nan, np.nan, -1]
        self._fill = _lifecycle.RowFill(
            columns, [np.full((1, *a.shape[1:]), f, dtype=a.dtype).tobytes()
                      for a, f in zip(columns, fills, strict=True)])

    def __getstate__(self) -> dict[str, Any]:
        """A copy's or pickle's state: without the kernel's pointers into these columns
        (``__setstate__`` makes them again, of the copy's own)."""
        state = self.__dict__.copy()
        del state["_fill"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._refill()

    def ensure_sources(self, n: int) -> None:
        """Room for track-number pairings with n sources."""
        if n > self.n_sources:
            trn = np.full((self.capacity, n), -1, dtype=np.int64)
            trn[:, :self.n_sources] = self.trn
            self.trn = trn
            owner = np.full((n, TRACK_NUMBERS), -1, dtype=np.int64)
            owner[:self.n_sources] = self.owner
            self.owner = owner
            self.n_sources = n
            self._refill()

    def pair(self, rows: np.ndarray, source: int, numbers: np.ndarray) -> int:
        """Source ``source``'s track numbers now feed these rows (one number per row).

        A number held by another row is taken from it (the source re-used or re-assigned
        it), and a row's previous number from this source is let go.  Both directions are
        kept as arrays (row -> number, number -> row), so the tracker looks pairings up
        without a dictionary per measurement.  Returns how many pairings moved.
        """
        owner, col = self.owner[source], self.trn[:, source]
        held = owner[numbers]
        moved = (held >= 0) & (held != rows)
        col[held[moved]] = -1
        previous = col[rows]
        stale = (previous >= 0) & (previous != numbers)
        stale_numbers = previous[stale]
        mine = owner[stale_numbers] == rows[stale]
        owner[stale_numbers[mine]] = -1
        owner[numbers] = rows
        col[rows] = numbers
        return int(moved.sum())

    def new(self, n: int) -> np.ndarray:
        """n fresh rows, reset, alive, each with a new uid."""
        while len(self._free) < n:
            self._grow(max(2 * self.capacity, 64))
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        rows = np.array([self._free.pop() for _ in range(n)], dtype=np.int64)
        self._fill.reset(rows)  # every column's fill (_COLUMNS; hit_t, mu nan; trn -1)
        # one row (most calls: a track starts from one plot): written by a plain index,
        # the same elements as the fancy one writes, at a fraction of its cost
        at: int | np.ndarray = int(rows[0]) if n == 1 else rows
        for r in rows.tolist():
            self.label[r] = None
            self.callsign_text[r] = None
            self.fpl[r] = None
        self.alive[at] = True
        self.uid[at] = self._next_uid if n == 1 else np.arange(self._next_uid,
                                                               self._next_uid + n)
        self._next_uid += n
        return rows

    def name(self, row: int, label: str) -> None:
        """The row's track is published as ``label`` from now on."""
        self.label[row] = label
        self.rows_by_label[label] = row

    def row_of(self, label: str) -> int | None:
        """The live row published as ``label`` (None: no live track has that id)."""
        row = self.rows_by_label.get(label)
        return row if row is not None and self.alive[row] and self.label[row] == label \
            else None

    def free(self, rows: np.ndarray) -> None:
        """The rows' tracks are gone: the rows can be reused."""
        rows = np.asarray(rows, dtype=np.int64)
        listed = rows.tolist()
        for r in listed:
            label = self.label[r]
            if label is not None and self.rows_by_label.get(label) == r:
                del self.rows_by_label[label]
        self.alive[rows] = False
        held = self.trn[rows]  # [k, sources]
        paired = held >= 0
        # (most rows that end are clutter: no source's track number; count_nonzero: a
        # fraction of any()'s cost)
        if np.count_nonzero(paired):
            r, s = np.nonzero(paired)
            numbers = held[r, s]
            mine = self.owner[s, numbers] == rows[r]
            self.owner[s[mine], numbers[mine]] = -1
            self.trn[rows] = -1
        self._free.extend(listed)

    @property
    def fl(self) -> np.ndarray:
        """Filtered flight level of each row (nan: none yet); a view of ``level``."""
        return self.level[:, 0]

    @property
    def fl_last(self) -> np.ndarray:
        """Latest reported flight level of each row (nan: none yet)."""
        return self.level[:, LEVEL_LAST]

    @property
    def mode3a(self) -> np.ndarray:
        """Latest Mode-3/A code reported, discrete or not (-1: none)."""
        return self.ident[:, MODE3A]

    @property
    def icao24(self) -> np.ndarray:
        """Mode S address of each row (-1: none); a view of ``ident``."""
        return self.ident[:, ADDRESS]

    @property
    def code(self) -> np.ndarray:
        """Latest discrete Mode-3/A code (-1: none); a view of ``ident``."""
        return self.ident[:, CODE]

    @property
    def callsign(self) -> np.ndarray:
        """Hash of the latest aircraft identification (-1: none); a view of ``ident``."""
        return self.ident[:, CALLSIGN]

    def active(self) -> np.ndarray:
        """Rows of live tracks, ascending."""
        return self.alive.nonzero()[0]

    def __len__(self) -> int:
        return int(self.alive.sum())


if not _COLUMNS.keys() <= TrackTable.__annotations__.keys():
    raise RuntimeError("every column of _COLUMNS needs its annotation on TrackTable")
