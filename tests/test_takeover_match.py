"""The takeover's matching of the new active's tracks to the old active's saved ids
(``gateway.associate.takeover``)."""

from __future__ import annotations

import math

import pytest

from gateway.associate.takeover import TrackState, distance_m, match

T = 1_779_868_800.0
KM_LAT = 1000.0 / (math.radians(1.0) * 6371008.8)  # degrees of latitude per km


def st(id_: str, address: int = -1, callsign: str | None = None, code: int = -1,
       lat: float = 27.0, lon: float = -106.0, t: float = T, ve: float = 0.0,
       vn: float = 0.0) -> TrackState:
    return TrackState(id_, address, callsign, code, lat, lon, t, ve, vn)


def test_the_same_address_takes_the_saved_id() -> None:
    m = match([st("T000007", address=0xABC123)], [st("T000002", address=0xABC123)], T)
    assert m.ids == {"T000002": "T000007"} and m.by == {"T000002": "address"}
    assert not m.unmatched and not m.missing and not m.dropped


def test_the_address_matches_wherever_the_track_is() -> None:
    far = st("x", address=0xABC123, lat=30.0)
    assert match([st("T1", address=0xABC123)], [far], T).ids == {"x": "T1"}


def test_different_addresses_never_match_even_with_the_same_callsign() -> None:
    m = match([st("T1", address=1, callsign="AAL1")], [st("x", address=2, callsign="AAL1")], T)
    assert m.ids == {} and m.unmatched == ["x"] and m.missing == ["T1"]


def test_the_callsign_matches_when_one_side_has_no_address() -> None:
    m = match([st("T1", callsign="AMX402")], [st("x", address=5, callsign="AMX402")], T)
    assert m.ids == {"x": "T1"} and m.by == {"x": "callsign"}


def test_different_callsigns_do_not_match_by_code() -> None:
    m = match([st("T1", callsign="AMX402", code=0o1234)],
              [st("x", callsign="AMX403", code=0o1234)], T)
    assert m.ids == {}


def test_the_code_matches_near_the_saved_position() -> None:
    m = match([st("T1", code=0o4321)], [st("x", code=0o4321, lat=27.0 + 1.5 * KM_LAT)], T)
    assert m.ids == {"x": "T1"} and m.by == {"x": "code"}


def test_the_code_does_not_match_far_from_the_saved_position() -> None:
    m = match([st("T1", code=0o4321)], [st("x", code=0o4321, lat=27.0 + 2.5 * KM_LAT)], T)
    assert m.ids == {} and m.missing == ["T1"] and m.unmatched == ["x"]


def test_the_saved_position_is_carried_on_by_its_velocity() -> None:
    # 250 m/s north for 20 s: 5 km on, where the track is now
    saved = st("T1", code=0o4321, vn=250.0)
    moved = st("x", code=0o4321, lat=27.0 + 5 * KM_LAT, t=T + 20)
    assert distance_m(saved, moved) == pytest.approx(0.0, abs=1.0)
    assert match([saved], [moved], T + 20).ids == {"x": "T1"}


def test_tracks_without_identity_match_by_position_alone() -> None:
    saved = [st("T1", lat=27.0), st("T2", lat=27.0 + 10 * KM_LAT)]
    own = [st("b", lat=27.0 + 10.4 * KM_LAT), st("a", lat=27.0 + 0.3 * KM_LAT),
           st("far", lat=27.0 + 5 * KM_LAT)]
    m = match(saved, own, T)
    assert m.ids == {"a": "T1", "b": "T2"} and m.by["a"] == "position"
    assert m.unmatched == ["far"]


def test_a_track_with_an_identity_never_matches_one_without_by_position() -> None:
    m = match([st("T1")], [st("x", code=0o1234), st("y", callsign="AMX1")], T)
    assert m.ids == {} and m.missing == ["T1"]


def test_a_primary_track_older_than_a_minute_does_not_match() -> None:
    assert match([st("T1", t=T - 61)], [st("x")], T).ids == {}


def test_an_own_track_without_anything_in_common_is_unmatched() -> None:
    m = match([st("T1", address=7)], [st("x", code=0o1000)], T)
    assert m.ids == {} and m.unmatched == ["x"] and m.missing == ["T1"]


def test_the_address_beats_the_callsign() -> None:
    saved = [st("T1", callsign="AMX1"), st("T2", address=9, callsign="AMX1")]
    m = match(saved, [st("x", address=9, callsign="AMX1")], T)
    assert m.ids == {"x": "T2"} and m.missing == ["T1"]


def test_the_callsign_beats_the_code() -> None:
    saved = [st("T1", code=0o2345), st("T2", callsign="AMX1", lat=28.0)]
    m = match(saved, [st("x", callsign="AMX1", code=0o2345)], T)
    assert m.ids == {"x": "T2"}


