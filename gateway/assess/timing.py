"""Timing of a radar's feed, from its records as decoded: rotation period and its jitter
(north markers, and each sector's crossings), the delay from detection (I140) to arrival
(the capture's time stamp), datagrams out of order, sectors missing, time-of-day jumps.

Why from the decoded columns and not the normalised plots: a plot carries its time of
detection only; the arrival time, the datagram it came in and the service messages'
own times are the decoder's.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from gateway.assess.stats import Histogram, Moments, rounded
from gateway.decoder import Batch
from gateway.normalize.clock import DAY, absolute_time

NORTH_MARKER, SECTOR_CROSSING = 1, 2  # I034/000
LSB_S = 1.0 / 128.0  # I140 and I030 resolution
STEP_KEYS_MAX = 1000  # distinct sector steps kept (hostile azimuths would make many)


def _wrap(dt: float) -> float:
    """A difference of times of day, into (-12 h, 12 h]."""
    return (dt + DAY / 2) % DAY - DAY / 2


@dataclass
class RadarTiming:
    """What one radar's records tell of its timing (bounded: moments, a histogram, a small
    counter of sector steps)."""

    north_intervals: Moments = field(default_factory=Moments)
    sector_intervals: Moments = field(default_factory=Moments)
    delay: Histogram = field(default_factory=lambda: Histogram(-5.0, 25.0, 3000))
    delay_moments: Moments = field(default_factory=Moments)
    out_of_order: int = 0
    datagrams: int = 0
    time_jumps: int = 0
    north_markers: int = 0
    sector_messages: int = 0
    steps: Counter[float] = field(default_factory=Counter)
    _last_north: float | None = None
    _last_sector: float | None = None
    _by_sector: dict[float, float] = field(default_factory=dict)
    _last_max: dict[int, float] = field(default_factory=dict)  # per category
    _last_pair: tuple[float, float] | None = None  # (tod, capture) of the last datagram

    def period(self) -> float:
        """Rotation period: between north markers, else between a sector's crossings."""
        if self.north_intervals.n:
            return self.north_intervals.mean
        return self.sector_intervals.mean if self.sector_intervals.n else math.nan

    def missing_sectors(self) -> tuple[int, float | None]:
        """Sector messages missing (by the azimuth steps between consecutive ones, against
        the commonest step), and that step in degrees."""
        if not self.steps:
            return 0, None
        nominal = self.steps.most_common(1)[0][0]
        if nominal <= 0:
            return 0, None
        missing = sum(count * (round(step / nominal) - 1) for step, count in self.steps.items()
                      if step > 1.5 * nominal)
        return int(missing), nominal

    def figures(self) -> dict[str, object]:
        missing, step = self.missing_sectors()
        north = self.north_intervals
        jitter = north.std if north.n > 1 else self.sector_intervals.std
        return {
            "rotation_period_s": rounded(self.period(), 4),
            "rotation_jitter_s": rounded(jitter, 4),
            "rotation_from": "north-markers" if north.n else (
                "sector-crossings" if self.sector_intervals.n else None),
            "north_markers": self.north_markers,
            "sector_messages": self.sector_messages,
            "sector_step_deg": rounded(step, 3) if step is not None else None,
            "missing_sectors": missing,
            "delay_s": {"median": rounded(self.delay.quantile(0.5), 3),
                        "p95": rounded(self.delay.quantile(0.95), 3),
                        "mean": rounded(self.delay_moments.mean if self.delay_moments.n
                                        else math.nan, 4),
                        "max": rounded(self.delay_moments.max if self.delay_moments.n
                                       else math.nan, 3),
                        "n": self.delay_moments.n},
            "datagrams": self.datagrams,
            "out_of_order_datagrams": self.out_of_order,
            "time_jumps": self.time_jumps,
        }


