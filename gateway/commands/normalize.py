"""``asterix-gateway normalize``: plots and source tracks in the shared format, as JSON lines."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from datetime import UTC, datetime

from gateway.commands import UsageError
from gateway.config import ConfigError, load
from gateway.decoder import Decoder, Problems, iter_decoded
from gateway.files import binary_writer, write_messages
from gateway.ingest import CaptureError, IngestStats, read_datagrams
from gateway.normalize.normalizer import Normalizer


def _noon(date: str) -> float:
    """The reference clock for raw inputs (no capture time): noon UTC of the given date."""
    try:
        day = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise UsageError(f"--date {date!r} is not YYYY-MM-DD") from None
    return day.timestamp() + 43200.0


def run(args: argparse.Namespace) -> int:
    try:
        config = load(args.config)
    except (ConfigError, OSError) as exc:
        raise UsageError(str(exc)) from None
    now = _noon(args.date) if args.date else None
    normalizer = Normalizer(config)
    decoder = Decoder([34, 48, 62, 65])
    problems, stats, written = Problems(), IngestStats(), 0
    with ExitStack() as stack:
        try:
            out = (stack.enter_context(binary_writer(args.out)) if args.out
                   else sys.stdout.buffer)
        except OSError as exc:
            raise UsageError(f"{args.out}: {exc.strerror}") from None
        for source in args.inputs:
            try:
                datagrams = read_datagrams(source if source != "-" else sys.stdin.buffer,
                                           stats=stats)
                for batches, chunk_problems in iter_decoded(datagrams, decoder):
                    problems.add(chunk_problems)
                    written += write_messages(out, normalizer.feed(batches, now))
            except (CaptureError, OSError) as exc:
                raise UsageError(f"{source}: {exc}") from None
        written += write_messages(out, normalizer.flush())
    counts = " ".join(f"{k}={v}" for k, v in sorted(normalizer.counters.items()))
    print(f"normalize: {written} messages ({counts or 'nothing'}); decode problems: "
          f"{problems.summary()}; input: {stats.summary()}", file=sys.stderr)
    return 0
