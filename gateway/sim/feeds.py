"""Simulated plots and tracks as the datagrams a radar or SDPS puts on the wire.

A radar sends its plots one antenna sector at a time: when the beam crosses a sector
boundary, the plots of the sector just swept (sorted by azimuth) go out as CAT048 datablocks,
followed by a CAT034 sector-crossing message (a north marker at 0 degrees).  An SDPS sends
each track update as CAT062 datablocks, then a CAT065 end-of-batch.  Records of one shape are
encoded together by the vectorised packer.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from gateway.asterix import CATEGORIES
from gateway.asterix.pack import Columns, pack_records
from gateway.sim.radar import SEND_LATENCY_S, TYP_PSR, Plots, sector_of, send_time, stamp_time
from gateway.sim.scenario import RadarSite
from gateway.sim.traffic import Flights

MAX_DATAGRAM = 1400  # stay inside one Ethernet frame


@dataclass(frozen=True)
class Wire:
    """A datagram as sent: when, from which source, to which group and port."""

    t: float  # seconds from scenario start
    source: str  # sending site's name
    group: str
    port: int
    payload: bytes


def time_of_day(start_utc: float, t: np.ndarray) -> np.ndarray:
    return (start_utc + t) % 86400.0


K = TypeVar("K", bound=Hashable)


def encode_rows(category: int, keys: list[K], build: Callable[[np.ndarray, K], Columns],
                ) -> list[bytes]:
    """Encode records whose shape is given by ``keys[i]``: each shape packed at once.

    ``build(rows, key)`` returns the packer's items for the rows of that shape.
    """
    out: list[bytes] = [b""] * len(keys)
    by_key: dict[K, list[int]] = {}
    for i, k in enumerate(keys):
        by_key.setdefault(k, []).append(i)
    for key, rows in by_key.items():
        idx = np.asarray(rows)
        packed = pack_records(CATEGORIES[category], build(idx, key), len(idx))
        for i, rec in zip(rows, packed, strict=True):
            out[i] = rec.tobytes()
    return out


def datablocks(category: int, records: list[bytes]) -> list[bytes]:
    """Records split into datablocks of at most MAX_DATAGRAM bytes, one per datagram."""
    blocks: list[list[bytes]] = []
    current: list[bytes] = []
    size = 3
    for r in records:
        if current and size + len(r) > MAX_DATAGRAM:
            blocks.append(current)
            current, size = [], 3
        current.append(r)
        size += len(r)
    if current:
        blocks.append(current)
    return [bytes([category]) + (3 + sum(map(len, b))).to_bytes(2, "big") + b"".join(b)
            for b in blocks]


def azimuth(deg: np.ndarray) -> np.ndarray:
    """Angles for 16-bit azimuth items: in [0, 360), and one just under 360 that would round
    up to 2^16 reads 0 (north), as the radar's own encoder would wrap it."""
    deg = np.asarray(deg, dtype=np.float64) % 360.0
    return np.where(np.round(deg * 2**16 / 360.0) >= 2**16, 0.0, deg)


def _bds40(fl_selected: np.ndarray) -> np.ndarray:
    """BDS 4,0 MB field with only the MCP/FCU selected altitude (status bit, 16 ft LSB)."""
    alt = np.clip(np.round(np.nan_to_num(fl_selected) * 100 / 16), 0, 4095).astype(np.int64)
    return (np.int64(1) << 55) | (alt << 43)


