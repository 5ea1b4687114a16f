"""What an en-route Mode S radar with co-located PSR reports of the simulated traffic.

The antenna sweeps at a fixed period; an aircraft is detected when the beam crosses it, if
it is within instrumented range, above the radar horizon (4/3 earth) and below the cone of
silence, with a probability by kind of reply.  The measurement is slant range and azimuth
with a fixed bias, a range gain and Gaussian noise; its time stamps may run late by a fixed
offset.  Local track numbers are the radar tracker's: kept per aircraft, sometimes dropped and
re-assigned.  Plus PSR clutter.  All vectorised over every
(scan, aircraft) pair of one radar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymap3d

from gateway.sim.scenario import RadarSite
from gateway.sim.traffic import NO_TRANSPONDER, Flights, Trajectories
from gateway.units import NM

EARTH_RADIUS_M = 6371000.0
K_FACTOR = 4.0 / 3.0  # standard atmospheric refraction: the radar horizon of a 4/3 earth

# CAT048 I020 TYP
TYP_PSR, TYP_SSR, TYP_SSR_PSR, TYP_MODES_ROLL, TYP_MODES_ROLL_PSR = 1, 2, 3, 5, 7


@dataclass(frozen=True)
class Plots:
    """One radar's target reports, sorted by detection time (all arrays [N])."""

    t: np.ndarray  # detection time, seconds from scenario start
    flight: np.ndarray  # index into Flights, -1 for a false (clutter) plot
    typ: np.ndarray  # I020 TYP
    rho_nm: np.ndarray
    theta_deg: np.ndarray
    mode3a: np.ndarray  # raw code, -1 absent
    fl: np.ndarray  # Mode C flight level, nan absent
    track_number: np.ndarray  # I161, -1 absent
    tentative: np.ndarray  # bool: first plots of a track
    gs_kt: np.ndarray  # radar tracker velocity (I200), nan absent
    hdg_deg: np.ndarray
    scan: np.ndarray  # scan index
    scan_start: np.ndarray  # per scan [K]: time the beam passes north


@dataclass(frozen=True)
class TrackSpan:
    """A radar (or SDPS) track number that stood for one flight from t_from to t_to."""

    track_number: int
    flight: int
    t_from: float
    t_to: float


@dataclass
class OpenSpan:
    """A track number still held by a flight: since when, until when so far, how many plots."""

    track_number: int
    t_from: float
    t_last: float
    plots: int = 0

    def closed(self, flight: int) -> TrackSpan:
        return TrackSpan(self.track_number, flight, self.t_from, self.t_last)


SEND_LATENCY_S = 0.010  # from the sector crossing to the plots on the wire


