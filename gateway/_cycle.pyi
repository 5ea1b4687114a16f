"""The typed face of the tracker's per-cycle bookkeeping kernel (ext/cycle.pyx), so its
callers are checked.

Only gateway/associate/tracker.py calls it; keep this file in step with the ``def``
functions of ext/cycle.pyx.  Arrays are C-contiguous (the measurement columns ``mt``,
``mident``, ``mtrn``, ``mroc`` and the table's ``trn`` may be strided): floats float64,
indices int64, ``state`` int8, flags bool (read and written as bytes).
"""

import numpy as np
from numpy.typing import NDArray

from gateway.messages import SourceRef

F = NDArray[np.float64]
I = NDArray[np.int64]  # noqa: E741
B = NDArray[np.bool_]

def absorb(rows: I, idx: I, mt: F, mident: I, mtrn: I, mroc: F, sdps: bool,
           state: NDArray[np.int8], t_update: F, n_updates: I, hit_t: F, ident: I,
           tracked: B, sdps_flag: B, roc_sdps: F, trn: I) -> tuple[I, I, I]: ...
class AbsorbTable:
    state: NDArray[np.int8]
    t_update: F
    n_updates: I
    hit_t: F
    ident: I
    tracked: B
    sdps: B
    roc_sdps: F
    level: F | None
    def __init__(self, state: NDArray[np.int8], t_update: F, n_updates: I, hit_t: F,
                 ident: I, tracked: B, sdps: B, roc_sdps: F, level: F | None = None) -> None: ...
    def views(self, state: NDArray[np.int8], t_update: F, n_updates: I, hit_t: F,
              ident: I, tracked: B, sdps: B, roc_sdps: F, level: F | None = None) -> bool: ...
def absorb_view(table: AbsorbTable, rows: I, idx: I, mt: F, mident: I, mtrn: I, mroc: F,
                sdps: bool, trn: I, mfl: F | None = None,
                level: tuple[float, float, float] | None = None) -> tuple[I, I, I]: ...
def advance(t: F, rows: I, dt: F) -> int: ...
def bounds(t: F) -> tuple[float, float]: ...
def census(state: NDArray[np.int8], published: B, rows: I, tentative: int,
           coasting: int) -> tuple[int, int, int]: ...
def spans(rows: I) -> tuple[I, I, I, I]: ...
def sources(refs: dict[int, SourceRef], index: I, track_number: I, idx: I,
            out: list[SourceRef]) -> I: ...
