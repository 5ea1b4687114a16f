"""Files in and out: whole files read with a ceiling, output gzipped when the name ends
in .gz.

Every file the gateway reads whole (the configuration, the airspace, the broker's CA
file) is read by ``read_limited`` with the ceiling of its kind below: a path that names
``/dev/zero``, a log file or a disk image by mistake is a one-line error naming it, never
memory exhausted.  Captures are streamed and bounded by their own reader.

The gzip header carries no file name and no time, so the same content always makes the
same bytes: shipped captures are regenerated and compared by the tests.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Protocol, cast

from gateway.messages import Message, encode_lines

# The ceilings, one per kind of file read whole; each is far above any real file of its
# kind and far below what would hurt the process.
CONFIG_MAX = 1 << 20
"""A configuration file: a few KiB in practice."""
AIRSPACE_MAX = 10 << 20
"""An airspace GeoJSON: the border region's is about 5 KiB; a country's detailed units
are a few MiB."""
CA_FILE_MAX = 1 << 20
"""A PEM bundle of certificate authorities: the system's whole bundle is about 200 KiB."""
PLAN_FILE_MAX = 16 << 20
"""A file of filed flight plans: a busy centre's day is some 10,000 plans of 300 bytes."""


class InputFileError(ValueError):
    """A file that cannot be read whole: one line naming it and saying why."""


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and not n % (1 << 20) else f"{n >> 10} KiB"


def too_large(name: str, limit: int, kind: str) -> str:
    return f"{name}: larger than {_size(limit)}; not {kind}"


def read_limited(path: str | os.PathLike[str], limit: int, kind: str) -> bytes:
    """The whole file, if it has at most ``limit`` bytes (``kind``, as "an airspace file",
    is named in the error).  Only ``limit + 1`` bytes are ever read, so a device or a pipe
    that never ends costs no more than a real file."""
    name = str(path)
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise InputFileError(f"{name}: cannot read: {exc.strerror or exc}") from None
    except ValueError:  # a NUL in the name
        raise InputFileError(f"{name!r}: not a file name") from None
    if len(data) > limit:
        raise InputFileError(too_large(name, limit, kind))
    return data


class MessageBatch(Protocol):
    """What the sink needs of a published batch (the normaliser's and pipeline's Published)."""

    @property
    def messages(self) -> Sequence[Message]: ...


BULK_BUFFER = 1 << 20
"""The output buffer of a run that writes as fast as it can (``replay --speed max``), where
nobody reads the file while it grows: the sink's batches (some 5.7 KB each, more than the
default buffer) then reach the file in 1 MiB writes, not one system call each."""


@contextmanager
def binary_writer(path: str | Path, buffer_size: int = -1) -> Iterator[IO[bytes]]:
    """``path`` opened for writing, gzipped if it ends in .gz; ``buffer_size`` as ``open``'s
    ``buffering`` (-1: the default, so a live run's batches reach the file as they come)."""
    with open(path, "wb", buffering=buffer_size) as raw:
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
        if batch.messages:
            out.write(encode_lines(batch.messages))
            count += len(batch.messages)
    return count
