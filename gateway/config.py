"""The gateway's TOML configuration (contract section 3), loaded strictly.

A configuration mistake found at start-up costs a minute; one found as a radar that never
shows up costs an evening.  So every key the gateway does not know, every wrong type and every
value out of range is refused, and the refusal is one line naming the file, the line and the
key (``gw.toml:14: [[radar]] #2 key 'lat': 123.0 is not a latitude (-90..90)``).

Sections are declarative: a section is a frozen dataclass whose fields carry their check in
``metadata`` (``_key(...)``), and ``Config`` lists the sections as fields carrying ``_section``
metadata.  Adding a section is a dataclass and one field on ``Config``; the parser, the
unknown-key rule and the error messages come with it.  Rules that span keys or sections
(a system reference point needs both coordinates, duplicate sites) are the ``_FINISH`` steps.

tomllib reports no positions for keys, so ``_Lines`` finds them by scanning the text.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.ingest.url import UdpUrl, parse_udp_url
from gateway.messages import TOPIC_LEVEL_PATTERN

__all__ = [
    "Config",
    "ConfigError",
    "GatewaySection",
    "HandoffConfig",
    "InputConfig",
    "MqttConfig",
    "MqttUrl",
    "MetricsConfig",
    "ServiceConfig",
    "NormalizeConfig",
    "RadarConfig",
    "SdpsConfig",
    "load",
    "loads",
    "lookup_radar",
    "lookup_sdps",
    "parse_mqtt_url",
    "section_keys",
    "sections",
]

# A configuration is a few kilobytes; anything much larger is the wrong file, and refusing it
# keeps a mistaken path (a capture, a log) from being parsed into memory.
MAX_SIZE = 1 << 20


class ConfigError(ValueError):
    """The configuration cannot be used; the text is one line naming file, line and key."""


class _Invalid(Exception):
    """A check refused a value: the text says why; the parser adds where.

    ``key`` overrides the key being checked, for checks that look at several keys at once.
    """

    def __init__(self, text: str, key: str | None = None) -> None:
        super().__init__(text)
        self.key = key


Check = Callable[[Any], Any]


# -- describing values in messages ----------------------------------------------------------

def _type_name(value: object) -> str:
    """The TOML name of a parsed value's type."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, datetime.datetime):
        return "date-time"
    if isinstance(value, datetime.date):
        return "date"
    if isinstance(value, datetime.time):
        return "time"
    return type(value).__name__


def _show(value: object) -> str:
    """A short rendering of a scalar; containers by type only (they can be huge or deep)."""
    if isinstance(value, (list, dict)):
        return f"an {_type_name(value)}" if isinstance(value, list) else "a table"
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        text = repr(value) if isinstance(value, str) else str(value)
    except ValueError:  # an integer too long to print
        return "a very large integer"
    return text if len(text) <= 60 else text[:57] + "..."


def _got(value: object) -> str:
    if isinstance(value, (list, dict)):
        return _show(value)
    return f"{_type_name(value)} {_show(value)}"


# -- checks: each takes a parsed TOML value and returns the value to store ------------------

def _integer(lo: int, hi: int, what: str | None = None) -> Check:
    def check(value: object) -> int:
        if type(value) is not int:
            raise _Invalid(f"expected an integer, got {_got(value)}")
        if not lo <= value <= hi:
            raise _Invalid(f"{_show(value)} is not {what} ({lo}..{hi})" if what
                           else f"{_show(value)} is not in {lo}..{hi}")
        return value

    return check


def _number(lo: float, hi: float, what: str | None = None) -> Check:
    """A float; integers are accepted (``lat = 25``), booleans and NaN are not."""

    def check(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Invalid(f"expected a number, got {_got(value)}")
        if not lo <= value <= hi:  # NaN fails too
            bounds = f"{lo:g}..{hi:g}"
            raise _Invalid(f"{_show(value)} is not {what} ({bounds})" if what
                           else f"{_show(value)} is not in {bounds}")
        return float(value)

    return check


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"expected true or false, got {_got(value)}")
    return value


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected a string, got {_got(value)}")
    return value


