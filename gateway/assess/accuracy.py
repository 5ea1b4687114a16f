"""Accuracy of a radar's plots: range and azimuth noise after bias, residuals against the
other radars' picture by range and azimuth, levels against the picture's, code and
identification consistency, and the same Mode S address twice in one scan.

Noise, how.  The second difference of one target's range over three consecutive scans,
``r1 - 2 r2 + r3``, holds six times the plot noise's variance; the bias and a clock offset
cancel in it, and so do the reference's slowly varying errors.  What motion leaves in it is
taken out with the fused track's velocity: the same second difference of a straight line
through the middle plot.  A turn or a wrong association is an outlier, so the spread is
read robustly (median absolute deviation, ``stats.robust_sigma``) from a histogram.

Residuals: each plot against the other radars' fused position at its time (interpolated,
``RefTrack.at``), mean and spread by range band and azimuth sector: the bias, as a picture.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

from gateway.assess.detection import RANGE_BANDS, SECTORS, cell
from gateway.assess.reference import NM, Key, Reference, Site
from gateway.assess.stats import Histogram, Moments, robust_sigma, rounded
from gateway.messages import Plot

NOISE_BANDS_NM = (0.0, 50.0, 100.0, 150.0, 200.0, 1e9)
SQRT6 = math.sqrt(6.0)
ADDRESSES_MAX = 50_000  # Mode S addresses remembered per radar for duplicates


def _wrap(deg: float) -> float:
    return (deg + 180.0) % 360.0 - 180.0


def _noise_histograms() -> tuple[Histogram, Histogram]:
    return Histogram(-1500.0, 1500.0, 3000), Histogram(-1.5, 1.5, 6000)


@dataclass
class RadarAccuracy:
    site: Site
    range_d2: Histogram = field(default_factory=lambda: _noise_histograms()[0])
    azimuth_d2: Histogram = field(default_factory=lambda: _noise_histograms()[1])
    banded: list[tuple[Histogram, Histogram]] = field(default_factory=lambda: [
        _noise_histograms() for _ in range(len(NOISE_BANDS_NM) - 1)])
    # residuals against the others' picture: sums by (range band, sector)
    res_n: np.ndarray = field(default_factory=lambda: np.zeros((RANGE_BANDS, SECTORS)))
    res_range: np.ndarray = field(default_factory=lambda: np.zeros((RANGE_BANDS, SECTORS)))
    res_range2: np.ndarray = field(default_factory=lambda: np.zeros((RANGE_BANDS, SECTORS)))
    res_az: np.ndarray = field(default_factory=lambda: np.zeros((RANGE_BANDS, SECTORS)))
    res_az2: np.ndarray = field(default_factory=lambda: np.zeros((RANGE_BANDS, SECTORS)))
    level_modes: Moments = field(default_factory=Moments)  # ft, plot - reference
    level_modeac: Moments = field(default_factory=Moments)
    level_off: int = 0  # beyond the level tolerance
    level_checked: int = 0
    code_checked: int = 0
    code_mismatch: int = 0
    code_changes: int = 0
    ident_checked: int = 0
    ident_mismatch: int = 0
    modes_plots: int = 0
    duplicate_addresses: int = 0
    max_elevation_deg: float = -math.inf
    min_range_nm: float = math.inf
    # per fused track: the last two plots (t, slant m, azimuth deg, x, y) and its code
    last: dict[str, list[tuple[float, float, float, float, float]]] = field(
        default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, float] = field(default_factory=dict)

    _buffer: list[tuple[int, float, float]] = field(default_factory=list)

    def flush(self) -> None:
        """Second differences into the histograms, many at a time (numpy's cost is per
        call)."""
        if not self._buffer:
            return
        band = np.array([b for b, _r, _a in self._buffer])
        dr = np.array([x for _b, x, _a in self._buffer])
        da = np.array([a for _b, _r, a in self._buffer])
        self._buffer.clear()
        self.range_d2.add(dr)
        self.azimuth_d2.add(da)
        for i, (hr, ha) in enumerate(self.banded):
            sel = band == i
            if sel.any():
                hr.add(dr[sel])
                ha.add(da[sel])

    def noise(self) -> tuple[float, float]:
        self.flush()
        return (robust_sigma(self.range_d2) / SQRT6, robust_sigma(self.azimuth_d2) / SQRT6)

    def noise_by_range(self) -> list[dict[str, object]]:
        self.flush()
        out: list[dict[str, object]] = []
        for (lo, hi), (hr, ha) in zip(zip(NOISE_BANDS_NM, NOISE_BANDS_NM[1:], strict=False),
                                      self.banded, strict=True):
            out.append({"from_nm": lo, "to_nm": hi if hi < 1e8 else None,
                        "range_noise_m": rounded(robust_sigma(hr) / SQRT6, 1),
                        "azimuth_noise_deg": rounded(robust_sigma(ha) / SQRT6, 4),
                        "samples": hr.n})
        return out


class Accuracy:
    def __init__(self, sites: dict[Key, Site], reference: Reference, *, bracket_s: float,
                 level_tolerance_ft: float) -> None:
        self.radars = {k: RadarAccuracy(s) for k, s in sites.items()}
        self.ref = reference
        self.bracket_s = bracket_s
        self.level_tolerance_ft = level_tolerance_ft
        self.counters: Counter[str] = Counter()
        # plots awaiting the others' updates after them: (t, radar, track, slant m,
        # azimuth deg, level, Mode S)
        self._pending: deque[tuple[float, Key, str, float, float, float, bool]] = deque()

    def advance(self, now: float) -> None:
        """Residuals and levels of the plots the others have now reported around."""
        q = self._pending
        while q and q[0][0] + self.bracket_s < now:
            t, key, label, slant, az, fl, modes = q.popleft()
            tr = self.ref.tracks.get(label)
            r = self.radars[key]
            pos = tr.at(t, key, self.bracket_s) if tr is not None else None
            if pos is None or not math.isfinite(pos[2]):
                self.counters["residual-without-reference"] += 1
                continue
            rs, raz, _el, _g = r.site.polar(*pos)
            band, sector = cell(rs, raz)
            dr, da = slant - rs, _wrap(az - raz)
            r.res_n[band, sector] += 1
            r.res_range[band, sector] += dr
            r.res_range2[band, sector] += dr * dr
            r.res_az[band, sector] += da
            r.res_az2[band, sector] += da * da
            if math.isfinite(fl):
                diff = (fl - pos[2]) * 100.0
                (r.level_modes if modes else r.level_modeac).add(diff)
                r.level_checked += 1
                r.level_off += abs(diff) > self.level_tolerance_ft
        for r in self.radars.values():
            r.flush()

    def plot(self, key: Key, label: str | None, p: Plot, period: float) -> None:
        r = self.radars.get(key)
        if r is None:
            return
        if p.rho_nm is None or p.theta_deg is None:
            self.counters["plot-without-polar-position"] += 1
            return
        slant = p.rho_nm * NM
        az = p.theta_deg
        r.min_range_nm = min(r.min_range_nm, p.rho_nm)
        if p.fl is not None and slant > 0:
            dh = p.fl * 30.48 - r.site.alt_m
            r.max_elevation_deg = max(r.max_elevation_deg, math.degrees(
                math.asin(max(-1.0, min(1.0, dh / slant)))))
        if p.icao24 is not None:
            r.modes_plots += 1
            self._duplicate(r, p.icao24, p.t, period)
        if label is None:
            return
        tr = self.ref.tracks.get(label)
        if tr is None:
            return
        if p.lat is not None and p.lon is not None:
            x, y = r.site.plane(p.lat, p.lon)
            self._second_difference(r, label, (p.t, slant, az, x, y), tr.vx, tr.vy, period)
        # residual and level: judged once the others have reported around it (advance)
        self._pending.append((p.t, key, label, slant, az,
                              math.nan if p.fl is None else p.fl, p.icao24 is not None))
        if p.mode3a is not None:
            if tr.mode3a is not None:
                r.code_checked += 1
                r.code_mismatch += p.mode3a != tr.mode3a
            before = r.codes.get(label)
            r.code_changes += before is not None and before != p.mode3a
            r.codes[label] = p.mode3a
        if p.callsign is not None and tr.callsign is not None:
            r.ident_checked += 1
            r.ident_mismatch += p.callsign != tr.callsign

    def _duplicate(self, r: RadarAccuracy, address: str, t: float, period: float) -> None:
        """The same address twice within half a scan: a reflection or a duplicated
        address."""
        last = r.addresses.get(address)
        if last is not None and math.isfinite(period) and abs(t - last) < 0.5 * period:
            r.duplicate_addresses += 1
        r.addresses[address] = t
        if len(r.addresses) > ADDRESSES_MAX:
            for a in list(r.addresses)[: ADDRESSES_MAX // 2]:
                del r.addresses[a]

    def _second_difference(self, r: RadarAccuracy, label: str,
                           now: tuple[float, float, float, float, float], vx: float,
                           vy: float, period: float) -> None:
        seen = r.last.get(label)
        if seen is None:
            r.last[label] = [now]
            return
        seen.append(now)
        if len(seen) > 3:
            del seen[0]
        if len(seen) < 3 or not (math.isfinite(vx) and math.isfinite(period)):
            return
        (t1, r1, a1, _x1, _y1), (t2, r2, a2, x2, y2), (t3, r3, a3, _x3, _y3) = seen
        if not (0.7 * period < t2 - t1 < 1.3 * period and 0.7 * period < t3 - t2
                < 1.3 * period):
            return
        # a straight line through the middle plot at the track's velocity
        qx1, qy1 = x2 + vx * (t1 - t2), y2 + vy * (t1 - t2)
        qx3, qy3 = x2 + vx * (t3 - t2), y2 + vy * (t3 - t2)
        g1, g2, g3 = math.hypot(qx1, qy1), math.hypot(x2, y2), math.hypot(qx3, qy3)
        if g2 <= 0:
            return
        cos_el = min(1.0, g2 / r2) if r2 > 0 else 1.0
        motion_r = (g1 - 2 * g2 + g3) * cos_el
        b1 = math.degrees(math.atan2(qx1, qy1))
        b2 = math.degrees(math.atan2(x2, y2))
        b3 = math.degrees(math.atan2(qx3, qy3))
        motion_a = _wrap(b1 - b2) + _wrap(b3 - b2)
        d2r = (r1 - 2 * r2 + r3) - motion_r
        d2a = (_wrap(a1 - a2) + _wrap(a3 - a2)) - motion_a
        band = next(i for i, hi in enumerate(NOISE_BANDS_NM[1:]) if r2 < hi * NM)
        r._buffer.append((band, d2r, d2a))
        if len(r._buffer) >= 4096:
            r.flush()

    def prune(self) -> None:
        for r in self.radars.values():
            if len(r.last) > 4 * len(self.ref.tracks) + 100:
                for label in [k for k in r.last if k not in self.ref.tracks]:
                    r.last.pop(label, None)
                    r.codes.pop(label, None)

