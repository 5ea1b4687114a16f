"""What an SDPS publishes: CAT062 system tracks every few seconds, CAT065 batch status.

An SDPS fuses its own side's radars, so it tracks what those radars can see; its track
error is smaller than any one radar's plot error.  Flights with a flight plan carry I390
(callsign, departure, destination, cleared level, type, wake category).  Track numbers are
stable while an aircraft stays in coverage and new when it comes back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymap3d
from pyproj import Transformer

from gateway.asterix.pack import Columns
from gateway.normalize.tracks import system_plane_crs
from gateway.sim.feeds import Wire, datablocks, encode_rows, time_of_day
from gateway.sim.radar import OpenSpan, TrackSpan, _horizon_ok
from gateway.sim.scenario import RadarSite, SdpsSite
from gateway.sim.traffic import NO_TRANSPONDER, Flights, Trajectories, border_latitude
from gateway.units import FT, KT, NM


def stereographic(site: SdpsSite) -> Transformer:
    """WGS-84 lon/lat to the SDPS system plane of I062/100."""
    return Transformer.from_crs("EPSG:4326", system_plane_crs(site.srp_lat, site.srp_lon),
                                always_xy=True)


@dataclass(frozen=True)
class Tracks:
    t: np.ndarray  # update time, seconds from scenario start
    flight: np.ndarray
    track_number: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    state: dict[str, np.ndarray]  # truth at t: fl, alt_m, gs_kt, track_deg, roc_fpm
    batch: np.ndarray  # index of the update batch
    batch_times: np.ndarray


def covered(radars: list[RadarSite], state: dict[str, np.ndarray]) -> np.ndarray:
    """Within some radar's instrumented range and above its horizon."""
    ok = np.zeros(len(state["lat"]), dtype=bool)
    for r in radars:
        _az, el, slant = pymap3d.geodetic2aer(state["lat"], state["lon"], state["alt_m"],
                                              r.lat, r.lon, r.alt_m)
        ground = slant * np.cos(np.radians(el))
        in_range = np.nan_to_num(slant, nan=np.inf) <= r.range_nm * NM
        ok |= in_range & _horizon_ok(ground, r.alt_m, state["alt_m"])
    return ok