def _name(value: object) -> str:
    """A human-readable site name: it goes into logs and status, so one printable line."""
    text = _string(value)
    if not text.strip():
        raise _Invalid("must not be empty")
    if len(text) > 100 or not text.isprintable():
        raise _Invalid(f"{_show(text)} is not a name (one printable line, at most 100 characters)")
    return text


_TOPIC_LEVEL = re.compile(TOPIC_LEVEL_PATTERN)


def _topic_level(value: object) -> str:
    text = _string(value)
    if not _TOPIC_LEVEL.search(text):
        raise _Invalid(f"{_show(text)} cannot be an MQTT topic level "
                       "(1..64 characters, none of / + # or NUL)")
    return text


def _topic_prefix(value: object) -> str:
    text = _string(value)
    levels = text.split("/")
    if text.startswith("$") or not all(_TOPIC_LEVEL.search(level) for level in levels):
        raise _Invalid(f"{_show(text)} is not a topic prefix (levels separated by single /, "
                       "no + # or NUL, not starting with $ or ending with /)")
    return text


def _udp_url(value: object) -> str:
    """Stored in canonical form, so two spellings of one endpoint compare equal."""
    try:
        return str(parse_udp_url(_string(value)))
    except ValueError as exc:
        raise _Invalid(str(exc)) from None


def _mqtt_url(value: object) -> str:
    text = _string(value)
    try:
        parse_mqtt_url(text)
    except ValueError as exc:
        raise _Invalid(str(exc)) from None
    return text


def _env_name(value: object) -> str:
    text = _string(value)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", text):
        raise _Invalid(f"{_show(text)} is not an environment variable name")
    return text


def _choice(*allowed: str) -> Check:
    def check(value: object) -> str:
        text = _string(value)
        if text not in allowed:
            raise _Invalid(f"{_show(text)} is not one of {', '.join(map(repr, allowed))}")
        return text

    return check


def _client_id(value: object) -> str:
    """MQTT 3.1.1 servers must accept 1-23 characters of [0-9a-zA-Z]; most take more, and
    the gateway's default is longer, but a client id must at least be printable ASCII."""
    text = _string(value)
    if not 1 <= len(text) <= 128 or not all(33 <= ord(c) < 127 for c in text):
        raise _Invalid(f"{_show(text)} is not a client id (1..128 printable ASCII characters, "
                       "no spaces)")
    return text


def _units_or_none(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _Invalid(f"expected an array of unit ids, got {_got(value)}")
    units = []
    for item in value:
        if not isinstance(item, str) or not re.fullmatch(r"[A-Z]{1,4}", item):
            raise _Invalid(f"{_show(item)} is not a unit id (1 to 4 capital letters, as "
                           "MMTY or KZAB)")
        units.append(item)
    if len(set(units)) != len(units):
        raise _Invalid("a unit is listed twice")
    return tuple(units)


def _units(value: object) -> tuple[str, ...]:
    units = _units_or_none(value)
    if not units:
        raise _Invalid("must name at least one unit")
    return units


def _ip_address(value: object) -> str:
    text = _string(value)
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise _Invalid(f"{_show(text)} is not an IP address") from None


_latitude = _number(-90.0, 90.0, "a latitude")
_longitude = _number(-180.0, 180.0, "a longitude")
_byte = _integer(0, 255)
_HALF_DAY = 43200.0  # a time of day is ambiguous beyond 12 h either way


def _key(check: Check) -> dict[str, Any]:
    """Field metadata: how the key's value is checked and converted."""
    return {"check": check}


# -- MQTT URLs ------------------------------------------------------------------------------

_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)


@dataclass(frozen=True)
class MqttUrl:
    """Where the broker is: ``mqtt://HOST[:PORT]`` (1883) or ``mqtts://HOST[:PORT]`` (8883)."""

    tls: bool
    host: str
    port: int


