"""``asterix-gateway replay``: the whole pipeline fed from captures, at any speed.

The captures' own timestamps pace it (``--speed 1`` is real time, ``N`` N times faster,
``max`` as fast as the pipeline and the sinks take it) and are the pipeline's clock, so
every speed publishes the same messages, and the same as the live gateway that received
those datagrams in that order.  Nothing is dropped: replay waits for a slow broker, and for
one that is gone up to ``--broker-wait`` (``[service] replay_broker_wait_s``); if it gives
up it names what was not delivered, QoS 1 first, and exits 3.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from tqdm import tqdm

from gateway.commands import UsageError, positive
from gateway.commands.service import (
    broker_config,
    ended,
    handoff_store,
    load_config,
    output,
    with_web,
)
from gateway.files import BULK_BUFFER
from gateway.ingest import CaptureError, IngestStats
from gateway.service.inputs import Pacer, replay_captures
from gateway.service.logs import setup_logging
from gateway.service.shell import Service, serve
from gateway.service.tuning import tune_for_service


def speed(text: str) -> float | None:
    """``max`` or a positive factor of real time."""
    return None if text == "max" else positive("--speed", "1, N or max", 1e6)(text)


def start_at(text: str) -> float:
    """A UTC epoch time, seconds (``--at``)."""
    return positive("--at", "a UTC epoch time in seconds", 1e11)(text)


def broker_wait(text: str) -> float:
    """Seconds, as ``[service] replay_broker_wait_s`` takes them."""
    return positive("--broker-wait", "a number of seconds", 86_400.0)(text)


def run(args: argparse.Namespace) -> int:
    config = with_web(load_config(args.config), args.web)
    setup_logging(args.log_format, args.log_level)
    mqtt = broker_config(config, args.broker) if (args.broker or not args.out) else None
    if mqtt is None and args.out is None:
        raise UsageError("give --out FILE.jsonl or --broker mqtt://HOST (or an [mqtt] section)")
    for path in args.captures:
        if path != "-":
            try:
                open(path, "rb").close()
            except OSError as exc:
                raise UsageError(f"{path}: {exc.strerror}") from None
    stats = IngestStats()
    if args.at is not None and args.speed is None:
        raise UsageError("--at needs --speed N: as fast as can be has no schedule")
    pacer = Pacer(args.speed, start_at=args.at)
    # as fast as can be: nobody follows the file as it grows, so it is written in large
    # pieces; a paced replay keeps the default buffer, as a live run does
    buffer_size = BULK_BUFFER if args.speed is None else -1
    with output(args.out, buffer_size) as out, handoff_store(config) as store, tqdm(
            desc="replay", unit=" datagrams", file=sys.stderr, disable=None,
            leave=False) as bar:
        service = Service(config, mqtt=mqtt, out=out, pacer=pacer, store=store,
                          broker_wait_s=args.broker_wait)

        def start(loop: asyncio.AbstractEventLoop, s: Service) -> list[asyncio.Task[None]]:
            return [loop.create_task(replay_captures(
                args.captures, s.intake, pacer, stats, stopping=s.stopping, progress=bar))]

        tune_for_service()  # the process is the gateway's now: allocator and collector
        try:
            serve(service, start)
        except CaptureError as exc:
            raise UsageError(str(exc)) from None
        except OSError as exc:  # [web]: its port cannot be had
            raise UsageError(str(exc)) from None
    return ended("replay", service, f"input: {stats.summary()}")
