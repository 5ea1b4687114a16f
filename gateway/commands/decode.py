"""``asterix-gateway decode``: every record of captures, raw files, stdin or a live feed."""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from typing import IO, TYPE_CHECKING, NoReturn, TextIO

from gateway.commands import UsageError
from gateway.decoder import Batch, Decoder, Problems, iter_decoded
from gateway.ingest import CaptureError, Datagram, IngestStats, read_datagrams
from gateway.ingest.multicast import iter_multicast
from gateway.ingest.url import parse_udp_url
from gateway.render import in_order, jsonl_buffer, record_text

if TYPE_CHECKING:
    from tqdm import tqdm


def _with_progress(datagrams: Iterable[Datagram], f: IO[bytes], bar: tqdm[NoReturn],
                   ) -> Iterator[Datagram]:
    """Advance the bar by how far the reader has got into the file (cheaply, every 4096)."""
    for i, d in enumerate(datagrams):
        if not i & 4095:
            bar.update(f.tell() - bar.n)
        yield d
    bar.update(bar.total - bar.n if bar.total else 0)


class _Output:
    """Writes each decode call's records as they come; counts records and problems.

    JSON lines go to the binary stream underneath ``out`` as one bytes buffer per decode
    call, written from the batches' columns without a Python object per record (issue 16:
    the speed of ``decode --format jsonl`` is its use); text goes through ``out``.
    """

    def __init__(self, out: TextIO, fmt: str) -> None:
        self.out, self.fmt = out, fmt
        self.records: Counter[int] = Counter()
        self.problems = Problems()

    def write(self, decoded: Iterable[tuple[dict[int, Batch], Problems]], flush: bool) -> None:
        for batches, problems in decoded:
            self.problems.add(problems)
            if self.fmt == "jsonl":
                for batch in batches.values():
                    self.records[batch.category] += len(batch)
                data = jsonl_buffer(batches)
                if len(data):
                    self.out.buffer.write(data)
                    if flush:
                        self.out.buffer.flush()
                continue
            lines = []
            for batch, row in in_order(batches):
                self.records[batch.category] += 1
                lines.append(record_text(batch, row, sum(self.records.values())))
            if lines:
                self.out.write("\n".join(lines) + "\n")
                if flush:
                    self.out.flush()


def _open(path: str, stack: ExitStack) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    try:
        return stack.enter_context(open(path, "rb"))
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    try:
        decoder = Decoder(args.category)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    ports = set(args.port) if args.port else None
    output = _Output(sys.stdout, args.format)
    stats = IngestStats()
    try:
        for source in args.inputs:
            if source.startswith("udp://"):
                try:
                    url = parse_udp_url(source)
                except ValueError as exc:
                    raise UsageError(str(exc)) from None
                feed = iter_multicast(url)
                output.write((decoder.decode([d.payload], [d.t_capture]) for d in feed), True)
                continue
            with ExitStack() as stack:
                f = _open(source, stack)
                size = os.fstat(f.fileno()).st_size if f is not sys.stdin.buffer else 0
                datagrams = read_datagrams(f, ports=ports, stats=stats)
                # tqdm is imported only for a bar that shows (auto: on a terminal), as
                # decode is often a pipeline's first stage, where start-up time counts
                if size and (args.progress == "always" or (args.progress == "auto"
                                                           and sys.stderr.isatty())):
                    from tqdm import tqdm

                    bar = stack.enter_context(tqdm(total=size, unit="B", unit_scale=True,
                                                   desc=os.path.basename(source), leave=False,
                                                   file=sys.stderr))
                    datagrams = _with_progress(datagrams, f, bar)
                output.write(iter_decoded(datagrams, decoder), False)
    except CaptureError as exc:
        raise UsageError(str(exc)) from None
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not a failure of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except KeyboardInterrupt:
        pass  # the way to end a live decode
    else:
        sys.stdout.flush()
    _summary(output, stats)
    return 0


def _summary(output: _Output, stats: IngestStats) -> None:
    per_cat = ", ".join(f"CAT{c:03d} {n}" for c, n in sorted(output.records.items()))
    total = sum(output.records.values())
    print(f"decode: {total} records ({per_cat or 'none'}); problems: "
          f"{output.problems.summary()}; input: {stats.summary()}", file=sys.stderr)