def parse_mqtt_url(text: str) -> MqttUrl:
    """Parse strictly; ValueError names the problem (credentials in the URL are one)."""
    usage = f"{text!r}: expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() not in ("mqtt", "mqtts"):
        raise ValueError(usage)
    tls = scheme.lower() == "mqtts"
    rest = rest.removesuffix("/")
    if "@" in rest:
        raise ValueError(f"{text!r}: credentials go in username and password_env, "
                         "not in the URL")
    if any(c in rest for c in "/?#"):
        raise ValueError(f"{text!r}: an MQTT URL has no path, query or fragment")
    if rest.startswith("["):
        host, bracket, port_text = rest[1:].partition("]")
        try:
            host = str(ipaddress.IPv6Address(host))
        except ValueError:
            raise ValueError(f"{text!r}: {host!r} is not an IPv6 address") from None
        if not bracket or (port_text and not port_text.startswith(":")):
            raise ValueError(usage)
        port_text = port_text[1:]
        colon = bool(port_text) or rest.endswith(":")
    else:
        host, colon_text, port_text = rest.partition(":")
        colon = bool(colon_text)
        if not host:
            raise ValueError(f"{text!r}: missing host")
        if re.fullmatch(r"[0-9.]+", host):
            try:
                host = str(ipaddress.IPv4Address(host))
            except ValueError:
                raise ValueError(f"{text!r}: {host!r} is not an IPv4 address") from None
        elif not _HOSTNAME.fullmatch(host):
            raise ValueError(f"{text!r}: {host!r} is not a host name")
    if not colon:
        return MqttUrl(tls, host, 8883 if tls else 1883)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{text!r}: port {port_text!r} is not a number in 1..65535")
    return MqttUrl(tls, host, int(port_text))


# -- sections -------------------------------------------------------------------------------

@dataclass(frozen=True)
class GatewaySection:
    id: str = field(metadata=_key(_topic_level))


@dataclass(frozen=True)
class RadarConfig:
    """A CAT048/CAT034 source: where its antenna is, so its plots can be placed."""

    sac: int = field(metadata=_key(_byte))
    sic: int = field(metadata=_key(_byte))
    name: str = field(metadata=_key(_name))
    lat: float = field(metadata=_key(_latitude))
    lon: float = field(metadata=_key(_longitude))
    alt_m: float = field(metadata=_key(_number(-1000.0, 10000.0, "an antenna height in m")))
    sigma_range_m: float = field(
        default=60.0, metadata=_key(_number(1.0, 5000.0, "a range accuracy in m")))
    sigma_azimuth_deg: float = field(
        default=0.08, metadata=_key(_number(0.001, 5.0, "an azimuth accuracy in deg")))


@dataclass(frozen=True)
class SdpsConfig:
    """A CAT062/CAT065 source.

    ``use_i100`` is the effective choice after load: the site's own key if given, else
    [normalize] use_i100 where the site has a system reference point to use it with.
    """

    sac: int = field(metadata=_key(_byte))
    sic: int = field(metadata=_key(_byte))
    name: str = field(metadata=_key(_name))
    srp_lat: float | None = field(default=None, metadata=_key(_latitude))
    srp_lon: float | None = field(default=None, metadata=_key(_longitude))
    use_i100: bool = field(default=False, metadata=_key(_boolean))
    sigma_m: float = field(
        default=100.0, metadata=_key(_number(1.0, 10000.0, "a track accuracy in m")))


@dataclass(frozen=True)
class InputConfig:
    url: str = field(metadata=_key(_udp_url))

    @property
    def endpoint(self) -> UdpUrl:
        return parse_udp_url(self.url)


