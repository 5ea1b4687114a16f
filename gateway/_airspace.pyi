"""The typed face of the point-in-polygon kernel (ext/airspace.pyx), so its caller is checked.

Only gateway/handoff/airspace.py calls it; keep this file in step with the ``def``
functions of ext/airspace.pyx.  Floats are float64, indices int64.
"""

from typing import Any

import numpy as np
from numpy.typing import NDArray

F = NDArray[np.float64]
I = NDArray[np.int64]

class Units:
    def __init__(self, seg: F, start: I, box: F) -> None: ...
    def near(self, lat: F, lon: F, reach_m: F) -> NDArray[np.uint8]: ...
    def near_path(self, lat: F, lon: F, trk_deg: F, reach_m: F,
                  pieces: int) -> NDArray[np.uint8]: ...
    # near_path of points[r] for r in rows (objects' float attributes lat, lon, trk_deg,
    # gs_kt; the reach (gs_kt * kt) * horizon_s): the positions in rows of the near ones
    def near_paths_of(self, points: list[Any], rows: list[int], kt: float, horizon_s: float,
                      pieces: int) -> list[int]: ...
    def locate(self, lat: F, lon: F) -> I: ...
    # of objects' float attributes lat and lon, and names[code] of each (the last for -1)
    def name_at(self, points: list[Any], names: list[Any]) -> tuple[I, list[Any]]: ...
    def sample(self, sin_p1: F, cos_p1: F, sin_th: F, cos_th: F, l1: F, v: F,
               times: F) -> I: ...
    def leave(self, sin_p1: F, cos_p1: F, sin_th: F, cos_th: F, l1: F, v: F, times: F,
              here: I) -> tuple[I, I]: ...
    # lo and hi are updated in place; returns the points (lat, lon) at the final hi
    def bisect(self, sin_p1: F, cos_p1: F, sin_th: F, cos_th: F, l1: F, v: F, src: I,
               lo: F, hi: F, steps: int) -> tuple[F, F]: ...

# the COPs of one boundary: nearest(lat, lon) is the index of the nearest, -1 with none
# (Airspace.nearest_cop)
class Cops:
    def __init__(self, lat: F, lon: F) -> None: ...
    def nearest(self, lat: float, lon: float) -> int: ...

# Handoff._time_to's climb or descent loop (gateway/handoff/engine.py)
def time_to(v: float, fl: float, roc_fpm: float, distance_kt_s: float) -> float: ...
