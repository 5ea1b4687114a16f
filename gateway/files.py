"""Output files, gzipped when the name ends in .gz.

The gzip header carries no file name and no time, so the same content always makes the
same bytes: shipped captures are regenerated and compared by the tests.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Protocol, cast

from gateway.messages import Message, encode


class MessageBatch(Protocol):
    """What the sink needs of a published batch (the normaliser's and pipeline's Published)."""

    @property
    def messages(self) -> Sequence[Message]: ...


@contextmanager
def binary_writer(path: str | Path) -> Iterator[IO[bytes]]:
    with open(path, "wb") as raw:
        if not str(path).endswith(".gz"):
            yield raw
            return
        with gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0, compresslevel=6) as gz:
            # GzipFile has every method of IO[bytes], but typeshed declares it a
            # BufferedIOBase only.
            yield cast(IO[bytes], gz)


@contextmanager
def text_writer(path: str | Path) -> Iterator[IO[str]]:
    with binary_writer(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8")
        yield text
        text.flush()
        text.detach()  # the binary writer closes what it opened


def write_messages(out: IO[bytes], published: Iterable[MessageBatch]) -> int:
    """The JSON-lines sink: every message of every published batch, one object a line, as
    each is published (a cycle's ``picture`` holds each fused update once)."""
    count = 0
    for batch in published:
        for message in batch.messages:
            out.write(encode(message) + b"\n")
            count += 1
    return count