@dataclass(frozen=True)
class MqttConfig:
    """The broker.  ``password`` never appears in repr(): configs get logged."""

    url: str = field(metadata=_key(_mqtt_url))
    topic_prefix: str = field(default="surv/v1", metadata=_key(_topic_prefix))
    username: str | None = field(default=None, metadata=_key(_string))
    password: str | None = field(default=None, repr=False, metadata=_key(_string))
    protocol: str = field(default="5", metadata=_key(_choice("5", "3.1.1")))
    client_id: str | None = field(default=None, metadata=_key(_client_id))
    keepalive_s: int = field(default=30, metadata=_key(_integer(5, 3600)))
    ca_file: str | None = field(default=None, metadata=_key(_string))
    outbox: int = field(default=20_000, metadata=_key(_integer(100, 10_000_000)))
    outbox_reliable: int = field(default=10_000, metadata=_key(_integer(10, 1_000_000)))
    fused_expiry_s: int = field(default=60, metadata=_key(_integer(1, 86_400)))
    status_interval_s: float = field(default=10.0, metadata=_key(_number(0.5, 3600.0)))

    @property
    def broker(self) -> MqttUrl:
        return parse_mqtt_url(self.url)


@dataclass(frozen=True)
class ServiceConfig:
    """The live shell around the pipeline: input buffers and the clock."""

    rcvbuf_bytes: int = field(default=8 << 20, metadata=_key(_integer(64 << 10, 1 << 30)))
    input_queue: int = field(default=50_000, metadata=_key(_integer(100, 10_000_000)))
    idle_tick_s: float = field(default=1.0, metadata=_key(_number(0.05, 60.0)))


@dataclass(frozen=True)
class HandoffConfig:
    """Border coordination (AIDC); see docs/configuration.md for each key."""

    airspace: str = field(metadata=_key(_string))  # resolved against the config's folder
    units: tuple[str, ...] = field(metadata=_key(_units))
    peers: tuple[str, ...] = field(metadata=_key(_units))
    cpl_to: tuple[str, ...] = field(default=(), metadata=_key(_units_or_none))
    abi_lead_s: float = field(default=900.0, metadata=_key(_number(60.0, 7200.0)))
    est_lead_s: float = field(default=600.0, metadata=_key(_number(30.0, 7200.0)))
    toc_lead_s: float = field(default=0.0, metadata=_key(_number(0.0, 600.0)))
    cdn_level_fl: float = field(default=10.0, metadata=_key(_number(1.0, 100.0)))
    cdn_time_s: float = field(default=180.0, metadata=_key(_number(10.0, 3600.0)))
    hysteresis: int = field(default=3, metadata=_key(_integer(1, 20)))
    lam_timeout_s: float = field(default=30.0, metadata=_key(_number(1.0, 600.0)))
    lam_tries: int = field(default=3, metadata=_key(_integer(1, 10)))
    database: str | None = field(default=None, metadata=_key(_string))


@dataclass(frozen=True)
class MetricsConfig:
    """Prometheus metrics (``/metrics``) and the health endpoint (``/health``)."""

    enabled: bool = field(default=True, metadata=_key(_boolean))
    host: str = field(default="127.0.0.1", metadata=_key(_ip_address))
    port: int = field(default=9810, metadata=_key(_integer(0, 65535)))


@dataclass(frozen=True)
class NormalizeConfig:
    """How records become plots and tracks; see docs/configuration.md for each key."""

    fallback_height_m: float = field(
        default=1500.0, metadata=_key(_number(-1000.0, 30000.0, "a height in m")))
    height_offset_m: float = field(
        default=0.0, metadata=_key(_number(-1000.0, 1000.0, "a height offset in m")))
    max_late_s: float = field(default=30.0, metadata=_key(_number(0.0, _HALF_DAY)))
    max_early_s: float = field(default=5.0, metadata=_key(_number(0.0, _HALF_DAY)))
    use_i100: bool = field(default=True, metadata=_key(_boolean))


Prepare = Callable[[dict[str, Any], Mapping[str, str]], dict[str, Any]]


@dataclass(frozen=True)
class _Section:
    """How a Config field is written in TOML.

    ``many``: an array of tables (``[[name]]``).  ``unique``: keys whose values together
    must differ between the tables of an array.  ``prepare``: rewrites the raw table before
    the keys are checked (for keys that are not fields, like ``password_env``); ``extra``
    names those keys.
    """

    name: str
    cls: type
    many: bool = False
    unique: tuple[str, ...] = ()
    prepare: Prepare | None = None
    extra: tuple[str, ...] = ()


