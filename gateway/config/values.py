"""The kinds of value a configuration holds, each declared once with its check.

Most are ``Annotated`` types whose ``msgspec.Meta`` carries the bounds or the pattern that
msgspec checks, and the words an error uses (``extra``: ``what`` for "123.0 is not a
latitude", ``refusal`` for the phrase after a refused string).  The few that a pattern
cannot express (a URL, an IP address, a printable name) carry a
``parse`` in their metadata, which the loader calls once msgspec has seen a string; they may
normalise what they accept, so that two spellings of one endpoint compare equal.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from dataclasses import dataclass
from typing import Annotated

from msgspec import Meta

from gateway.ingest.url import UdpUrl, parse_udp_url
from gateway.messages import TOPIC_LEVEL_PATTERN

__all__ = [
    "Byte", "ClientId", "EnvName", "IpAddress", "Latitude", "Longitude", "MqttUrl",
    "MqttUrlText", "MqttUrlsText", "Name", "TopicLevel", "TopicPrefix", "UdpUrlText", "got",
    "parse_mqtt_url",
    "InputUrlText", "MAX_NODES", "MqttInputUrl", "parse_input_url", "topic_matches",
    "show",
]


# -- describing values in messages ----------------------------------------------------------

def type_name(value: object) -> str:
    """The TOML name of a parsed value's type."""
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "float"), (str, "string"),
                       (list, "array"), (dict, "table"), (datetime.datetime, "date-time"),
                       (datetime.date, "date"), (datetime.time, "time")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def show(value: object) -> str:
    """A short rendering of a scalar; containers by type only (they can be huge or deep)."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        text = repr(value) if isinstance(value, str) else str(value)
    except ValueError:  # an integer too long to print
        return "a very large integer"
    return text if len(text) <= 60 else text[:57] + "..."


def got(value: object) -> str:
    """The value as a type error names it: ``string '25.7785'``, ``an array``."""
    return show(value) if isinstance(value, (list, dict)) else f"{type_name(value)} {show(value)}"


# -- values msgspec checks by itself --------------------------------------------------------

Byte = Annotated[int, Meta(ge=0, le=255)]
Latitude = Annotated[float, Meta(ge=-90.0, le=90.0, extra={"what": "a latitude"})]
Longitude = Annotated[float, Meta(ge=-180.0, le=180.0, extra={"what": "a longitude"})]
TopicLevel = Annotated[str, Meta(pattern=TOPIC_LEVEL_PATTERN, extra={
    "refusal": "cannot be an MQTT topic level (1..64 characters, none of / + # or NUL)"})]
_LEVEL = TOPIC_LEVEL_PATTERN.removeprefix("^").removesuffix("$")
TopicPrefix = Annotated[str, Meta(pattern=rf"^(?!\$){_LEVEL}(?:/{_LEVEL})*$", extra={
    "refusal": "is not a topic prefix (levels separated by single /, no + # or NUL, not "
               "starting with $ or ending with /)"})]
EnvName = Annotated[str, Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$", extra={
    "refusal": "is not an environment variable name"})]
# MQTT 3.1.1 servers must accept 1-23 characters of [0-9a-zA-Z]; most take more, and the
# gateway's default is longer, but a client id must at least be printable ASCII.
ClientId = Annotated[str, Meta(pattern=r"^[!-~]{1,128}$", extra={
    "refusal": "is not a client id (1..128 printable ASCII characters, no spaces)"})]


# -- values that need code ------------------------------------------------------------------
# msgspec checks that they are strings; then the loader calls ``extra["parse"]``, which
# raises ValueError saying why, or returns the value to keep.

def _name(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    if len(text) > 100 or not text.isprintable():
        raise ValueError(f"{show(text)} is not a name (one printable line, at most 100 "
                         "characters)")
    return text


MAX_NODES = 16  # the nodes of one broker cluster ([mqtt] urls, --broker, an input's)


def _mqtt_url(text: str) -> str:
    parse_mqtt_url(text)
    return text


def _mqtt_urls(texts: tuple[str, ...]) -> tuple[str, ...]:
    """A cluster's nodes: each a broker URL, none twice (the same node under two spellings
    counts twice: ``mqtt://a`` and ``mqtt://a:1883``)."""
    nodes = [parse_mqtt_url(text) for text in texts]
    if len(set(nodes)) != len(nodes):
        raise ValueError("the same broker node is named twice")
    return texts


def _ip_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"{show(text)} is not an IP address") from None


# A human-readable site name: it goes into logs and status, so one printable line.
Name = Annotated[str, Meta(extra={"parse": _name})]
# udp://GROUP:PORT[?iface=ADDR&source=ADDR], kept in canonical form so that two spellings of
# one endpoint compare equal.
UdpUrlText = Annotated[str, Meta(extra={"parse": lambda text: str(parse_udp_url(text))})]
MqttUrlText = Annotated[str, Meta(extra={"parse": _mqtt_url})]
# [mqtt] urls: the nodes of one broker cluster, distinct.
MqttUrlsText = Annotated[tuple[str, ...],
                         Meta(max_length=MAX_NODES, extra={"parse": _mqtt_urls})]