def sector_of(site: RadarSite, scan_start: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Sector (0..sectors-1) the beam is in at time t of the scan that began at scan_start."""
    beam = (t - scan_start) / site.period_s * 360.0
    return np.clip((beam // (360.0 / site.sectors)).astype(np.int64), 0, site.sectors - 1)


def send_time(site: RadarSite, scan_start: np.ndarray, t: np.ndarray) -> np.ndarray:
    """When a plot detected at t goes out: as the beam leaves its sector, plus latency."""
    return (scan_start + (sector_of(site, scan_start, t) + 1) * site.period_s / site.sectors
            + SEND_LATENCY_S)


def stamp_time(site: RadarSite, t: np.ndarray) -> np.ndarray:
    """The time a radar stamps on plots detected at ``t`` (I140): late by its clock's
    offset, which a multi-radar tracker must estimate (registration) as it does biases."""
    return t + site.time_offset_s


def _horizon_ok(ground_m: np.ndarray, h_radar: float, h_target: np.ndarray) -> np.ndarray:
    reach = np.sqrt(2 * K_FACTOR * EARTH_RADIUS_M * max(h_radar, 1.0)) + np.sqrt(
        2 * K_FACTOR * EARTH_RADIUS_M * np.maximum(h_target, 1.0))
    return ground_m <= reach


def observe(site: RadarSite, flights: Flights, traj: Trajectories, duration: float,
            rng: np.random.Generator) -> tuple[Plots, list[TrackSpan]]:
    """Every plot the radar detects from 0 and sends before ``duration``, and its local
    track numbers' spans."""
    period = site.period_s
    phase = rng.uniform(0.0, period)
    scan_start = np.arange(phase - period, duration, period)
    active = traj.active()
    nscan = len(scan_start)

    # (scan, flight) pairs for flights active around mid-scan; beam time found in two steps.
    mid = np.clip(np.round(scan_start + period / 2).astype(np.int64), 0, len(traj.t) - 1)
    scan_idx, flight_idx = np.nonzero(active[:, mid].T)
    t_guess = scan_start[scan_idx] + period / 2
    for _ in range(2):
        state = traj.at(flight_idx, np.clip(t_guess, 0.0, traj.t[-1]))
        az, _el, _r = pymap3d.geodetic2aer(state["lat"], state["lon"], state["alt_m"],
                                           site.lat, site.lon, site.alt_m)
        t_guess = scan_start[scan_idx] + np.nan_to_num(az) / 360.0 * period
    state = traj.at(flight_idx, np.clip(t_guess, 0.0, traj.t[-1]))
    az, el, slant = pymap3d.geodetic2aer(state["lat"], state["lon"], state["alt_m"],
                                         site.lat, site.lon, site.alt_m)
    ground = slant * np.cos(np.radians(el))
    # A target near north is crossed once, at the end of one scan or the start of the next:
    # the scan it belongs to is the one whose beam angle equals its azimuth without wrapping.
    beam = (t_guess - scan_start[scan_idx]) / period * 360.0
    this_scan = np.abs(beam - az) < 1.0
    sent = this_scan & (send_time(site, scan_start[scan_idx], t_guess) < duration)
    visible = (np.isfinite(slant) & (t_guess >= 0) & sent & (slant >= site.min_range_nm * NM)
               & (el < site.cone_deg) & _horizon_ok(ground, site.alt_m, state["alt_m"]))

    kind = np.asarray(flights.kind)[flight_idx]
    has_ssr = ~np.isin(kind, NO_TRANSPONDER)
    pd_ssr = np.where(kind == "modes", site.pd_modes, site.pd_ssr)
    ssr = visible & has_ssr & (slant <= site.range_nm * NM) & (rng.random(len(slant)) < pd_ssr)
    psr_pd = site.pd_psr * np.clip(1 - (slant / (site.psr_range_nm * NM)) ** 4, 0, 1)
    psr = visible & (rng.random(len(slant)) < psr_pd)
    seen = ssr | psr
    typ = np.where(kind == "modes", np.where(psr, TYP_MODES_ROLL_PSR, TYP_MODES_ROLL),
                   np.where(psr, TYP_SSR_PSR, TYP_SSR))
    typ = np.where(ssr, typ, TYP_PSR)

    keep = np.flatnonzero(seen)
    t = t_guess[keep]
    fi = flight_idx[keep]
    rho = (site.range_gain * slant[keep] + site.bias_range_m
           + rng.normal(0, site.sigma_range_m, len(keep))) / NM
    theta = (az[keep] + site.bias_azimuth_deg
             + rng.normal(0, site.sigma_azimuth_deg, len(keep))) % 360.0
    ssr_k = ssr[keep]
    code = np.where(t < np.nan_to_num(flights.squawk_change_t[fi], nan=np.inf),
                    flights.mode3a[fi, 0], flights.mode3a[fi, 1])
    mode3a = np.where(ssr_k, code, -1)
    step = np.where(kind[keep] == "modes", 4.0, 1.0)  # Mode S reports 25 ft, Mode C 100 ft
    fl = np.where(ssr_k, np.round(state["fl"][keep] * step) / step, np.nan)
    gs = state["gs_kt"][keep] + rng.normal(0, 2.0, len(keep))
    hdg = (state["track_deg"][keep] + rng.normal(0, 1.0, len(keep))) % 360.0

    # Clutter: false primary plots spread over the PSR coverage.
    nfalse = rng.poisson(site.false_plots_per_scan, nscan)
    fscan = np.repeat(np.arange(nscan), nfalse)
    faz = rng.uniform(0, 360, len(fscan))
    ft = scan_start[fscan] + faz / 360 * period
    fin = (ft >= 0) & (send_time(site, scan_start[fscan], ft) < duration)
    fscan, faz, ft = fscan[fin], faz[fin], ft[fin]
    frho = rng.uniform(5, site.psr_range_nm, len(ft))
    if site.clutter_sector_per_scan > 0:  # heavy clutter in one sector (sim.scenario.degrade)
        lo, hi = site.clutter_sector_deg
        nsec = rng.poisson(site.clutter_sector_per_scan, nscan)
        sscan = np.repeat(np.arange(nscan), nsec)
        saz = rng.uniform(lo, hi, len(sscan)) % 360.0
        st = scan_start[sscan] + saz / 360 * period
        sin_ = (st >= 0) & (send_time(site, scan_start[sscan], st) < duration)
        fscan = np.concatenate([fscan, sscan[sin_]])
        faz = np.concatenate([faz, saz[sin_]])
        ft = np.concatenate([ft, st[sin_]])
        frho = np.concatenate([frho, rng.uniform(5, site.psr_range_nm, int(sin_.sum()))])

    all_t = np.concatenate([t, ft])
    order = np.argsort(all_t, kind="stable")
    n_real, n_false = len(t), len(ft)

    def cat(real: np.ndarray, fill: float) -> np.ndarray:
        return np.concatenate([real, np.full(n_false, fill, dtype=real.dtype)])[order]

    flight = cat(fi, -1)
    tracks, tentative, spans = _track_numbers(flight, all_t[order], site.track_drop_rate, rng)
    plots = Plots(
        t=all_t[order], flight=flight,
        typ=np.concatenate([typ[keep], np.full(n_false, TYP_PSR)])[order],
        rho_nm=np.concatenate([rho, frho])[order],
        theta_deg=np.concatenate([theta, faz])[order],
        mode3a=cat(mode3a.astype(np.int64), -1), fl=cat(fl, np.nan),
        track_number=tracks, tentative=tentative,
        gs_kt=cat(gs, np.nan), hdg_deg=cat(hdg, np.nan),
        scan=np.concatenate([scan_idx[keep], fscan])[order], scan_start=scan_start,
    )
    assert n_real + n_false == len(plots.t)
    return plots, spans


def _track_numbers(flight: np.ndarray, t: np.ndarray, drop_rate: float,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[TrackSpan]]:
    """The radar tracker: a number per aircraft from first plot, sometimes re-initialised.

    Numbers come from a cycling counter (1..4095), so a dropped track's number comes back
    later for another aircraft: consumers must not treat a number as an identity.
    """
    numbers = np.full(len(flight), -1, dtype=np.int64)
    tentative = np.zeros(len(flight), dtype=bool)
    current: dict[int, OpenSpan] = {}  # by flight
    spans: list[TrackSpan] = []
    counter = 0
    drops = rng.random(len(flight)) < drop_rate
    for i in range(len(flight)):
        f = int(flight[i])
        if f < 0:
            continue
        state = current.get(f)
        if state is not None and (drops[i] or t[i] - state.t_last > 60.0):
            spans.append(state.closed(f))
            state = None
        if state is None:
            held = {s.track_number for s in current.values()}
            counter = counter % 4095 + 1
            while counter in held:
                counter = counter % 4095 + 1
            state = current[f] = OpenSpan(counter, float(t[i]), float(t[i]))
        state.plots += 1
        state.t_last = float(t[i])
        numbers[i] = state.track_number
        tentative[i] = state.plots <= 2
    spans.extend(s.closed(f) for f, s in current.items())
    return numbers, tentative, spans
