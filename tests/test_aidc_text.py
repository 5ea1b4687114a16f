"""AIDC field-format text: Doc 4444's examples and ours, byte for byte; hostile text refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.handoff.text import AidcSyntaxError, AidcText, Estimate, parse

# Doc 4444 Appendix 3, 2.4.2.2 and 2.4.3.2
DOC4444_EST = "(ESTP/L027-BAW671/A5631-LFPG-ABB/1548F140F110A-EGLL)"
DOC4444_CDN = "(CDNP/D098D/P036-BAW617/A5136-EIDW-EGPK-14/GRN/1735F210F130A)"
OURS = [
    "(ABIMMTY/KZAB001-AMX412/A2311-MMMX-PUMEK/1532F350-KDFW)",
    "(ESTMMTY/KZAB002-AMX412/A2311-MMMX-PUMEK/1532F350-KDFW)",
    "(ACPKZAB/MMTY001MMTY/KZAB002-AMX412/A2311-MMMX-KDFW)",
    "(TOCMMTY/KZAB003-AMX412/A2311-MMMX-KDFW)",
    "(AOCKZAB/MMTY002MMTY/KZAB003-AMX412/A2311-MMMX-KDFW)",
    "(MACMMTY/KZAB004-AMX412/A2311-MMMX-KDFW)",
    "(LAMKZAB/MMTY003MMTY/KZAB004)",
    "(LRMKZAB/MMTY004MMTY/KZAB005-RMK/FIELD 14 INVALID)",
    "(REJKZAB/MMTY005MMTY/KZAB006-N123AB-KELP-MMCU)",
    # the flight plan: an ABI's aircraft as a field 22 amendment, a climb condition, a CPL
    "(ABIMMTY/KZAB001-AMX412/A2311-MMMX-ELP/1423F350F310A-KDFW-9/B738/M)",
    "(ESTMMTY/KZAB002-AMX412/A2311-MMMX-ELP/1423F240F300B-KDFW)",
    "(CPLMMTY/KZAB007-AMX412/A2311-IS-B738/M-SDE2E3FGHIJ2J3J4J5M1RWXYZ/LB1D1-MMMX1230"
    "-ELP/1423F350F310A-M082F350 DCT MTY UJ5 ELP-KDFW0210 KAUS KIAH-PBN/A1B1 DOF/261204)",
    "(CPLMMTY/KZAB008-VIV100/A3412-ZZZZ-2F18/H-ZZZZ-MMMX-ELP/1423F350-ZZZZ-KDFW-0)",
]


@pytest.mark.parametrize("text", [DOC4444_EST, DOC4444_CDN, *OURS])
def test_round_trip_byte_for_byte(text: str) -> None:
    assert parse(text).text() == text


def test_doc4444_est_fields() -> None:
    m = parse(DOC4444_EST)
    assert (m.msg, m.sender, m.receiver, m.serial, m.ref) == ("EST", "P", "L", 27, None)
    assert (m.callsign, m.ssr, m.dep, m.dst) == ("BAW671", "5631", "LFPG", "EGLL")
    assert m.estimate == Estimate("ABB", "1548", "F140", "F110", "A")


def test_doc4444_cdn_fields() -> None:
    m = parse(DOC4444_CDN)
    assert (m.msg, m.sender, m.receiver, m.serial, m.ref) == ("CDN", "P", "D", 98, ("D", "P", 36))
    assert m.amendments == ((14, "GRN/1735F210F130A"),)


def test_cpl_fields() -> None:
    m = parse(OURS[-2])
    assert (m.rules, m.number, m.actype, m.wtc) == ("IS", None, "B738", "M")
    assert (m.equipment, m.dep, m.dep_time) == ("SDE2E3FGHIJ2J3J4J5M1RWXYZ/LB1D1", "MMMX", "1230")
    assert m.estimate == Estimate("ELP", "1423", "F350", "F310", "A")
    assert m.route == "M082F350 DCT MTY UJ5 ELP"  # a Mach number: M and three digits
    assert (m.dst, m.eet, m.alternates, m.other) == ("KDFW", "0210", "KAUS KIAH",
                                                     "PBN/A1B1 DOF/261204")
    unknown = parse(OURS[-1])  # an I390 plan: no rules, equipment, route, other
    assert (unknown.rules, unknown.equipment, unknown.route, unknown.other) == (None,) * 4
    assert (unknown.number, unknown.actype, unknown.wtc) == (2, "F18", "H")


_UNIT = st.from_regex(r"[A-Z]{1,4}", fullmatch=True)
_LEVEL = st.from_regex(r"F[0-9]{3}|A[0-9]{3}|S[0-9]{4}|M[0-9]{4}", fullmatch=True)
_HHMM = st.builds(lambda h, m: f"{h:02d}{m:02d}", st.integers(0, 23), st.integers(0, 59))
_ESTIMATE = st.builds(
    lambda point, time, level, cross: Estimate(point, time, level, *(cross or (None, None))),
    st.from_regex(r"[A-Z0-9]{2,11}", fullmatch=True), _HHMM, st.none() | _LEVEL,
    st.none() | st.tuples(_LEVEL, st.sampled_from("AB")))
_AERODROME = st.from_regex(r"[A-Z]{4}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(st.builds(
    AidcText, st.sampled_from(["ABI", "EST", "CPL"]), _UNIT, _UNIT, st.integers(1, 999),
    callsign=st.from_regex(r"[A-Z0-9]{2,7}", fullmatch=True),
    ssr=st.none() | st.from_regex(r"[0-7]{4}", fullmatch=True), dep=_AERODROME,
    estimate=_ESTIMATE, dst=_AERODROME,
    rules=st.none() | st.from_regex(r"[IVYZ][SNGMX]", fullmatch=True),
    number=st.none() | st.integers(2, 99),
    actype=st.from_regex(r"[A-Z][A-Z0-9]{1,3}", fullmatch=True), wtc=st.sampled_from("LMHJ"),
    equipment=st.none() | st.from_regex(r"[A-Z0-9]{1,40}/[A-Z0-9]{1,20}", fullmatch=True),
    route=st.none() | st.from_regex(
        r"(N[0-9]{4}|M[0-9]{3})F[0-9]{3}( [A-Z0-9/]{1,30}){0,5}", fullmatch=True),
    eet=st.none() | _HHMM, alternates=st.none() | st.sampled_from(["KAUS", "KAUS KIAH"]),
    other=st.none() | st.from_regex(r"[A-Z]{3}/[A-Z0-9]{1,20}", fullmatch=True)))
def test_plan_fields_round_trip(message: AidcText) -> None:
    """What a CPL says of the plan is what parse() reads back; ABI and EST keep only the
    fields they carry."""
    again = parse(message.text())
    assert again.text() == message.text()
    if message.msg == "CPL":
        assert again == message
    else:
        assert (again.callsign, again.ssr, again.dep, again.estimate, again.dst) == (
            message.callsign, message.ssr, message.dep, message.estimate, message.dst)


def test_serials_wrap_at_a_thousand() -> None:
    m = AidcText("LAM", "A", "B", 1000, ref=("B", "A", 999))
    assert m.text() == "(LAMA/B000B/A999)"


@pytest.mark.parametrize("text, reason", [
    ("ESTP/L027-BAW671/A5631-LFPG-ABB/1548F140-EGLL", "parentheses"),
    ("(XYZP/L027-BAW671)", "unknown message type"),
    ("(ESTP/L27-BAW671/A5631-LFPG-ABB/1548F140-EGLL)", "field 3"),
    ("(ESTP/L027-BAW671/A5631-LFPG-ABB/1548F140)", "fields after field 3"),
    ("(ESTP/L027-BAW671/A5639-LFPG-ABB/1548F140-EGLL)", "field 7"),
    ("(ESTP/L027-BAW671/A5631-LFPG-ABB/2548F140-EGLL)", "HHMM"),
    ("(ESTP/L027-BAW671/A5631-LFPG-ABB/1548F14-EGLL)", "field 14"),
    ("(ACPL/P001-BAW671/A5631-LFPG-EGLL)", "reference"),
    ("(LAMP/L001)", "reference"),
    ("(" + "A" * 5000 + ")", "longer than"),
    ("(ABIP/L027-BAW671/A5631-LFPG-ABB/1548F140-EGLL-9/B738)", "amends field 9"),
    ("(ABIP/L027-BAW671/A5631-LFPG-ABB/1548F140-EGLL-14/ABB/2548F140)", "HHMM"),
    ("(CPLP/L001-BAW671-QS-B738/M-S/C-LFPG-ABB/1548F140-N0450F350-EGLL-0)", "field 8"),
    ("(CPLP/L001-BAW671-IS-1B738/M-S/C-LFPG-ABB/1548F140-N0450F350-EGLL-0)", "number"),
    ("(CPLP/L001-BAW671-IS-B738/M-S/C-LFPG-ABB/1548F140-M0820F350-EGLL-0)", "field 15"),
    ("(CPLP/L001-BAW671-IS-B738/M-S/C-LFPG-ABB/1548F140-N0450F350-EGLL-XX)", "field 18"),
    ("(CPLP/L001-BAW671-IS-B738/M-S/C-LFPG-ABB/1548F140-N0450F350-EGLL)", "fields after"),
])
def test_malformed_text_is_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(AidcSyntaxError, match=reason):
        parse(text)


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_is_refused_in_one_line(text: str) -> None:
    try:
        message = parse(text)
    except AidcSyntaxError as exc:
        assert "\n" not in str(exc)
    else:
        assert parse(message.text()) == message