# An [[input]]: udp://... (canonical form, as UdpUrlText) or mqtt://HOST:PORT/FILTER.
InputUrlText = Annotated[str, Meta(extra={"parse": lambda text: str(parse_input_url(text))})]
IpAddress = Annotated[str, Meta(extra={"parse": _ip_address})]  # kept in canonical form


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

    def __str__(self) -> str:
        """``mqtt://HOST:PORT`` (``[IPv6]``), the one spelling logs, /health and /metrics
        use."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.hostport}"

    @property
    def hostport(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


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


# -- MQTT inputs ----------------------------------------------------------------------------

@dataclass(frozen=True)
class MqttInputUrl:
    """``mqtt://HOST[:PORT][,HOST[:PORT]...]/TOPIC-FILTER``: the broker (one, or the nodes
    of a cluster, failed over between in that order) and the filter an ``[[input]]``
    subscribes to for other gateways' ``plot`` and ``track`` batches."""

    brokers: tuple[MqttUrl, ...]
    filter: str

    @property
    def broker(self) -> MqttUrl:
        """The first node (the only one of a single broker)."""
        return self.brokers[0]

    @property
    def nodes(self) -> str:
        """``mqtt://HOST:PORT[,HOST:PORT...]``: the URL without its filter."""
        return f"{'mqtts' if self.broker.tls else 'mqtt'}://" + ",".join(
            b.hostport for b in self.brokers)

    def __str__(self) -> str:
        return f"{self.nodes}/{self.filter}"


def _check_filter(text: str, url: str) -> None:
    """An MQTT topic filter as the standard defines it (``+`` a whole level, ``#`` the
    whole last level), no ``$`` topics, no NUL, at most 256 characters."""
    if not text or len(text) > 256 or "\x00" in text or not text.isprintable():
        raise ValueError(f"{url!r}: the topic filter must be 1 to 256 printable characters")
    if text.startswith("$"):
        raise ValueError(f"{url!r}: a filter starting with $ names the broker's own topics")
    levels = text.split("/")
    for n, level in enumerate(levels):
        if ("+" in level and level != "+") or ("#" in level and level != "#"):
            raise ValueError(f"{url!r}: + and # must be whole topic levels")
        if level == "#" and n != len(levels) - 1:
            raise ValueError(f"{url!r}: # must be the last topic level")


def parse_input_url(text: str) -> UdpUrl | MqttInputUrl:
    """An ``[[input]]``'s URL: ``udp://...`` or ``mqtt[s]://HOST[:PORT][,...]/TOPIC-FILTER``:
    several HOST[:PORT], comma-separated, are the nodes of one broker cluster (one scheme
    for all, at most ``MAX_NODES``, none twice)."""
    scheme = text.partition("://")[0].lower()
    if scheme not in ("mqtt", "mqtts"):
        return parse_udp_url(text)
    rest = text.partition("://")[2]
    hostports, slash, filter_ = rest.partition("/")
    if not slash or not filter_:
        raise ValueError(f"{text!r}: expected mqtt://HOST[:PORT][,HOST[:PORT]...]/TOPIC-FILTER "
                         "(for example mqtt://broker:1883/surv/v1/plots/#)")
    _check_filter(filter_, text)
    parts = hostports.split(",")
    if len(parts) > MAX_NODES:
        raise ValueError(f"{text!r}: at most {MAX_NODES} broker nodes")
    brokers = []
    for part in parts:
        if not part:
            raise ValueError(f"{text!r}: an empty broker node (nodes are HOST[:PORT], "
                             "comma-separated, one scheme for all)")
        if part.lower() in ("mqtt:", "mqtts:"):  # mqtt://a,mqtt://b/...: split at the //
            raise ValueError(f"{text!r}: the scheme is given once, before the first node "
                             "(mqtt://a:1883,b:1883/FILTER)")
        try:
            brokers.append(parse_mqtt_url(f"{scheme}://{part}"))
        except ValueError as exc:
            raise ValueError(f"{text!r}: node {part[:60]!r}: "
                             f"{str(exc).partition(': ')[2] or exc}") from None
    if len(set(brokers)) != len(brokers):
        raise ValueError(f"{text!r}: the same broker node is named twice")
    return MqttInputUrl(tuple(brokers), filter_)


def topic_matches(filter_: str, topic: str) -> bool:
    """Whether an MQTT topic filter matches a topic name (``+`` one level, ``#`` the rest,
    including none)."""
    f_levels, t_levels = filter_.split("/"), topic.split("/")
    for n, level in enumerate(f_levels):
        if level == "#":
            return True
        if n >= len(t_levels) or (level != "+" and level != t_levels[n]):
            return False
    return len(f_levels) == len(t_levels)
