"""A simulated neighbouring unit (the accepting side, C2), sans-IO, for the demo and tests.

It acknowledges every message with LAM (LRM for text it cannot read or a message out of
turn), accepts offers (EST, CPL) and proposed changes (CDN) with ACP, and takes control
(TOC) with AOC.  Its own answers await a LAM like any AIDC message: ``tick`` sends again
what was not acknowledged in ``lam_timeout_s`` (a gateway that crashed before it could
act on an answer gets it again).  ``reject_every`` N refuses every Nth offer with REJ;
``ignore`` drops messages unanswered (no LAM either), to exercise the sender's retries.

It keeps the link rules the engine keeps (``dialogue.Link``, ``dialogue.Heard``): its
messages carry its session on the link, a message is a duplicate only if the same serial
comes with the same text in the same session, a refused one is not remembered, and no
serial is given while a message under it awaits its LAM.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from gateway.handoff.dialogue import (
    C2,
    LINK_LEVEL,
    Dialogue,
    Heard,
    Link,
    ProtocolError,
    new_session,
    pair,
)
from gateway.handoff.engine import UNKNOWN_AERODROME, _remark, envelope
from gateway.handoff.text import AidcSyntaxError, AidcText, digest, parse
from gateway.messages import Aidc

ANSWERS = {"EST": "ACP", "CPL": "ACP", "CDN": "ACP", "TOC": "AOC"}


@dataclass
class Peer:
    unit: str
    reject_every: int = 0
    ignore: frozenset[str] = frozenset()
    dialogues: dict[tuple[str, str], Dialogue] = field(default_factory=dict)
    serials: dict[str, int] = field(default_factory=dict)
    seen: dict[str, Heard] = field(default_factory=dict)
    offers: int = 0
    lam_timeout_s: float = 30.0
    links: dict[str, Link] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)

    def _link(self, to: str, now: float) -> Link:
        """Our link to unit ``to``: serials per pair of units, named as the engine names
        them ("SENDER/RECEIVER", ``dialogue.pair``), as is what was heard (``seen``)."""
        key = pair(self.unit, to)
        if key not in self.links:
            self.links[key] = Link(self.lam_timeout_s, max_tries=5, session=new_session(now))
        return self.links[key]

    def tick(self, now: float) -> list[Aidc]:
        """Answers not acknowledged in time, sent again under their serials."""
        out = []
        for link in self.links.values():
            again, lost = link.due(now)
            out += [envelope(parse(p.text), now, session=link.session or None) for p in again]
            self.counters["resent"] += len(again)
            self.counters["lam-timeout"] += len(lost)
        return out

    def _reply(self, msg: str, to: str, ref: int, now: float, text: AidcText | None = None,
               remark: str | None = None) -> list[Aidc]:
        """The answer, or none when every serial to ``to`` awaits its LAM (counted)."""
        link = self._link(to, now)
        serial = link.number()
        if serial is None:
            self.counters["link-full"] += 1
            return []
        out = AidcText(msg, self.unit, to, serial, ref=(to, self.unit, ref),
                       callsign=text.callsign if text and msg not in LINK_LEVEL else None,
                       ssr=text.ssr if text else None, dep=UNKNOWN_AERODROME,
                       dst=UNKNOWN_AERODROME, remark=remark)
        self.counters[f"sent-{msg}"] += 1
        if msg not in LINK_LEVEL:
            link.sent(out.serial, out.text(), now)
        return [envelope(out, now, session=link.session or None)]

    def receive(self, message: Aidc, now: float) -> list[Aidc]:
        if message.to != self.unit:
            return []
        try:
            text = parse(message.text)
        except AidcSyntaxError as exc:
            return self._reply("LRM", message.from_, message.serial % 1000, now,
                               remark=_remark(str(exc)))
        if text.msg in self.ignore:
            self.counters["ignored"] += 1
            return []
        self.counters[f"received-{text.msg}"] += 1
        sender = text.sender
        identity = digest(text)
        heard = self.seen.setdefault(pair(sender, self.unit), Heard())
        if heard.heard(message.session, text.serial, identity):
            self.counters["sender-restart"] += 1
        if text.msg in LINK_LEVEL:
            if text.ref is not None:
                self._link(text.sender, now).acknowledged(text.ref[2])
            return []
        if heard.duplicate(text.serial, identity):
            return self._reply("LAM", sender, text.serial, now)
        key = (sender, message.track_id or text.callsign or "")
        dialogue = self.dialogues.setdefault(key, Dialogue(C2))
        try:
            dialogue.receive(text.msg)
        except ProtocolError as exc:
            return self._reply("LRM", sender, text.serial, now, remark=_remark(str(exc)))
        heard.record(text.serial, identity)
        out = self._reply("LAM", sender, text.serial, now)
        answer = ANSWERS.get(text.msg)
        if answer is None:
            return out
        if text.msg in ("EST", "CPL"):
            self.offers += 1
            if self.reject_every and self.offers % self.reject_every == 0:
                answer = "REJ"
        dialogue.send(answer)
        return out + self._reply(answer, sender, text.serial, now, text)
