"""What ``run``, ``replay`` and ``demo`` share: loading the config, choosing the sinks,
running the service and the one-line summary at the end."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from gateway.commands import UsageError
from gateway.config import Config, ConfigError, MqttConfig, load, parse_mqtt_url
from gateway.files import binary_writer
from gateway.service.shell import Service


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
    if path is None:
        yield None
        return
    try:
        writer = binary_writer(path)
        out = writer.__enter__()
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    try:
        yield out
    finally:
        writer.__exit__(*sys.exc_info())


def summary(command: str, service: Service, extra: str = "") -> str:
    counts = service.status_counters()
    counts.pop("uptime-s", None)
    text = " ".join(f"{k}={v}" for k, v in counts.items() if v)
    return f"{command}: {text}{'; ' + extra if extra else ''}"
