"""Fuzzing the inbound AIDC path through ``Pipeline.receive_aidc``: parser, identity, matching,
dialogue.

The corpus is real: the messages of dialogues the simulated peer held with the engine (LAM,
ACP, REJ, AOC, and our own ABI, EST, TOC, MAC turned round: offers and transfers from the
peer, which the engine's accepting side answers).  Now and then one of the
engine's dialogues is put back into a state that takes answers (as if another flight came),
so that answers are handled, sent again and refused as the dialogue moves on.  Each
generated message is one of them mutated, seeded, as an attacker or a broken peer would:
serials, field 7 (callsign, SSR code), references, message types, units (in the text, the
envelope, the topic), sessions, random characters, non-ASCII, oversized texts, random bytes
and broken JSON.  For every one:

- nothing raises out of ``receive_aidc`` and no handler error is counted (the fuzz found none
  left; one would be a bug to fix);
- it is either answered (one LAM or LRM to its sender) or counted under a reason that
  says why it got no answer (undecodable, not a configured link, a refused topic with nobody
  to address, a LAM or LRM received, no free serial): the accounting adds up to the number
  sent;
- every AIDC text the gateway sends parses with its own grammar (an LRM naming non-ASCII
  input included).

The full run is a million messages (``slow``); a shorter one runs with the quick tests.
"""

from __future__ import annotations

import random
import re
import string
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from test_aidc_inbound import drive
from test_handoff_engine import T0, track
from test_handoff_store import config

from gateway.handoff.dialogue import State
from gateway.handoff.peer import Peer
from gateway.handoff.text import LAYOUT, parse
from gateway.messages import Aidc, encode
from gateway.pipeline import Pipeline

# the reasons an inbound message gets no answer by design are those ``unanswered`` adds up
# (undecodable, not a configured link, a LAM or LRM, no free serial, a refusal that failed),
# and a refused topic when the envelope's pair is no configured link (nobody to address)
TOPIC_REFUSED = "aidc-refused-topic"
CALLSIGNS = ["AMX412", "VIV100", "AAL7", "DAL19", "X", "A" * 7, "AMX4120"]
STATES = [State.OFFERED, State.COORDINATED, State.NEGOTIATING, State.TRANSFERRING]
NON_ASCII = "ÄÉßĳ٣١٢߀\u2028\u00a0\u200b\ufeff€𝟗Ω中"


def corpus(pipeline: Pipeline) -> list[Aidc]:
    """Real dialogues through the pipeline's engine: flights coordinated and transferred,
    rejected, left offered (the peer acknowledges but does not answer) and notified."""
    engine = pipeline.handoff
    assert engine is not None
    seen: list[Aidc] = []
    flights = [
        (Peer("KZHU"), 900, 26.5, {}),
        (Peer("KZHU", reject_every=1), 300, 27.5, dict(callsign="VIV100", mode3a="2312")),
        (Peer("KZHU", ignore=frozenset({"EST"})), 200, 27.5, dict(callsign="AAL7")),
        (Peer("KZHU", ignore=frozenset({"TOC"})), 900, 26.5, dict(callsign="DAL19")),
        (Peer("KZHU"), 120, 27.5, dict(callsign="AMX999", mode3a=None)),
    ]
    for n, (peer, seconds, lat, kw) in enumerate(flights):
        out = drive(engine, peer, T0 + 1000 * n, seconds, start_lat=lat,
                    id=f"gw-T{n:06d}", icao24=f"0D000{n}", **kw)
        seen += [m for m in out if isinstance(m, Aidc)]
    # the last one's track ends before the EST: MAC
    t = T0 + 1000 * len(flights)
    seen += [m for m in engine.update([track(t, 27.5, id=f"gw-T{len(flights) - 1:06d}",
                                             state="ended")], t) if isinstance(m, Aidc)]
    return seen


