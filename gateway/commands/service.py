"""What ``run``, ``replay`` and ``demo`` share: loading the config, choosing the sinks,
opening the handoff's store, running the service and the one-line summary at the end."""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import logging
import sys
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from typing import IO, Literal

from gateway.commands import UsageError
from gateway.config import Config, ConfigError, MqttConfig, load, parse_mqtt_url
from gateway.config.values import MAX_NODES
from gateway.files import binary_writer
from gateway.service.shell import Service
from gateway.store import HandoffStore, StoreError
from gateway.store.sqlite import MEMORY, SqliteStore

log = logging.getLogger(__name__)


def web_address(text: str) -> tuple[str, int] | None:
    """An argparse type for ``--web``: ``HOST:PORT`` (``[IPv6]:PORT``; port 0: a free one)
    or ``off``."""
    if text == "off":
        return None
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        number = int(port)
        ipaddress.ip_address(host)
    except ValueError:
        number = -1
    if not sep or not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(
            f"--web is HOST:PORT (an IP address and a port) or off, not {text!r}")
    return host, number


def with_web(config: Config, web: tuple[str, int] | None | Literal[False]) -> Config:
    """The config with ``--web``'s choice: an address turns the map on there, ``None``
    (``--web off``) turns it off, ``False`` (not given) leaves [web] as it is."""
    if web is False:
        return config
    if web is None:
        return dataclasses.replace(config, web=dataclasses.replace(config.web, enabled=False))
    host, port = web
    return dataclasses.replace(config, web=dataclasses.replace(
        config.web, enabled=True, host=host, port=port))


def add_web_argument(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--web", type=web_address, default=False, metavar="HOST:PORT|off",
                        help=f"serve the live web map there, or not (default: {default}; "
                        "docs/web.md)")


def load_config(path: str) -> Config:
    try:
        return load(path)
    except (ConfigError, OSError) as exc:
        raise UsageError(str(exc)) from None


def broker_config(config: Config, broker: str | None) -> MqttConfig | None:
    """``--broker URL[,URL...]`` replaces the config's URL or URLs (keeping its other [mqtt]
    settings; its ``ca_file`` was checked when the config was loaded).  Several URLs are the
    nodes of one clustered broker, failed over between in that order."""
    if broker is None:
        return config.mqtt
    return with_nodes(config.mqtt, broker)


def with_nodes(mqtt: MqttConfig | None, broker: str) -> MqttConfig:
    """``mqtt`` (None: the defaults) with the broker ``URL[,URL...]`` instead of its own
    (``url`` for one, ``urls`` for several); bad usage if they are not 1 to 16 distinct
    broker URLs."""
    nodes = tuple(part.strip() for part in broker.split(","))
    try:
        for node in nodes:
            parse_mqtt_url(node)
    except ValueError as exc:
        raise UsageError(f"--broker: {exc}") from None
    if len(nodes) > MAX_NODES or len(set(map(parse_mqtt_url, nodes))) != len(nodes):
        raise UsageError(f"--broker: 1 to {MAX_NODES} distinct broker URLs, comma-separated")
    url, urls = (nodes[0], ()) if len(nodes) == 1 else (None, nodes)
    if mqtt is None:
        return MqttConfig(url=url, urls=urls)
    return dataclasses.replace(mqtt, url=url, urls=urls)


@contextmanager
def output(path: str | None, buffer_size: int = -1) -> Iterator[IO[bytes] | None]:
    """The ``--out`` file, if any; one that cannot be opened is bad usage (exit 2).
    ``buffer_size`` as ``binary_writer`` takes it."""
    if path is None:
        yield None
        return
    with ExitStack() as stack:
        try:
            out = stack.enter_context(binary_writer(path, buffer_size))
        except OSError as exc:
            raise UsageError(f"{path}: {exc.strerror or exc}") from None
        yield out


@contextmanager
def handoff_store(config: Config) -> Iterator[HandoffStore | None]:
    """The store of the handoff's dialogues (``[handoff] database``), open while the
    ``with`` runs and closed however it ends: at the end of the run, on an exception, and
    after a signal (which ends the run gracefully).  None without a [handoff] section, or
    with ``database = ":memory:"`` (a warning: a restart loses the dialogues).

    Only opening is bad input (exit 2: corrupt, foreign, newer, unwritable, full).  A
    failure while running is not: the pipeline records it (``Pipeline.failures``), the
    gateway turns unhealthy and goes on (``Pipeline._handed`` says how)."""
    url = config.store.url
    if url is not None:  # a redundant pair: PostgreSQL, with the lease
        from gateway.store.postgres import PostgresStore

        s = config.store
        try:
            shared = PostgresStore(url, config.gateway.id, lease_s=s.lease_s,
                                   renew_s=s.renew_s,
                                   statement_timeout_ms=s.statement_timeout_ms)
        except StoreError as exc:
            raise UsageError(f"[store] url {exc}") from None
        with closing(shared):
            yield shared
        return
    h = config.handoff
    if h is None:
        yield None
        return
    if h.database == MEMORY:
        log.warning("handoff: [handoff] database = %r: the dialogues are kept in memory only;"
                    " a restart loses them (and may repeat or lose AIDC messages)", MEMORY)
        yield None
        return
    try:
        store = SqliteStore(h.database)
    except StoreError as exc:
        raise UsageError(f"[handoff] database {exc}") from None
    with closing(store):
        yield store


def summary(command: str, service: Service, extra: str = "") -> str:
    counts = service.status_counters()
    counts.pop("uptime-s", None)
    text = " ".join(f"{k}={v}" for k, v in counts.items()
                    if v and not k.startswith("registration-"))  # a line of its own below
    estimates = service.pipeline.registration()
    if estimates:
        text += "; registration (range bias m, azimuth bias deg): " + " ".join(
            f"{e.sac}-{e.sic}={e.range_bias_m:.1f},{e.azimuth_bias_deg:.4f}"
            for e in sorted(estimates, key=lambda e: (e.sac, e.sic)))
    return f"{command}: {text}{'; ' + extra if extra else ''}"


def ended(command: str, service: Service, extra: str = "") -> int:
    """The summary on stderr, then why the run ended badly, one line each; the exit status
    (docs/commands.md):

    1: a task failed and the policy stopped the gateway, or a failure was left at the end
       (as ``handoff-store``: messages made while the store failed were never published);
    3: messages were left undelivered (replay promises every one; live, dropping stale
       QoS 0 data for a slow broker is the policy and only what was left at the stop
       counts);
    else 0."""
    print(summary(command, service, extra), file=sys.stderr)
    status = 0
    if service.supervisor.fatal is not None:
        print(f"asterix-gateway: {command}: {service.supervisor.fatal}", file=sys.stderr)
        status = 1
    for name, reason in service.pipeline.failures.items():
        print(f"asterix-gateway: {command}: ended with a failure: {name}: {reason}",
              file=sys.stderr)
        status = 1
    left = service.undelivered_line(dropped=service.lossless)
    abandoned = service.sink is not None and service.sink.counters["dropped-at-exit"] > 0
    if status == 0 and left is not None and (service.lossless or abandoned):
        why = service.gave_up or "the broker did not take them before the stop deadline"
        print(f"asterix-gateway: {command}: {left} ({why})", file=sys.stderr)
        status = 3
    return status
