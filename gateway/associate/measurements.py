"""Plot and Track messages to columns: what one published batch tells the tracker.

The tracker works on arrays, so a batch of shared-format messages is read once, here, into
one column per fact: time, position in the filter plane, its 2x2 covariance, flight level,
identity (Mode S address, Mode-3/A code, aircraft identification), the source and the
source's own track number, and what kind of report it is (``Kind``).  Python objects are
touched once per message; everything after works on the columns.  A batch is split by
source: one association cycle is one source's reports.

The covariance is where the radars' physics enters.  A radar measures slant range and
azimuth: its error ellipse is long across the line of sight at long range (0.08 degrees at
200 NM is 500 m) and short along it (tens of metres).  So a plot's covariance is
``diag(sigma_r^2, (rho * sigma_theta)^2)`` in (range, cross-range), rotated to the line of
sight in the plane.  Each radar also has a fixed bias the tracker does not estimate
(registration is another job): the bias allowance is added in quadrature, which keeps the
gates honest across radars and weights a biased radar down.  An SDPS track is an estimate
already, of known quality: isotropic, ``sdps_sigma_m``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import IntEnum
from typing import cast

import numpy as np

from gateway._columns import (
    batch_source,
    gather,
    height_chord,
    height_shift,
    plot_measurements,
    track_columns,
    velocity_fill,
    velocity_terms,
)
from gateway.associate.frame import ConformalFrame
from gateway.associate.parameters import NON_DISCRETE_CODES, TrackerParameters
from gateway.messages import FlightPlan, Plot, Source, SourceRef, Track
from gateway.units import FT, KT, NM

__all__ = [
    "Kind",
    "code_table",
    "discrete_codes",
    "height_correction",
    "MeasurementModel",
    "Measurements",
    "RadarNoise",
    "SourceKey",
    "Sources",
]


SourceKey = tuple[int, int, int]  # (sac, sic, cat)


class Kind(IntEnum):
    """What a measurement is; its identity and its noise follow from this."""

    PRIMARY = 0  # plot without transponder reply: position only (PSR, or clutter)
    SSR = 1  # plot with a Mode A/C reply: Mode-3/A code and Mode C level, no address
    MODES = 2  # plot with a Mode S reply: 24-bit address
    SDPS = 3  # a system track of another processor (CAT062)


# The same as plain ints: an IntEnum member costs an attribute lookup on every use.
PRIMARY, SSR, MODES, SDPS = (int(k) for k in Kind)


@dataclass(frozen=True)
class RadarNoise:
    """How one radar errs, as the tracker models it (one sigma).

    ``bias_*`` are allowances for the radar's uncorrected systematic error, added in
    quadrature to the noise.  ``lat``/``lon``/``alt_m`` (the antenna) give the exact line of
    sight in the plane, and let the tracker re-place a primary plot at its track's height
    (``height_correction``); without them the plot's azimuth, turned by the meridian
    convergence at the plot, stands in for the line of sight (off by a degree or two at long
    range: harmless for an ellipse) and primary plots stay where the normaliser put them.
    """

    # the defaults are the tracker's, declared once in parameters.py
    sigma_range_m: float = TrackerParameters.default_sigma_range_m
    sigma_azimuth_deg: float = TrackerParameters.default_sigma_azimuth_deg
    bias_range_m: float = TrackerParameters.default_bias_range_m
    bias_azimuth_deg: float = TrackerParameters.default_bias_azimuth_deg
    lat: float | None = None
    lon: float | None = None
    alt_m: float = 0.0


@dataclass
class Sources:
    """Every source the tracker has heard, by a small index (columns of per-track arrays)."""

    keys: list[SourceKey] = field(default_factory=list)
    index: dict[SourceKey, int] = field(default_factory=dict)
    _refs: dict[int, _Refs] = field(default_factory=dict)

    limit: int = 64  # per-track arrays hold a column per source: bounded

    def lookup(self, key: SourceKey) -> int:
        """The index of a source, given one on first sight (-1 beyond ``limit``)."""
        i = self.index.get(key)
        if i is None:
            if len(self.keys) >= self.limit:
                return -1
            i = self.index[key] = len(self.keys)
            self.keys.append(key)
        return i

    def refs(self, source: int) -> _Refs:
        """The source's SourceRefs by track number (-1: none), made once: they are
        immutable, so every message can share them."""
        refs = self._refs.get(source)
        if refs is None:
            refs = self._refs[source] = _Refs(*self.keys[source])
        return refs

    def ref(self, source: int, track_number: int) -> SourceRef:
        return self.refs(source)[track_number]


class _Refs(dict[int, SourceRef]):
    """track number -> SourceRef of one source, made on first use."""

    def __init__(self, sac: int, sic: int, cat: int) -> None:
        super().__init__()
        self.key = (sac, sic, cat)

    def __missing__(self, number: int) -> SourceRef:
        sac, sic, cat = self.key
        ref = self[number] = SourceRef(sac=sac, sic=sic, cat=cat,
                                       track_number=None if number < 0 else number)
        return ref


@dataclass
class Measurements:
    """One source's reports of one batch, as columns (arrays [n]; R is [n, 2, 2]).

    Unknowns: nan for floats, -1 for codes, addresses, callsigns and track numbers.
    ``ident`` packs what identifies an aircraft, so that the identity rules run on one
    array: the Mode S address, the Mode-3/A code when it is an identity (discrete), a
    non-negative hash of the callsign (``callsign_text`` keeps the text for output), and
    the code as reported, discrete or not (the columns are also ``icao24``, ``code``,
    ``callsign`` and ``mode3a``).  ``speed``/``course`` are the source's own velocity
    estimate (a radar tracker's I200, an SDPS track's velocity) as it gave it (kt, degrees
    true; see ``velocity``); nan where the source gave none.  ``k`` is the frame's point
    scale at each report.
    """

    source: int  # index of the source in Sources
    index: np.ndarray  # position of each report among the batch's messages
    t: np.ndarray
    xy: np.ndarray  # [n, 2] position in the plane (m); also ``x`` and ``y``
    lat: np.ndarray
    lon: np.ndarray
    k: np.ndarray
    R: np.ndarray
    fl: np.ndarray
    roc: np.ndarray  # fpm, SDPS only
    speed: np.ndarray  # the source's ground speed, kt
    course: np.ndarray  # the source's true course or heading, degrees
    ident: np.ndarray  # [n, 4]: address, discrete code, callsign hash, code; -1 unknown
    callsign_text: list[str | None]
    track_number: np.ndarray
    kind: np.ndarray
    # Plot geometry, for re-placing primary plots at a track's height (nan for SDPS
    # tracks and radars of unknown position): the line of sight in the plane (unit vector),
    # the slant range (m) and the plot's ground distance from the antenna (m on the ground),
    # and the antenna's height (one per source).
    los_x: np.ndarray
    los_y: np.ndarray
    slant_m: np.ndarray
    ground_m: np.ndarray
    antenna_m: float = float("nan")
    primaries: bool = False  # some primary plots that can be re-placed
    velocity_var: float = float("nan")  # variance of the source's own velocity (m/s)^2
    # each report's flight plan (an SDPS track's I390), kept as text like the callsign;
    # None for plots, which carry none
    fpl: list[FlightPlan | None] | None = None
    # SDPS tracks (and at least one): asked of every part of a batch at every stage, so
    # kept rather than read from ``kind`` each time
    sdps: bool = False

    def __len__(self) -> int:
        return len(self.t)

    @property
    def x(self) -> np.ndarray:
        return self.xy[:, 0]

    @property
    def y(self) -> np.ndarray:
        return self.xy[:, 1]

    @property
    def icao24(self) -> np.ndarray:
        return self.ident[:, 0]

    @property
    def mode3a(self) -> np.ndarray:
        return self.ident[:, 3]

    @property
    def code(self) -> np.ndarray:
        return self.ident[:, 1]

    @property
    def callsign(self) -> np.ndarray:
        return self.ident[:, 2]


    def take(self, rows: np.ndarray) -> Measurements:
        """The measurements at ``rows`` (indices): the array columns gathered in one call
        (gateway._columns.gather: what numpy's indexing of each gives, bit for bit; its
        eighteen calls and a dataclass's keyword construction were most of a take)."""
        d = self.__dict__
        order = np.asarray(rows).tolist()
        new = d.copy()
        new.update(zip(_ARRAY_FIELDS, gather(tuple([d[name] for name in _ARRAY_FIELDS]),
                                             rows), strict=True))
        callsign = self.callsign_text
        new["callsign_text"] = [callsign[i] for i in order]
        fpl = self.fpl
        new["fpl"] = None if fpl is None else [fpl[i] for i in order]
        # (a list's membership test: the kinds are a few plain ints)
        new["primaries"] = self.primaries and PRIMARY in new["kind"].tolist()
        new["sdps"] = self.sdps and len(order) > 0
        out = Measurements.__new__(Measurements)
        out.__dict__ = new
        return out

    def velocity(self, frame: ConformalFrame) -> tuple[np.ndarray, np.ndarray]:
        """Source velocity [n, 2] in the plane (zeros where unknown) and its variance [n]
        (nan where unknown): ground speed and true course turned into the plane.  The
        arithmetic around numpy's sin and cos is two kernel calls
        (gateway._columns.velocity_terms, velocity_fill; tests/test_measurements_kernel.py
        holds them to the numpy they replaced)."""
        known, s, c = velocity_terms(self.speed, self.course, self.k, self.lon, KT,
                                     frame.cone, frame.parameters.lon_0)
        return velocity_fill(known, s, np.sin(c), np.cos(c), self.velocity_var)


# the columns of Measurements that are arrays [n, ...]: what ``take`` gathers
_ARRAY_FIELDS = tuple(f.name for f in fields(Measurements) if f.type == "np.ndarray")


_DETECTION_KIND = {"psr": PRIMARY, "ssr": SSR, "ssr+psr": SSR, "modes": MODES,
                   "modes+psr": MODES}
# numeric columns of both kinds of report (gateway._columns reads them), in this order;
# then a track's rate of climb (a plot's slant range and azimuth: plot_measurements)
T, LAT, LON, FL, SPEED, COURSE = range(6)
ROC = 6


class _Parsed(dict[str | None, int]):
    """text -> int, parsed once (addresses, codes, callsign hashes); None -> -1.

    Bounded: a hostile feed cycling through values empties it now and then."""

    def __init__(self, parse: Callable[[str], int]) -> None:
        super().__init__()
        self.parse = parse

    def __missing__(self, text: str | None) -> int:
        if len(self) > 100_000:
            self.clear()
        value = self[text] = -1 if text is None else self.parse(text)
        return value


_HASH_MASK = (1 << 63) - 1
_ADDRESS = _Parsed(lambda text: int(text, 16))
_CODE = _Parsed(lambda text: int(text, 8))
# Equality is all the tracker asks of a callsign; a 63-bit hash answers it in numpy.
_CALLSIGN = _Parsed(lambda text: hash(text) & _HASH_MASK)


def code_table(non_discrete: frozenset[int] | set[int]) -> np.ndarray:
    """bool [4096]: which Mode-3/A codes are not identities (for ``discrete_codes``)."""
    table = np.zeros(0o10000, dtype=bool)
    table[[c for c in non_discrete if 0 <= c < 0o10000]] = True
    return table


def discrete_codes(codes: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Codes that identify an aircraft; -1 for unknown and for non-discrete codes."""
    return np.where((codes < 0) | table[codes & 0o7777], -1, codes)


class MeasurementModel:
    """Reads batches of Plot/Track messages into Measurements, with their covariances.

    ``radars``: noise per (sac, sic); a radar not listed gets ``default_radar``.
    ``*_velocity_sigma_mps``: trust in a source's own velocity (used to start tracks).
    ``codes``: which Mode-3/A codes are not identities (``code_table``; default: the
    usual non-discrete codes).
    """

    def __init__(self, frame: ConformalFrame, radars: Mapping[tuple[int, int], RadarNoise],
                 sdps_sigma_m: float, sources: Sources | None = None,
                 default_radar: RadarNoise | None = None,
                 plot_velocity_sigma_mps: float = 15.0,
                 sdps_velocity_sigma_mps: float = 10.0,
                 codes: np.ndarray | None = None) -> None:
        self.frame = frame
        self.radars = dict(radars)
        self.default_radar = default_radar or RadarNoise()
        self.sdps_sigma_m = float(sdps_sigma_m)
        self.sources = sources if sources is not None else Sources()
        self.plot_velocity_var = plot_velocity_sigma_mps ** 2
        self.sdps_velocity_var = sdps_velocity_sigma_mps ** 2
        self.code_table = codes if codes is not None else code_table(NON_DISCRETE_CODES)
        self._tables = frame.tables  # the conic and its scale table, for the plots' kernel
        # the same flags as bytes, for the column reader (a view: one table)
        self._non_discrete = np.ascontiguousarray(self.code_table, dtype=bool).view(np.uint8)
        self.counters: Counter[str] = Counter()
        # per source: (sigma_r^2 + bias_r^2, sigma_az^2 + bias_az^2 (rad^2), x, y, alt)
        self._noise: dict[int, tuple[float, float, float, float, float]] = {}
        # per source: (range m, azimuth deg) standing for the radar's bias allowance once
        # registration corrects its plots (``set_bias``)
        self._bias: dict[int, tuple[float, float]] = {}

    def set_bias(self, source: int, allowance: tuple[float, float] | None) -> None:
        """The bias allowance of a radar whose plots are corrected: the correction's own
        uncertainty (range m, azimuth deg); None: the configured allowance again."""
        if allowance is None:
            if self._bias.pop(source, None) is None:
                return
        elif self._bias.get(source) != allowance:
            self._bias[source] = allowance
        else:
            return
        noise = self._noise.get(source)
        if noise is not None:  # the variances again; the antenna stays (a projection)
            sac, sic, _cat = self.sources.keys[source]
            r = self.radars.get((sac, sic), self.default_radar)
            bias_r, bias_az = self._bias.get(source, (r.bias_range_m, r.bias_azimuth_deg))
            self._noise[source] = (r.sigma_range_m ** 2 + bias_r ** 2, float(
                np.radians(r.sigma_azimuth_deg) ** 2 + np.radians(bias_az) ** 2), *noise[2:])

    def radar_noise(self, source: int) -> tuple[float, float]:
        """(range m^2, azimuth rad^2) variance of a radar's noise alone, no bias."""
        sac, sic, _cat = self.sources.keys[source]
        r = self.radars.get((sac, sic), self.default_radar)
        return r.sigma_range_m ** 2, float(np.radians(r.sigma_azimuth_deg) ** 2)

    def _radar(self, source: int) -> tuple[float, float, float, float, float]:
        noise = self._noise.get(source)
        if noise is None:
            sac, sic, _cat = self.sources.keys[source]
            r = self.radars.get((sac, sic), self.default_radar)
            xr = yr = alt = float("nan")
            if r.lat is not None and r.lon is not None:
                px, py = self.frame.to_xy(np.array([r.lat]), np.array([r.lon]))
                xr, yr, alt = float(px[0]), float(py[0]), float(r.alt_m)
            bias_r, bias_az = self._bias.get(source, (r.bias_range_m, r.bias_azimuth_deg))
            noise = self._noise[source] = (
                r.sigma_range_m ** 2 + bias_r ** 2,
                float(np.radians(r.sigma_azimuth_deg) ** 2
                      + np.radians(bias_az) ** 2), xr, yr, alt)
        return noise

    def convert(self, messages: Sequence[Plot | Track]) -> list[Measurements]:
        """Columns of every usable message (with a position), one Measurements per source
        in order of first appearance (a batch normally holds one)."""
        batch = messages if type(messages) is list else list(messages)
        # the source and the type every message shares (None: not one), in one pass of C
        one, cls = batch_source(batch)
        groups: dict[Source, list[int] | None] = {}  # None: every message
        if one is not None:
            groups[one] = None
        else:
            lists: dict[Source, list[int]] = {}
            for i, m in enumerate(batch):
                lists.setdefault(m.src, []).append(i)
            groups.update(lists)
        out = []
        for src, rows in groups.items():
            part = batch if rows is None else [batch[i] for i in rows]
            source = self.sources.lookup((src.sac, src.sic, src.cat))
            if source < 0:
                self.counters["source-limit-exceeded"] += len(part)
                continue
            kinds = {cls} if rows is None and cls is not None else set(map(type, part))
            # None: the batch's own order (made where used: most batches are one source)
            index = None if rows is None else np.array(rows, dtype=np.int64)
            # The common cases, one kind per source, are checked once for the whole batch.
            if kinds == {Plot}:
                out.append(self._plots(cast(list[Plot], part), index, source))
            elif kinds == {Track}:
                out.append(self._tracks(cast(list[Track], part), index, source))
            else:  # a source sending both, or something else: each kind alone
                if index is None:
                    index = np.arange(len(part), dtype=np.int64)
                plots = [(i, m) for i, m in enumerate(part) if isinstance(m, Plot)]
                tracks = [(i, m) for i, m in enumerate(part) if isinstance(m, Track)]
                if plots:
                    out.append(self._plots([m for _, m in plots],
                                           index[[i for i, _ in plots]], source))
                if tracks:
                    out.append(self._tracks([m for _, m in tracks],
                                            index[[i for i, _ in tracks]], source))
                other = len(part) - len(plots) - len(tracks)
                self.counters["measurement-not-plot-or-track"] += other
        return [m for m in out if len(m)]

    # -- plots -----------------------------------------------------------------------------

    def _plots(self, messages: list[Plot], index: np.ndarray | None,
               source: int) -> Measurements:
        """One source's plots (``index``: their positions in the batch, None: all of it in
        order): columns, plane, scale and, from a known antenna, the covariance in one
        call of C (gateway._columns.plot_measurements; tests/test_plot_measurements.py
        holds it to the numpy it replaced)."""
        var_r, var_az, xr, yr, alt = self._radar(source)
        kept, missing, num, xy, R, ident, kind, number, callsign, primaries = (
            plot_measurements(messages, _ADDRESS, _CODE, _CALLSIGN, _DETECTION_KIND,
                              self._non_discrete, *self._tables, NM, xr, yr, var_r, var_az))
        if missing:
            self.counters["measurement-without-position"] += missing
        t, lat, lon, fl, speed, course, slant, theta, k, ground, los_x, los_y, nan = num
        m = Measurements(
            source=source, index=kept if index is None else index[kept], t=t, xy=xy,
            lat=lat, lon=lon, k=k, R=R, fl=fl, roc=nan, speed=speed, course=course,
            ident=ident, callsign_text=callsign, track_number=number, kind=kind,
            los_x=los_x, los_y=los_y, slant_m=slant, ground_m=ground,
            velocity_var=self.plot_velocity_var)
        if xr == xr:  # antenna known: the kernel put the line of sight from it
            m.antenna_m = alt
            m.primaries = primaries
        elif len(m):
            self._plot_covariance(m, theta, var_r, var_az)
        return m

    def _plot_covariance(self, m: Measurements, theta_deg: np.ndarray, var_r: float,
                         var_az: float) -> None:
        """Polar noise of a radar of unknown position, rotated to each plot's azimuth
        turned by the convergence (a stand-in for the line of sight)."""
        k2 = float(m.k[0]) ** 2  # within 0.3 % across a batch: one value will do
        slant = m.slant_m
        bearing = np.radians(theta_deg) + self.frame.north(m.lon)
        m.slant_m = np.full(len(m), np.nan)
        s, c = np.sin(bearing), np.cos(bearing)
        rho = np.where(np.isfinite(slant), slant, 150 * NM)  # unknown: long, cautious
        m.los_x, m.los_y = s, c
        cross = rho * rho * var_az
        ss, cc, sc = s * s * k2, c * c * k2, s * c * k2
        R = m.R
        R[:, 0, 0] = var_r * ss + cross * cc
        R[:, 1, 1] = var_r * cc + cross * ss
        R[:, 0, 1] = R[:, 1, 0] = (var_r - cross) * sc

    # -- tracks ----------------------------------------------------------------------------

    def _tracks(self, messages: list[Track], index: np.ndarray | None,
                source: int) -> Measurements:
        """One SDPS's tracks (``index`` as ``_plots``'): their columns
        (gateway._columns.track_columns), those without a position left out, the plane
        position and scale, and the SDPS's isotropic covariance.  (Once the plots had a
        kernel of their own, this was the only caller of the helper both had shared.)"""
        num, ident, number, callsign, fpl, complete = track_columns(
            messages, _ADDRESS, _CODE, _CALLSIGN, self._non_discrete)  # fpl: None if none
        if index is None:
            index = np.arange(len(num), dtype=np.int64)
        if not complete:
            ok = np.isfinite(num[:, LAT]) & np.isfinite(num[:, LON])
            self.counters["measurement-without-position"] += int((~ok).sum())
            rows = ok.nonzero()[0]
            num, index, ident, number = num[rows], index[rows], ident[rows], number[rows]
            keep = rows.tolist()
            callsign = [callsign[i] for i in keep]
            fpl = None if fpl is None else [fpl[i] for i in keep]
        n = len(num)
        lat, lon = num[:, LAT], num[:, LON]
        k = self.frame.scale(lat)
        R = np.zeros((n, 2, 2))
        if n:
            R[:, 0, 0] = R[:, 1, 1] = self.sdps_sigma_m ** 2 * float(k[0]) ** 2
        nan = np.empty(n)
        nan.fill(np.nan)
        return Measurements(
            source=source, index=index, t=num[:, T], xy=self.frame.to_plane(lat, lon),
            lat=lat, lon=lon, k=k, R=R, fl=num[:, FL], roc=num[:, ROC], speed=num[:, SPEED],
            course=num[:, COURSE], ident=ident, callsign_text=callsign, track_number=number,
            kind=np.full(n, SDPS, dtype=np.int64), los_x=nan, los_y=nan, slant_m=nan,
            ground_m=nan, velocity_var=self.sdps_velocity_var, fpl=fpl, sdps=n > 0)


EARTH_RADIUS_M = 6371000.0


def height_correction(m: Measurements, j: np.ndarray, fl: np.ndarray,
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Move primary plots m[j] along the line of sight to where they are at flight level fl.

    A primary plot has no Mode C: the normaliser placed it at a fallback height.  Slant
    range at the wrong height is the wrong ground range: an airliner at FL300 seen 50 km away
    but placed at 1500 m lands 800 m short.  Given a candidate track's level, the ground
    range follows from the slant range on a spherical earth (central angle from the triangle
    centre-antenna-target); the shift is its difference from the plot's ground distance.
    Zero where the level, the antenna or the slant range is unknown, or the plot is not
    primary.  Returns (dx, dy) in plane metres (the shift is computed on the ground; the
    plane's scale changes it by 0.3 % at most, a few metres).
    """
    if not m.primaries:
        z = np.zeros(len(j))
        return z, z
    # gateway._columns does the arithmetic around numpy's arcsin, in numpy's order (its
    # docstrings; tests/test_frame_kernel.py holds it to the numpy it replaced): three
    # calls, not twenty on arrays of a few pairs
    q, ok = height_chord(m.slant_m, m.kind, j, fl, m.antenna_m, EARTH_RADIUS_M, FT)
    return height_shift(np.arcsin(q), ok, j, m.ground_m, m.los_x, m.los_y, EARTH_RADIUS_M)