def radar_records(site: RadarSite, plots: Plots, flights: Flights, start_utc: float,
                  ) -> list[bytes]:
    """One CAT048 record per plot, with the items a Mode S radar sends for its kind."""
    f = np.maximum(plots.flight, 0)
    icao24 = flights.icao24[f]
    callsign = np.asarray([c or "" for c in flights.callsign], dtype=object)[f]
    kind = np.asarray(flights.kind)[f]
    # Mode S data come with a Mode S reply: a PSR-only plot of the same aircraft has none.
    modes = (plots.flight >= 0) & (kind == "modes") & (plots.typ != TYP_PSR)
    keys = [(int(plots.typ[i]), bool(modes[i]), bool(callsign[i]) and bool(modes[i]),
             bool(plots.track_number[i] >= 0)) for i in range(len(plots.t))]
    tod = time_of_day(start_utc, stamp_time(site, plots.t))

    def build(rows: np.ndarray, key: tuple[int, bool, bool, bool]) -> Columns:
        typ, is_modes, has_id, tracked = key
        n = len(rows)
        ssr = typ != TYP_PSR
        psr = typ in (1, 3, 7)
        plot_char: dict[str, object] = {}
        if ssr:
            plot_char.update(SRL=np.full(n, 0.395), SRR=np.full(n, 8 if is_modes else 12),
                             SAM=np.full(n, -55))
        if psr:
            plot_char.update(PRL=np.full(n, 0.615), PAM=np.full(n, 40))
        items: dict[str, object] = {
            "010": {"SAC": np.full(n, site.sac), "SIC": np.full(n, site.sic)},
            "140": tod[rows],
            "020": {"TYP": np.full(n, typ)},
            "040": {"RHO": np.minimum(plots.rho_nm[rows], 255.99),
                    "THETA": azimuth(plots.theta_deg[rows])},
            "130": plot_char,
        }
        if ssr:
            items["070"] = {"MODE3A": plots.mode3a[rows]}
            items["090"] = {"FL": plots.fl[rows]}
        if is_modes:
            items["220"] = icao24[rows]
            if has_id:
                items["240"] = list(callsign[rows])
            items["250"] = [{"MBDATA": _bds40(flights.cfl[f[rows]]), "BDS1": np.full(n, 4),
                             "BDS2": np.zeros(n, dtype=np.int64)}]
        if tracked:
            items["161"] = {"TRN": plots.track_number[rows]}
            items["200"] = {"GSP": np.clip(plots.gs_kt[rows], 0, 3600) / 3600.0,
                            "HDG": azimuth(plots.hdg_deg[rows])}
            items["170"] = {"CNF": plots.tentative[rows].astype(np.int64),
                            "RAD": np.full(n, 0 if (ssr and psr) else (2 if ssr else 1))}
        if is_modes:
            items["230"] = {"COM": np.ones(n, dtype=np.int64), "MSSC": np.ones(n, np.int64),
                            "ARC": np.ones(n, np.int64), "AIC": np.ones(n, np.int64)}
        return items

    return encode_rows(48, keys, build)


def radar_datagrams(site: RadarSite, plots: Plots, flights: Flights, start_utc: float,
                    duration: float) -> list[Wire]:
    """Sector batches of CAT048 plots, each followed by its CAT034 crossing message."""
    records = radar_records(site, plots, flights, start_utc)
    scan_start = plots.scan_start[plots.scan]
    batch = plots.scan * site.sectors + sector_of(site, scan_start, plots.t)
    sent = send_time(site, scan_start, plots.t)
    order = np.lexsort((plots.theta_deg, batch))
    wires: list[Wire] = []
    starts = np.flatnonzero(np.r_[True, batch[order][1:] != batch[order][:-1]])
    for s, e in zip(starts, np.r_[starts[1:], len(order)], strict=True):
        t_end = float(sent[order[s]])
        for block in datablocks(48, [records[i] for i in order[s:e]]):
            wires.append(Wire(t_end, site.name, site.group, site.port, block))
    wires.extend(_service_messages(site, plots.scan_start, start_utc, duration))
    wires.sort(key=lambda w: w.t)
    return wires


def _service_messages(site: RadarSite, scan_start: np.ndarray, start_utc: float,
                      duration: float) -> list[Wire]:
    """CAT034 north markers and sector crossings, just after the plots of each sector."""
    nsec = site.sectors
    t = (scan_start[:, None] + np.arange(nsec)[None, :] * site.period_s / nsec).ravel()
    b = np.tile(np.arange(nsec), len(scan_start))
    sent = t + SEND_LATENCY_S * 1.5
    keep = (t >= 0) & (sent < duration)
    t, b, sent = t[keep], b[keep], sent[keep]
    keys = [bool(x == 0) for x in b]
    tod = time_of_day(start_utc, t)

    def build(rows: np.ndarray, north: bool) -> Columns:
        n = len(rows)
        items: dict[str, object] = {
            "010": {"SAC": np.full(n, site.sac), "SIC": np.full(n, site.sic)},
            "000": np.full(n, 1 if north else 2), "030": tod[rows]}
        if north:
            items["041"] = np.full(n, site.period_s)
        else:
            items["020"] = azimuth(b[rows] * 360.0 / nsec)
        return items

    records = encode_rows(34, keys, build)
    return [Wire(float(s), site.name, site.group, site.port, datablocks(34, [r])[0])
            for s, r in zip(sent, records, strict=True)]
