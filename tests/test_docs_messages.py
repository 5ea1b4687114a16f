"""docs/messages.md against the code: every example is a valid v1 message, and none is missing.

Every JSON example on the page is checked twice, as a consumer would with the committed schema
(jsonschema) and as the gateway would with the typed decoder (gateway.messages).  Every message
kind, the ``ended`` state and every row of the topic table must have an example; an example
under a topic must fit the row (its ``{placeholders}``, the kinds it names, one message or a
batch) and be what the topic table in the code (gateway.publish.topics) makes of that payload,
with the QoS, retain flag and expiry the row says.  Mutated copies of the page show that each
check fails when it should.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from gateway.messages import KINDS, Fused, Message, MessageError, Status, decode, decode_batch
from gateway.publish.batch import Kind, Published
from gateway.publish.topics import Outbound, Topics

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "messages.md"
SCHEMA = Draft202012Validator(
    json.loads((ROOT / "docs" / "messages.schema.json").read_text(encoding="utf-8")))
PREFIX = "surv/v1"  # the default [mqtt] topic_prefix, which the examples use
FUSED_EXPIRY_S = 60
REQUIRED = {*KINDS, "ended"}
# Where the pipeline puts the messages it makes itself; plots and tracks are named by source.
BATCH_KIND = {"fused": Kind.PICTURE, "aidc": Kind.AIDC, "alert": Kind.ALERTS,
              "plot": Kind.PLOTS, "track": Kind.TRACKS, "registration": Kind.REGISTRATION}

_FENCE = re.compile(r"^```json\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_NAMED_TOPIC = re.compile(rf"^`({re.escape(PREFIX)}/[^`]+)`")
_ROW = re.compile(r"^\| `([^`]+)` \|(.*)\|$", re.MULTILINE)


@dataclass(frozen=True)
class Example:
    line: int
    topic: str | None  # the topic the paragraph just above the block starts with, if any
    text: str


@dataclass(frozen=True)
class Row:
    pattern: str  # plots/{sac}-{sic}
    kinds: frozenset[str]
    batch: bool
    qos: int
    retain: bool
    expiry: bool


def examples(doc: str) -> list[Example]:
    found = []
    for m in _FENCE.finditer(doc):
        paragraph = doc[:m.start()].rstrip().rsplit("\n\n", 1)[-1]  # the one just above
        named = _NAMED_TOPIC.match(paragraph)
        found.append(Example(doc.count("\n", 0, m.start()) + 1,
                             named[1] if named else None, m[1]))
    return found


def topic_rows(doc: str) -> dict[str, Row]:
    """The table of the ``## MQTT topics`` section: topic | payload | QoS | retain | expiry."""
    start = doc.find("\n## MQTT topics")
    end = doc.find("\n#", start + 1)
    rows = {}
    for m in _ROW.finditer(doc[start:end] if start >= 0 else ""):
        payload, qos, retain, expiry = (cell.strip() for cell in m[2].split("|"))
        rows[m[1]] = Row(m[1], frozenset(set(re.findall(r"`([a-z]+)`", payload)) & set(KINDS)),
                         payload.startswith("a batch"), int(qos),
                         retain.split()[0] == "yes", expiry != "none")
    return rows


def _schema_error(value: Any) -> str | None:
    """None if the committed schema takes the value, else why not, as near the fault as the
    schema's own discriminator (kind -> definition) can say."""
    if SCHEMA.is_valid(value):
        return None
    defs = SCHEMA.schema["$defs"]
    mapping = defs["Message"]["discriminator"]["mapping"]
    for item in value if isinstance(value, list) else [value]:
        ref = mapping.get(item.get("kind")) if isinstance(item, dict) else None
        if ref is not None:
            error = best_match(Draft202012Validator({"$ref": ref, "$defs": defs}).iter_errors(item))
            if error is not None:
                return f"{error.message[:120]} at {error.json_path}"
    return "neither a message nor a batch of messages"


def _pattern(row: str) -> re.Pattern[str]:
    levels = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(row))
    return re.compile(rf"{re.escape(PREFIX)}/{levels}")


def _fields(message: Message) -> dict[str, Any]:
    """A message's fields as its JSON names them, with the source's SAC/SIC at the top."""
    fields: dict[str, Any] = msgspec.to_builtins(message)
    return {**fields, **fields.get("src", {})}


def _outbound(messages: list[Message]) -> list[Outbound]:
    """What the topic table in the code publishes for these messages."""
    first = messages[0]
    if isinstance(first, Status):
        return [Topics(PREFIX, first.gateway, FUSED_EXPIRY_S).status(
            first.state, first.t, first.counters)]
    kind = BATCH_KIND[str(first.__struct_config__.tag)]
    source = None
    if kind in (Kind.PLOTS, Kind.TRACKS):  # plots/{sac}-{sic}: the source names the topic
        source = (first.src.sac, first.src.sic)  # type: ignore[union-attr]
    topics = Topics(PREFIX, "gateway", FUSED_EXPIRY_S)
    return list(topics.outbound(Published(kind, messages, source)))


