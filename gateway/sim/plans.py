"""The filed flight plans of a simulation's flights, as an FDPS would send them (ICAO FPL),
and a CHG for each flight whose SSR code changes in flight.

Every flight with a plan (``Flights.has_fpl``: those with a transponder) files one FPL: its
identification and first Mode 3/A code (field 7), IFR scheduled (8), its type and wake
category (9), standard equipment for its transponder (10), departure and an EOBT ten minutes
before its take-off (13), a cruise speed, its cruise level and a direct route (15), its
destination and an estimated elapsed time (16: the time it took to its last simulated
position, then the great-circle distance to go at its type's cruise speed), and the DOF
(18).  The messages are written by ``gateway.flightplan.ats``
(and so parse with it).
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator

import numpy as np

from gateway.flightplan.ats import AtsMessage, Filed, filed
from gateway.sim.scenario import Airport, Scenario
from gateway.sim.traffic import Flights, Trajectories

TAXI_S = 600.0  # EOBT to take-off
APPROACH_S = 600.0  # added to the elapsed time estimated
EARTH_RADIUS_NM = 3440.065


def _distance_nm(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return EARTH_RADIUS_NM * math.acos(max(-1.0, min(1.0, c)))


def _hhmm(seconds: float) -> str:
    minutes = int(math.ceil(seconds / 60.0))
    return f"{min(minutes // 60, 99):02d}{minutes % 60:02d}"


def has_plan(flights: Flights, i: int) -> bool:
    """Whether flight ``i`` files a plan: it has one, and everything a plan must say."""
    return bool(flights.has_fpl[i]) and None not in (
        flights.callsign[i], flights.dep[i], flights.dst[i], flights.actype[i], flights.wtc[i])


def flight_plan(scenario: Scenario, flights: Flights, traj: Trajectories,
                i: int) -> Filed | None:
    """Flight ``i``'s plan as filed; None for a flight without one."""
    if not has_plan(flights, i):
        return None
    callsign, dep, dst, actype, wtc = (flights.callsign[i], flights.dep[i], flights.dst[i],
                                       flights.actype[i], flights.wtc[i])
    assert callsign and dep and dst and actype and wtc  # has_plan
    airports = {a.icao: a for a in scenario.airports}
    cruise_kt = next((kt for t, _w, kt in scenario.aircraft_types if t == actype), 450.0)
    eet_s = _elapsed_s(traj, i, float(flights.t_off[i]), airports[dst], cruise_kt)
    off = scenario.start_utc + float(flights.t_off[i]) - TAXI_S
    when = datetime.datetime.fromtimestamp(off - off % 60, tz=datetime.UTC)
    cfl = float(flights.cfl[i])
    level = "VFR" if math.isnan(cfl) else f"F{round(cfl):03d}"
    code = int(flights.mode3a[i, 0])
    modes = flights.kind[i] == "modes"
    return Filed(
        callsign=callsign, ssr=f"{code:04o}" if code >= 0 else None, rules="IS", number=None,
        type=actype, wtc=wtc, equipment="SDE2E3FGHIRWY/LB1" if modes else "SDFGRY/C",
        dep=dep, eobt=when.strftime("%H%M"), route=f"N{round(cruise_kt):04d}{level} DCT",
        dst=dst, eet=_hhmm(eet_s), alternates=None, other=f"DOF/{when.strftime('%y%m%d')}")


def _elapsed_s(traj: Trajectories, i: int, t_off: float, dst: Airport,
               cruise_kt: float) -> float:
    """The estimated elapsed time an operator would file, well informed: the time the
    flight took to its last position in the simulation, then the great-circle distance
    from there to the destination at cruise speed, plus ten minutes of approach."""
    seen = np.flatnonzero(~np.isnan(traj.lat[i]))
    last = int(seen[-1])
    to_go = _distance_nm(float(traj.lat[i, last]), float(traj.lon[i, last]), dst.lat, dst.lon)
    return float(traj.t[last]) - t_off + to_go / cruise_kt * 3600.0 + APPROACH_S


def changed_code(flights: Flights, i: int) -> str | None:
    """The code flight ``i`` changes to in flight, if it does."""
    before, after = (int(c) for c in flights.mode3a[i])
    if math.isnan(float(flights.squawk_change_t[i])) or after == before or after < 0:
        return None
    return f"{after:04o}"


def plan_messages(scenario: Scenario, flights: Flights,
                  traj: Trajectories) -> Iterator[AtsMessage]:
    """Each flight's FPL, in flight order, then a CHG of field 7 for each code change."""
    changes: list[AtsMessage] = []
    for i in range(len(flights.id)):
        plan = flight_plan(scenario, flights, traj, i)
        if plan is None:
            continue
        yield filed(plan)
        code = changed_code(flights, i)
        if code is not None:
            changes.append(AtsMessage("CHG", plan.callsign, None, plan.dep, None, plan.dst,
                                      plan.other, ((7, f"{plan.callsign}/A{code}"),)))
    yield from changes


def plan_text(scenario: Scenario, flights: Flights, traj: Trajectories) -> Iterator[str]:
    """The plan file's lines: one message a line."""
    for message in plan_messages(scenario, flights, traj):
        yield message.text()
