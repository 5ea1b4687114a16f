"""The shared format v1: every message the gateway publishes or accepts, as msgspec Structs.

These types are the only definition of the format (docs/messages.md describes it for users).
They serialise themselves to exactly that JSON (key order kind, v, t, then the fields in
declaration order; unknown values ``null``, never omitted), they are their own JSON Schema
(``schema()``, written to docs/messages.schema.json by ``python -m gateway.schema``), and
decoding validates against the same declarations, so an inbound message from a neighbouring
unit is either a well-formed v1 message or one ``MessageError``.

Encoding does not validate: the gateway's own code builds these values and the tests hold it
to the schema.  Decoding always does, because whatever arrives from the network is hostile.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Final, Literal, TypeVar, get_args

import msgspec
from msgspec import Meta

__all__ = [
    "AIDC_TYPES",
    "ICAO24_TEXT",
    "MODE3A_TEXT",
    "WAKE_CATEGORIES",
    "KINDS",
    "VERSION",
    "AidcType",
    "CodeText",
    "Detection",
    "FusedState",
    "TOPIC_LEVEL_PATTERN",
    "Aidc",
    "Alert",
    "Coordination",
    "FlightPlan",
    "Fused",
    "Message",
    "MessageError",
    "Plot",
    "RadarRef",
    "Registration",
    "Source",
    "SourceRef",
    "Status",
    "Track",
    "decode",
    "decode_batch",
    "encode",
    "encode_batch",
    "schema",
]

VERSION: Final = 1

# An identifier that becomes one MQTT topic level (fused/{id}, aidc/{from}/{to},
# status/{gateway}): anything an inbound message or a config puts there must not be able to
# add levels or wildcards.  The length bound keeps topics short; config.py uses the same rule.
TOPIC_LEVEL_PATTERN = r"^[^/+#\x00]{1,64}$"

# Longest free text accepted inbound.  AFTN caps an ATS message at 1800 characters; AMHS
# allows more, so this leaves room without letting one message carry megabytes.
_MAX_TEXT = 4096


# -- value types: each unit and constraint written once -------------------------------------

Time = Annotated[float, Meta(ge=0, description="time of applicability, UTC epoch seconds")]
Lat = Annotated[float, Meta(ge=-90, le=90, description="latitude, degrees WGS-84")]
Lon = Annotated[float, Meta(ge=-180, le=180, description="longitude, degrees WGS-84")]
FlightLevel = Annotated[
    float, Meta(description="flight level: hundreds of feet, pressure altitude")
]
Knots = Annotated[float, Meta(ge=0, description="ground speed, knots")]
Angle = Annotated[float, Meta(ge=0, le=360, description="degrees true, clockwise from north")]
Fpm = Annotated[float, Meta(description="rate of climb (negative: descent), feet per minute")]
Byte = Annotated[int, Meta(ge=0, le=255)]
TrackNumber = Annotated[
    int, Meta(ge=0, le=65535, description="the source's own track number (16 bits at most)")
]
Serial = Annotated[int, Meta(ge=0, le=2**31 - 1)]
Mode3A = Annotated[str, Meta(pattern=r"^[0-7]{4}$", description="Mode 3/A code, 4 octal digits")]
Icao24 = Annotated[
    str, Meta(pattern=r"^[0-9A-F]{6}$", description="ICAO 24-bit address, 6 upper-case hex digits")
]
Callsign = Annotated[
    str, Meta(min_length=1, max_length=8, description="aircraft identification, trimmed")
]
TopicLevel = Annotated[
    str, Meta(pattern=TOPIC_LEVEL_PATTERN, description="an identifier usable as a topic level")
]
Text = Annotated[str, Meta(max_length=_MAX_TEXT)]

Detection = Literal["psr", "ssr", "ssr+psr", "modes", "modes+psr"]
Wake = Literal["L", "M", "H", "J"]  # ICAO wake turbulence categories (I062/390 WTC)
WAKE_CATEGORIES: tuple[Wake, ...] = get_args(Wake)
FusedState = Literal["tentative", "confirmed", "coasting", "ended"]
AidcType = Literal["ABI", "EST", "CPL", "ACP", "REJ", "CDN", "MAC", "TOC", "AOC", "LAM", "LRM"]
AIDC_TYPES: tuple[str, ...] = get_args(AidcType)
Flag = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]


# -- parts ----------------------------------------------------------------------------------

class _Part(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    pass


class Source(_Part, frozen=True):
    """The data source that produced a plot or a track (SAC/SIC and ASTERIX category)."""

    sac: Byte
    sic: Byte
    cat: Byte


class RadarRef(_Part, frozen=True):
    """A radar, by its SAC/SIC (the sensor a ``registration`` message is about)."""

    sac: Byte
    sic: Byte


class SourceRef(_Part, frozen=True):
    """One input to a fused update; ``track_number`` is null for an untracked plot."""

    sac: Byte
    sic: Byte
    cat: Byte
    track_number: TrackNumber | None


class Coordination(_Part, frozen=True):
    """The state of the flight's latest border dialogue (AIDC), as this gateway sees it."""

    state: Literal["idle", "notified", "offered", "coordinated", "negotiating",
                   "transferring", "transferred", "rejected", "cancelled"]
    from_: TopicLevel = msgspec.field(name="from")  # the transferring unit
    to: TopicLevel  # the accepting unit
    cop: Annotated[str, Meta(max_length=11)] | None  # coordination point
    eto: Time | None  # estimated time over it, agreed or last proposed
    level: FlightLevel | None  # the level agreed or last proposed