class Timing:
    """Every radar's timing; ``norths`` collects the absolute times of north markers
    (radar key -> times) for detection's scans, emptied by whoever reads it."""

    def __init__(self, jump_s: float) -> None:
        self.jump_s = jump_s
        self.radars: dict[tuple[int, int], RadarTiming] = {}
        self.norths: list[tuple[tuple[int, int], float]] = []

    def radar(self, key: tuple[int, int]) -> RadarTiming:
        r = self.radars.get(key)
        if r is None:
            r = self.radars[key] = RadarTiming()
        return r

    def observe(self, batches: dict[int, Batch], wanted: set[tuple[int, int]]) -> None:
        service, plots = batches.get(34), batches.get(48)
        if service is not None:
            self._service(service, wanted)
        for b in (service, plots):
            if b is not None:
                self._datagrams(b, "030" if b.category == 34 else "140", wanted)
        if plots is not None:
            self._delays(plots, wanted)

    def _service(self, b: Batch, wanted: set[tuple[int, int]]) -> None:
        ok = b.present["010/SAC"] & b.present["000"] & b.present["030"]
        sac, sic = b.columns["010/SAC"], b.columns["010/SIC"]
        kind, tod = b.columns["000"], b.columns["030"]
        az, has_az = b.columns["020"], b.present["020"]
        for i in np.flatnonzero(ok).tolist():
            key = (int(sac[i]), int(sic[i]))
            if key not in wanted:
                continue
            r = self.radar(key)
            t = float(tod[i])
            if kind[i] == NORTH_MARKER:
                r.north_markers += 1
                if r._last_north is not None:
                    dt = _wrap(t - r._last_north)
                    if 0 < dt < 120:
                        r.north_intervals.add(dt)
                r._last_north = t
                r._last_sector = 0.0  # the north marker is the crossing of azimuth 0
                cap = b.t_capture[i]
                if math.isfinite(cap):
                    self.norths.append((key, float(absolute_time(np.array(t), np.array(cap)))))
            elif kind[i] == SECTOR_CROSSING and has_az[i]:
                r.sector_messages += 1
                a = round(float(az[i]) % 360.0, 1)
                if r._last_sector is not None:
                    step = round((a - r._last_sector) % 360.0, 1)
                    if step in r.steps or len(r.steps) < STEP_KEYS_MAX:
                        r.steps[step] += 1
                last = r._by_sector.get(a)
                if last is not None:
                    dt = _wrap(t - last)
                    if 0 < dt < 120:
                        r.sector_intervals.add(dt)
                if a in r._by_sector or len(r._by_sector) < STEP_KEYS_MAX:
                    r._by_sector[a] = t
                r._last_sector = a

    def _datagrams(self, b: Batch, tod_path: str, wanted: set[tuple[int, int]]) -> None:
        """Per source, each datagram's latest time of day against the one before: earlier
        by more than a time stamp's resolution is a datagram out of order; a time-of-day
        advance that differs from the capture clock's by more than ``jump_s`` is a jump."""
        ok = b.present["010/SAC"] & b.present[tod_path]
        if not ok.any():
            return
        rows = np.flatnonzero(ok)
        keys = b.columns["010/SAC"][rows].astype(np.int64) * 256 + b.columns["010/SIC"][rows]
        dg = b.datagram[rows]
        tod = b.columns[tod_path][rows]
        cap = b.t_capture[rows]
        # one row per (source, datagram): the datagram's latest time of day
        order = np.lexsort((dg, keys))
        k, d, t, c = keys[order], dg[order], tod[order], cap[order]
        edge = np.r_[True, (k[1:] != k[:-1]) | (d[1:] != d[:-1])]
        starts = np.flatnonzero(edge)
        tmax = np.maximum.reduceat(t, starts)
        for j, s in enumerate(starts.tolist()):
            key = (int(k[s]) >> 8, int(k[s]) & 0xFF)
            if key not in wanted:
                continue
            r = self.radar(key)
            r.datagrams += 1
            tm = float(tmax[j])
            last = r._last_max.get(b.category)
            if last is not None and _wrap(tm - last) < -LSB_S:
                r.out_of_order += 1
            r._last_max[b.category] = tm if last is None or _wrap(tm - last) > 0 else last
            cj = float(c[s])
            if math.isfinite(cj) and b.category == 48:
                if r._last_pair is not None:
                    lt, lc = r._last_pair
                    if abs(_wrap(tm - lt) - (cj - lc)) > self.jump_s:
                        r.time_jumps += 1
                r._last_pair = (tm, cj)

    def _delays(self, b: Batch, wanted: set[tuple[int, int]]) -> None:
        ok = b.present["010/SAC"] & b.present["140"] & np.isfinite(b.t_capture)
        if not ok.any():
            return
        rows = np.flatnonzero(ok)
        cap = b.t_capture[rows]
        delay = cap - absolute_time(b.columns["140"][rows], cap)
        keys = b.columns["010/SAC"][rows].astype(np.int64) * 256 + b.columns["010/SIC"][rows]
        for key in np.unique(keys).tolist():
            kk = (key >> 8, key & 0xFF)
            if kk not in wanted:
                continue
            d = delay[keys == key]
            r = self.radar(kk)
            r.delay.add(d)
            for x in d.tolist():
                r.delay_moments.add(x)