class Mutator:
    def __init__(self, seed: int, base: list[Aidc]) -> None:
        self.rng = random.Random(seed)
        self.base = base
        # a peer keeps one session; now and then another (a restart) or none (a third party)
        self.sessions = sorted({m.session for m in base if m.session}) + [None]
        self.session = self.sessions[0]

    def _chars(self, n: int, alphabet: str) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def text(self, text: str) -> str:
        r = self.rng
        kind = r.randrange(16)
        if kind == 0:  # serial
            serial = f"{r.randrange(10_000):04d}"[: r.choice((3, 3, 3, 2, 4))]
            return re.sub("[0-9]{3}", serial, text, count=1)
        if kind == 1:  # field 7: another callsign or SSR code
            parts = text.split("-")
            if len(parts) > 1:
                parts[1] = r.choice(CALLSIGNS) + r.choice(("", f"/A{r.randrange(8**4):04o}",
                                                          "/A9999", "/B1234"))
            return "-".join(parts)
        if kind == 2:  # the reference
            head, sep, rest = text.partition("-")
            ref = f"{r.choice(('MMTY', 'KZHU', 'KZLA', 'Q'))}/{r.choice(('KZHU', 'MMTY'))}" \
                  f"{r.randrange(1000):03d}"
            return head[:16] + r.choice(("", ref)) + sep + rest
        if kind == 3:  # the type
            return "(" + r.choice([*LAYOUT, "XYZ", "ac", ""]) + text[4:]
        if kind == 4:  # the units
            return text.replace(r.choice(("KZHU", "MMTY")), r.choice(("KZLA", "MMZT", "XX", "")),
                                r.choice((1, 2)))
        if kind == 5:  # random characters somewhere
            i = r.randrange(len(text) + 1)
            return text[:i] + self._chars(r.randrange(1, 8), string.printable) + text[i:]
        if kind == 6:  # non-ASCII somewhere
            i = r.randrange(len(text) + 1)
            return text[:i] + self._chars(r.randrange(1, 4), NON_ASCII) + text[i:]
        if kind == 7:  # oversized
            return text[:-1] + "-" + "A" * r.choice((1100, 4000)) + ")"
        if kind == 8:  # fields dropped or doubled
            parts = text[1:-1].split("-")
            i = r.randrange(len(parts))
            parts = parts[:i] + parts[i + 1:] if r.random() < 0.5 else parts + parts[i:i + 1]
            return "(" + "-".join(parts) + ")"
        if kind == 9:  # cut short
            return text[: r.randrange(len(text))]
        return text  # as it was: a message sent again, or another session's

    def message(self) -> tuple[bytes, str | None]:
        r = self.rng
        m = r.choice(self.base)
        if m.from_ == "MMTY":  # our own message, turned round: the peer as the sender
            m = msgspec.structs.replace(m, from_=m.to, to=m.from_, text=m.text.replace(
                f"{m.from_}/{m.to}", f"{m.to}/{m.from_}", 1))
        text = self.text(m.text)
        envelope = dict(from_=m.from_, to=m.to, serial=m.serial)
        k = r.randrange(20)
        if k == 0:
            envelope["from_"] = r.choice(("KZLA", "MMTY", "XXXX"))
        elif k == 1:
            envelope["to"] = r.choice(("MMZT", "KZHU", "XXXX"))
        elif k == 2:
            envelope["serial"] = r.randrange(2**31)
        session = r.choice(self.sessions) if r.random() < 0.1 else self.session
        try:
            payload = encode(msgspec.structs.replace(m, text=text, session=session, **envelope))
        except (msgspec.ValidationError, TypeError):  # pragma: no cover - encode validates nothing
            payload = b"{}"
        j = r.randrange(50)
        if j == 0:
            payload = r.randbytes(r.randrange(200))
        elif j == 1:
            payload = payload[: r.randrange(len(payload))]
        elif j == 2:
            payload = payload.replace(b'"session":', b'"extra":', 1)
        elif j == 3:
            payload = payload.replace(b'"v":1', b'"v":2', 1)
        topic_from, topic_to = m.from_, m.to
        t = r.randrange(25)
        if t == 0:
            return payload, None
        if t == 1:
            topic_from = r.choice(("KZLA", "XXXX", ""))
        elif t == 2:
            return payload, r.choice(("surv/v1/aidc/KZHU", "surv/v1/alerts", "x/aidc/KZHU/MMTY"))
        return payload, f"surv/v1/aidc/{topic_from}/{topic_to}"


