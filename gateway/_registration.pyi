"""The typed face of radar registration's per-cycle kernel (ext/registration.pyx), so its
caller is checked.

Only gateway/associate/registration.py calls it; keep this file in step with the ``def``
functions of ext/registration.pyx.  Floats are float64, indices int64.
"""

import numpy as np
from numpy.typing import NDArray

F = NDArray[np.float64]
I = NDArray[np.int64]  # noqa: E741

def modes_share(kind: I, icao24: I, idx: I, modes: int, rate: float,
                per_cycle: float) -> tuple[I, float]: ...
def velocities(x: F, P: F, rows: I, keep: I) -> tuple[F, F]: ...
