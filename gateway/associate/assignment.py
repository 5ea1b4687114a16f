"""The associator: one global decision per batch, not a greedy one.

Greedy nearest-neighbour takes the best pair first and lives with the consequences: two
aircraft close together, one plot slightly nearer the wrong track, and both tracks are
fed the wrong plot.  The global nearest neighbour instead minimises the total cost of the
batch (Munkres / Jonker-Volgenant, ``scipy.optimize.linear_sum_assignment``), with each
measurement free to stay unassigned at ``miss_cost`` (one dummy column per measurement,
forbidden pairs at a cost no solution takes).  One batch is one radar sector or one SDPS
cycle, so the one-to-one solution is the rule "at most one measurement per track per batch
from the same source".

Most pairs are alone (a measurement with one candidate track that has no other candidate):
they are decided in bulk (in the gating kernel, ext/gating.pyx, one call per batch), and
only the entangled rest goes to the solver, whose answer on a block-diagonal problem is the
same as on the whole.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from gateway import _gating

__all__ = ["GlobalNearestNeighbour"]

FORBIDDEN = 1e9


class GlobalNearestNeighbour:
    """Minimum-cost one-to-one assignment of measurements to tracks, misses allowed."""

    def __init__(self, miss_cost: float) -> None:
        self.miss_cost = float(miss_cost)

    def associate(self, track: np.ndarray, meas: np.ndarray, cost: np.ndarray,
                  ) -> np.ndarray:
        """Indices of the chosen pairs among the candidate pairs (track ids, measurement
        indices, costs)."""
        if len(track) == 0:
            return np.zeros(0, dtype=np.int64)
        take, rest = _gating.alone(track, meas, cost, self.miss_cost)
        if len(rest) == 0:
            return take
        rt, tc = np.unique(track[rest], return_inverse=True)
        rm, mr = np.unique(meas[rest], return_inverse=True)
        nm = len(rm)
        matrix = np.full((nm, len(rt) + nm), FORBIDDEN)
        matrix[mr, tc] = cost[rest]
        matrix[np.arange(nm), len(rt) + np.arange(nm)] = self.miss_cost
        pair = np.full(matrix.shape, -1, dtype=np.int64)
        pair[mr, tc] = rest
        r, c = linear_sum_assignment(matrix)
        real = (c < len(rt)) & (matrix[r, c] < FORBIDDEN)
        return np.concatenate([take, pair[r[real], c[real]]])
