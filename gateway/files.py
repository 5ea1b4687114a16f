"""Output files, gzipped when the name ends in .gz.

The gzip header carries no file name and no time, so the same content always makes the
same bytes: shipped captures are regenerated and compared by the tests.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO

from gateway.messages import encode


@contextmanager
def binary_writer(path: str | Path) -> Iterator[BinaryIO]:
    with open(path, "wb") as raw:
        if not str(path).endswith(".gz"):
            yield raw
            return
        with gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0, compresslevel=6) as gz:
            yield gz  # type: ignore[misc]


@contextmanager
def text_writer(path: str | Path) -> Iterator[IO[str]]:
    with binary_writer(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8")
        yield text
        text.flush()
        text.detach()  # the binary writer closes what it opened


def write_messages(out: IO[bytes], published: Iterable[Any]) -> int:
    """The JSON-lines sink: every message of every published batch, one object a line, as
    each is published (a cycle's ``picture`` holds each fused update once)."""
    count = 0
    for batch in published:
        for message in batch.messages:
            out.write(encode(message) + b"\n")
            count += 1
    return count
