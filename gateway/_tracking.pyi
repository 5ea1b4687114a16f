"""The typed face of the tracker's Cython kernel (ext/tracking.pyx), so its callers are
checked.

Only gateway/associate/filter.py calls it; keep this file in step with the ``def``
functions of ext/tracking.pyx.  Arrays are float64 (rows int64), C-contiguous.
"""

import numpy as np
from numpy.typing import NDArray

F = NDArray[np.float64]

def predict(xm: F, Pm: F, dt: F, w: F, q: F, limit: F) -> tuple[F, F]: ...
def innovation(x: F, P: F, z: F, R: F) -> tuple[F, F, F]: ...
def kalman_update(x: F, P: F, nu: F, s_inv: F) -> tuple[F, F]: ...
def imm_predict(tx: F, tP: F, txm: F, tPm: F, tmu: F, rows: NDArray[np.int64], dt: F,
                mu0: F, w: F, q: F, limit: F, ev: F, V: F, Vi: F) -> tuple[F, F, F]: ...
def imm_update(packed: F, z: F, R: F, floor: float, kalman: bool) -> tuple[F, F, F]: ...
def imm_store(mu: F, xm: F, Pm: F, dt: F, w: F, q: F, limit: F, tx: F, tP: F, txm: F,
              tPm: F, tmu: F, rows: NDArray[np.int64]) -> None: ...
