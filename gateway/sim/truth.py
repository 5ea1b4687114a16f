"""Ground truth of a simulation: where every aircraft was, and which track was which.

One JSON object per active flight per second (``kind: "truth"``), then one per source track
number span (``kind: "track-map"``): the mapping from each source's track numbers to the
flights over time, which is what association is scored against; then one per flight that
files a plan (``kind: "plan"``: identification, SSR code as filed and after a change in
flight, type, wake, departure, destination, cruise level), which the flight plan messages
of ``simulate --flight-plans`` carry and coordination messages are checked against; then one
per radar site (``kind: "radar"``: its range bias and gain, azimuth bias and time offset).
Drones are ``"transponder": "drone"``: no transponder, like ``"psr"``.
``.gz`` paths are gzipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import numpy as np

from gateway.sim.plans import changed_code, has_plan
from gateway.sim.radar import TrackSpan
from gateway.sim.scenario import RadarSite
from gateway.sim.traffic import Flights, Trajectories


def _json(value: str | None) -> str:
    return "null" if value is None else json.dumps(value)


def radar_line(site: RadarSite) -> str:
    """What a radar site really is and how it errs: what registration is scored against."""
    return json.dumps({"kind": "radar", "sac": site.sac, "sic": site.sic, "name": site.name,
                       "bias_range_m": site.bias_range_m, "range_gain": site.range_gain,
                       "bias_azimuth_deg": site.bias_azimuth_deg,
                       "time_offset_s": site.time_offset_s}, separators=(",", ":"))


def truth_lines(flights: Flights, traj: Trajectories, start_utc: float,
                spans: dict[tuple[int, int, int], list[TrackSpan]],
                radars: Sequence[RadarSite] = ()) -> Iterator[str]:
    """Truth lines in time order; formatted from gathered columns, not one dict a line
    (an hour of the border scenario is over a million of them).  The ``radars`` lines come
    last, so a truth file written before they existed is the start of the same file now."""
    k, f = np.nonzero(traj.active().T)  # time-major: every flight of second 0, then 1, ...
    t = traj.t[k]
    changed = t >= np.nan_to_num(flights.squawk_change_t[f], nan=np.inf)
    code = flights.mode3a[f, changed.astype(np.int64)]
    ids = [json.dumps(i) for i in flights.id]
    fixed = [f'"callsign":{_json(flights.callsign[i])},"icao24":'
             f'{_json(None if flights.icao24[i] < 0 else f"{int(flights.icao24[i]):06X}")}'
             for i in range(len(flights.id))]
    kinds = [json.dumps(x) for x in flights.kind]
    columns = zip(
        (start_utc + t).round(3).tolist(), f.tolist(),
        traj.lat[f, k].round(7).tolist(), traj.lon[f, k].round(7).tolist(),
        traj.alt_m[f, k].round(1).tolist(), traj.fl[f, k].round(2).tolist(),
        traj.gs_kt[f, k].round(2).tolist(), traj.track_deg[f, k].round(3).tolist(),
        traj.roc_fpm[f, k].round(1).tolist(), code.tolist(), strict=True)
    for when, i, lat, lon, alt, fl, gs, trk, roc, c in columns:
        mode3a = "null" if c < 0 else f'"{c:04o}"'
        yield (f'{{"kind":"truth","t":{when},"flight":{ids[i]},"lat":{lat},"lon":{lon},'
               f'"alt_m":{alt},"fl":{fl},"gs_kt":{gs},"trk_deg":{trk},"roc_fpm":{roc},'
               f'{fixed[i]},"mode3a":{mode3a},"transponder":{kinds[i]}}}')
    for (sac, sic, cat), items in sorted(spans.items()):
        for s in items:
            yield json.dumps({"kind": "track-map", "src": {"sac": sac, "sic": sic, "cat": cat},
                              "track_number": s.track_number, "flight": flights.id[s.flight],
                              "t_from": round(start_utc + s.t_from, 3),
                              "t_to": round(start_utc + s.t_to, 3)}, separators=(",", ":"))
    for i in range(len(flights.id)):
        if not has_plan(flights, i):
            continue
        code = int(flights.mode3a[i, 0])
        cfl = float(flights.cfl[i])
        yield json.dumps({"kind": "plan", "flight": flights.id[i], "callsign": flights.callsign[i],
                          "ssr": f"{code:04o}" if code >= 0 else None,
                          "ssr_changed": changed_code(flights, i), "type": flights.actype[i],
                          "wtc": flights.wtc[i], "dep": flights.dep[i], "dst": flights.dst[i],
                          "cfl": None if np.isnan(cfl) else cfl}, separators=(",", ":"))
    for site in radars:
        yield radar_line(site)