class FlightPlan(_Part, frozen=True, omit_defaults=True):
    """A flight plan: what an SDPS attached to its track (CAT062 I390), or a filed plan
    (ICAO FPL) correlated with a track; any part may be unknown.

    The first six parts are always written (null when unknown), the others only when known:
    a plan from I390 has none of them, and a v1 consumer of ``track`` messages sees what it
    always saw."""

    callsign: Callsign | None
    dep: Annotated[str, Meta(max_length=8)] | None
    dst: Annotated[str, Meta(max_length=8)] | None
    cfl: FlightLevel | None
    type: Annotated[str, Meta(max_length=8)] | None
    wtc: Wake | None
    ssr: Mode3A | None = None  # field 7: the SSR code assigned
    rules: Annotated[str, Meta(pattern=r"^[IVYZ][SNGMX]$")] | None = None  # field 8
    number: Annotated[int, Meta(ge=1, le=99)] | None = None  # field 9: aircraft in formation
    equipment: Annotated[str, Meta(max_length=64)] | None = None  # field 10
    eobt: Annotated[str, Meta(pattern=r"^[0-2][0-9][0-5][0-9]$")] | None = None  # field 13
    route: Annotated[str, Meta(max_length=1024)] | None = None  # field 15, whole
    eet: Annotated[str, Meta(pattern=r"^[0-9]{4}$")] | None = None  # field 16 total EET
    alternates: Annotated[str, Meta(max_length=32)] | None = None  # field 16, space-separated
    other: Annotated[str, Meta(max_length=1024)] | None = None  # field 18, whole
    coordination: Coordination | None = None


# -- messages -------------------------------------------------------------------------------

class _Message(
    msgspec.Struct, tag_field="kind", kw_only=True, frozen=True, forbid_unknown_fields=True,
    omit_defaults=False,
):
    # Unknown fields are refused rather than skipped: the format changes shape only with a
    # version bump, so an extra key means a different version or a forged message.
    v: Literal[1] = VERSION
    t: Time


# Plot and Track are not tracked by the garbage collector either (gc=False), as Fused below:
# the normaliser makes one per target report, and a 10-minute replay writes 120,000.  Safe
# for the same reason: frozen, so no field is ever reassigned, and the fields hold only
# strings, numbers, a Source (numbers), a FlightPlan (strings, numbers, a Coordination of
# the same) and a fresh list of flag strings that nothing appends to; none can refer back.
class Plot(_Message, tag="plot", kw_only=True, frozen=True, gc=False):
    """One CAT048 target report, placed on the earth."""

    src: Source
    lat: Lat | None
    lon: Lon | None
    rho_nm: Annotated[float, Meta(ge=0, description="slant range, NM")] | None
    theta_deg: Angle | None
    fl: FlightLevel | None
    mode3a: Mode3A | None
    icao24: Icao24 | None
    callsign: Callsign | None
    track_number: TrackNumber | None
    gs_kt: Knots | None
    hdg_deg: Angle | None
    detection: Detection | None
    flags: list[Flag]


