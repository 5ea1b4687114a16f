"""A simulated neighbouring unit (the accepting side, C2), sans-IO, for the demo and tests.

It acknowledges every message with LAM (LRM for text it cannot read or a message out of
turn), accepts offers (EST, CPL) and proposed changes (CDN) with ACP, and takes control
(TOC) with AOC.  Its own answers await a LAM like any AIDC message: ``tick`` sends again
what was not acknowledged in ``lam_timeout_s`` (a gateway that crashed before it could
act on an answer gets it again).  ``reject_every`` N refuses every Nth offer with REJ;
``ignore`` drops messages unanswered (no LAM either), to exercise the sender's retries.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from gateway.handoff.dialogue import C2, Dialogue, Link, ProtocolError
from gateway.handoff.engine import UNKNOWN_AERODROME, _remark, envelope
from gateway.handoff.text import AidcSyntaxError, AidcText, parse
from gateway.messages import Aidc

ANSWERS = {"EST": "ACP", "CPL": "ACP", "CDN": "ACP", "TOC": "AOC"}


@dataclass
class Peer:
    unit: str
    reject_every: int = 0
    ignore: frozenset[str] = frozenset()
    dialogues: dict[tuple[str, str], Dialogue] = field(default_factory=dict)
    serials: dict[str, int] = field(default_factory=dict)
    seen: dict[str, list[int]] = field(default_factory=dict)
    offers: int = 0
    lam_timeout_s: float = 30.0
    links: dict[str, Link] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)

    def _link(self, to: str) -> Link:
        if to not in self.links:
            self.links[to] = Link(self.lam_timeout_s, max_tries=5)
        return self.links[to]

    def _number(self, to: str) -> int:
        return self._link(to).number()

    def tick(self, now: float) -> list[Aidc]:
        """Answers not acknowledged in time, sent again under their serials."""
        out = []
        for link in self.links.values():
            again, lost = link.due(now)
            out += [envelope(parse(p.text), now) for p in again]
            self.counters["resent"] += len(again)
            self.counters["lam-timeout"] += len(lost)
        return out

    def _reply(self, msg: str, to: str, ref: int, now: float, text: AidcText | None = None,
               remark: str | None = None) -> Aidc:
        out = AidcText(msg, self.unit, to, self._number(to), ref=(to, self.unit, ref),
                       callsign=text.callsign if text and msg not in ("LAM", "LRM") else None,
                       ssr=text.ssr if text else None, dep=UNKNOWN_AERODROME,
                       dst=UNKNOWN_AERODROME, remark=remark)
        self.counters[f"sent-{msg}"] += 1
        if msg not in ("LAM", "LRM"):
            self._link(to).sent(out.serial, out.text(), now)
        return envelope(out, now)

    def receive(self, message: Aidc, now: float) -> list[Aidc]:
        if message.to != self.unit:
            return []
        try:
            text = parse(message.text)
        except AidcSyntaxError as exc:
            return [self._reply("LRM", message.from_, message.serial % 1000, now,
                                remark=_remark(str(exc)))]
        if text.msg in self.ignore:
            self.counters["ignored"] += 1
            return []
        self.counters[f"received-{text.msg}"] += 1
        if text.msg in ("LAM", "LRM"):
            if text.ref is not None:
                self._link(text.sender).acknowledged(text.ref[2])
            return []
        sender = text.sender
        seen = self.seen.setdefault(sender, [])
        if text.serial in seen:
            return [self._reply("LAM", sender, text.serial, now)]
        seen.append(text.serial)
        del seen[:-100]
        key = (sender, message.track_id or text.callsign or "")
        dialogue = self.dialogues.setdefault(key, Dialogue(C2))
        try:
            dialogue.receive(text.msg)
        except ProtocolError as exc:
            return [self._reply("LRM", sender, text.serial, now, remark=_remark(str(exc)))]
        out = [self._reply("LAM", sender, text.serial, now)]
        answer = ANSWERS.get(text.msg)
        if answer is None:
            return out
        if text.msg in ("EST", "CPL"):
            self.offers += 1
            if self.reject_every and self.offers % self.reject_every == 0:
                answer = "REJ"
        dialogue.send(answer)
        out.append(self._reply(answer, sender, text.serial, now, text))
        return out
