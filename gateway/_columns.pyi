"""The typed face of the tracker's input kernel (ext/columns.pyx), so its callers are
checked.

gateway/associate/measurements.py and frame.py call it; keep this file in step with the
``def`` functions of ext/columns.pyx.  Arrays are float64 (identities int64), C-contiguous.
"""

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gateway.messages import FlightPlan, Plot, Source, Track

F = NDArray[np.float64]
I = NDArray[np.int64]  # noqa: E741

class Conic:
    def __init__(self, lat_1: float, lat_2: float, lat_0: float, lon_0: float,
                 a: float = 6378137.0, rf: float = 298.257223563) -> None: ...
    def forward(self, lat: F, lon: F) -> tuple[F, F]: ...
    def inverse(self, x: F, y: F) -> tuple[F, F]: ...
    def unplane(self, xy: F) -> tuple[F, F]: ...
    def plane(self, lat: F, lon: F) -> F: ...

def batch_source(messages: list[Plot | Track]) -> tuple[Source | None, type | None]: ...
def plot_columns(messages: list[Plot], addresses: Mapping[str | None, int],
                 codes: Mapping[str | None, int], callsigns: Mapping[str | None, int],
                 detections: dict[str, int], non_discrete: NDArray[np.uint8],
                 ) -> tuple[F, I, I, I, list[str | None], bool]: ...
def track_columns(messages: list[Track], addresses: Mapping[str | None, int],
                  codes: Mapping[str | None, int], callsigns: Mapping[str | None, int],
                  non_discrete: NDArray[np.uint8],
                  ) -> tuple[F, I, I, list[str | None], list[FlightPlan | None] | None,
                             bool]: ...
def plot_measurements(messages: list[Plot], addresses: Mapping[str | None, int],
                      codes: Mapping[str | None, int], callsigns: Mapping[str | None, int],
                      detections: dict[str, int], non_discrete: NDArray[np.uint8],
                      conic: Conic, scale_lat: F, scale: F, nm: float, xr: float, yr: float,
                      var_r: float, var_az: float,
                      ) -> tuple[I, int, F, F, F, I, I, I, list[str | None], bool]: ...
def correct_plots(xy: F, t: F, slant: F, ground: F, k: F, los_x: F, los_y: F,
                  range_bias: float, gain: float, azimuth: float, delay: float,
                  ) -> tuple[F, F]: ...
def north(lon: F, cone: float, lon_0: float) -> F: ...
def height_chord(slant: F, kind: I, j: I, fl: F, antenna_m: float, earth_r: float,
                 ft: float) -> tuple[F, NDArray[np.bool_]]: ...
def height_shift(arcsin: F, ok: NDArray[np.bool_], j: I, ground_m: F, los_x: F, los_y: F,
                 earth_r: float) -> tuple[F, F]: ...
def gather(arrays: tuple[NDArray[Any], ...], rows: I) -> tuple[NDArray[Any], ...]: ...
def velocity_terms(speed: F, course: F, k: F, lon: F, kt: float, cone: float, lon_0: float,
                   ) -> tuple[NDArray[np.bool_], F, F]: ...
def velocity_fill(known: NDArray[np.bool_], s: F, sin_c: F, cos_c: F, var: float,
                  ) -> tuple[F, F]: ...
