"""``asterix-gateway replay``: the whole pipeline fed from captures.

This release runs at full speed into the JSON-lines sink (``--out``); pacing at capture
speed and the MQTT sink belong to the gateway service and come with it.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack

from tqdm import tqdm

from gateway.commands import UsageError
from gateway.config import ConfigError, load
from gateway.decoder import iter_chunks
from gateway.files import binary_writer, write_messages
from gateway.ingest import CaptureError, IngestStats, read_datagrams
from gateway.pipeline import Pipeline


def run(args: argparse.Namespace) -> int:
    if args.broker:
        raise UsageError("--broker: the MQTT sink comes with the gateway service, not yet")
    if args.speed != "max":
        raise UsageError("this release replays only at --speed max (pacing comes with `run`)")
    if not args.out:
        raise UsageError("give --out FILE.jsonl (the MQTT sink comes with the service)")
    try:
        config = load(args.config)
    except (ConfigError, OSError) as exc:
        raise UsageError(str(exc)) from None
    pipeline = Pipeline(config)
    stats = IngestStats()
    written = 0
    with ExitStack() as stack:
        try:
            out = stack.enter_context(binary_writer(args.out))
        except OSError as exc:
            raise UsageError(f"{args.out}: {exc.strerror}") from None
        bar = stack.enter_context(tqdm(desc="replay", unit=" datagrams", file=sys.stderr,
                                       disable=None, leave=False))
        for capture in args.captures:
            try:
                datagrams = read_datagrams(capture, stats=stats)
                for payloads, times in iter_chunks(((d.payload, d.t_capture)
                                                    for d in datagrams), 1 << 18):
                    written += write_messages(out, pipeline.feed(payloads, times))
                    bar.update(len(payloads))
            except (CaptureError, OSError) as exc:
                raise UsageError(f"{capture}: {exc}") from None
        written += write_messages(out, pipeline.flush())
    counts = " ".join(f"{k}={v}" for k, v in sorted(pipeline.counters().items()))
    print(f"replay: {written} messages; {counts}; input: {stats.summary()}", file=sys.stderr)
    return 0