def _check_topic(example: Example, messages: list[Message], batch: bool,
                 rows: dict[str, Row]) -> tuple[str | None, list[str]]:
    """(the row the example is for, what is wrong with it)."""
    assert example.topic is not None
    where = f"line {example.line} ({example.topic})"
    matches = [(row, m) for row in rows.values() if (m := _pattern(row.pattern).fullmatch(
        example.topic))]
    if len(matches) != 1:
        return None, [f"{where}: matches {len(matches)} rows of the topic table, not one"]
    row, match = matches[0]
    wrong = []
    if batch != row.batch:
        wrong.append(f"{where}: the table says {'a batch' if row.batch else 'one message'}")
    for message in messages:
        fields = _fields(message)
        if fields["kind"] not in row.kinds:
            wrong.append(f"{where}: a {fields['kind']} message, the table says {set(row.kinds)}")
        for name, level in match.groupdict().items():
            if str(fields.get(name)) != level:
                wrong.append(f"{where}: {{{name}}} is {level!r}, the message has "
                             f"{fields.get(name)!r}")
    if wrong:  # the code is asked only about payloads that fit the row
        return row.pattern, wrong
    sent = [o for o in _outbound(messages) if o.topic == example.topic]
    if not sent:
        wrong.append(f"{where}: the gateway does not publish this payload on this topic")
    for o in sent[:1]:
        if (o.qos, o.retain, o.expiry_s is not None) != (row.qos, row.retain, row.expiry):
            wrong.append(f"{where}: the gateway sends QoS {o.qos}, retain {o.retain}, "
                         f"expiry {o.expiry_s}; the table says otherwise")
        again = decode_batch(o.payload) if batch else [decode(o.payload)]
        if again != messages:
            wrong.append(f"{where}: the gateway's payload differs from the example")
    return row.pattern, wrong


def problems(doc: str) -> list[str]:
    """Everything wrong with the page's examples; empty when all is well."""
    wrong: list[str] = []
    seen: set[str] = set()
    covered: set[str] = set()
    rows = topic_rows(doc)
    if not rows:
        wrong.append("no topic table under '## MQTT topics'")
    for example in examples(doc):
        where = f"line {example.line}"
        try:
            value = json.loads(example.text)
        except ValueError as exc:
            wrong.append(f"{where}: not JSON: {exc}")
            continue
        error = _schema_error(value)
        if error is not None:
            wrong.append(f"{where}: schema: {error}")
        batch = isinstance(value, list)
        try:
            messages = decode_batch(example.text) if batch else [decode(example.text)]
        except MessageError as exc:
            wrong.append(f"{where}: gateway.messages: {exc}")
            continue
        if not messages:
            wrong.append(f"{where}: an empty batch shows nothing")
            continue
        for m in messages:
            seen.add(str(m.__struct_config__.tag))
            if isinstance(m, Fused) and m.state == "ended":
                seen.add("ended")
        if example.topic is not None:
            row, more = _check_topic(example, messages, batch, rows)
            wrong += more
            if row is not None:
                covered.add(row)
    wrong += [f"no example of {kind!r}" for kind in sorted(REQUIRED - seen)]
    wrong += [f"no example for the topic {row}" for row in sorted(set(rows) - covered)]
    return wrong


DOC_TEXT = DOC.read_text(encoding="utf-8")


def test_every_example_is_valid_and_nothing_is_missing() -> None:
    assert problems(DOC_TEXT) == []


def test_the_page_has_what_it_promises() -> None:
    rows = topic_rows(DOC_TEXT)
    assert set(rows) == {"plots/{sac}-{sic}", "tracks/{sac}-{sic}", "fused/{id}", "picture",
                         "aidc/{from}/{to}", "alerts", "status/{gateway}",
                         "registration/{sac}-{sic}"}
    found = examples(DOC_TEXT)
    assert len(found) >= len(REQUIRED) + len(rows)
    assert {e.topic for e in found if e.topic} >= {
        f"{PREFIX}/picture", f"{PREFIX}/alerts"}


def _once(old: str, new: str) -> str:
    assert DOC_TEXT.count(old) >= 1, old
    return DOC_TEXT.replace(old, new, 1)


def _everywhere(old: str, new: str) -> str:
    assert old in DOC_TEXT, old
    return DOC_TEXT.replace(old, new)


@pytest.mark.parametrize(("doc", "expected"), [
    pytest.param(_once('"v": 1,', '"v": 2,'), "schema", id="wrong-version-schema"),
    pytest.param(_once('"v": 1,', '"v": 2,'), "gateway.messages", id="wrong-version-decoder"),
    pytest.param(_once('  "fl": 319.25,\n', ""), "gateway.messages", id="missing-field"),
    pytest.param(_once('"callsign": "UAL730",', '"callsign": "UAL730", "squawk": 1,'),
                 "schema", id="unknown-field"),
    pytest.param(_once('"mode3a": "1131",', '"mode3a": "1139",'), "schema", id="not-octal"),
    pytest.param(_once('"kind": "plot",', '"kind": "plot" "v",'), "not JSON", id="bad-json"),
    pytest.param(_everywhere('"state": "ended"', '"state": "coasting"'),
                 "no example of 'ended'", id="no-ended"),
    pytest.param(_everywhere('"kind": "alert"', '"kind": "status"'), "no example of 'alert'",
                 id="no-alert"),
    pytest.param(_once("`surv/v1/picture`: the fused", "The fused"),
                 "no example for the topic picture", id="topic-without-example"),
    pytest.param(_once("`surv/v1/aidc/KZLA/MMZT`:", "`surv/v1/aidc/KZAB/MMZT`:"),
                 "{from} is 'KZAB'", id="topic-level-disagrees"),
    pytest.param(_once("| one `alert` message | 1 |", "| one `alert` message | 0 |"),
                 "the table says otherwise", id="qos-disagrees-with-code"),
    pytest.param(_once("`surv/v1/plots/0-104`:", "`surv/v1/picture`:"),
                 "a plot message", id="kind-on-wrong-topic"),
])
def test_a_broken_page_is_caught(doc: str, expected: str) -> None:
    found = problems(doc)
    assert found, "the broken page passed"
    assert any(expected in p for p in found), found
