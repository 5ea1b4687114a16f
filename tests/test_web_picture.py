"""The web map's picture (gateway/web/picture.py): events, gone tracks, bounds, the plots
behind a track, hostile sizes.  Sans-IO: every time is an argument."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.messages import (
    Aidc,
    Alert,
    Coordination,
    FlightPlan,
    Fused,
    Plot,
    Source,
    SourceRef,
)
from gateway.publish.batch import Kind, Published
from gateway.web.picture import TRAIL_LONG, TRAIL_SHORT, AirPicture, Limits, distance_nm

T0 = 1_767_225_600.0
RADAR = SourceRef(sac=0, sic=101, cat=48, track_number=None)
SDPS = SourceRef(sac=0, sic=200, cat=62, track_number=7)


def fused(track_id: str = "T1", t: float = T0, lat: float = 25.0, lon: float = -100.0,
          **kw: Any) -> Fused:
    fields: dict[str, Any] = dict(
        id=track_id, t=t, state="confirmed", lat=lat, lon=lon, fl=350.0, gs_kt=450.0,
        trk_deg=90.0, roc_fpm=0.0, mode3a="1234", icao24="0D0ABC", callsign="AMX123",
        pos_sigma_m=50.0, sources=[RADAR, SDPS])
    fields.update(kw)
    return Fused(**fields)


def plot(t: float, lat: float, lon: float, *, sic: int = 101, mode3a: str | None = None,
         icao24: str | None = None) -> Plot:
    return Plot(t=t, src=Source(sac=0, sic=sic, cat=48), lat=lat, lon=lon, rho_nm=10.0,
                theta_deg=0.0, fl=350.0, mode3a=mode3a, icao24=icao24, callsign=None,
                track_number=None, gs_kt=None, hdg_deg=None, detection="ssr", flags=[])


def picture_of(*batches: Published, limits: Limits | None = None) -> AirPicture:
    p = AirPicture(limits)
    p.take(list(batches))
    return p


def test_snapshot_holds_each_live_track_with_its_short_trail() -> None:
    p = picture_of(Published(Kind.PICTURE, [
        fused(t=T0 + i, lat=25.0 + i * 0.01) for i in range(30)]))
    snap = p.snapshot(T0 + 30)
    assert snap["t"] == T0 + 30
    (track,) = snap["tracks"]
    assert track["id"] == "T1" and track["kind"] == "mode-s"
    assert track["callsign"] == "AMX123" and track["icao24"] == "0D0ABC"
    assert track["sources"] == ["0-101", "0-200"]
    assert track["handoff"] == "none" and track["from"] is None
    assert len(track["trail"]) == TRAIL_SHORT
    assert track["trail"][-1] == [25.29, -100.0]  # newest last
    assert track["trail"][0] == [25.1, -100.0]


def test_update_carries_only_what_changed_since_the_previous_update() -> None:
    p = picture_of(Published(Kind.PICTURE, [fused("T1"), fused("T2")]))
    first = p.update(T0 + 1)
    assert sorted(t["id"] for t in first["tracks"]) == ["T1", "T2"]
    assert all("trail" not in t for t in first["tracks"])
    p.take([Published(Kind.PICTURE, [fused("T2", t=T0 + 2, lat=25.1)])])
    second = p.update(T0 + 3)
    assert [t["id"] for t in second["tracks"]] == ["T2"]
    assert p.update(T0 + 4)["tracks"] == []


def test_an_ended_track_is_gone_once() -> None:
    p = picture_of(Published(Kind.PICTURE, [fused("T1"), fused("T2")]))
    p.update(T0 + 1)
    p.take([Published(Kind.PICTURE, [fused("T1", t=T0 + 2, state="ended")])])
    event = p.update(T0 + 3)
    assert event["gone"] == ["T1"] and event["tracks"] == []
    assert [t["id"] for t in p.snapshot(T0 + 3)["tracks"]] == ["T2"]
    assert p.update(T0 + 4)["gone"] == []
    assert p.details("T1") is None


def test_kinds_and_handoff_state() -> None:
    plan = FlightPlan(callsign="AMX1", dep=None, dst=None, cfl=None, type=None, wtc=None,
                      coordination=Coordination(state="transferred", from_="MMTY",
                                                to="KZHU", cop=None, eto=None, level=None))
    idle = msgspec.structs.replace(plan, coordination=msgspec.structs.replace(
        plan.coordination, state="idle"))
    p = picture_of(Published(Kind.PICTURE, [
        fused("S", fpl=plan), fused("AC", icao24=None, fpl=idle),
        fused("P", icao24=None, mode3a=None, fl=None, callsign=None)]))
    tracks = {t["id"]: t for t in p.snapshot(T0)["tracks"]}
    assert tracks["S"]["kind"] == "mode-s"
    assert (tracks["S"]["handoff"], tracks["S"]["from"], tracks["S"]["to"]) == (
        "transferred", "MMTY", "KZHU")
    assert tracks["AC"]["kind"] == "mode-ac" and tracks["AC"]["handoff"] == "none"
    assert tracks["P"]["kind"] == "primary"
    details = p.details("S")
    assert details is not None and details["fpl"]["coordination"]["from"] == "MMTY"


def test_plots_aidc_and_alerts_reach_each_client_once() -> None:
    """A snapshot between two updates holds what the previous update carried; the next
    update the rest: a new client neither misses nor repeats one."""
    p = AirPicture()
    p.take([Published(Kind.PLOTS, [plot(T0, 25.0, -100.0)], source=(0, 101))])
    p.update(T0 + 1)
    aidc = Aidc(t=T0 + 1.5, msg="ABI", from_="MMTY", to="KZHU", serial=1, ref=None,
                track_id="T1", callsign="AMX1", text="(ABI-AMX1)")
    alert = Alert(t=T0 + 1.6, type="uncoordinated-crossing", track_id="T1", text="crossed")
    p.take([Published(Kind.PLOTS, [plot(T0 + 1.5, 25.1, -100.0)], source=(0, 101)),
            Published(Kind.AIDC, [aidc]), Published(Kind.ALERTS, [alert])])
    snap = p.snapshot(T0 + 1.7)
    assert [row[1] for row in snap["plots"]["0-101"]] == [25.0]
    assert snap["aidc"] == [] and snap["alerts"] == []
    update = p.update(T0 + 2)
    assert [row[1] for row in update["plots"]["0-101"]] == [25.1]
    assert update["aidc"] == [{"t": T0 + 1.5, "msg": "ABI", "from": "MMTY", "to": "KZHU",
                               "callsign": "AMX1", "track_id": "T1", "serial": 1}]
    assert update["alerts"][0]["type"] == "uncoordinated-crossing"
    assert update["sources"] == {"0-101": 0.5}
    later = p.snapshot(T0 + 3)
    assert len(later["aidc"]) == 1 and len(later["plots"]["0-101"]) == 2


def test_old_plots_leave_the_window() -> None:
    p = AirPicture()
    p.take([Published(Kind.PLOTS, [plot(T0, 25.0, -100.0)], source=(0, 101)),
            Published(Kind.PLOTS, [plot(T0 + 61, 25.2, -100.0)], source=(0, 101))])
    assert p.snapshot(T0 + 61)["plots"] == {}  # a snapshot: only what an update carried
    p.update(T0 + 62)
    assert [row[1] for row in p.snapshot(T0 + 62)["plots"]["0-101"]] == [25.2]


def test_a_flood_of_track_ids_is_bounded_and_counted() -> None:
    limits = Limits(max_tracks=10, max_plots=100, plots_per_event=10, aidc_log=10,
                    alert_log=10)
    p = AirPicture(limits)
    p.take([Published(Kind.PICTURE, [fused(f"X{i}", t=T0 + i) for i in range(1000)])])
    assert len(p.tracks) == 10
    assert p.counters["tracks-dropped"] == 990
    event = p.update(T0 + 1000)
    assert sorted(t["id"] for t in event["tracks"]) == sorted(f"X{i}" for i in range(990, 1000))
    assert len(event["gone"]) == 2 * 10  # gone ids listed per event are bounded too
    assert p.counters["gone-dropped"] == 990 - 20
    # plots and logs
    p.take([Published(Kind.PLOTS, [plot(T0 + 1000 + i * 0.01, 25.0, -100.0)
                                   for i in range(500)], source=(0, 101))])
    p.take([Published(Kind.ALERTS, [Alert(t=T0 + 1001, type="x", track_id=None, text="y" * 4096)
                                    for _ in range(50)])])
    assert len(p.plots["0-101"]) == 100 and p.counters["plots-dropped"] == 400
    assert len(p.alerts) == 10 and p.counters["log-dropped"] == 40
    event = p.update(T0 + 1002)
    assert len(event["plots"]["0-101"]) == 10  # the newest ten
    assert event["plots"]["0-101"][-1][0] == round(T0 + 1000 + 4.99, 2)
    assert len(event["alerts"]) == 10


def test_long_trail_is_a_bounded_ring_sampled_by_time() -> None:
    p = picture_of(Published(Kind.PICTURE, [
        fused(t=T0 + i * 0.5, lat=20.0 + i * 0.001) for i in range(2000)]))
    details = p.details("T1")
    assert details is not None
    trail = details["track"]["trail"]
    assert len(trail) == TRAIL_LONG  # one a second of picture time, the last 300
    assert trail[-1] == [round(20.0 + 1998 * 0.001, 5), -100.0]


def test_plots_behind_a_track() -> None:
    """By address where both have one; else by Mode 3/A from a radar of the track; else
    the nearest of a radar of the track within 2 s and 3 NM."""
    p = AirPicture()
    track = [fused("T1", t=T0 + i, lat=25.0 + i * 0.01, icao24="0D0ABC", mode3a="1234")
             for i in range(10)]
    plots_101 = [
        plot(T0 + 1, 25.01, -100.0, icao24="0D0ABC"),  # address: ours
        plot(T0 + 1, 25.01, -100.0, icao24="0D0FFF", mode3a="1234"),  # another address
        plot(T0 + 2, 25.02, -100.0, mode3a="1234"),  # no address: the code
        plot(T0 + 2, 25.02, -100.0, mode3a="4321"),  # another code
        plot(T0 + 3, 25.03, -100.01),  # primary, near (0.5 NM)
        plot(T0 + 3, 25.03, -100.005),  # primary, nearer: only this one of the scan
        plot(T0 + 4, 25.5, -100.0),  # primary, 28 NM away
        plot(T0 + 30, 25.09, -100.0),  # primary, 21 s after the track's last position
    ]
    plots_102 = [plot(T0 + 5, 25.05, -100.0, sic=102),  # a radar not behind it
                 plot(T0 + 5, 25.05, -100.0, sic=102, icao24="0D0ABC")]  # but this one is
    p.take([Published(Kind.PICTURE, track),
            Published(Kind.PLOTS, plots_101, source=(0, 101)),
            Published(Kind.PLOTS, plots_102, source=(0, 102))])
    details = p.details("T1")
    assert details is not None
    got = [(d["src"], d["t"] - T0, d["lon"], d["mode3a"], d["icao24"])
           for d in details["plots"]]
    assert got == [("0-101", 1, -100.0, None, "0D0ABC"), ("0-101", 2, -100.0, "1234", None),
                   ("0-101", 3, -100.005, None, None), ("0-102", 5, -100.0, None, "0D0ABC")]


def test_hostile_ids_and_unknown_tracks() -> None:
    p = picture_of(Published(Kind.PICTURE, [fused("T1")]))
    assert p.details("T2") is None
    assert p.details("x" * 100_000) is None
    p.take([Published(Kind.PICTURE, [fused("N", lat=None, lon=None)])])
    assert [t["id"] for t in p.snapshot(T0)["tracks"]] == ["T1"]  # not placeable: not shown
    p.take([Published(Kind.PLOTS, ["not a plot", plot(T0, 25.0, -100.0)], source=None)])
    p.take([Published(Kind.AIDC, ["garbage"])])
    assert p.update(T0)["plots"] == {}


def test_distance() -> None:
    assert abs(distance_nm(0.0, 0.0, 1.0, 0.0) - 60.04) < 0.05