def test_one_to_one_the_nearer_takes_the_id() -> None:
    saved = [st("T1", code=0o7000)]
    own = [st("far", code=0o7000, lat=27.0 + 1.0 * KM_LAT),
           st("near", code=0o7000, lat=27.0 + 0.2 * KM_LAT)]
    m = match(saved, own, T)
    assert m.ids == {"near": "T1"} and m.unmatched == ["far"]


def test_two_saved_ids_for_two_tracks_of_one_code_each_go_to_the_nearer() -> None:
    saved = [st("T1", code=0o7000), st("T2", code=0o7000, lat=27.0 + 1.5 * KM_LAT)]
    own = [st("a", code=0o7000, lat=27.0 + 1.4 * KM_LAT), st("b", code=0o7000)]
    assert match(saved, own, T).ids == {"b": "T1", "a": "T2"}


def test_the_order_given_does_not_change_the_result() -> None:
    saved = [st("T1", code=0o7000), st("T2", code=0o7000, lat=27.0 + 0.5 * KM_LAT)]
    own = [st("a", code=0o7000, lat=27.0 + 0.25 * KM_LAT), st("b", code=0o7000,
                                                            lat=27.0 + 0.25 * KM_LAT)]
    one = match(saved, own, T)
    other = match(saved[::-1], own[::-1], T)
    assert one == other and len(one.ids) == 2


def test_an_address_on_two_own_tracks_goes_to_the_nearer() -> None:
    own = [st("b", address=3, lat=27.1), st("a", address=3, lat=27.0 + 0.1 * KM_LAT)]
    m = match([st("T1", address=3)], own, T)
    assert m.ids == {"a": "T1"} and m.unmatched == ["b"]


def test_a_state_older_than_a_minute_matches_by_address_only() -> None:
    old = T - 120
    saved = [st("T1", address=4, t=old), st("T2", callsign="AMX9", t=old),
             st("T3", code=0o3333, t=old)]
    own = [st("a", address=4), st("b", callsign="AMX9"), st("c", code=0o3333)]
    m = match(saved, own, T)
    assert m.ids == {"a": "T1"} and m.missing == ["T2", "T3"]


def test_a_state_older_than_an_hour_is_dropped() -> None:
    m = match([st("T1", address=4, t=T - 3601)], [st("a", address=4)], T)
    assert m.ids == {} and m.dropped == ["T1"] and m.missing == []


def test_a_state_from_the_future_is_dropped() -> None:
    assert match([st("T1", address=4, t=T + 7200)], [st("a", address=4)], T).dropped == ["T1"]


def test_a_repeated_saved_id_counts_once() -> None:
    saved = [st("T1", address=4), st("T1", address=5)]
    m = match(saved, [st("a", address=4), st("b", address=5)], T)
    assert m.ids == {"a": "T1"} and m.unmatched == ["b"]


def test_nothing_saved_leaves_every_own_track_unmatched() -> None:
    m = match([], [st("b", address=1), st("a")], T)
    assert m.ids == {} and m.unmatched == ["a", "b"]


def test_across_the_antimeridian() -> None:
    saved = st("T1", code=0o1111, lat=0.0, lon=179.999)
    own = st("x", code=0o1111, lat=0.0, lon=-179.999)
    assert distance_m(saved, own) < 300
    assert match([saved], [own], T).ids == {"x": "T1"}


def test_a_state_survives_its_json() -> None:
    s = st("T000042", address=0xABCDEF, callsign="AMX402", code=0o4567, ve=-120.5, vn=80.25)
    again = TrackState.from_json(s.to_json())
    assert again.id == s.id and again.address == s.address and again.callsign == "AMX402"
    assert again.ve == -120.5 and again.vn == pytest.approx(80.2, abs=0.1)


@pytest.mark.parametrize("bad", [
    None, [], "T1", ["T1", -1, None, -1, 27.0, -106.0, T, 0.0],
    ["", -1, None, -1, 27.0, -106.0, T, 0.0, 0.0],
    ["T1", 2 ** 30, None, -1, 27.0, -106.0, T, 0.0, 0.0],
    ["T1", True, None, -1, 27.0, -106.0, T, 0.0, 0.0],
    ["T1", -1, 7, -1, 27.0, -106.0, T, 0.0, 0.0],
    ["T1", -1, None, -1, 91.0, -106.0, T, 0.0, 0.0],
    ["T1", -1, None, -1, 27.0, -106.0, float("nan"), 0.0, 0.0],
    ["T1", -1, None, -1, 27.0, -106.0, "now", 0.0, 0.0],
])
def test_a_bad_stored_state_is_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        TrackState.from_json(bad)
