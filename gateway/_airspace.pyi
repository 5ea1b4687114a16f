"""The typed face of the point-in-polygon kernel (ext/airspace.pyx), so its caller is checked.

Only gateway/handoff/airspace.py calls it; keep this file in step with the ``def``
functions of ext/airspace.pyx.  Floats are float64, indices int64.
"""

import numpy as np
from numpy.typing import NDArray

F = NDArray[np.float64]
I = NDArray[np.int64]

def locate(seg: F, start: I, box: F, lat: F, lon: F) -> I: ...
