"""Association: every source's plots and tracks into fused system tracks with stable ids.

Sans-IO, assembled Stone Soup fashion from small parts, each swappable:

- ``frame``: the conformal plane the filter works in;
- ``measurements``: Plot/Track batches to columns with covariances;
- ``filter``: predictor and updaters (CV Kalman, covariance intersection);
- ``gating``: the hypothesiser (Mahalanobis gate and the identity rules);
- ``assignment``: the associator (global nearest neighbour);
- ``lifecycle``: the initiator (M-of-N) and the deleter (coasting, ending);
- ``tracker``: the whole, ``Tracker.update(batch) -> [Fused]``.
"""

from __future__ import annotations

from gateway.associate.frame import ConformalFrame, FrameParameters
from gateway.associate.measurements import Kind, RadarNoise
from gateway.associate.parameters import TrackerParameters
from gateway.associate.tracker import Association, Tracker

__all__ = [
    "Association",
    "ConformalFrame",
    "FrameParameters",
    "Kind",
    "RadarNoise",
    "Tracker",
    "TrackerParameters",
]
