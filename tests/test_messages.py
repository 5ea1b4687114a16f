"""The shared format v1 as docs/messages.md describes it: shapes, nulls, schema, hostile input.

The committed schema is compared with the one the types generate, so it cannot go stale, and
every encoded message is checked with an independent validator (jsonschema), so the types
cannot drift from the schema consumers use either.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from gateway import schema as schema_script
from gateway.messages import (
    AIDC_TYPES,
    KINDS,
    Aidc,
    Alert,
    FlightPlan,
    Fused,
    Message,
    MessageError,
    Plot,
    RadarRef,
    Registration,
    Source,
    SourceRef,
    Status,
    Track,
    decode,
    decode_batch,
    encode,
    encode_batch,
    schema,
)

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "messages.schema.json"
COMMITTED = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
DEFS = COMMITTED["$defs"]
VALIDATE_ANY = Draft202012Validator(COMMITTED)
VALIDATE_MESSAGE = Draft202012Validator({"$ref": "#/$defs/Message", "$defs": DEFS})
VALIDATE_BATCH = Draft202012Validator({"$ref": "#/$defs/Batch", "$defs": DEFS})

# docs/messages.md, field by field, in its order.
DOCUMENTED_FIELDS = {
    "plot": ["src", "lat", "lon", "rho_nm", "theta_deg", "fl", "mode3a", "icao24", "callsign",
             "track_number", "gs_kt", "hdg_deg", "detection", "flags"],
    "track": ["src", "track_number", "lat", "lon", "fl", "gs_kt", "trk_deg", "roc_fpm",
              "mode3a", "icao24", "callsign", "fpl", "flags"],
    "fused": ["id", "state", "lat", "lon", "fl", "gs_kt", "trk_deg", "roc_fpm", "mode3a",
              "icao24", "callsign", "pos_sigma_m", "sources", "fpl", "extrapolated", "hidden"],
    "aidc": ["msg", "from", "to", "serial", "ref", "track_id", "callsign", "text", "session"],
    "alert": ["type", "track_id", "text"],
    "status": ["gateway", "state", "counters"],
    "registration": ["src", "range_bias_m", "range_gain", "azimuth_bias_deg", "time_offset_s",
                     "range_bias_sigma_m", "range_gain_sigma", "azimuth_bias_sigma_deg",
                     "time_offset_sigma_s", "pairs", "established"],
}

T = 1779868812.345

MODES_PLOT = Plot(
    t=T, src=Source(sac=0, sic=101, cat=48), lat=26.1234567, lon=-100.5, rho_nm=42.25,
    theta_deg=312.5, fl=350.0, mode3a="4721", icao24="0D04A3", callsign="AMX402",
    track_number=1234, gs_kt=451.3, hdg_deg=312.0, detection="modes+psr", flags=["spi"],
)
# A primary-only plot: everything but the position is unknown and must stay null.
PSR_PLOT = Plot(
    t=T, src=Source(sac=1, sic=11, cat=48), lat=31.2, lon=-106.9, rho_nm=38.0, theta_deg=200.1,
    fl=None, mode3a=None, icao24=None, callsign=None, track_number=None, gs_kt=None,
    hdg_deg=None, detection="psr", flags=[],
)
TRACK = Track(
    t=T, src=Source(sac=0, sic=200, cat=62), track_number=77, lat=28.0, lon=-106.1, fl=370.0,
    gs_kt=460.0, trk_deg=15.5, roc_fpm=-1200.0, mode3a="2000", icao24="A1B2C3",
    callsign="AAL123",
    fpl=FlightPlan(callsign="AAL123", dep="KDFW", dst="MMMX", cfl=370.0, type="B738", wtc="M"),
    flags=["sim"],
)
TRACK_NO_FPL = Track(
    t=T, src=Source(sac=1, sic=200, cat=62), track_number=0, lat=None, lon=None, fl=None,
    gs_kt=None, trk_deg=None, roc_fpm=None, mode3a=None, icao24=None, callsign=None, fpl=None,
    flags=[],
)
FUSED = Fused(
    t=T, id="FT-000042", state="confirmed", lat=29.5, lon=-104.25, fl=330.0, gs_kt=440.0,
    trk_deg=359.9, roc_fpm=0.0, mode3a="1234", icao24="ABCDEF", callsign="VIV1234",
    pos_sigma_m=85.5,
    sources=[SourceRef(sac=0, sic=101, cat=48, track_number=1234),
             SourceRef(sac=0, sic=102, cat=48, track_number=None),
             SourceRef(sac=0, sic=200, cat=62, track_number=77)],
)
FUSED_ENDED = Fused(
    t=T, id="FT-000043", state="ended", lat=None, lon=None, fl=None, gs_kt=None, trk_deg=None,
    roc_fpm=None, mode3a=None, icao24=None, callsign=None, pos_sigma_m=None, sources=[],
)
AIDC = Aidc(
    t=T, msg="CPL", from_="MMTY", to="KZAB", serial=17, ref=None, track_id="FT-000042",
    callsign="VIV1234", text="(CPL-VIV1234-IS-A320/M-SDFGHIRWY/LB1-MMMY-N0450F350 DCT-KPHX)",
)
LAM = Aidc(t=T, msg="LAM", from_="KZAB", to="MMTY", serial=3, ref=17, track_id=None,
           callsign=None, text="(LAM)")
ALERT = Alert(t=T, type="uncoordinated-crossing", track_id="FT-000042",
              text="VIV1234 crossed into KZAB without coordination")
STATUS = Status(t=T, gateway="border-gw-1", state="online",
                counters={"datagrams": 1200, "records": 45000, "lag_s": 0.25})

REGISTRATION = Registration(
    t=T, src=RadarRef(sac=0, sic=101), range_bias_m=16.6, range_gain=1.0000067,
    azimuth_bias_deg=0.0192, time_offset_s=-0.012, range_bias_sigma_m=3.4,
    range_gain_sigma=1.2e-05, azimuth_bias_sigma_deg=0.00075, time_offset_sigma_s=0.18,
    pairs=14894, established=True)

EXAMPLES: list[Message] = [MODES_PLOT, PSR_PLOT, TRACK, TRACK_NO_FPL, FUSED, FUSED_ENDED, AIDC,
                           LAM, ALERT, STATUS, REGISTRATION]


def test_committed_schema_is_current() -> None:
    assert COMMITTED == schema()
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_script.render()
    assert schema_script.main(["--check", str(SCHEMA_PATH)]) == 0


def test_schema_script_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    assert schema_script.main([str(out)]) == 0
    assert out.read_text(encoding="utf-8") == SCHEMA_PATH.read_text(encoding="utf-8")
    out.write_text("{}\n")
    assert schema_script.main(["--check", str(out)]) == 1


def test_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(COMMITTED)
    assert COMMITTED["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {m.__name__ for m in Message.__args__} <= set(DEFS)  # type: ignore[attr-defined]


def test_every_kind_has_an_example() -> None:
    assert {m.__struct_config__.tag for m in EXAMPLES} == set(KINDS) == set(DOCUMENTED_FIELDS)
    assert {"ABI", "EST", "CPL", "ACP", "REJ", "CDN", "MAC", "TOC", "AOC", "LAM",
            "LRM"} == set(AIDC_TYPES)


@pytest.mark.parametrize("msg", EXAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip_and_key_order(msg: Message) -> None:
    data = encode(msg)
    obj = json.loads(data)
    kind = obj["kind"]
    assert list(obj) == ["kind", "v", "t", *DOCUMENTED_FIELDS[kind]]
    assert obj["v"] == 1 and obj["t"] == T
    VALIDATE_MESSAGE.validate(obj)
    VALIDATE_ANY.validate(obj)
    assert decode(data) == msg
    assert decode(data.decode()) == msg  # str payloads too


def test_fused_is_not_tracked_by_the_garbage_collector() -> None:
    """The tracker makes thousands of Fused a second; untracked (``gc=False``) they do
    not count towards collections.  A Fused holding a list and a plan, decoded or made,
    stays untracked, and encodes as before."""
    import gc

    assert FUSED.sources and not gc.is_tracked(FUSED)
    decoded = decode(encode(FUSED))
    assert isinstance(decoded, Fused) and not gc.is_tracked(decoded)
    assert encode(decoded) == encode(FUSED)


def test_unknowns_are_null_not_omitted() -> None:
    obj = json.loads(encode(PSR_PLOT))
    for key in ("fl", "mode3a", "icao24", "callsign", "track_number", "gs_kt", "hdg_deg"):
        assert key in obj and obj[key] is None
    assert obj["flags"] == []
    ended = json.loads(encode(FUSED_ENDED))
    assert ended["lat"] is None and ended["pos_sigma_m"] is None
    assert json.loads(encode(FUSED))["sources"][1] == {"sac": 0, "sic": 102, "cat": 48,
                                                      "track_number": None}
    assert json.loads(encode(TRACK_NO_FPL))["fpl"] is None
    assert json.loads(encode(LAM))["ref"] == 17 and json.loads(encode(AIDC))["ref"] is None


def test_plot_as_documented() -> None:
    """A plot as a subscriber sees it, literally."""
    assert json.loads(encode(PSR_PLOT)) == {
        "kind": "plot", "v": 1, "t": T, "src": {"sac": 1, "sic": 11, "cat": 48},
        "lat": 31.2, "lon": -106.9, "rho_nm": 38.0, "theta_deg": 200.1, "fl": None,
        "mode3a": None, "icao24": None, "callsign": None, "track_number": None, "gs_kt": None,
        "hdg_deg": None, "detection": "psr", "flags": [],
    }
    aidc = json.loads(encode(AIDC))
    assert aidc["from"] == "MMTY" and "from_" not in aidc


def test_batches() -> None:
    data = encode_batch([MODES_PLOT, PSR_PLOT])
    assert data.startswith(b'[{"kind":"plot"')
    VALIDATE_BATCH.validate(json.loads(data))
    VALIDATE_ANY.validate(json.loads(data))
    assert decode_batch(data) == [MODES_PLOT, PSR_PLOT]
    assert encode_batch(iter(EXAMPLES)) == encode_batch(EXAMPLES) == encode_batch(tuple(EXAMPLES))
    assert decode_batch(encode_batch(EXAMPLES)) == EXAMPLES
    assert decode_batch(b"[]") == []
    with pytest.raises(MessageError, match=r"\$\[1\]\.lat"):
        decode_batch(data.replace(b'"lat":31.2', b'"lat":200'))
    with pytest.raises(MessageError):
        decode_batch(encode(MODES_PLOT))  # one message is not a batch


def _obj(base: Message, /, **change: Any) -> dict[str, Any]:
    obj = json.loads(encode(base))
    for key, value in change.items():
        if value is ...:
            del obj[key]
        else:
            obj[key] = value
    return obj


# Hostile payloads that are JSON: decode must refuse each, and so must the schema.
INVALID_JSON_VALUES = {
    "unknown kind": _obj(PSR_PLOT, kind="radar"),
    "kind wrong type": _obj(PSR_PLOT, kind=48),
    "no kind": _obj(PSR_PLOT, kind=...),
    "version 2": _obj(PSR_PLOT, v=2),
    "missing field": _obj(PSR_PLOT, lat=...),
    "missing null field": _obj(PSR_PLOT, mode3a=...),
    "unknown field": _obj(PSR_PLOT, extra=1),
    "lat 200": _obj(PSR_PLOT, lat=200),
    "lon -181": _obj(PSR_PLOT, lon=-181.0),
    "lat string": _obj(PSR_PLOT, lat="25.0"),
    "lat bool": _obj(PSR_PLOT, lat=True),
    "negative time": _obj(PSR_PLOT, t=-1),
    "time string": _obj(PSR_PLOT, t="2026-05-27T08:00:00Z"),
    "sac 256": _obj(PSR_PLOT, src={"sac": 256, "sic": 1, "cat": 48}),
    "sac float": _obj(PSR_PLOT, src={"sac": 1.5, "sic": 1, "cat": 48}),
    "huge int": _obj(PSR_PLOT, track_number=10**30),
    "mode3a decimal": _obj(PSR_PLOT, mode3a="7890"),
    "mode3a int": _obj(PSR_PLOT, mode3a=1234),
    "icao lower": _obj(PSR_PLOT, icao24="abcdef"),
    "long callsign": _obj(PSR_PLOT, callsign="ABCDEFGHIJ"),
    "empty callsign": _obj(PSR_PLOT, callsign=""),
    "detection": _obj(PSR_PLOT, detection="lidar"),
    "flags not list": _obj(PSR_PLOT, flags="spi"),
    "flag with newline": _obj(PSR_PLOT, flags=["spi\nx"]),
    "src nested garbage": _obj(PSR_PLOT, src=[[[[{"a": [[]]}]]]]),
    "fused id with slash": _obj(FUSED, id="a/b/#"),
    "fused state": _obj(FUSED, state="lost"),
    "source extra": _obj(FUSED, sources=[{"sac": 1, "sic": 1, "cat": 48, "track_number": None,
                                          "x": 1}]),
    "aidc msg": _obj(AIDC, msg="XYZ"),
    "aidc from_": _obj(AIDC, **{"from": ..., "from_": "MMTY"}),
    "aidc topic injection": _obj(AIDC, to="KZAB/+"),
    "aidc text too long": _obj(AIDC, text="x" * 5000),
    "status counters nested": _obj(STATUS, counters={"a": {"b": 1}}),
    "status state": _obj(STATUS, state="maybe"),
    "alert type": _obj(ALERT, type="Not Kebab"),
    "array of one": [_obj(PSR_PLOT)],
    "number": 1,
    "string": "plot",
    "null": None,
}

# Hostile payloads that are not JSON at all, or not valid UTF-8.
MALFORMED = {
    "empty": b"",
    "not json": b"hello",
    "truncated": encode(PSR_PLOT)[:-5],
    "trailing garbage": encode(PSR_PLOT) + b"}",
    "bad utf-8": encode(PSR_PLOT).replace(b'"psr"', b'"\xff\xfe"'),
    "lone surrogate": encode(PSR_PLOT).replace(b'"psr"', b'"\\ud800"'),
    "nan": encode(PSR_PLOT).replace(b"31.2", b"NaN"),
    "huge float": encode(PSR_PLOT).replace(b"1779868812.345", b"1e400"),
    "deep array": b'{"kind":"plot","lat":' + b"[" * 100_000,
    "deep object": b'{"kind":"plot","lat":' + b'{"a":' * 100_000,
    "deep before tag": b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b',"kind":"plot"}',
    "newline in kind": b'{"kind":"plo\\nt\\u0000"}',
    "binary": bytes(range(256)),
}


def _assert_one_line_error(data: bytes | str) -> MessageError:
    with pytest.raises(MessageError) as info:
        decode(data)
    text = str(info.value)
    assert text and "\n" not in text and "\r" not in text and len(text) <= 200
    assert text.isprintable()
    return info.value


@pytest.mark.parametrize("name", list(INVALID_JSON_VALUES))
def test_hostile_json_is_refused_by_decoder_and_schema(name: str) -> None:
    value = INVALID_JSON_VALUES[name]
    _assert_one_line_error(json.dumps(value).encode())
    if name != "array of one":  # a batch of one is a valid payload, just not a message
        assert not VALIDATE_ANY.is_valid(value)
    assert not VALIDATE_MESSAGE.is_valid(value)


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_payloads_raise_one_line(name: str) -> None:
    _assert_one_line_error(MALFORMED[name])
    if name != "empty":  # [] is a valid, empty batch
        with pytest.raises(MessageError):
            decode_batch(b"[" + MALFORMED[name] + b"]")


def test_error_says_where() -> None:
    error = _assert_one_line_error(json.dumps(_obj(PSR_PLOT, lat=200)).encode())
    assert "$.lat" in str(error)
    assert isinstance(error, ValueError)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_random_bytes_never_raise_anything_else(data: bytes) -> None:
    try:
        decode(data)
    except MessageError as exc:
        assert "\n" not in str(exc)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(EXAMPLES), st.data())
def test_mutated_messages_never_raise_anything_else(msg: Message, data: st.DataObject) -> None:
    obj = json.loads(encode(msg))
    key = data.draw(st.sampled_from(sorted(obj)))
    junk = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                    max_size=3),
        max_leaves=10,
    )
    obj[key] = data.draw(junk)
    payload = json.dumps(obj).encode()
    try:
        decoded = decode(payload)
    except MessageError as exc:
        assert "\n" not in str(exc)
    else:
        # whatever the decoder accepts, the schema accepts (not the reverse: JSON Schema
        # calls 1.0 an integer, msgspec does not)
        VALIDATE_MESSAGE.validate(json.loads(payload))
        VALIDATE_MESSAGE.validate(json.loads(encode(decoded)))


# -- property: random valid messages survive encode -> schema -> decode ---------------------

def _opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def _floats(lo: float | None = None, hi: float | None = None) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


_byte = st.integers(0, 255)
_lat = _opt(_floats(-90, 90))
_lon = _opt(_floats(-180, 180))
_angle = _opt(_floats(0, 360))
_speed = _opt(_floats(0, 5000))
_any_float = _opt(_floats())
_mode3a = _opt(st.from_regex(r"[0-7]{4}", fullmatch=True))
_icao24 = _opt(st.from_regex(r"[0-9A-F]{6}", fullmatch=True))
_callsign = _opt(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8))
_track_number = st.integers(0, 65535)
_flags = st.lists(st.from_regex(r"[a-z0-9][a-z0-9-]{0,31}", fullmatch=True), max_size=4)
_topic_level = st.text(st.characters(blacklist_categories=("Cs",),
                                     blacklist_characters="/+#\x00"), min_size=1, max_size=64)
_time = _floats(0, 4e9)


def _source(cat: int) -> st.SearchStrategy[Source]:
    return st.builds(Source, sac=_byte, sic=_byte, cat=st.just(cat))


plots = st.builds(
    Plot, t=_time, src=_source(48), lat=_lat, lon=_lon, rho_nm=_opt(_floats(0, 300)),
    theta_deg=_angle, fl=_any_float, mode3a=_mode3a, icao24=_icao24, callsign=_callsign,
    track_number=_opt(_track_number), gs_kt=_speed, hdg_deg=_angle,
    detection=_opt(st.sampled_from(["psr", "ssr", "ssr+psr", "modes", "modes+psr"])),
    flags=_flags,
)
_plans = st.builds(FlightPlan, callsign=_callsign, dep=_opt(st.text(max_size=8)),
                   dst=_opt(st.text(max_size=8)), cfl=_any_float,
                   type=_opt(st.text(max_size=8)),
                   wtc=_opt(st.sampled_from(["L", "M", "H", "J"])))
tracks = st.builds(
    Track, t=_time, src=_source(62), track_number=_track_number, lat=_lat, lon=_lon,
    fl=_any_float, gs_kt=_speed, trk_deg=_angle, roc_fpm=_any_float, mode3a=_mode3a,
    icao24=_icao24, callsign=_callsign,
    fpl=_opt(_plans),
    flags=_flags,
)
fuseds = st.builds(
    Fused, t=_time, id=_topic_level,
    state=st.sampled_from(["tentative", "confirmed", "coasting", "ended"]), lat=_lat, lon=_lon,
    fl=_any_float, gs_kt=_speed, trk_deg=_angle, roc_fpm=_any_float, mode3a=_mode3a,
    icao24=_icao24, callsign=_callsign, pos_sigma_m=_opt(_floats(0, 1e6)),
    sources=st.lists(st.builds(SourceRef, sac=_byte, sic=_byte, cat=st.sampled_from([48, 62]),
                               track_number=_opt(_track_number)), max_size=5),
    fpl=_opt(_plans),
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plots | tracks | fuseds)
def test_random_valid_messages_round_trip(msg: Message) -> None:
    data = encode(msg)
    VALIDATE_MESSAGE.validate(json.loads(data))
    assert decode(data) == msg
    batch = encode_batch([msg, msg])
    VALIDATE_BATCH.validate(json.loads(batch))
    assert decode_batch(batch) == [msg, msg]


def test_messages_are_frozen() -> None:
    with pytest.raises(AttributeError):
        PSR_PLOT.lat = 0.0  # type: ignore[misc]
    assert msgspec.structs.replace(PSR_PLOT, lat=0.0).lat == 0.0


def _holds_only_leaves(t: msgspec.inspect.Type) -> bool:
    """Whether a value of type ``t`` can hold nothing but strings, numbers, booleans, None
    and containers (lists, frozen Structs) of the same: nothing that could refer back to
    the message that holds it."""
    mi = msgspec.inspect
    if isinstance(t, mi.Metadata):  # a constraint or a description on a type
        return _holds_only_leaves(t.type)
    if isinstance(t, (mi.StrType, mi.IntType, mi.FloatType, mi.BoolType, mi.NoneType,
                      mi.LiteralType)):
        return True
    if isinstance(t, mi.UnionType):
        return all(map(_holds_only_leaves, t.types))
    if isinstance(t, mi.ListType):
        return _holds_only_leaves(t.item_type)
    if isinstance(t, mi.StructType):
        return t.cls.__struct_config__.frozen and all(
            _holds_only_leaves(f.type) for f in t.fields)
    return False  # a dict, Any, a mutable Struct...: could hold anything


@pytest.mark.parametrize("cls", [Plot, Track, Fused])
def test_untracked_messages_cannot_be_in_a_cycle(cls: type[msgspec.Struct]) -> None:
    """Plot, Track and Fused are not tracked by the garbage collector (gc=False): a cycle
    through one would never be freed.  None can be in one: each is frozen and its fields
    hold only leaves (a list's elements can be replaced, but only with what its type
    admits, and nothing in the gateway appends to one)."""
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    assert cls.__struct_config__.gc is False and cls.__struct_config__.frozen
    assert all(_holds_only_leaves(f.type) for f in info.fields)
