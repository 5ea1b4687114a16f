"""The typed face of the coverage kernel (ext/coverage.pyx), so its callers are checked.

Only gateway/associate/coverage.py calls it; keep this file in step with the ``def``
functions of ext/coverage.pyx.  Floats are float64, indices int64, flags bool.
"""

import numpy as np
from numpy.typing import NDArray

F = NDArray[np.float64]

def seen_by(x: F, y: F, h: F, sx: F, sy: F, k: F, tan_cone: F, antenna_r: F, range2: F,
            horizon_antenna: F, earth_r: float, horizon_k: float, tol: float,
            ) -> tuple[NDArray[np.bool_], NDArray[np.int64]]: ...
def hidden(x: F, y: F, vx: F, vy: F, h: F, rate: F, ahead: F, steps: int, sx: F, sy: F, k: F,
           tan_cone: F, antenna_r: F, range2: F, horizon_antenna: F, earth_r: float,
           horizon_k: float, tol: float) -> tuple[NDArray[np.bool_], NDArray[np.int64]]: ...

class RadarViews:
    def __init__(self, sx: F, sy: F, k: F, tan_cone: F, antenna_r: F, range2: F,
                 horizon_antenna: F, earth_r: float, horizon_k: float, tol: float) -> None: ...

def seen_by_view(radars: RadarViews, x: F, y: F, h: F,
                 ) -> tuple[NDArray[np.bool_], NDArray[np.int64]]: ...
def hidden_view(radars: RadarViews, x: F, y: F, vx: F, vy: F, h: F, rate: F, ahead: F,
                steps: int) -> tuple[NDArray[np.bool_], NDArray[np.int64]]: ...
