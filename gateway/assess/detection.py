"""Probability of detection per reply kind, by range band and azimuth sector, and false
plots, of each radar against the fused picture of the others.

How.  A radar's scans run from one north marker (CAT034) to the next.  Once the other radars
have had time to report (``lag_s`` after a scan ends), every fused track that other radars
updated on both sides of the moment this radar's beam crossed it (at most ``bracket_s``
apart) and that lies inside this radar's declared coverage (by margins) is an opportunity:
Mode S reply (``modes``) for a track with a Mode S address, Mode A/C (``modeac``) for one
with a code and no address, primary (``psr``) for every track with a level.  It is a
detection if the radar put a plot with that kind of reply on that track within a quarter
of a scan of the crossing.  A track without a level is skipped (its elevation, so the cone
and the horizon, is unknown; counted).

False plots: plots that started a tentative track which was never published (``uid``
bookkeeping over ``false_after_s``), counted per scan and by where they were.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

from gateway.assess.reference import NM, Key, Reference, Site

KINDS = ("modes", "modeac", "psr")
RANGE_BAND_NM = 25.0
RANGE_BANDS = 12  # 0-300 NM
SECTORS = 16
SSR, PSR = 1, 2  # detection bits of a plot
DETECTION_BITS = {"psr": PSR, "ssr": SSR, "ssr+psr": SSR | PSR, "modes": SSR,
                  "modes+psr": SSR | PSR}
RECENT_PLOTS = 40  # plots kept per (radar, track): more than LAG_S and a scan hold


def cell(slant_m: float, az_deg: float) -> tuple[int, int]:
    return (min(int(slant_m / NM / RANGE_BAND_NM), RANGE_BANDS - 1),
            int(az_deg % 360.0 / (360.0 / SECTORS)) % SECTORS)


@dataclass
class RadarDetection:
    site: Site
    opportunities: dict[str, np.ndarray] = field(default_factory=lambda: {
        k: np.zeros((RANGE_BANDS, SECTORS), np.int64) for k in KINDS})
    detections: dict[str, np.ndarray] = field(default_factory=lambda: {
        k: np.zeros((RANGE_BANDS, SECTORS), np.int64) for k in KINDS})
    scans_evaluated: int = 0
    no_level: int = 0  # opportunities skipped: the track has no level
    false_plots: int = 0
    false_cells: np.ndarray = field(default_factory=lambda: np.zeros(
        (RANGE_BANDS, SECTORS), np.int64))
    plots: int = 0
    scans_seen: int = 0
    _north: float | None = None
    _pending: deque[tuple[float, float]] = field(default_factory=deque)
    # per fused track: this radar's recent plots (t, detection bits)
    recent: dict[str, deque[tuple[float, int]]] = field(default_factory=dict)

    def pd(self, kind: str, max_range_nm: float | None = None) -> tuple[float, int]:
        """(Pd, opportunities) over every cell, or within ``max_range_nm``."""
        o, d = self.opportunities[kind], self.detections[kind]
        if max_range_nm is not None:
            bands = max(1, int(math.ceil(max_range_nm / RANGE_BAND_NM)))
            o, d = o[:bands], d[:bands]
        n = int(o.sum())
        return (float(d.sum()) / n if n else math.nan), n


class Detection:
    """Every assessed radar's detection figures; feed it plots (with the track each went
    to), north markers and the data clock."""

    def __init__(self, sites: dict[Key, Site], reference: Reference, *, lag_s: float,
                 bracket_s: float, margins: tuple[float, float, float],
                 false_after_s: float) -> None:
        self.radars = {k: RadarDetection(s) for k, s in sites.items()}
        self.ref = reference
        self.lag_s, self.bracket_s, self.margins = lag_s, bracket_s, margins
        self.false_after_s = false_after_s
        # tentative tracks' plots not yet known to be true or false: uid -> (first t, plots)
        self._tentative: dict[int, tuple[float, list[tuple[Key, int, int]]]] = {}
        self.counters: Counter[str] = Counter()

    def north(self, key: Key, t: float) -> None:
        r = self.radars.get(key)
        if r is None:
            return
        if r._north is not None and 0 < t - r._north < 120.0:
            r._pending.append((r._north, t))
            r.scans_seen += 1
        elif r._north is not None:  # backwards, or a gap of two minutes: no scan to judge
            self.counters["north-interval-refused"] += 1
        r._north = t

    def plot(self, key: Key, label: str | None, uid: int, t: float, detection: str | None,
             slant_m: float, az_deg: float) -> None:
        r = self.radars.get(key)
        if r is None:
            return
        r.plots += 1
        bits = DETECTION_BITS.get(detection or "", 0)
        if label is not None:
            q = r.recent.get(label)
            if q is None:
                q = r.recent[label] = deque(maxlen=RECENT_PLOTS)
            q.append((t, bits))
            self._tentative.pop(uid, None)  # its track is published: no false plot
        elif uid >= 0 and bits == PSR and math.isfinite(slant_m):
            band, sector = cell(slant_m, az_deg)
            entry = self._tentative.get(uid)
            if entry is None:
                self._tentative[uid] = (t, [(key, band, sector)])
            elif len(entry[1]) < 64:
                entry[1].append((key, band, sector))

    def advance(self, now: float) -> None:
        """Settle what the data clock allows: tentative tracks never published are false
        plots; scans whose reference is complete are evaluated."""
        horizon = now - self.false_after_s
        for uid in [u for u, (t0, _p) in self._tentative.items() if t0 < horizon]:
            for key, band, sector in self._tentative.pop(uid)[1]:
                r = self.radars[key]
                r.false_plots += 1
                r.false_cells[band, sector] += 1
        for r in self.radars.values():
            while r._pending and r._pending[0][1] + self.lag_s < now:
                self._scan(r, *r._pending.popleft())
            if len(r.recent) > 4 * len(self.ref.tracks) + 100:
                for label in [k for k in r.recent if k not in self.ref.tracks]:
                    del r.recent[label]

    def finish(self) -> None:
        """End of input: every complete scan is evaluated with what the reference has."""
        self.advance(math.inf)

    def _scan(self, r: RadarDetection, a: float, b: float) -> None:
        period = b - a
        site, key = r.site, r.site.key
        r.scans_evaluated += 1
        window = 0.25 * period
        for label, tr in self.ref.tracks.items():
            if tr.last_t < a - self.bracket_s or not tr.updates or tr.updates[0][0] > b:
                continue
            mid = tr.at(0.5 * (a + b), key, self.bracket_s + period)
            if mid is None:
                continue
            x, y = site.plane(mid[0], mid[1])  # within a degree: a 360th of a scan
            az = math.degrees(math.atan2(x, y)) % 360.0
            t_beam = a + az / 360.0 * period
            pos = tr.at(t_beam, key, self.bracket_s)
            if pos is None:
                continue
            lat, lon, fl = pos
            if not math.isfinite(fl):
                r.no_level += 1
                continue
            polar = site.covers(lat, lon, fl, self.margins)
            if polar is None:
                continue
            slant, az, _el, _g = polar
            band, sector = cell(slant, az)
            bits = 0
            q = r.recent.get(label)
            if q is not None:
                for t, b_ in q:
                    if abs(t - t_beam) <= window:
                        bits |= b_
            kind = tr.kind
            if kind != "psr":
                r.opportunities[kind][band, sector] += 1
                r.detections[kind][band, sector] += bool(bits & SSR)
            r.opportunities["psr"][band, sector] += 1
            r.detections["psr"][band, sector] += bool(bits & PSR)
