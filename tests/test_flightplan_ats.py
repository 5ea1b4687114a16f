"""The FPL/CHG/CNL/DLA parser: the Doc 4444 examples, exact round trips of generated
messages, and hostile text (every refusal is one AtsSyntaxError line, nothing else raises)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.flightplan.ats import (
    MAX_TEXT,
    AtsMessage,
    AtsSyntaxError,
    Filed,
    filed,
    parse,
    parse_many,
)

EXAMPLE = ("(FPL-AMX412-IS-B738/M-SDE2E3FGHIRWY/LB1-MMMX1230-N0450F350 DCT TIJ J2 "
           "SAN-KLAX0305 KSAN-DOF/261204 REG/XAAMX)")


def test_the_example_fpl_is_read_field_by_field() -> None:
    m = parse(EXAMPLE)
    assert m.msg == "FPL" and m.plan is not None
    p = m.plan
    assert (p.callsign, p.ssr, p.rules, p.number, p.type, p.wtc) == (
        "AMX412", None, "IS", None, "B738", "M")
    assert (p.equipment, p.dep, p.eobt, p.dst, p.eet, p.alternates) == (
        "SDE2E3FGHIRWY/LB1", "MMMX", "1230", "KLAX", "0305", "KSAN")
    assert p.route == "N0450F350 DCT TIJ J2 SAN" and p.level == "F350"
    assert p.dof == "261204" and m.dof == "261204"
    plan = p.plan()
    assert (plan.callsign, plan.dep, plan.dst, plan.cfl, plan.type, plan.wtc) == (
        "AMX412", "MMMX", "KLAX", 350.0, "B738", "M")
    assert plan.other == "DOF/261204 REG/XAAMX"


def test_line_breaks_and_spaces_as_aftn_sends_them() -> None:
    text = ("(FPL-AMX412/A4121-IS\n-2F18/H-SDE2E3FGHIRWY/LB1\r\n-MMMX1230\n"
            "-M082S1190   DCT TIJ\n-KLAX0305 KSAN KONT\n-0)")
    p = parse(text).plan
    assert p is not None
    assert (p.ssr, p.number, p.type, p.level, p.alternates, p.other) == (
        "4121", 2, "F18", "S1190", "KSAN KONT", "0")
    assert p.plan().cfl == pytest.approx(390.4, abs=0.1)  # 11900 m
    assert p.plan().other is None


def test_chg_cnl_dla() -> None:
    chg = parse("(CHG-AMX412-MMMX-KLAX-DOF/261204-7/AMX412/A5523-15/N0460F370 DCT)")
    assert (chg.msg, chg.callsign, chg.dep, chg.dst, chg.dof) == (
        "CHG", "AMX412", "MMMX", "KLAX", "261204")
    assert chg.amendments == ((7, "AMX412/A5523"), (15, "N0460F370 DCT"))
    cnl = parse("(CNL-AMX412-MMMX-KLAX)")
    assert (cnl.msg, cnl.other, cnl.amendments) == ("CNL", None, ())
    dla = parse("(DLA-AMX412-MMMX1315-KLAX-0)")
    assert (dla.msg, dla.dep_time, dla.other) == ("DLA", "1315", "0")
    base = parse(EXAMPLE).plan
    assert base is not None
    changed = base.amended(7, "AMX412/A5523").amended(15, "N0460F370 DCT")
    assert (changed.ssr, changed.level) == ("5523", "F370")


@pytest.mark.parametrize(("text", "reason"), [
    ("FPL-AMX412-IS", "parentheses"),
    ("(XYZ-AMX412)", "field 3"),
    ("(FPL-AMX412-IS-B738/M)", "8 fields"),
    (EXAMPLE.replace("MMMX1230", "MMMX"), "EOBT"),
    (EXAMPLE.replace("MMMX1230", "MMMX2460"), "not HHMM"),
    (EXAMPLE.replace("KLAX0305", "KLAX"), "EET"),
    (EXAMPLE.replace("DOF/261204", "DOF/261304"), "DOF"),
    (EXAMPLE.replace("N0450", "M0820"), "field 15"),
    (EXAMPLE.replace("B738/M", "B738/X"), "field 9"),
    (EXAMPLE.replace("AMX412", "AMX412/A8888"), "field 7"),
    (EXAMPLE.replace("REG/XAAMX", "REG/XA-AMX"), "fields"),
    (EXAMPLE[:-1] + "-E/0745 P/6)", "fields"),
    ("(CHG-AMX412-MMMX-KLAX-DOF/261204)", "no amendment"),
    ("(CHG-AMX412-MMMX-KLAX-3/FPL)", "cannot be amended"),
    ("(CHG-AMX412-MMMX-KLAX-8/QQ)", "field 8"),
    ("(CNL-AMX412-MMMX-KLAX-0-8/IS)", "fields 7, 13, 16 and 18 only"),
    ("(DLA-AMX412-MMMX-KLAX)", "new EOBT"),
    ("(CNL-AMX412-MMMX-KLAX0100)", "field 16"),
    ("(CNL-AMX412-MMMX)", "needs fields"),
    ("(FPL-ÄMX412)", "ASCII"),
    ("(" + "A" * MAX_TEXT + ")", "longer than"),
])
def test_refusals_say_why_in_one_line(text: str, reason: str) -> None:
    with pytest.raises(AtsSyntaxError) as info:
        parse(text)
    assert reason in str(info.value) and "\n" not in str(info.value)


def test_many_messages_each_on_its_own() -> None:
    out = parse_many(f"{EXAMPLE}\n junk (CNL-AMX412-MMMX-KLAX) (DLA-AMX412-MMMX-KLAX) (FPL-A")
    kinds = [type(x).__name__ if isinstance(x, AtsSyntaxError) else x.msg for x in out]
    assert kinds == ["FPL", "AtsSyntaxError", "CNL", "AtsSyntaxError", "AtsSyntaxError"]
    assert len(parse_many("(CNL-A1-MMMX-KLAX)" * 5, limit=3)) == 4


# -- generated messages: exact round trips ----------------------------------------------------

_up = string.ascii_uppercase
_an = _up + string.digits
callsign = st.text(_an, min_size=2, max_size=7)
aerodrome = st.text(_up, min_size=4, max_size=4)
octal4 = st.text("01234567", min_size=4, max_size=4)
hhmm = st.builds(lambda h, m: f"{h:02d}{m:02d}", st.integers(0, 23), st.integers(0, 59))
eet = st.builds(lambda h, m: f"{h:02d}{m:02d}", st.integers(0, 99), st.integers(0, 59))
level = st.one_of(st.from_regex(r"\A[FA][0-9]{3}\Z"), st.from_regex(r"\A[SM][0-9]{4}\Z"),
                  st.just("VFR"))
speed = st.one_of(st.from_regex(r"\A[NK][0-9]{4}\Z"), st.from_regex(r"\AM[0-9]{3}\Z"))
route = st.builds(lambda s, lv, els: " ".join([s + lv, *els]), speed, level,
                  st.lists(st.text(_an + "/", min_size=1, max_size=30), max_size=20))
dof = st.builds(lambda y, m, d: f"DOF/{y:02d}{m:02d}{d:02d}", st.integers(0, 99),
                st.integers(1, 12), st.integers(1, 28))
other = st.one_of(st.just("0"), dof, st.builds(lambda d, r: f"{d} REG/{r}", dof, callsign))
plans = st.builds(
    Filed, callsign=callsign, ssr=st.none() | octal4, rules=st.from_regex(r"\A[IVYZ][SNGMX]\Z"),
    number=st.none() | st.integers(2, 99), type=st.from_regex(r"\A[A-Z][A-Z0-9]{1,3}\Z"),
    wtc=st.sampled_from("LMHJ"), equipment=st.from_regex(r"\A[A-Z0-9]{1,40}/[A-Z0-9]{1,20}\Z"),
    dep=aerodrome, eobt=hhmm, route=route, dst=aerodrome, eet=eet,
    alternates=st.none() | aerodrome | st.builds(lambda a, b: f"{a} {b}", aerodrome, aerodrome),
    other=other)
amendment = st.one_of(
    st.builds(lambda c, s: (7, f"{c}/A{s}"), callsign, octal4),
    st.builds(lambda r: (15, r), route),
    st.builds(lambda t: (13, f"MMMX{t}"), hhmm),
    st.builds(lambda o: (18, o), other))
others = st.builds(
    lambda msg, c, s, d, t, t2, a, o, am: AtsMessage(
        msg, c, s, d, t if msg == "DLA" else t2, a, o, tuple(am) if msg == "CHG" else ()),
    st.sampled_from(["CHG", "CNL", "DLA"]), callsign, st.none() | octal4, aerodrome, hhmm,
    st.none() | hhmm, aerodrome, st.none() | other, st.lists(amendment, min_size=1, max_size=4))


@given(plans)
@settings(max_examples=300)
def test_fpl_round_trip(plan: Filed) -> None:
    message = filed(plan)
    assert parse(message.text()) == message
    assert parse(message.text().replace("-", "\n-")) == message


@given(others)
@settings(max_examples=300)
def test_chg_cnl_dla_round_trip(message: AtsMessage) -> None:
    assert parse(message.text()) == message


@given(st.text(max_size=300))
@settings(max_examples=500)
def test_any_text_is_parsed_or_refused(text: str) -> None:
    try:
        parse(text)
    except AtsSyntaxError as exc:
        assert "\n" not in str(exc)


@given(plans, st.integers(0, 10_000), st.text(string.printable, min_size=1, max_size=3))
@settings(max_examples=500)
def test_mutated_messages_are_parsed_or_refused(plan: Filed, at: int, insert: str) -> None:
    text = filed(plan).text()
    at %= len(text)
    for mutated in (text[:at] + insert + text[at:], text[:at] + text[at + 1:]):
        try:
            again = parse(mutated)
        except AtsSyntaxError as exc:
            assert "\n" not in str(exc)
        else:  # what it accepts is a message it would write the same way
            assert parse(again.text()) == again
