"""``asterix-gateway run --config FILE``: the live gateway, UDP multicast in, MQTT out."""

from __future__ import annotations

import argparse
import asyncio
import logging

from gateway.commands import UsageError
from gateway.commands.service import (
    broker_config,
    ended,
    handoff_store,
    load_config,
    output,
    with_web,
)
from gateway.service.logs import setup_logging
from gateway.service.shell import Service, serve
from gateway.service.tuning import tune_for_service

log = logging.getLogger("gateway.run")


def run(args: argparse.Namespace) -> int:
    config = with_web(load_config(args.config), args.web)
    setup_logging(args.log_format, args.log_level)
    if not config.inputs:
        raise UsageError(f"{args.config}: no [[input]]: nothing to listen to")
    mqtt = broker_config(config, args.broker)
    if mqtt is None and args.out is None:
        raise UsageError(f"{args.config}: no [mqtt] section and no --out: nowhere to publish")
    with output(args.out) as out, handoff_store(config) as store:
        service = Service(config, mqtt=mqtt, out=out, serve_metrics=True, store=store)

        def start(loop: asyncio.AbstractEventLoop, s: Service) -> list[asyncio.Task[None]]:
            try:
                s.listen(loop)
            except OSError as exc:
                raise UsageError(str(exc)) from None
            log.info("gateway %s running: %d inputs, %s", config.gateway.id, len(config.inputs),
                     f"MQTT {s.sink.where}" if s.sink else "no broker")
            return []

        tune_for_service()  # the process is the gateway's now: allocator and collector
        try:
            serve(service, start)
        except OSError as exc:
            raise UsageError(str(exc)) from None
    return ended("run", service)
