"""The AIDC dialogue for one flight across one boundary, as one transition table (sans-IO).

Read it like h11's ``_state.py``: every rule of the conversation is in ``TRANSITIONS``,
keyed by the dialogue's state, the role of the unit that sends a message, and the message
type.  Both ends run the same table: the transferring unit (C1) applies its own messages
with ``send`` and the accepting unit's (C2) with ``receive``, and C2 the other way round, so
the two can never disagree about what is allowed.  A message the table does not allow is a
``ProtocolError`` (ours: a bug; theirs: answered with LRM).

LAM and LRM are not in the table: they acknowledge (or refuse) any message at the link
level (``Link``), which also numbers messages per link (never reusing a serial that awaits
its LAM) and notices missing LAMs; ``Heard`` tells a peer's message sent again from a new
one (and a restarted peer from either).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Role(Enum):
    C1 = "transferring"  # the unit the flight leaves
    C2 = "accepting"     # the unit it enters


class State(Enum):
    IDLE = "idle"
    NOTIFIED = "notified"          # ABI sent: C2 knows the flight is coming
    OFFERED = "offered"            # EST or CPL sent: the conditions proposed, awaiting ACP/REJ
    COORDINATED = "coordinated"    # ACP: both units agree on the boundary conditions
    NEGOTIATING = "negotiating"    # CDN: a change proposed, awaiting ACP/REJ
    TRANSFERRING = "transferring"  # TOC: control offered at the transfer point
    TRANSFERRED = "transferred"    # AOC: C2 has control (final)
    REJECTED = "rejected"          # REJ of the first offer (final: a phone call now)
    CANCELLED = "cancelled"        # MAC: the flight will not cross after all (final)


FINAL = frozenset({State.TRANSFERRED, State.REJECTED, State.CANCELLED})

C1, C2 = Role.C1, Role.C2
S = State

# (state, role of the sender, message) -> next state
TRANSITIONS: dict[tuple[State, Role, str], State] = {
    (S.IDLE, C1, "ABI"): S.NOTIFIED,
    (S.IDLE, C1, "EST"): S.OFFERED,
    (S.IDLE, C1, "CPL"): S.OFFERED,
    (S.NOTIFIED, C1, "ABI"): S.NOTIFIED,  # an update of the advance information
    (S.NOTIFIED, C1, "EST"): S.OFFERED,
    (S.NOTIFIED, C1, "CPL"): S.OFFERED,
    (S.NOTIFIED, C1, "MAC"): S.CANCELLED,
    (S.OFFERED, C2, "ACP"): S.COORDINATED,
    (S.OFFERED, C2, "REJ"): S.REJECTED,
    (S.OFFERED, C1, "MAC"): S.CANCELLED,
    (S.COORDINATED, C1, "CDN"): S.NEGOTIATING,
    (S.COORDINATED, C2, "CDN"): S.NEGOTIATING,
    (S.COORDINATED, C1, "TOC"): S.TRANSFERRING,
    (S.COORDINATED, C1, "MAC"): S.CANCELLED,
    # a change is accepted or refused by the unit that did not propose it; refused, the
    # conditions agreed before stand
    (S.NEGOTIATING, C1, "ACP"): S.COORDINATED,
    (S.NEGOTIATING, C2, "ACP"): S.COORDINATED,
    (S.NEGOTIATING, C1, "REJ"): S.COORDINATED,
    (S.NEGOTIATING, C2, "REJ"): S.COORDINATED,
    (S.NEGOTIATING, C1, "MAC"): S.CANCELLED,
    (S.TRANSFERRING, C2, "AOC"): S.TRANSFERRED,
}

LINK_LEVEL = frozenset({"LAM", "LRM"})


class ProtocolError(Exception):
    """A message the dialogue does not allow in its state."""


@dataclass
class Dialogue:
    """One flight crossing one boundary, seen from one end (``role``)."""

    role: Role
    state: State = State.IDLE
    proposer: Role | None = None  # who sent the CDN being negotiated

    def _apply(self, sender: Role, msg: str) -> State:
        nxt = TRANSITIONS.get((self.state, sender, msg))
        if nxt is None:
            raise ProtocolError(f"{msg} from the {sender.value} unit is not allowed when "
                                f"the dialogue is {self.state.value}")
        if self.state is State.NEGOTIATING and msg in ("ACP", "REJ") and sender is self.proposer:
            raise ProtocolError(f"{msg} must come from the unit that did not propose the change")
        self.proposer = sender if msg == "CDN" else None
        self.state = nxt
        return nxt

    def send(self, msg: str) -> State:
        return self._apply(self.role, msg)

    def receive(self, msg: str) -> State:
        return self._apply(C2 if self.role is C1 else C1, msg)

    def allowed(self, sender: Role) -> set[str]:
        return {m for (state, role, m) in TRANSITIONS if state is self.state and role is sender}

    @property
    def final(self) -> bool:
        return self.state in FINAL


@dataclass
class Pending:
    """A message sent and not yet acknowledged by LAM."""

    serial: int
    text: str
    sent_at: float
    tries: int = 1


def new_session(now: float) -> str:
    """The id of our side of a link that starts at ``now`` (data time): a new one whenever
    the link's serials start again from 001 with nothing remembered (a new link, a restart
    that lost its state), so the peer can tell a restart from messages sent again
    (``Aidc.session``).  Made from the data's time, not drawn at random: the same data give
    the same messages, live or replayed, and a lost state replayed from the same start
    sends the same texts again, which the peer rightly takes for duplicates."""
    return f"{round(now * 1000) & 0xFFFF_FFFF_FFFF:012x}"


def pair(sender: str, receiver: str) -> str:
    """The name of the link from ``sender`` to ``receiver``, "SENDER/RECEIVER": a pair of
    units numbers its messages on its own (PAN AIDC ICD), each way."""
    return f"{sender}/{receiver}"


@dataclass
class Link:
    """Messages from one unit to one peer unit: serial numbers (001-999, then 001 again),
    the acknowledgements still awaited, and the id of this side's session on the link.

    A serial is never given to a new message while an earlier message under it still awaits
    its LAM (the peer would take the new one for the old one sent again, and an answer to
    the old one for an answer to the new one): ``number`` skips the pending serials and,
    with all 999 pending, gives none (the caller does not send)."""

    lam_timeout_s: float = 30.0
    max_tries: int = 3
    next_serial: int = 1
    pending: dict[int, Pending] = field(default_factory=dict)
    session: str = ""  # new_session(); "" for a link stored before sessions were kept

    def number(self) -> int | None:
        """The next free serial, or None when every serial awaits its LAM."""
        if len(self.pending) >= 999:
            return None
        serial = self.next_serial
        while serial in self.pending:
            serial = serial % 999 + 1
        self.next_serial = serial % 999 + 1
        return serial

    def sent(self, serial: int, text: str, now: float) -> None:
        self.pending[serial] = Pending(serial, text, now)

    def acknowledged(self, serial: int) -> Pending | None:
        """LAM (or LRM) for ``serial``; None if nothing was awaited under it."""
        return self.pending.pop(serial, None)

    def due(self, now: float) -> tuple[list[Pending], list[Pending]]:
        """(to send again, given up): what has waited ``lam_timeout_s`` for its LAM."""
        again, lost = [], []
        for p in list(self.pending.values()):
            if now - p.sent_at < self.lam_timeout_s:
                continue
            if p.tries >= self.max_tries:
                lost.append(self.pending.pop(p.serial))
            else:
                p.tries += 1
                p.sent_at = now
                again.append(p)
        return again, lost


MISSING = object()


@dataclass
class Heard:
    """What this unit remembers of one peer's messages on a link, to know a message sent
    again from a new one: the peer's session and its recently handled serials.

    A message is identified by (link, sender's session, serial, text digest), not by its
    serial alone: a peer that restarts and counts from 001 again sends new messages under
    serials it used before.  A new sender session starts (``restarted``) when

    - the envelope names another session than the one last heard (``Aidc.session``),
    - a serial handled recently comes again with another text, or
    - (a peer that sends no session) a serial more than ``RECENT`` behind the last one
      that is not the 999 -> 001 wrap.

    A duplicate is the same serial with the same text in the same session: answered with
    LAM again, not handled twice.  Only messages handled are recorded (``record``): a
    refused one is answered LRM and, sent again, judged again.  Bounded: the last
    ``RECENT`` serials.
    """

    RECENT = 100

    session: str | None = None
    # serial -> text digest (None: recorded before digests were kept), oldest first
    recent: dict[int, str | None] = field(default_factory=dict)
    last: int | None = None  # the furthest serial recorded in this session

    def restarted(self, session: str | None, serial: int, digest: str) -> bool:
        if session is not None and self.session is not None and session != self.session:
            return True
        known = self.recent.get(serial, MISSING)
        if known is not MISSING:
            return known is not None and known != digest
        if session is None and self.last is not None:
            behind = not 0 < (serial - self.last) % 999 <= 499
            return behind and (self.last - serial) % 999 > self.RECENT
        return False

    def heard(self, session: str | None, serial: int, digest: str) -> bool:
        """A message came (any, LAM and LRM included): True if it starts a new sender
        session (what was heard before is forgotten).  The first session named is
        adopted."""
        if self.restarted(session, serial, digest):
            self.start(session)
            return True
        if self.session is None:
            self.session = session
        return False

    def start(self, session: str | None) -> None:
        """A new sender session: nothing heard before it counts."""
        self.session, self.last = session, None
        self.recent.clear()

    def behind(self, serial: int) -> bool:
        """A serial older than the furthest handled in this session: the peer sent it
        before something we have handled already (it was lost, and is sent again for want
        of our LAM, after what overtook it)."""
        return (self.last is not None and serial != self.last
                and not 0 < (serial - self.last) % 999 <= 499)

    def duplicate(self, serial: int, digest: str) -> bool:
        known = self.recent.get(serial, MISSING)
        return known is not MISSING and known in (None, digest)

    def record(self, serial: int, digest: str) -> None:
        self.recent.pop(serial, None)
        self.recent[serial] = digest
        while len(self.recent) > self.RECENT:
            del self.recent[next(iter(self.recent))]
        if self.last is None or 0 < (serial - self.last) % 999 <= 499:
            self.last = serial

    def copy(self) -> Heard:
        return Heard(self.session, dict(self.recent), self.last)

    # as a store keeps it (JSON)

    def to_json(self) -> dict[str, object]:
        return {"session": self.session, "last": self.last,
                "recent": [[serial, digest] for serial, digest in self.recent.items()]}

    @classmethod
    def from_json(cls, data: object) -> Heard:
        """Also the plain list of serials stored before sessions and digests were kept."""
        if isinstance(data, list):
            serials = [int(s) for s in data][-cls.RECENT:]
            return cls(None, dict.fromkeys(serials), serials[-1] if serials else None)
        if not isinstance(data, dict):
            raise TypeError(f"not a peer's serials: {type(data).__name__}")
        session, last = data.get("session"), data.get("last")
        recent = {int(s): None if d is None else str(d) for s, d in data.get("recent", [])}
        return cls(None if session is None else str(session), recent,
                   None if last is None else int(last))