def in_area(site: SdpsSite, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Its own side of the border, and ``margin_deg`` of latitude into the other."""
    north_of_border = lat - border_latitude(lon)
    if site.side == "US":
        return north_of_border > -site.margin_deg
    return north_of_border < site.margin_deg


def track(site: SdpsSite, radars: list[RadarSite], traj: Trajectories, duration: float,
          rng: np.random.Generator) -> tuple[Tracks, list[TrackSpan]]:
    times = np.arange(rng.uniform(0, site.period_s), duration, site.period_s)
    sample = np.clip(np.round(times).astype(np.int64), 0, len(traj.t) - 1)
    batch, flight = np.nonzero(traj.active()[:, sample].T)
    t = times[batch]
    state = traj.at(flight, t)
    keep = covered(radars, state) & in_area(site, state["lat"], state["lon"])
    batch, flight, t = batch[keep], flight[keep], t[keep]
    state = {k: v[keep] for k, v in state.items()}
    # Track error: small, and correlated from update to update like a smoother's.
    north = rng.normal(0, site.sigma_m, len(t))
    east = rng.normal(0, site.sigma_m, len(t))
    lat, lon, _h = pymap3d.enu2geodetic(east, north, 0 * east, state["lat"], state["lon"],
                                        state["alt_m"])
    numbers, spans = _system_numbers(flight, t, site.period_s)
    return Tracks(t, flight, numbers, lat, lon, state, batch, times), spans


def _system_numbers(flight: np.ndarray, t: np.ndarray, period: float,
                    ) -> tuple[np.ndarray, list[TrackSpan]]:
    numbers = np.zeros(len(flight), dtype=np.int64)
    current: dict[int, OpenSpan] = {}  # by flight
    spans: list[TrackSpan] = []
    counter = 0
    for i in range(len(flight)):
        f = int(flight[i])
        s = current.get(f)
        if s is not None and t[i] - s.t_last > 3 * period:  # lost coverage: a new track later
            spans.append(s.closed(f))
            s = None
        if s is None:
            counter = counter % 65535 + 1
            s = current[f] = OpenSpan(counter, float(t[i]), float(t[i]))
        s.t_last = float(t[i])
        numbers[i] = s.track_number
    spans.extend(s.closed(f) for f, s in current.items())
    return numbers, spans


def sdps_datagrams(site: SdpsSite, tracks: Tracks, flights: Flights, start_utc: float,
                   duration: float) -> list[Wire]:
    """Each update batch as CAT062 datablocks, then a CAT065 end-of-batch."""
    f = tracks.flight
    kind = np.asarray(flights.kind)[f]
    kind = np.where(np.isin(kind, NO_TRANSPONDER), "psr", kind)  # a drone's track: primary
    callsign = np.asarray([c or "" for c in flights.callsign], dtype=object)[f]
    fpl = flights.has_fpl[f] & (callsign != "")
    keys = [(str(kind[i]), bool(fpl[i])) for i in range(len(f))]
    tod = time_of_day(start_utc, tracks.t)
    x, y = stereographic(site).transform(tracks.lon, tracks.lat)
    st = tracks.state
    vx = st["gs_kt"] * KT * np.sin(np.radians(st["track_deg"]))
    vy = st["gs_kt"] * KT * np.cos(np.radians(st["track_deg"]))
    code = np.where(tracks.t < np.nan_to_num(flights.squawk_change_t[f], nan=np.inf),
                    flights.mode3a[f, 0], flights.mode3a[f, 1])
    fl_report = np.round(st["fl"] * 4) / 4

    def build(rows: np.ndarray, key: tuple[str, bool]) -> Columns:
        k, has_fpl = key
        n = len(rows)
        zeros = np.zeros(n, dtype=np.int64)
        items: dict[str, object] = {
            "010": {"SAC": np.full(n, site.sac), "SIC": np.full(n, site.sic)},
            "015": np.ones(n, dtype=np.int64),
            "070": tod[rows],
            "105": {"LAT": tracks.lat[rows], "LON": tracks.lon[rows]},
            "100": {"X": x[rows], "Y": y[rows]},
            "185": {"VX": vx[rows], "VY": vy[rows]},
            "210": {"AX": np.zeros(n), "AY": np.zeros(n)},
            "040": tracks.track_number[rows],
            "080": {"MON": zeros, "SPI": zeros, "MRH": zeros, "SRC": np.full(n, 4 if k != "psr"
                                                                           else 0),
                    "CNF": zeros, "SIM": zeros, "TSE": zeros, "TSB": zeros, "FPC":
                    np.full(n, int(has_fpl)), "AFF": zeros, "STP": zeros, "KOS": zeros,
                    "AMA": zeros, "MD4": zeros, "ME": zeros, "MI": zeros, "MD5": zeros,
                    "CST": zeros, "PSR": np.full(n, int(k != "psr")), "SSR": np.full(
                        n, int(k == "psr")), "MDS": np.full(n, int(k != "modes")), "ADS":
                    np.ones(n, dtype=np.int64)},
            "130": np.clip(st["alt_m"][rows] / FT, -1500, 150000),
            "220": np.clip(st["roc_fpm"][rows], -8000, 8000),
            "290": {"TRK": np.full(n, 60.0), "PSR": np.full(n, 1.0 if k != "modes" else 0.0),
                    "SSR": np.full(n, 0.25)},
        }
        if k != "psr":
            items["060"] = {"MODE3A": code[rows]}
            items["136"] = fl_report[rows]
            items["135"] = {"CTB": fl_report[rows]}
        if k == "modes":
            items["245"] = {"STI": zeros, "CHR": list(callsign[rows])}
            items["380"] = {"ADR": flights.icao24[f[rows]], "ID": list(callsign[rows])}
        if has_fpl:
            fr = f[rows]
            items["390"] = {
                "TAG": {"SAC": np.full(n, site.sac), "SIC": np.full(n, site.sic + 1)},
                "CS": list(callsign[rows]),
                "TAC": [flights.actype[i] or "" for i in fr],
                "WTC": [flights.wtc[i] or "" for i in fr],
                "DEP": [flights.dep[i] or "" for i in fr],
                "DST": [flights.dst[i] or "" for i in fr],
                "CFL": np.nan_to_num(flights.cfl[fr]),
            }
        return items

    records = encode_rows(62, keys, build)
    wires: list[Wire] = []
    send = tracks.batch_times + 0.25  # processing latency of an update cycle
    for b in range(len(tracks.batch_times)):
        rows = np.flatnonzero(tracks.batch == b)
        if send[b] >= duration:
            break
        for block in datablocks(62, [records[i] for i in rows]):
            wires.append(Wire(float(send[b]), site.name, site.group, site.port, block))
        wires.append(Wire(float(send[b]) + 0.001, site.name, site.group, site.port,
                          _end_of_batch(site, b, tod_at=float(time_of_day(
                              start_utc, tracks.batch_times[b:b + 1])[0]))))
    return wires


def _end_of_batch(site: SdpsSite, batch: int, tod_at: float) -> bytes:
    (record,) = encode_rows(65, [0], lambda rows, _k: {
        "010": {"SAC": np.array([site.sac]), "SIC": np.array([site.sic])},
        "000": np.array([2]), "015": np.array([1]), "030": np.array([tod_at]),
        "020": np.array([batch % 256])})
    return datablocks(65, [record])[0]
