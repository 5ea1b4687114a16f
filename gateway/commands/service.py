"""What ``run``, ``replay`` and ``demo`` share: loading the config, choosing the sinks,
opening the handoff's store, running the service and the one-line summary at the end."""

from __future__ import annotations

import dataclasses
import os
import ssl
import stat
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import IO

from gateway.commands import UsageError
from gateway.config import Config, ConfigError, MqttConfig, load, parse_mqtt_url
from gateway.files import binary_writer
from gateway.service.shell import Service, open_store
from gateway.store import HandoffStore, StoreError


def load_config(path: str) -> Config:
    try:
        return load(path)
    except (ConfigError, OSError) as exc:
        raise UsageError(str(exc)) from None


def broker_config(config: Config, broker: str | None) -> MqttConfig | None:
    """``--broker URL`` replaces the config's URL (keeping its other [mqtt] settings).
    Its ``ca_file`` is checked here, at the start, not at the first connection."""
    mqtt = config.mqtt
    if broker is not None:
        try:
            parse_mqtt_url(broker)
        except ValueError as exc:
            raise UsageError(f"--broker: {exc}") from None
        mqtt = (MqttConfig(url=broker) if config.mqtt is None
                else dataclasses.replace(config.mqtt, url=broker))
    if mqtt is not None and mqtt.ca_file is not None and mqtt.broker.tls:
        check_ca_file(mqtt.ca_file)
    return mqtt


CA_FILE_LIMIT = 1 << 20  # a bundle of every public CA is about 200 KiB


def check_ca_file(path: str) -> None:
    """A readable PEM file of certificates, or a one-line UsageError (exit 2) naming it."""
    where = f"[mqtt] ca_file {path}"
    try:
        info = os.stat(path)
    except OSError as exc:
        raise UsageError(f"{where}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{where}: not a regular file")
    if info.st_size > CA_FILE_LIMIT:
        raise UsageError(f"{where}: {info.st_size} bytes, more than a CA file "
                         f"({CA_FILE_LIMIT} at most)")
    try:
        ssl.create_default_context(cafile=path)
    except ssl.SSLError as exc:  # (an OSError too)
        raise UsageError(f"{where}: no PEM certificate in it ({exc.reason})") from None
    except OSError as exc:  # unreadable
        raise UsageError(f"{where}: {exc.strerror or exc}") from None


@contextmanager
def output(path: str | None) -> Iterator[IO[bytes] | None]:
    """The ``--out`` file, if any; one that cannot be opened is bad usage (exit 2)."""
    if path is None:
        yield None
        return
    with ExitStack() as stack:
        try:
            out = stack.enter_context(binary_writer(path))
        except OSError as exc:
            raise UsageError(f"{path}: {exc.strerror or exc}") from None
        yield out


@contextmanager
def handoff_store(config: Config) -> Iterator[HandoffStore | None]:
    """The store of the handoff's dialogues (``[handoff] database``), open while the
    ``with`` runs and closed however it ends.  One that cannot be opened, or holds
    something else than the handoff's state, is bad input (exit 2)."""
    try:
        with open_store(config) as store:
            yield store
    except StoreError as exc:
        raise UsageError(f"[handoff] database {exc}") from None


def summary(command: str, service: Service, extra: str = "") -> str:
    counts = service.status_counters()
    counts.pop("uptime-s", None)
    text = " ".join(f"{k}={v}" for k, v in counts.items() if v)
    return f"{command}: {text}{'; ' + extra if extra else ''}"


def stopped(command: str, service: Service) -> int:
    """The exit status of a service that has ended, its reason in one line on stderr: 1 when
    a task failed and the policy stopped the gateway, 3 when messages were left
    undelivered (docs/commands.md), else 0."""
    if service.supervisor.fatal is not None:
        print(f"asterix-gateway: {command}: {service.supervisor.fatal}", file=sys.stderr)
        return 1
    # Live, dropping stale QoS 0 data for a slow broker is the policy; only what was left
    # at the stop is undelivered.  Replay promises every message.
    left = service.undelivered_line(dropped=service.lossless)
    abandoned = service.sink is not None and service.sink.counters["dropped-at-exit"] > 0
    if left is not None and (service.lossless or abandoned):
        why = service.gave_up or "the broker did not take them before the stop deadline"
        print(f"asterix-gateway: {command}: {left} ({why})", file=sys.stderr)
        return 3
    return 0
