"""The plans on file and their code-callsign correlation with fused tracks: keys, windows,
CHG/CNL/DLA, bounds, and ambiguity reported rather than guessed."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.flightplan.ats import AtsSyntaxError, parse
from gateway.flightplan.book import Book, dof_epoch, nearest
from gateway.flightplan.correlate import Correlator
from gateway.messages import Fused

DOF = "261204"
DAY0 = datetime.datetime(2026, 12, 4, tzinfo=datetime.UTC).timestamp()
T1230 = DAY0 + 12.5 * 3600  # the example's EOBT


def fpl(callsign: str = "AMX412", ssr: str | None = "4121", dep: str = "MMMX",
        eobt: str = "1230", dst: str = "KLAX", eet: str = "0305", dof: str | None = DOF) -> str:
    seven = callsign + (f"/A{ssr}" if ssr else "")
    other = f"DOF/{dof} REG/XAAMX" if dof else "REG/XAAMX"
    return (f"(FPL-{seven}-IS-B738/M-SDE2E3FGHIRWY/LB1-{dep}{eobt}-N0450F350 DCT TIJ"
            f"-{dst}{eet} KSAN-{other})")


def book(*texts: str, now: float | None = T1230, **kw: float) -> Book:
    b = Book(window_before_s=kw.pop("before", 1800.0), window_after_s=kw.pop("after", 1800.0),
             **kw)  # type: ignore[arg-type]
    for text in texts:
        b.file(parse(text), now)
    return b


def fused(t: float, *, id: str = "gw-T000001", callsign: str | None = "AMX412",
          mode3a: str | None = "4121", state: str = "confirmed") -> Fused:
    return Fused(t=t, id=id, state=state, lat=30.0, lon=-110.0, fl=350.0,  # type: ignore[arg-type]
                 gs_kt=450.0, trk_deg=0.0, roc_fpm=0.0, mode3a=mode3a, icao24="0D0001",
                 callsign=callsign, pos_sigma_m=50.0, sources=[])


def test_dates_and_times() -> None:
    assert dof_epoch(DOF) == DAY0
    assert nearest(12.5 * 3600, DAY0 + 3600) == T1230
    assert nearest(23.5 * 3600, DAY0 + 600) == DAY0 - 1800  # last night's 23:30
    assert nearest(0.5 * 3600, DAY0 + 23 * 3600) == DAY0 + 86400 + 1800


def test_a_plan_within_its_window_by_callsign_then_by_code() -> None:
    c = Correlator(book(fpl()))
    eta = T1230 + 3 * 3600 + 300
    for t, callsign, code, expect in [
        (T1230 - 1801, "AMX412", "4121", None),  # before the window
        (T1230 - 1799, "AMX412", "4121", "AMX412"),
        (T1230 + 3600, "AMX412", "7777", "AMX412"),  # by callsign, whatever the code
        (eta + 1799, None, "4121", "AMX412"),  # by code
        (eta + 1801, "AMX412", "4121", None),  # after the window
    ]:
        c = Correlator(book(fpl()))
        (out,), alerts = c.attach([fused(t, callsign=callsign, mode3a=code)])
        assert (out.fpl.callsign if out.fpl else None) == expect, t
        assert alerts == []
    assert out.fpl is None


def test_the_plan_attached_is_the_filed_one() -> None:
    (out,), _ = Correlator(book(fpl())).attach([fused(T1230)])
    assert out.fpl is not None
    assert (out.fpl.ssr, out.fpl.dep, out.fpl.dst, out.fpl.cfl, out.fpl.type, out.fpl.wtc,
            out.fpl.eobt, out.fpl.eet, out.fpl.alternates, out.fpl.rules) == (
        "4121", "MMMX", "KLAX", 350.0, "B738", "M", "1230", "0305", "KSAN", "IS")


def test_an_sdps_plan_is_kept() -> None:
    c = Correlator(book(fpl()))
    (first,), _ = c.attach([fused(T1230)])
    assert first.fpl is not None
    import msgspec
    other = msgspec.structs.replace(first.fpl, callsign="SDPS1")
    (out,), _ = c.attach([msgspec.structs.replace(fused(T1230 + 4), fpl=other)])
    assert out.fpl is other


def test_code_match_refused_when_the_callsign_is_another_flights() -> None:
    (out,), alerts = Correlator(book(fpl())).attach([fused(T1230, callsign="VIV100")])
    assert out.fpl is None and alerts == []


@pytest.mark.parametrize("code", ["7700", "2000", "1200", "7000"])
def test_no_code_correlation_on_codes_many_flights_squawk(code: str) -> None:
    c = Correlator(book(fpl(ssr=code)))
    (out,), _ = c.attach([fused(T1230, callsign=None, mode3a=code)])
    assert out.fpl is None


def test_two_candidates_are_reported_never_guessed() -> None:
    c = Correlator(book(fpl(), fpl(callsign="VIV100")))  # both filed with code 4121
    (out,), alerts = c.attach([fused(T1230, callsign=None)])
    assert out.fpl is None
    assert [a.type for a in alerts] == ["fpl-ambiguous"]
    assert "AMX412" in alerts[0].text and "VIV100" in alerts[0].text
    (out,), alerts = c.attach([fused(T1230 + 4, callsign=None)])
    assert out.fpl is None and alerts == []  # alerted once while the candidates are the same
    assert c.counters["fpl-ambiguous"] == 1
    (out,), _ = c.attach([fused(T1230 + 8, callsign="VIV100")])  # the callsign decides
    assert out.fpl is not None and out.fpl.callsign == "VIV100"


def test_same_identification_two_plans_in_window_is_ambiguous() -> None:
    c = Correlator(book(fpl(), fpl(dst="KSFO")))
    (out,), alerts = c.attach([fused(T1230)])
    assert out.fpl is None and len(alerts) == 1 and c.counters["fpl-ambiguous"] == 1


def test_a_plan_held_by_one_track_is_not_given_to_another() -> None:
    c = Correlator(book(fpl()))
    a, b = fused(T1230, id="gw-T000001"), fused(T1230, id="gw-T000002")
    (x, y), alerts = c.attach([a, b])
    assert x.fpl is not None and y.fpl is None
    assert "correlated with track gw-T000001" in alerts[0].text
    c.attach([fused(T1230 + 4, id="gw-T000001", state="ended")])
    (y,), _ = c.attach([fused(T1230 + 8, id="gw-T000002")])
    assert y.fpl is not None  # released when the first track ended


def test_correlation_survives_a_code_change_and_ends_on_another_callsign() -> None:
    c = Correlator(book(fpl()))
    c.attach([fused(T1230, callsign=None)])
    (out,), _ = c.attach([fused(T1230 + 4, callsign=None, mode3a="5523")])
    assert out.fpl is not None
    (out,), _ = c.attach([fused(T1230 + 8, callsign="VIV100", mode3a="5523")])
    assert out.fpl is None and c.counters["fpl-decorrelated"] == 1


def test_chg_cnl_dla() -> None:
    b = book(fpl())
    assert b.file(parse(f"(CHG-AMX412-MMMX-KLAX-DOF/{DOF}-7/AMX412/A5523-15/N0450F370 DCT)"),
                  T1230) == "changed"
    entry = b.plans[("AMX412", "MMMX", "KLAX", DOF)]
    assert (entry.plan.ssr, entry.plan.cfl, entry.state) == ("5523", 370.0, "changed")
    assert b.by_ssr == {"5523": {entry.key}, "4121": {entry.key}}  # the old code too
    assert entry.codes == ("5523", "4121")
    assert b.file(parse("(DLA-AMX412-MMMX1430-KLAX)"), T1230) == "delayed"  # no DOF: unique
    assert b.plans[entry.key].eobt_t == T1230 + 7200
    assert b.file(parse("(CNL-AMX412-MMMX-KLAX-DOF/261205)"), T1230) == "unknown"
    assert b.file(parse("(CHG-AMX412-MMMX-KLAX-18/DOF/261205)"), T1230) == "changed"
    assert set(b.plans) == {("AMX412", "MMMX", "KLAX", "261205")}  # keyed by the new DOF
    assert b.file(parse("(CNL-AMX412-MMMX-KLAX-DOF/261205)"), T1230) == "cancelled"
    assert b.plans == {} and b.by_callsign == {} and b.by_ssr == {}
    assert b.counters["fpl-unknown"] == 1 and b.counters["fpl-cancelled"] == 1


def test_several_plans_without_a_dof_in_the_message_are_ambiguous() -> None:
    b = book(fpl(), fpl(dof="261205"))
    assert b.file(parse("(CNL-AMX412-MMMX-KLAX)"), T1230) == "not-unique"
    assert len(b.plans) == 2
    assert b.file(parse(fpl(dof="261205")), T1230) == "refiled"


def test_no_dof_flies_on_the_day_nearest_to_filing_or_to_the_first_data() -> None:
    b = book(fpl(dof=None), now=T1230 - 3600)
    assert next(iter(b.plans.values())).eobt_t == T1230
    b = book(fpl(dof=None), now=None)  # from a file, before any data
    assert next(iter(b.plans.values())).eobt_t is None
    (out,), _ = Correlator(b).attach([fused(T1230 + 86400 + 60)])  # the data's day decides
    assert out.fpl is not None


def test_ended_windows_expire_and_the_book_is_bounded() -> None:
    b = book(*(fpl(callsign=f"AMX{n}", ssr=None, eobt=f"{n:02d}00") for n in range(10, 20)),
             max_plans=5)
    assert len(b.plans) == 5 and b.counters["fpl-evicted"] == 5
    assert sorted(k[0] for k in b.plans) == [f"AMX{n}" for n in range(15, 20)]
    b.advance(DAY0 + 15 * 3600 + 3 * 3600 + 300 + 1801)  # AMX15's ETA + window_after_s
    assert sorted(k[0] for k in b.plans) == [f"AMX{n}" for n in range(16, 20)]
    assert b.counters["fpl-expired"] == 1


def test_stale_links_are_let_go() -> None:
    c = Correlator(book(fpl()))
    c.attach([fused(T1230, id="gw-T000001")])
    (y,), _ = c.attach([fused(T1230 + 301, id="gw-T000002")])
    assert y.fpl is not None and c.links.keys() == {"gw-T000002"}


def test_a_plan_is_found_by_the_code_a_chg_replaced() -> None:
    """The CHG is on file before the flight changes code (a file read at start): the flight
    squawking its old code still finds its plan, and keeps it after the change."""
    b = book(fpl(), f"(CHG-AMX412-MMMX-KLAX-DOF/{DOF}-7/AMX412/A5523)")
    c = Correlator(b)
    (out,), _ = c.attach([fused(T1230, callsign=None, mode3a="4121")])
    assert out.fpl is not None and out.fpl.ssr == "5523"
    (out,), _ = c.attach([fused(T1230 + 4, callsign=None, mode3a="5523")])
    assert out.fpl is not None
    b.file(parse(f"(CHG-AMX412-MMMX-KLAX-DOF/{DOF}-7/AMX412/A6001)"), T1230)
    b.file(parse(f"(CHG-AMX412-MMMX-KLAX-DOF/{DOF}-7/AMX412/A6002)"), T1230)
    assert b.plans[("AMX412", "MMMX", "KLAX", DOF)].codes == ("6002", "6001", "5523")
    assert set(b.by_ssr) == {"6002", "6001", "5523"}  # bounded: 4121 is no longer


_ids = st.sampled_from(["AMX412", "VIV100", "DAL19"])
_aerodromes = st.sampled_from(["MMMX", "KLAX"])
_codes = st.sampled_from(["4121", "5523", "6001"])
_dofs = st.sampled_from([None, DOF, "261205"])
_messages = st.one_of(
    st.builds(lambda c, s, d, a, f: fpl(callsign=c, ssr=s, dep=d, dst=a, dof=f),
              _ids, _codes, _aerodromes, _aerodromes, _dofs),
    st.builds(lambda c, d, a, f, n, v: f"(CHG-{c}-{d}-{a}{'-DOF/' + f if f else ''}-{n}/{v})",
              _ids, _aerodromes, _aerodromes, _dofs, st.sampled_from([7, 16, 18, 13]),
              st.sampled_from(["VIV100/A5523", "AMX412", "KLAX0100", "MMMX", "DOF/261205",
                               "MMMX1300"])),
    st.builds(lambda m, c, d, a, f: f"({m}-{c}-{d}{'1400' if m == 'DLA' else ''}-{a}"
              f"{'-DOF/' + f if f else ''})", st.sampled_from(["CNL", "DLA"]), _ids,
              _aerodromes, _aerodromes, _dofs))


@given(st.lists(st.tuples(_messages, st.floats(-7200, 7200)), max_size=30),
       st.lists(st.tuples(_ids | st.none(), _codes, st.floats(-7200, 20000)), max_size=10))
@settings(max_examples=300, deadline=None)
def test_any_sequence_keeps_the_book_consistent_and_bounded(
        messages: list[tuple[str, float]], tracks: list[tuple[str | None, str, float]]) -> None:
    """Whatever is filed, changed, delayed, cancelled, in any order: every plan is indexed
    by its identification and codes and nothing else is, the book stays within max_plans,
    and a correlated track carries a plan that is on file with its callsign or code."""
    b = book(max_plans=4)
    c = Correlator(b)
    for text, dt in messages:
        try:
            message = parse(text)
        except AtsSyntaxError:
            continue  # an amendment that is not its field's grammar: the parser's refusal
        b.file(message, T1230 + dt)
        assert len(b.plans) <= 4
        assert {(cs, k) for cs, keys in b.by_callsign.items() for k in keys} == {
            (e.filed.callsign, k) for k, e in b.plans.items()}
        assert {(code, k) for code, keys in b.by_ssr.items() for k in keys} == {
            (code, k) for k, e in b.plans.items() for code in e.codes}
        assert all(k == e.key and len(e.codes) <= 3 for k, e in b.plans.items())
    for n, (callsign, code, dt) in enumerate(tracks):
        (out,), _ = c.attach([fused(T1230 + dt, id=f"gw-T{n:06d}", callsign=callsign,
                                    mode3a=code)])
        if out.fpl is not None:
            assert callsign in (None, out.fpl.callsign)
            assert callsign == out.fpl.callsign or code in next(
                e.codes for e in b.plans.values() if e.plan is out.fpl)


def test_a_chg_that_rekeys_a_plan_onto_another_replaces_it_wholly() -> None:
    b = book(fpl(), fpl(ssr="6001", dof="261205"))
    assert b.file(parse(f"(CHG-AMX412-MMMX-KLAX-DOF/{DOF}-18/DOF/261205)"), T1230) == "changed"
    (entry,) = b.plans.values()
    assert entry.codes == ("4121",) and b.by_ssr == {"4121": {entry.key}}
    assert b.counters["fpl-overwritten"] == 1


def test_a_mode_ac_track_correlated_by_code_takes_the_plans_identification() -> None:
    """A track with no identification of its own (Mode A/C) is known by its plan's once
    correlated: the handoff coordinates flights by identification."""
    c = Correlator(book(fpl()))
    (out,), _ = c.attach([fused(T1230, callsign=None, mode3a="4121")])
    assert out.fpl is not None and out.callsign == "AMX412"
    (own,), _ = Correlator(book(fpl())).attach([fused(T1230, callsign="AMX412")])
    assert own.callsign == "AMX412"
