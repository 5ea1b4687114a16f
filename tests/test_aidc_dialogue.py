"""The AIDC transition table: both ends of a dialogue, in step; what is refused."""

from __future__ import annotations

import pytest

from gateway.handoff.dialogue import (
    C1,
    C2,
    TRANSITIONS,
    Dialogue,
    Link,
    ProtocolError,
    State,
)


def converse(*steps: tuple[str, str]) -> tuple[Dialogue, Dialogue]:
    """Run the same messages through both ends: ("C1", "EST") is sent by C1."""
    c1, c2 = Dialogue(C1), Dialogue(C2)
    for who, msg in steps:
        sender, other = (c1, c2) if who == "C1" else (c2, c1)
        assert sender.send(msg) == other.receive(msg)
    return c1, c2


def test_a_whole_transfer() -> None:
    c1, c2 = converse(("C1", "ABI"), ("C1", "EST"), ("C2", "ACP"), ("C1", "TOC"), ("C2", "AOC"))
    assert c1.state is c2.state is State.TRANSFERRED and c1.final


def test_cpl_where_the_receiver_has_no_flight_plan() -> None:
    c1, _ = converse(("C1", "CPL"), ("C2", "ACP"))
    assert c1.state is State.COORDINATED


@pytest.mark.parametrize("proposer, answerer", [("C1", "C2"), ("C2", "C1")])
@pytest.mark.parametrize("answer", ["ACP", "REJ"])
def test_a_change_is_answered_by_the_other_unit(proposer: str, answerer: str,
                                                answer: str) -> None:
    c1, c2 = converse(("C1", "EST"), ("C2", "ACP"), (proposer, "CDN"), (answerer, answer))
    assert c1.state is State.COORDINATED  # either way the flight stays coordinated
    with pytest.raises(ProtocolError):
        converse(("C1", "EST"), ("C2", "ACP"), (proposer, "CDN"), (proposer, answer))


@pytest.mark.parametrize("before", [[], [("C2", "ACP")]])
def test_mac_cancels_before_the_transfer(before: list[tuple[str, str]]) -> None:
    c1, c2 = converse(("C1", "ABI"), ("C1", "EST"), *before, ("C1", "MAC"))
    assert c1.state is c2.state is State.CANCELLED
    with pytest.raises(ProtocolError):
        c1.send("TOC")


def test_rejected_first_offer_is_final() -> None:
    c1, _ = converse(("C1", "EST"), ("C2", "REJ"))
    assert c1.state is State.REJECTED and c1.allowed(C1) == set() == c1.allowed(C2)


@pytest.mark.parametrize("steps", [
    [("C2", "ACP")],                       # nothing offered
    [("C1", "TOC")],                       # not coordinated
    [("C1", "EST"), ("C1", "TOC")],        # not accepted yet
    [("C1", "EST"), ("C2", "ACP"), ("C1", "TOC"), ("C1", "MAC")],  # too late to cancel
    [("C2", "EST")],                       # the accepting unit does not offer
    [("C1", "EST"), ("C2", "ACP"), ("C1", "TOC"), ("C2", "AOC"), ("C1", "ABI")],
])
def test_out_of_turn_messages_are_protocol_errors(steps: list[tuple[str, str]]) -> None:
    with pytest.raises(ProtocolError):
        converse(*steps)


def test_every_state_but_the_final_ones_can_be_left() -> None:
    reachable = {State.IDLE} | set(TRANSITIONS.values())
    assert reachable == set(State)
    for state in State:
        leaves = any(s is state for s, _, _ in TRANSITIONS)
        assert leaves != (state in (State.TRANSFERRED, State.REJECTED, State.CANCELLED))


def test_serials_run_001_to_999_then_wrap() -> None:
    link = Link()
    serials = [link.number() for _ in range(1001)]
    assert serials[:3] == [1, 2, 3] and serials[998] == 999 and serials[999:] == [1, 2]


def test_missing_lam_is_sent_again_then_given_up() -> None:
    link = Link(lam_timeout_s=10, max_tries=3)
    link.sent(7, "(ESTA/B007-...)", now=0.0)
    link.sent(8, "(ABIA/B008-...)", now=5.0)
    assert link.acknowledged(8) is not None and link.acknowledged(8) is None
    assert link.due(9.9) == ([], [])
    again, lost = link.due(10.0)
    assert [p.serial for p in again] == [7] and again[0].tries == 2 and not lost
    again, lost = link.due(20.0)
    assert [p.tries for p in again] == [3]
    again, lost = link.due(30.0)
    assert not again and [p.serial for p in lost] == [7] and not link.pending
