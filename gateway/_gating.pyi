"""The typed face of the gating kernel (ext/gating.pyx), so its callers are checked.

Only gateway/associate/gating.py and assignment.py call it; keep this file in step with the
``def`` functions of ext/gating.pyx.  Floats are float64, indices int64, flags bool.
"""

from typing import Any

import numpy as np
from numpy.typing import NDArray

F = NDArray[np.float64]
I = NDArray[np.int64]
B = NDArray[np.bool_]

def continuing(owner: I, number: I, mident: I, tident: I, mt: F, tt: F, mxy: F,
               mR: F) -> tuple[I, I, B, F, F, F]: ...
def continuing_verdict(cand: I, adr: B, d2: F, nu: F, dt: F, n: int, sdps: bool,
                       p: F) -> tuple[I, F, I, B, B]: ...
class ImmTable:
    x: F
    P: F
    xm: F
    Pm: F
    mu: F
    t: F
    ident: I
    imm: tuple[np.ndarray, ...]
    def __init__(self, x: F, P: F, xm: F, Pm: F, mu: F, t: F, ident: I,
                 imm: tuple[np.ndarray, ...]) -> None: ...
    def views(self, x: F, P: F, xm: F, Pm: F, mu: F, t: F, ident: I,
              imm: tuple[np.ndarray, ...]) -> bool: ...
def continuing_imm_view(table: ImmTable, owner: I, number: I, mident: I, mt: F, mxy: F,
                        mR: F, sdps: bool,
                        p: F) -> tuple[I, I, F, F, F, F, F, F, F, F, I, B, B] | None: ...
def search_imm_view(table: ImmTable, rows: I, dt: F, z: F,
                    R: F) -> tuple[F, F, F, F, F, F]: ...
def search_view(table: ImmTable, ti: I, j: I, dt: F, z: F, R: F, hx: F | None, hy: F | None,
                mident: I, number: I, tnumber: I, state: NDArray[np.int8], tracked: B,
                alive: B, which: I, late: B,
                p: F) -> tuple[I, I, F, F, F, F, F, F, F, F, B, B]: ...
def continuing_imm(owner: I, number: I, mident: I, tident: I, mt: F, tt: F, mxy: F, mR: F,
                   tx: F, tP: F, txm: F, tPm: F, tmu: F, imm: tuple[np.ndarray, ...],
                   sdps: bool, p: F) -> tuple[I, I, F, F, F, F, F, F, F, F, I, B, B] | None: ...
def search_imm(rows: I, dt: F, z: F, R: F, tx: F, tP: F, txm: F, tPm: F, tmu: F,
               imm: tuple[np.ndarray, ...]) -> tuple[F, F, F, F, F, F]: ...
def candidates(x: F, t: F, alive: B, mt: F, mxy: F, mR: F, which: I, reach: float,
               max_speed: float, dense: int) -> tuple[I, I, F, F, F]: ...
def search_verdict(ti: I, j: I, d2: F, nu: F, dt: F, mident: I, number: I, tident: I,
                   tnumber: I, state: NDArray[np.int8], tracked: B, alive: B, which: I,
                   late: B, p: F) -> tuple[I, F, B, B]: ...
# each array in, its rows out, None for None (Any: the caller knows which may be None)
def take(k: I, arrays: tuple[np.ndarray | None, ...]) -> tuple[Any, ...]: ...
def join(a: tuple[np.ndarray | None, ...], b: tuple[np.ndarray | None, ...]) -> tuple[Any, ...]: ...
def alone(track: I, meas: I, cost: F, miss_cost: float) -> tuple[I, I]: ...
def leftover(n: int, chosen: I, late: B, duplicate: B, conflict: B,
             diverged: B | None) -> tuple[I, tuple[int, int, int, int] | None]: ...