def _mqtt_password(table: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Resolve ``password_env`` at load so that a missing secret fails at start-up."""
    table = dict(table)
    if "password_env" in table:
        try:
            name = _env_name(table.pop("password_env"))
        except _Invalid as exc:
            raise _Invalid(str(exc), key="password_env") from None
        if "password" in table:
            raise _Invalid("give password or password_env, not both", key="password_env")
        value = env.get(name)
        if not value:
            raise _Invalid(f"environment variable {name!r} is not set or empty",
                           key="password_env")
        table["password"] = value
    if "password" in table and "username" not in table:
        raise _Invalid("a password needs a username too", key="password")
    return table


def _section(name: str, cls: type, **kw: Any) -> dict[str, Any]:
    return {"section": _Section(name, cls, **kw)}


@dataclass(frozen=True)
class Config:
    gateway: GatewaySection = field(metadata=_section("gateway", GatewaySection))
    radars: tuple[RadarConfig, ...] = field(
        default=(), metadata=_section("radar", RadarConfig, many=True, unique=("sac", "sic")))
    sdps: tuple[SdpsConfig, ...] = field(
        default=(), metadata=_section("sdps", SdpsConfig, many=True, unique=("sac", "sic")))
    inputs: tuple[InputConfig, ...] = field(
        default=(), metadata=_section("input", InputConfig, many=True, unique=("url",)))
    mqtt: MqttConfig | None = field(
        default=None,
        metadata=_section("mqtt", MqttConfig, prepare=_mqtt_password, extra=("password_env",)))
    normalize: NormalizeConfig = field(
        default_factory=NormalizeConfig, metadata=_section("normalize", NormalizeConfig))
    service: ServiceConfig = field(
        default_factory=ServiceConfig, metadata=_section("service", ServiceConfig))
    metrics: MetricsConfig = field(
        default_factory=MetricsConfig, metadata=_section("metrics", MetricsConfig))
    handoff: HandoffConfig | None = field(
        default=None, metadata=_section("handoff", HandoffConfig))


def lookup_radar(config: Config, sac: int, sic: int) -> RadarConfig | None:
    return next((r for r in config.radars if r.sac == sac and r.sic == sic), None)


def lookup_sdps(config: Config, sac: int, sic: int) -> SdpsConfig | None:
    return next((s for s in config.sdps if s.sac == sac and s.sic == sic), None)


def sections() -> dict[str, _Section]:
    """Every section by its TOML name, in the order of ``Config``."""
    return {f.metadata["section"].name: f.metadata["section"] for f in dataclasses.fields(Config)}


def section_keys(section: _Section) -> tuple[str, ...]:
    """Every key a section accepts."""
    return tuple(f.name for f in dataclasses.fields(section.cls)) + section.extra


# -- where keys are: line numbers by scanning the text --------------------------------------

_BARE = r"[A-Za-z0-9_-]+"
_KEY_PART = rf'(?:{_BARE}|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\')'
_KEY_PATH = re.compile(rf"[ \t]*({_KEY_PART}(?:[ \t]*\.[ \t]*{_KEY_PART})*)[ \t]*")
_KEY_SPLIT = re.compile(_KEY_PART)
_VALUE_TOKEN = re.compile(r'"""|\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#.*|[\[{]|[\]}]')


def _key_parts(path: str) -> list[str]:
    parts = []
    for m in _KEY_SPLIT.finditer(path):
        part = m.group()
        if part[0] == "'":
            part = part[1:-1]
        elif part[0] == '"':
            try:
                part = next(iter(tomllib.loads(f"{part} = 0")))
            except (tomllib.TOMLDecodeError, StopIteration):
                part = part[1:-1]
        parts.append(part)
    return parts


class _Lines:
    """Line numbers (1-based) of tables and keys, found by a light scan of the text.

    It follows multi-line strings and arrays so that their contents are not taken for keys
    or headers; it runs only on text tomllib accepted, so it need not judge syntax.
    """

    def __init__(self, text: str) -> None:
        self.keys: dict[tuple[str | None, int, str], int] = {}
        self.headers: dict[tuple[str, int], int] = {}
        counts: dict[str, int] = {}
        section: str | None = None
        occurrence = 0
        nested = False  # inside a sub-table of the section: its keys are not the section's
        depth = 0
        closer: str | None = None  # the delimiter ending the multi-line string we are in
        for number, line in enumerate(text.split("\n"), 1):
            pos = 0
            if closer is not None:
                end = line.find(closer)
                if end < 0:
                    continue
                pos, closer = end + 3, None
            elif depth == 0:
                stripped = line.lstrip()
                if stripped.startswith("["):
                    array = stripped.startswith("[[")
                    m = _KEY_PATH.match(stripped, 2 if array else 1)
                    parts = _key_parts(m.group(1)) if m else []
                    if parts:
                        section = parts[0]
                        if array and len(parts) == 1:
                            counts[section] = counts.get(section, 0) + 1
                        occurrence = counts.get(section, 1)
                        nested = len(parts) > 1
                        if nested:
                            self.keys.setdefault((section, occurrence, parts[1]), number)
                        else:
                            self.headers.setdefault((section, occurrence), number)
                    continue
                m = _KEY_PATH.match(line)
                if m and line.startswith("=", m.end()):
                    parts = _key_parts(m.group(1))
                    if section is None:
                        self.keys.setdefault((None, 0, parts[0]), number)
                        if len(parts) > 1:
                            self.keys.setdefault((parts[0], 1, parts[1]), number)
                    elif not nested:
                        self.keys.setdefault((section, occurrence, parts[0]), number)
                    pos = m.end() + 1
            while (token := _VALUE_TOKEN.search(line, pos)) is not None:
                t, pos = token.group(), token.end()
                if t in ('"""', "'''"):
                    end = line.find(t, pos)
                    if end < 0:
                        closer = t
                        break
                    pos = end + 3
                elif t[0] == "#":
                    break
                elif t in ("[", "{"):
                    depth += 1
                elif t in ("]", "}"):
                    depth = max(depth - 1, 0)

    def find(self, section: str | None, occurrence: int, key: str | None) -> int | None:
        """The key's line, else its table's header, else the top-level key that made it."""
        if section is None:
            return self.keys.get((None, 0, key or ""))
        if key is not None and (section, occurrence, key) in self.keys:
            return self.keys[(section, occurrence, key)]
        if (section, occurrence) in self.headers:
            return self.headers[(section, occurrence)]
        return self.keys.get((None, 0, section))


@dataclass
class _Where:
    name: str
    lines: _Lines

    def error(self, section: _Section | str | None, occurrence: int, key: str | None,
              text: str) -> ConfigError:
        name = section.name if isinstance(section, _Section) else section
        line = self.lines.find(name, occurrence, key)
        prefix = f"{self.name}:{line}: " if line else f"{self.name}: "
        return _error(prefix + text)


def _label(section: _Section, occurrence: int) -> str:
    return f"[[{section.name}]] #{occurrence}" if section.many else f"[{section.name}]"


def _error(text: str) -> ConfigError:
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return ConfigError(text)


# -- parsing --------------------------------------------------------------------------------

def _parse_table(section: _Section, table: dict[str, Any], occurrence: int, where: _Where,
                 env: Mapping[str, str]) -> Any:
    label = _label(section, occurrence)
    fields = {f.name: f for f in dataclasses.fields(section.cls) if f.init}
    for key in table:
        if key not in fields and key not in section.extra:
            raise where.error(section, occurrence, key, f"unknown key {key!r} in {label} "
                              f"(known: {', '.join(section_keys(section))})")
    if section.prepare is not None:
        try:
            table = section.prepare(table, env)
        except _Invalid as exc:
            raise where.error(section, occurrence, exc.key,
                              f"{label} key {exc.key!r}: {exc}") from None
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in table:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise where.error(section, occurrence, None, f"missing key {name!r} in {label}")
            continue
        try:
            values[name] = f.metadata["check"](table[name])
        except _Invalid as exc:
            key = exc.key or name
            raise where.error(section, occurrence, key, f"{label} key {key!r}: {exc}") from None
    return section.cls(**values)


def _check_unique(section: _Section, items: list[Any], where: _Where) -> None:
    seen: dict[Hashable, int] = {}
    for n, item in enumerate(items, 1):
        value = tuple(getattr(item, k) for k in section.unique)
        if value in seen:
            shown = " ".join(f"{k} {_show(getattr(item, k))}" for k in section.unique
                             ) if len(section.unique) > 1 else _show(value[0])
            key = section.unique[-1]
            raise where.error(section, n, key, f"{_label(section, n)} key {key!r}: {shown} "
                              f"repeats {_label(section, seen[value])}")
        seen[value] = n


def _build(doc: dict[str, Any], where: _Where, env: Mapping[str, str]) -> Config:
    known = sections()
    for name, value in doc.items():
        if name not in known:
            is_table = isinstance(value, dict) or (
                isinstance(value, list) and value and all(isinstance(v, dict) for v in value))
            what = f"unknown section [{name}]" if is_table else f"unknown top-level key {name!r}"
            raise where.error(name if is_table else None, 1, None if is_table else name,
                              f"{what} (known sections: {', '.join(known)})")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Config):
        section: _Section = f.metadata["section"]
        raw = doc.get(section.name)
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if raw is None and not required:
            continue
        if section.many:
            if not isinstance(raw, list):
                raise where.error(section, 1, None, f"[{section.name}] must be an array of "
                                  f"tables: write [[{section.name}]]")
            items = []
            for n, table in enumerate(raw, 1):
                if not isinstance(table, dict):
                    raise where.error(None, 0, section.name,
                                      f"[[{section.name}]] #{n} must be a table")
                items.append(_parse_table(section, table, n, where, env))
            _check_unique(section, items, where)
            values[f.name] = tuple(items)
        else:
            if raw is not None and not isinstance(raw, dict):
                shape = (f"[[{section.name}]] must be a single table: write [{section.name}]"
                         if isinstance(raw, list) else
                         f"{section.name!r} must be a table: write [{section.name}]")
                raise where.error(section, 1, None, shape)
            values[f.name] = _parse_table(section, raw or {}, 1, where, env)
    config = Config(**values)
    for finish in _FINISH:
        config = finish(config, doc, where)
    return config


