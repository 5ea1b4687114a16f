"""``udp://GROUP:PORT[?iface=ADDR&source=ADDR]``: how an operator names a live feed.

Parsed strictly, by hand rather than with urllib, so that every mistake (a hostname, a
missing port, a typo in a parameter name) is refused with a message naming it, instead of
being silently ignored and surfacing later as a feed that never arrives.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

__all__ = ["UdpUrl", "parse_udp_url"]


@dataclass(frozen=True)
class UdpUrl:
    """A UDP endpoint to listen on: a multicast group (or a unicast address) and a port.

    ``iface`` is the IPv4 address of the interface to join on (None: the kernel's choice);
    ``source`` asks for source-specific membership (SSM), allowed only with a group.
    """

    group: str
    port: int
    iface: str | None = None
    source: str | None = None

    @property
    def is_multicast(self) -> bool:
        return ipaddress.IPv4Address(self.group).is_multicast

    @classmethod
    def parse(cls, text: str) -> UdpUrl:
        return parse_udp_url(text)

    def __str__(self) -> str:
        query = "&".join(
            f"{k}={v}" for k, v in (("iface", self.iface), ("source", self.source)) if v
        )
        return f"udp://{self.group}:{self.port}" + (f"?{query}" if query else "")


def _ipv4(text: str, what: str, url: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise ValueError(f"{url!r}: {what} {text!r} is not an IPv4 address") from None


def parse_udp_url(text: str) -> UdpUrl:
    """Parse ``udp://GROUP:PORT[?iface=ADDR&source=ADDR]``; ValueError names the problem."""
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() != "udp":
        raise ValueError(f"{text!r}: expected udp://GROUP:PORT[?iface=ADDR&source=ADDR]")
    hostport, _, query = rest.partition("?")
    hostport = hostport.removesuffix("/")
    if "/" in hostport or "@" in hostport or "#" in query:
        raise ValueError(f"{text!r}: a udp URL has no path, user or fragment")
    host, colon, port_text = hostport.rpartition(":")
    if not colon or not host:
        raise ValueError(f"{text!r}: missing GROUP:PORT")
    if host.startswith("["):
        raise ValueError(f"{text!r}: IPv6 is not supported")
    group = _ipv4(host, "group", text)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{text!r}: port {port_text!r} is not a number in 1..65535")
    params: dict[str, str] = {}
    for item in query.split("&") if query else ():
        key, eq, value = item.partition("=")
        if key not in ("iface", "source"):
            raise ValueError(f"{text!r}: unknown parameter {key!r} (known: iface, source)")
        if not eq or not value:
            raise ValueError(f"{text!r}: parameter {key!r} needs a value")
        if key in params:
            raise ValueError(f"{text!r}: parameter {key!r} given twice")
        params[key] = _ipv4(value, key, text)
    if "source" in params and not ipaddress.IPv4Address(group).is_multicast:
        raise ValueError(f"{text!r}: source= needs a multicast group, {group} is not one")
    return UdpUrl(group, int(port_text), params.get("iface"), params.get("source"))
