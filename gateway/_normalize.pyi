"""The typed face of the normaliser's kernel (ext/normalize.pyx), so its callers are checked.

gateway/normalize/normalizer.py and geometry.py call it; keep this file in step with the
``def`` functions of ext/normalize.pyx.  Arrays are C-contiguous: float64, codes int64, has_fpl
uint8; text columns are lists of bytes.
"""

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gateway.messages import Detection, FlightPlan, Plot, Source, Track, Wake

F = NDArray[np.float64]
I = NDArray[np.int64]  # noqa: E741

def plot_messages(cls: type[Plot], src: Source, t: F, lat: F, lon: F, rho: F, theta: F,
                  fl: F, mode3a: I, icao24: I, callsigns: list[bytes], track_number: I,
                  gs: F, hdg: F, typ: I, flags: I, octal: Mapping[int, str | None],
                  hexes: Mapping[int, str | None], detection: dict[int, Detection],
                  flag_names: tuple[str, ...]) -> list[Plot]: ...
def track_messages(cls: type[Track], plan_cls: type[FlightPlan], src: Source, t: F,
                   track_number: I, lat: F, lon: F, fl: F, gs: F, trk: F, roc: F,
                   mode3a: I, icao24: I, callsigns: list[bytes], flags: I,
                   has_fpl: NDArray[np.uint8], fpl_cs: list[bytes], fpl_dep: list[bytes],
                   fpl_dst: list[bytes], fpl_cfl: F, fpl_tac: list[bytes],
                   fpl_wtc: list[bytes], wakes: dict[str | None, Wake],
                   octal: Mapping[int, str | None], hexes: Mapping[int, str | None],
                   flag_names: tuple[str, ...],
                   plans: dict[tuple[object, ...], FlightPlan]) -> list[Track]: ...
def first_sine(rho: F, height: F, radius: float, r0: float) -> F: ...
def to_ecef(rho: F, st: F, ct: F, cos_e: F, sin_e: F, frame: tuple[float, ...],
            ) -> tuple[F, F, F]: ...
def newton_step(elev: F, height: F, h: F, rho: F, cos_e: F, half_pi: float) -> F: ...
def plot_fields(columns: Mapping[str, NDArray[Any]], present: Mapping[str, NDArray[np.bool_]],
                rows: I, ft: float, nm_s_to_kt: float, offset_m: float, fallback_m: float,
                emergency: tuple[int, int, int],
                ) -> tuple[F, F, F, F, I, I, I, F, F, I, I]: ...
def track_fields(columns: Mapping[str, NDArray[Any]], present: Mapping[str, NDArray[np.bool_]],
                 rows: I, flag_paths: tuple[str, ...], plan_paths: tuple[str, ...],
                 ) -> tuple[F, F, F, F, I, I, I, I, NDArray[np.bool_]]: ...
