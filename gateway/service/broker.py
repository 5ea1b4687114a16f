"""A broker for the demo: finding one that answers, or running amqtt inside the process.

The demo must work on a laptop with no Mosquitto, so when nothing answers it starts amqtt
in its own event loop.  amqtt 0.12 speaks MQTT 3.1.1 only (clients of that broker must
connect with 3.1.1), allows anonymous clients here, and is configured with no plugin that
writes files ($SYS, persistence) or logs every packet.

amqtt binds a TCP listener itself but does not say which port it got, so a free port
(``port=0``) could only be had by guessing.  Instead the broker gets an ``external``
listener and this module runs the asyncio server, handing each connection to amqtt's
public ``stream_connected``: the kernel picks the port and nothing races for it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import aiomqtt

log = logging.getLogger(__name__)

LISTENER = "default"  # amqtt requires a listener of this name
# CONNACK codes saying "not this protocol version": 1 in MQTT 3.1.1, 0x84 in MQTT 5.
_WRONG_VERSION = {1, 0x84}
_PROTOCOLS = {"5": aiomqtt.ProtocolVersion.V5, "3.1.1": aiomqtt.ProtocolVersion.V311}


async def broker_reachable(host: str, port: int, timeout: float = 1.0, *,
                           protocol: str = "3.1.1", tls: bool = False,
                           ca_file: str | None = None) -> bool:
    """True when an MQTT broker at host:port answers a CONNECT of this protocol version.

    A broker that refuses us for other reasons (credentials) still counts: it is there,
    and the sink, which has the credentials, will say what it thinks of them.
    """
    client = aiomqtt.Client(host, port, identifier=f"asterix-gateway-probe-{os.getpid()}",
                            protocol=_PROTOCOLS[protocol], timeout=timeout, keepalive=10,
                            tls_params=aiomqtt.TLSParameters(ca_certs=ca_file) if tls else None,
                            logger=log)
    try:
        async with asyncio.timeout(timeout * 2):
            async with client:
                return True
    except aiomqtt.MqttCodeError as exc:
        return _code(exc.rc) not in _WRONG_VERSION
    except (aiomqtt.MqttError, OSError, TimeoutError):
        return False


def _code(rc: object) -> int | None:
    """paho gives a CONNACK's code as an int or a ReasonCode, depending on the version."""
    value = getattr(rc, "value", rc)
    return value if isinstance(value, int) else None


def broker_config() -> dict[str, object]:
    """amqtt's configuration: one external listener, anonymous clients, nothing else.

    Listing ``plugins`` replaces amqtt's defaults, which would publish $SYS topics and log
    every packet; no persistence plugin, so nothing is written to disk.
    """
    return {
        "listeners": {LISTENER: {"type": "external"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin":
                    {"allow_anonymous": True}},
    }


def quiet_amqtt(level: int = logging.WARNING) -> None:
    """amqtt (and the state machine library under it) log each connection at INFO."""
    for name in ("amqtt", "transitions"):
        if logging.getLogger(name).getEffectiveLevel() < level:
            logging.getLogger(name).setLevel(level)


@asynccontextmanager
async def embedded_broker(host: str = "127.0.0.1", port: int = 0
                          ) -> AsyncIterator[tuple[str, int]]:
    """An amqtt broker listening on host:port (0: any free port), for the ``with`` block.

    Yields the address it listens on; on exit it disconnects its clients and stops.
    """
    from amqtt.broker import Broker  # imported here: a second or two, and only the demo needs it

    quiet_amqtt()
    broker = Broker(broker_config())
    await broker.start()
    try:
        server = await asyncio.start_server(
            partial(broker.stream_connected, listener_name=LISTENER), host, port)
    except OSError:
        await broker.shutdown()
        raise
    bound = server.sockets[0].getsockname()
    log.info("embedded MQTT broker (amqtt, MQTT 3.1.1) on %s:%d", host, bound[1])
    try:
        yield host, bound[1]
    finally:
        server.close()
        await broker.shutdown()
        await server.wait_closed()
