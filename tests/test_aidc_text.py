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
    ("(" + "A" * 2000 + ")", "longer than"),
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
