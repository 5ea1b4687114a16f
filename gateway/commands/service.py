"""What ``run``, ``replay`` and ``demo`` share: loading the config, choosing the sinks,
opening the handoff's store, running the service and the one-line summary at the end."""

from __future__ import annotations

import dataclasses
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
    """``--broker URL`` replaces the config's URL (keeping its other [mqtt] settings)."""
    if broker is None:
        return config.mqtt
    try:
        parse_mqtt_url(broker)
    except ValueError as exc:
        raise UsageError(f"--broker: {exc}") from None
    if config.mqtt is None:
        return MqttConfig(url=broker)
    return dataclasses.replace(config.mqtt, url=broker)


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
