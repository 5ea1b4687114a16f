"""The typed face of the deleter's kernel (ext/lifecycle.pyx), so its callers are checked.

Only gateway/associate/lifecycle.py calls it; keep this file in step with the ``def``
functions of ext/lifecycle.pyx.  Floats are float64, indices int64, flags bool.
"""

import numpy as np
from numpy.typing import NDArray

F = NDArray[np.float64]
I = NDArray[np.int64]
B = NDArray[np.bool_]

def scan_period(owner: I, last: F, rows: I, uid: I, t: F, site: int, known: float,
                collect: bool, lo: float, hi: float) -> float: ...
def missed_scans(seen: B, silent: F, period: F) -> tuple[F, B]: ...
def earliest(state: NDArray[np.int8], t_update: F, t_hidden: F, rows: I, after: F,
             since_t: float) -> float: ...
def predicted(x: F, t: F, level: F, rows: I, now: float, level_t: int, level_last: int,
              ft: float, default_h: float) -> tuple[F, F, F, F, F, F]: ...
def aged(state: NDArray[np.int8], t_update: F, t_hidden: F, rows: I, now: float,
         shortest: float) -> tuple[I, F, F, NDArray[np.int8]]: ...
def hide_look(state: NDArray[np.int8], age: F, coast_after: float, hidden_max: float) -> I: ...
def miss_look(state: NDArray[np.int8], age: F, silent: F, tentative_timeout: float,
              first: float, end_min: float) -> I: ...
def verdicts(rows: I, state: NDArray[np.int8], age: F, silent: F, look: I, k: F, covered: B,
             need: F, tentative_timeout: float, coast_after: float, end_after: float,
             end_max: float) -> tuple[I, I, I, int]: ...
def misses_needed(ident: I, state: NDArray[np.int8], rows: I, address: int, mode3a: int,
                  by_kind: F) -> F: ...