def _finish_sdps(config: Config, doc: dict[str, Any], where: _Where) -> Config:
    """A system reference point is both coordinates or none; settle each site's use_i100."""
    section = sections()["sdps"]
    sites = []
    for n, (site, table) in enumerate(zip(config.sdps, doc.get("sdps", ()), strict=True), 1):
        label = _label(section, n)
        has_srp = site.srp_lat is not None
        if has_srp != (site.srp_lon is not None):
            given, needed = ("srp_lat", "srp_lon") if has_srp else ("srp_lon", "srp_lat")
            raise where.error(section, n, given, f"{label} key {given!r}: needs {needed!r} "
                              "too (the system reference point is both)")
        if "use_i100" in table:
            if site.use_i100 and not has_srp:
                raise where.error(section, n, "use_i100", f"{label} key 'use_i100': true "
                                  "needs srp_lat and srp_lon (I100 is relative to them)")
            sites.append(site)
        else:
            sites.append(dataclasses.replace(site, use_i100=config.normalize.use_i100 and has_srp))
    return dataclasses.replace(config, sdps=tuple(sites))


def _finish_handoff(config: Config, doc: dict[str, Any], where: _Where) -> Config:
    """The airspace file is found next to the configuration, and must define every unit
    named; the leads must come in order."""
    h = config.handoff
    if h is None:
        return config
    section = sections()["handoff"]

    def refuse(key: str, text: str) -> ConfigError:
        return where.error(section, 1, key, f"[handoff] key {key!r}: {text}")

    if h.est_lead_s >= h.abi_lead_s:
        raise refuse("est_lead_s", f"{h.est_lead_s:g} must be less than abi_lead_s "
                     f"({h.abi_lead_s:g}): ABI comes first")
    if h.toc_lead_s >= h.est_lead_s:
        raise refuse("toc_lead_s", "must be less than est_lead_s")
    if set(h.units) & set(h.peers):
        raise refuse("peers", "a unit cannot be its own peer")
    if not set(h.cpl_to) <= set(h.peers):
        raise refuse("cpl_to", "names a unit that is not in peers")
    base = os.path.dirname(where.name) if os.path.exists(where.name) else ""
    path = os.path.join(base, h.airspace)
    from gateway.handoff.airspace import Airspace, AirspaceError

    try:
        airspace = Airspace.load(path)
    except AirspaceError as exc:
        raise refuse("airspace", str(exc)) from None
    for key in ("units", "peers"):
        missing = [u for u in getattr(h, key) if u not in airspace.units]
        if missing:
            raise refuse(key, f"{', '.join(missing)} not defined in {h.airspace}")
    database = h.database
    if database and database != ":memory:":
        database = os.path.join(base, database)
    return dataclasses.replace(config, handoff=dataclasses.replace(h, airspace=path,
                                                                   database=database))


