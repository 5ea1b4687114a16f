"""The typed face of the tracker's output kernel (ext/fused.pyx), so its callers are checked.

Only gateway/associate/tracker.py calls it; keep this file in step with the ``def``
function of ext/fused.pyx.  Arrays are C-contiguous (but track_figures' x, P, level and
roc_sdps, and row_columns' t, may be strided): float64, indexes int64, flags uint8.
"""

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from gateway.messages import FlightPlan, Fused, SourceRef

F = NDArray[np.float64]
I = NDArray[np.int64]  # noqa: E741

def track_figures(x: F, P: F, k: F, level: F, roc_sdps: F, rows: I, kt: float,
                  velocity_sigma: float, fpm_per_fl_s: float, roc_var_limit: float,
                  ) -> tuple[F, F, F, F]: ...
def row_columns(rows: I, t: F, t_out: F, ident: I, state: NDArray[np.int8], t_hidden: F,
                t_update: F, mode3a: int, address: int, coasting: int, ended: int,
                ) -> tuple[I, I, I, NDArray[np.uint8] | None]: ...
def fused_messages(cls: type[Fused], t: F, lat: F, lon: F, fl: F, gs: F, trk: F, roc: F,
                   pos_sigma: F, mode3a: I, address: I, rows: I, state: I,
                   state_names: tuple[str, ...], labels: list[str | None],
                   callsigns: list[str | None], plans: list[FlightPlan | None],
                   octal: Mapping[int, str | None], hexes: Mapping[int, str | None],
                   refs: list[SourceRef] | None, order: I | None, starts: I | None,
                   ends: I | None, extrapolated: bool = False,
                   hidden: NDArray[np.uint8] | None = None) -> list[Fused]: ...