class Track(_Message, tag="track", kw_only=True, frozen=True, gc=False):
    """One CAT062 track update from an SDPS."""

    src: Source
    track_number: TrackNumber
    lat: Lat | None
    lon: Lon | None
    fl: FlightLevel | None
    gs_kt: Knots | None
    trk_deg: Angle | None
    roc_fpm: Fpm | None
    mode3a: Mode3A | None
    icao24: Icao24 | None
    callsign: Callsign | None
    fpl: FlightPlan | None
    flags: list[Flag]


# Fused is not tracked by the garbage collector (gc=False): the tracker makes thousands a
# second, and each tracked one would count towards the next collection.  Safe because a
# Fused cannot be part of a reference cycle: it is frozen, and what it holds (strings,
# numbers, its own list of SourceRefs, a FlightPlan) never refers back to it.  (The
# docstring is the schema's description: unchanged.)
class Fused(_Message, tag="fused", kw_only=True, frozen=True, gc=False):
    """One update of a system track made by association; ``id`` is stable for its life."""

    id: TopicLevel
    state: FusedState
    lat: Lat | None
    lon: Lon | None
    fl: FlightLevel | None
    gs_kt: Knots | None
    trk_deg: Angle | None
    roc_fpm: Fpm | None
    mode3a: Mode3A | None
    icao24: Icao24 | None
    callsign: Callsign | None
    pos_sigma_m: Annotated[float, Meta(ge=0, description="position error, one sigma, m")] | None
    sources: list[SourceRef]
    fpl: FlightPlan | None = None  # the plan of the flight the track is correlated with
    # the filter's prediction at a periodic output time, not a fresh update
    extrapolated: bool = False
    # coasting because no radar can see where it is predicted (a coverage gap it comes out
    # of), not because the radars that should see it lost it: the handoff still transfers it
    hidden: bool = False


class Aidc(_Message, tag="aidc", kw_only=True, frozen=True):
    """One border coordination message; ``text`` is the ICAO field-format text."""

    msg: AidcType
    from_: TopicLevel = msgspec.field(name="from")
    to: TopicLevel
    serial: Serial
    ref: Annotated[Serial, Meta(description="the serial this message answers")] | None
    track_id: TopicLevel | None
    callsign: Callsign | None
    text: Text
    session: Annotated[str, Meta(pattern=r"^[A-Za-z0-9._-]{1,64}$", description=(
        "the sender's session on the link: it changes when the sender's serials start "
        "again from 001 with nothing remembered"))] | None = None


class Alert(_Message, tag="alert", kw_only=True, frozen=True):
    """Something an operator must see."""

    type: Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    track_id: TopicLevel | None
    text: Text


class Status(_Message, tag="status", kw_only=True, frozen=True):
    """Gateway health, published retained; also the last will with state ``offline``."""

    gateway: TopicLevel
    state: Literal["online", "offline"]
    counters: dict[str, int | float]


class Registration(_Message, tag="registration", kw_only=True, frozen=True):
    """One radar's systematic errors as the tracker estimates them from the traffic (its
    registration; the items of ASTERIX CAT063 sensor status: I063/070 time stamping bias,
    I063/080 range gain and bias, I063/081 azimuth bias), with one sigma each.  The
    radar's plots are corrected with them: range ``(measured - bias) / gain``, azimuth
    ``measured - bias``, time ``stamped - offset``."""

    src: RadarRef
    range_bias_m: Annotated[float, Meta(description="slant range bias, m")]
    range_gain: Annotated[float, Meta(description="range gain: measured = gain x true + bias")]
    azimuth_bias_deg: Annotated[float, Meta(description="azimuth bias, degrees clockwise")]
    time_offset_s: Annotated[float, Meta(description="how late the radar's time stamps are, s")]
    range_bias_sigma_m: Annotated[float, Meta(ge=0)]
    range_gain_sigma: Annotated[float, Meta(ge=0)]
    azimuth_bias_sigma_deg: Annotated[float, Meta(ge=0)]
    time_offset_sigma_s: Annotated[float, Meta(ge=0)]
    pairs: Annotated[int, Meta(ge=0, description=(
        "pairs of plots (this radar and another, one Mode S address) behind the estimate, "
        "old ones counting less"))]
    established: bool  # enough pairs: the radar's plots are corrected