_FINISH: tuple[Callable[[Config, dict[str, Any], _Where], Config], ...] = (
    _finish_sdps, _finish_handoff)


def _syntax(exc: ValueError, text: str, name: str) -> ConfigError:
    """tomllib's message, re-worded so that the line number leads like every other error."""
    message = str(exc)
    m = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", message, re.DOTALL)
    if m:
        return _error(f"{name}:{m[2]}: TOML syntax: {m[1][:1].lower()}{m[1][1:]} "
                      f"(column {m[3]})")
    m = re.fullmatch(r"(.*) \(at end of document\)", message, re.DOTALL)
    if m:
        return _error(f"{name}:{text.count(chr(10)) + 1}: TOML syntax: "
                      f"{m[1][:1].lower()}{m[1][1:]} (at end of file)")
    return _error(f"{name}: TOML syntax: {message.split(':')[0][:120]}")


# tomllib takes time quadratic in the parts of one dotted key (a.b.c...): 20,000 parts take
# seconds, the 500,000 that fit in MAX_SIZE would take most of an hour.  A real key has a few.
# Possessive quantifiers and the look-behind keep this search itself linear.
_MAX_KEY_PARTS = 64
_LONG_KEY = re.compile(
    rf"""(?<![\w"'-])(?:(?:[\w-]++|"[^"\n]*+"|'[^'\n]*+')[ \t]*+\.[ \t]*+){{{_MAX_KEY_PARTS}}}"""
)


def loads(text: str, name: str = "<string>", *, env: Mapping[str, str] | None = None) -> Config:
    """Parse a configuration; ``env`` (default os.environ) resolves ``password_env``."""
    if len(text) > MAX_SIZE:
        raise _error(f"{name}: larger than {MAX_SIZE >> 10} KiB; not a configuration file")
    long_key = _LONG_KEY.search(text)
    if long_key:
        line = text.count("\n", 0, long_key.start()) + 1
        raise _error(f"{name}:{line}: a key with more than {_MAX_KEY_PARTS} dotted parts")
    try:
        doc = tomllib.loads(text)
    except RecursionError:
        raise _error(f"{name}: TOML syntax: nested too deeply") from None
    except ValueError as exc:  # TOMLDecodeError, and int() refusing a number too long
        raise _syntax(exc, text, name) from None
    return _build(doc, _Where(name, _Lines(text)), os.environ if env is None else env)


def load(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> Config:
    name = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SIZE + 1)
    except OSError as exc:
        raise _error(f"{name}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_SIZE:
        raise _error(f"{name}: larger than {MAX_SIZE >> 10} KiB; not a configuration file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _error(f"{name}:{line}: not UTF-8 text (byte {exc.start})") from None
    return loads(text, name, env=env)

