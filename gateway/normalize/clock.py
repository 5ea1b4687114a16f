"""Time of day (I140, I070, I030) to absolute UTC.

ASTERIX carries only seconds since midnight UTC; the date comes from a reference: the
capture timestamp in replay, the receive time live.  Each time of day is put on the day that
brings it nearest its reference, so data just before or after midnight lands on the right
date whichever side of midnight it was received.  Data further behind or ahead of its
reference than the configured window is not trusted: it is masked and counted.
"""

from __future__ import annotations

import numpy as np

DAY = 86400.0


def absolute_time(tod: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """UTC epoch seconds of each time of day, on the day nearest its reference."""
    tod = np.asarray(tod, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    t = np.floor(reference / DAY) * DAY + tod
    t = np.where(t - reference > DAY / 2, t - DAY, t)
    return np.where(reference - t > DAY / 2, t + DAY, t)


def in_window(t: np.ndarray, reference: np.ndarray, max_late_s: float,
              max_early_s: float) -> np.ndarray:
    """True where t is at most ``max_late_s`` behind and ``max_early_s`` ahead of reference."""
    lag = np.asarray(reference) - np.asarray(t)
    return (lag <= max_late_s) & (lag >= -max_early_s)
