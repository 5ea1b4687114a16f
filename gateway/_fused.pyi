"""The typed face of the tracker's output kernel (ext/fused.pyx), so its callers are checked.

Only gateway/associate/tracker.py calls it; keep this file in step with the ``def``
function and the class of ext/fused.pyx.  Arrays are C-contiguous (but x, P, t, level and
roc_sdps may be strided): float64, indexes int64.
"""

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from gateway.messages import FlightPlan, Fused, SourceRef

F = NDArray[np.float64]
I = NDArray[np.int64]  # noqa: E741

class Output:
    """What every batch's messages take: made once per tracker."""

    def __init__(self, cls: type[Fused], state_names: tuple[str, ...],
                 octal: Mapping[int, str | None], hexes: Mapping[int, str | None],
                 scale_lat: F, scale: F, cone: float, lon_0: float, mode3a: int,
                 address: int, coasting: int, ended: int, kt: float, velocity_sigma: float,
                 fpm_per_fl_s: float, roc_var_limit: float) -> None: ...

def messages(o: Output, rows: I, x: F, P: F, t: F, at_rows: bool, lat: F, lon: F,
             bearing: F, t_out: F, ident: I, state: NDArray[np.int8], t_hidden: F,
             t_update: F, level: F, roc_sdps: F, labels: list[str | None],
             callsigns: list[str | None], plans: list[FlightPlan | None],
             refs: list[SourceRef] | None, order: I | None, starts: I | None,
             ends: I | None, ended: bool = False, extrapolated: bool = False,
             ) -> list[Fused]: ...