class CodeText(dict[int, str | None]):
    """A code as an int -> its text in this format, each made once (-1 -> None; bounded):
    the normaliser and the tracker write hundreds of thousands of codes and addresses, and
    a lookup is a fraction of a ``format`` call."""

    def __init__(self, form: str) -> None:
        super().__init__()
        self.form = form

    def __missing__(self, value: int) -> str | None:
        if len(self) > 100_000:
            self.clear()
        text = self[value] = None if value < 0 else format(value, self.form)
        return text


MODE3A_TEXT, ICAO24_TEXT = CodeText("04o"), CodeText("06X")  # "1234", "A1B2C3"

Message = Plot | Track | Fused | Aidc | Alert | Status | Registration
KINDS: tuple[str, ...] = tuple(m.__struct_config__.tag for m in get_args(Message))


# -- wire -----------------------------------------------------------------------------------

class MessageError(ValueError):
    """An inbound message is not valid v1; the text is one line saying where and why."""


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Message)
_batch_decoder = msgspec.json.Decoder(list[Message])
_MAX_ERROR = 200


def encode(msg: Message) -> bytes:
    return _encoder.encode(msg)


def encode_lines(msgs: Sequence[Message]) -> bytes:
    """JSON lines, one message a line, in one call: the file sink's format."""
    return _encoder.encode_lines(msgs)


def encode_batch(msgs: Iterable[Message]) -> bytes:
    """A JSON array of messages, the payload of the topics that carry batches."""
    return _encoder.encode(msgs if isinstance(msgs, (list, tuple)) else list(msgs))


def _one_line(text: str) -> str:
    # msgspec quotes offending values verbatim, and hostile values can hold newlines
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= _MAX_ERROR else text[:_MAX_ERROR - 3] + "..."


_T = TypeVar("_T")


def _decode(decoder: msgspec.json.Decoder[_T], data: bytes | bytearray | memoryview | str) -> _T:
    try:
        return decoder.decode(data)
    except msgspec.DecodeError as exc:  # ValidationError included
        raise MessageError(_one_line(str(exc))) from None
    except UnicodeDecodeError as exc:  # bad UTF-8 inside a string escapes msgspec's own errors
        raise MessageError(f"JSON is malformed: not UTF-8 (byte {exc.start})") from None
    except RecursionError:
        raise MessageError("JSON is malformed: nested too deeply") from None


def decode(data: bytes | bytearray | memoryview | str) -> Message:
    """One message, validated; anything else raises MessageError."""
    return _decode(_decoder, data)


def decode_batch(data: bytes | bytearray | memoryview | str) -> list[Message]:
    """A JSON array of messages, validated as a whole: one bad element rejects the batch."""
    return _decode(_batch_decoder, data)


# Any: a JSON Schema document, as msgspec.json.schema_components types it.
def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one message or of a batch (an array of messages).

    ``$defs/Message`` and ``$defs/Batch`` name the two shapes for validators that want one.
    """
    (message, _), components = msgspec.json.schema_components([Message, list[Message]])
    defs: dict[str, Any] = dict(components)
    defs["Message"] = message
    defs["Batch"] = {"type": "array", "items": {"$ref": "#/$defs/Message"}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"asterix-gateway shared format v{VERSION}",
        "description": "One message, or a batch: a JSON array of messages.",
        "anyOf": [{"$ref": "#/$defs/Message"}, {"$ref": "#/$defs/Batch"}],
        "$defs": defs,
    }

