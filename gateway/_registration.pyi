"""The typed face of radar registration's per-cycle kernel (ext/registration.pyx), so its
caller is checked.

Only gateway/associate/registration.py calls it; keep this file in step with the ``def``
functions of ext/registration.pyx.  Floats are float64, indices int64.
"""

from collections import OrderedDict

import numpy as np
from numpy.typing import NDArray

F = NDArray[np.float64]
I = NDArray[np.int64]  # noqa: E741

def keep_cycle(num: F, ids: I, at: int, source: int, noise_range: float,
               noise_azimuth: float, kind: I, ident: I, idx: I, modes: int, rate: float,
               per_cycle: float, rows: I, x: F, P: F, t: F, xy: F, los_x: F, los_y: F,
               slant: F, ground: F, k: F) -> tuple[int, int, float]: ...
def pair_plots(last: OrderedDict[int, dict[int, tuple[float, bytes]]], address: I, source: I,
               t: F, records: bytes, size: int, window: float,
               ) -> tuple[list[int], bytes, list[int]]: ...
def pair_columns(si: I, sj: I, theta: F, P: F) -> tuple[I, F, F, I]: ...
def learn_terms(ri: F, rj: F, v: F, vvar: F, half_accel: float) -> tuple[F, F, F]: ...
def learn_gate(G: F, e: F, d: F, S: F, v: F, vvar: F, gate: float, cap: float,
               vmax2: float) -> tuple[NDArray[np.bool_], int, F]: ...
def learn_sums(N: F, b: F, pairs: F, flat: I, JWJ: F, cols: I, JWd: F, si: I,
               sj: I) -> None: ...
