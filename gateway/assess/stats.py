"""Bounded accumulators: a capture of any length is summarised in fixed memory.

Why histograms and running moments rather than lists of values: an hour of eight radars is
half a million plots, a day twelve million; the report needs their spread, medians and
percentiles, never the values themselves.
"""

from __future__ import annotations

import math

import numpy as np


class Moments:
    """Count, mean and standard deviation of a stream (Welford's update)."""

    __slots__ = ("n", "mean", "_m2", "min", "max")

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self._m2 = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, x: float) -> None:
        if not math.isfinite(x):
            return
        self.n += 1
        d = x - self.mean
        self.mean += d / self.n
        self._m2 += d * (x - self.mean)
        self.min = min(self.min, x)
        self.max = max(self.max, x)

    @property
    def std(self) -> float:
        return math.sqrt(self._m2 / (self.n - 1)) if self.n > 1 else math.nan

    def figures(self, digits: int = 4) -> dict[str, float | int | None]:
        return {"n": self.n, "mean": _r(self.mean if self.n else math.nan, digits),
                "std": _r(self.std, digits), "min": _r(self.min if self.n else math.nan, digits),
                "max": _r(self.max if self.n else math.nan, digits)}


class Histogram:
    """Fixed bins over [lo, hi); values outside are counted in two overflow bins."""

    def __init__(self, lo: float, hi: float, bins: int) -> None:
        self.lo, self.hi, self.bins = lo, hi, bins
        self.width = (hi - lo) / bins
        self.counts = np.zeros(bins + 2, dtype=np.int64)  # [under, bins..., over]

    def add(self, values: np.ndarray | float) -> None:
        v = np.asarray(values, dtype=np.float64).ravel()
        v = v[np.isfinite(v)]
        if len(v) == 0:
            return
        idx = np.floor((v - self.lo) / self.width).astype(np.int64) + 1
        np.clip(idx, 0, self.bins + 1, out=idx)
        self.counts += np.bincount(idx, minlength=self.bins + 2)

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def quantile(self, q: float) -> float:
        """The q-quantile, to a bin's width (nan when empty; an overflow bin reads as the
        range's edge)."""
        total = self.n
        if total == 0:
            return math.nan
        k = int(np.searchsorted(np.cumsum(self.counts), q * total, side="left"))
        if k == 0:
            return self.lo
        if k > self.bins:
            return self.hi
        return self.lo + (k - 0.5) * self.width

    def centres(self) -> np.ndarray:
        return self.lo + (np.arange(self.bins) + 0.5) * self.width


def robust_sigma(h: Histogram) -> float:
    """The standard deviation of the Gaussian core of a symmetric histogram: the median
    absolute deviation over 0.6745.  Why: the few manoeuvres and mis-associations in a
    second difference are outliers that would dominate a plain standard deviation."""
    if h.n == 0:
        return math.nan
    med = h.quantile(0.5)
    c = h.counts[1:-1]
    dev = np.abs(h.centres() - med)
    order = np.argsort(dev, kind="stable")
    cum = np.cumsum(c[order])  # the overflow bins lie beyond every bin
    half = 0.5 * h.n
    k = int(np.searchsorted(cum, half, side="left"))
    if k >= len(order):
        return math.nan
    return float(dev[order[k]]) / 0.6744897501960817


def _r(x: float, digits: int) -> float | None:
    return None if not math.isfinite(x) else round(x, digits)


def rounded(x: float, digits: int = 4) -> float | None:
    """A figure for JSON: rounded, None where it could not be measured (nan)."""
    return _r(float(x), digits)