def fuzz(tmp_path: Path, n: int, seed: int) -> dict[str, Any]:
    pipeline = Pipeline(config(tmp_path))  # no store: in memory, as fast as it goes
    engine = pipeline.handoff
    assert engine is not None
    base = corpus(pipeline)
    assert {m.msg for m in base} >= {"ABI", "EST", "ACP", "REJ", "TOC", "AOC", "LAM", "MAC"}
    mutator = Mutator(seed, base)
    flights = list(engine.flights.values())
    ours, theirs = pipeline.aidc_counters, engine.counters

    def unanswered() -> int:
        return (ours["aidc-undecodable"] + theirs["aidc-not-ours"]
                + theirs["aidc-received-LAM"] + theirs["aidc-received-LRM"]
                + ours["aidc-refusal-errors"])

    answered = counted = sent = 0
    parsed: set[str] = set()
    now = T0 + 10_000.0
    started = time.perf_counter()
    for i in range(n):
        payload, topic = mutator.message()
        before, refused_topic = unanswered(), theirs[TOPIC_REFUSED]
        full = theirs["aidc-link-full"]
        out = pipeline.receive_aidc(payload, now + i * 1e-4, topic=topic)
        aidc = [m for batch in out for m in batch.messages if isinstance(m, Aidc)]
        answers = [m for m in aidc if m.msg in ("LAM", "LRM")]
        assert len(answers) <= 1, (payload, answers)
        for m in aidc:
            sent += 1
            if m.text not in parsed:
                parse(m.text)  # everything we say, our own grammar reads
                parsed.add(m.text)
                if len(parsed) > 100_000:
                    parsed.clear()
        if answers:
            answered += 1
        else:
            # with every serial to the peer awaiting its LAM, nothing can be said: that is
            # the reason, whatever else the message was (a refusal that could not go out,
            # a TOC taken in an accepting dialogue that owes its LAM and its AOC)
            reasons = (1 if theirs["aidc-link-full"] > full else
                       unanswered() - before + (theirs[TOPIC_REFUSED] - refused_topic))
            assert reasons == 1, (payload, topic, reasons)
            counted += 1
        if i % 5 == 0:  # as if new flights came: a dialogue back in a state that takes answers
            f = mutator.rng.choice(flights)
            f.dialogue.state, f.dialogue.proposer = mutator.rng.choice(STATES), None
        if i % 5000 == 0:
            engine.tick(now + i * 1e-4)  # summaries of held alerts, LAMs awaited
    elapsed = time.perf_counter() - started
    totals = pipeline.counters()
    assert totals["aidc-inbound"] == n == answered + counted
    assert totals["aidc-handler-errors"] == 0
    return dict(n=n, answered=answered, counted=counted, sent=sent, elapsed=elapsed,
                rate=n / elapsed, counters=totals)


def report(result: dict[str, Any]) -> None:
    c = result["counters"]
    print(f"\n{result['n']} messages in {result['elapsed']:.1f} s ({result['rate']:.0f}/s): "
          f"{result['answered']} answered, {result['counted']} counted unanswered, "
          f"{result['sent']} AIDC messages sent and parsed back")
    print({k: v for k, v in sorted(c.items()) if k.startswith(("aidc-", "lam-", "alerts-"))})


def test_fuzz_the_inbound_path_briefly(tmp_path: Path) -> None:
    result = fuzz(tmp_path, 20_000, seed=13)
    report(result)
    c = result["counters"]
    # the mutations reach every part of the path
    for reason in ("aidc-undecodable", "aidc-not-ours", "aidc-refused-topic", "aidc-invalid",
                   "aidc-refused-units", "aidc-no-dialogue", "aidc-mismatch",
                   "aidc-out-of-turn", "aidc-duplicate", "aidc-peer-restart",
                   "alerts-suppressed", "aidc-refused-offer", "aidc-sent-ACP", "aidc-sent-AOC"):
        assert c[reason] > 0, reason


@pytest.mark.slow
def test_fuzz_the_inbound_path_with_a_million_messages(tmp_path: Path) -> None:
    result = fuzz(tmp_path, 1_000_000, seed=2026)
    report(result)
