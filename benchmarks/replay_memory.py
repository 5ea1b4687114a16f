"""Run ``asterix-gateway replay`` in this process and sample its memory against data time.

    python benchmarks/replay_memory.py --interval 2 -- replay CAPTURE --config X --out F

Prints one JSON object on stdout: the command's exit status and the samples, each a dict:
``wall_s``, ``data_s`` (the replay's own clock, seconds since the first datagram), ``rss``
(``VmRSS`` of /proc/self/status, bytes), ``heap_used`` and ``heap_free`` (glibc's
mallinfo2: bytes malloc has handed out, and freed bytes it keeps), ``py_arenas``,
``py_used`` and ``py_free`` (pymalloc, Python's allocator of small objects, whose 1 MiB
arenas mallinfo2 does not see: its arenas, the bytes of its live blocks, and its free
blocks and pools), ``outbox`` and
``outbox_bytes`` (MQTT messages waiting, and their payloads' size), ``intake`` and
``intake_bytes`` (datagrams waiting).  It is the real command, its allocator and collector
settings included; only its ``Pacer`` and ``Service`` are wrapped so the sampler can read
the clock and the queues.  ``--tracemalloc DIR`` also writes a tracemalloc snapshot at the
data seconds of ``--snapshot-at`` (``DIR/at-{data_s}.snap``), to diff by traceback, and
the samples say how much it traces (``traced``), and a copy of ``/proc/self/smaps``
(``DIR/smaps-{data_s}.txt``: which mapping grew, the heap's resident part or another's);
``--frames 0`` writes only those, tracing nothing.  Snapshots of a big heap hold the GIL
for seconds: the broker connection may time out meanwhile.

benchmarks/test_replay_memory.py runs it as a child process, so the figures are those of a
replay on its own, not of the test run around it.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from gateway import cli
from gateway.commands import replay
from gateway.service.inputs import Pacer
from gateway.service.shell import Service

_pacers: list[Pacer] = []
_services: list[Service] = []


class _SampledPacer(Pacer):
    """The replay's own pacer, remembered where the sampler can read its clock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _pacers.append(self)


class _SampledService(Service):
    """The replay's own service, remembered where the sampler can read its queues."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _services.append(self)


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _mallinfo2() -> Any:
    """glibc's mallinfo2 (2.33 and later), or None elsewhere."""
    try:
        f = ctypes.CDLL(None).mallinfo2
    except (AttributeError, OSError):
        return None
    f.restype = _MallInfo2
    return f


MALLINFO2 = _mallinfo2()


def _pymalloc_stats() -> Any:
    """CPython's ``_PyObject_DebugMallocStats`` read through glibc's ``open_memstream``:
    a function returning (arenas, bytes in allocated blocks, bytes in free blocks and
    pools) of pymalloc, the allocator of Python's small objects (its 1 MiB arenas are
    mmapped: not in mallinfo2); None where either is missing."""
    try:
        libc = ctypes.CDLL(None)
        stats = ctypes.pythonapi._PyObject_DebugMallocStats
        memstream, fclose, free = libc.open_memstream, libc.fclose, libc.free
    except (AttributeError, OSError):
        return None
    memstream.restype = ctypes.c_void_p
    memstream.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t)]
    stats.argtypes = fclose.argtypes = free.argtypes = [ctypes.c_void_p]

    def read() -> tuple[int, int, int] | None:
        buf, size = ctypes.c_void_p(), ctypes.c_size_t()
        stream = memstream(ctypes.byref(buf), ctypes.byref(size))
        if not stream:
            return None
        printed = stats(stream)
        fclose(stream)
        text = ctypes.string_at(buf.value, size.value).decode() if buf.value else ""
        free(buf)
        if not printed:
            return None
        values: dict[str, int] = {}
        for line in text.splitlines():
            name, _, value = line.partition("=")
            if value.strip().replace(",", "").isdigit():
                values[name.strip()] = int(value.replace(",", ""))
        unused = next((v for k, v in values.items() if k.endswith("unused pools * 16384 bytes")),
                      0)
        return (values.get("# arenas allocated current", 0),
                values.get("# bytes in allocated blocks", 0),
                values.get("# bytes in available blocks", 0) + unused)

    return read


PYMALLOC = _pymalloc_stats()


def rss_bytes() -> int:
    """Resident set size of this process, from /proc/self/status (kB there)."""
    with open("/proc/self/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def data_seconds() -> float:
    """How far the replay's clock has come since its first datagram."""
    pacer = _pacers[0] if _pacers else None
    t0 = getattr(pacer, "_t0", None)
    if pacer is None or pacer.latest is None or t0 is None:
        return 0.0
    return pacer.latest - t0


def one_sample(started: float) -> dict[str, float]:
    out: dict[str, float] = {"wall_s": round(time.monotonic() - started, 2),
                             "data_s": round(data_seconds(), 1), "rss": rss_bytes()}
    if MALLINFO2 is not None:
        info = MALLINFO2()
        out["heap_used"] = info.uordblks + info.hblkhd
        out["heap_free"] = info.fordblks
    if PYMALLOC is not None:
        py = PYMALLOC()
        if py is not None:
            out["py_arenas"], out["py_used"], out["py_free"] = py
    if tracemalloc.is_tracing():
        out["traced"] = tracemalloc.get_traced_memory()[0]
    service = _services[0] if _services else None
    if service is not None:
        out["intake"] = len(service.intake)
        out["intake_bytes"] = sum(len(d[0]) for d in list(service.intake._queue))
        outbox = service.outbox
        if outbox is not None:  # read from another thread: a moment's view, retried
            for _ in range(3):
                try:
                    messages = [*outbox.stream, *outbox.reliable,
                                *(m for group in list(outbox.state.values()) for m in group)]
                    break
                except RuntimeError:  # changed while read
                    messages = []
            out["outbox"] = len(messages)
            out["outbox_bytes"] = sum(len(m.payload) for m in messages)
    return out


def sample(interval: float, samples: list[dict[str, float]], started: float,
           done: threading.Event, snapshots: Path | None, at: list[float]) -> None:
    """Every ``interval`` s a sample; and the tracemalloc snapshots."""
    due = sorted(at)
    while not done.wait(interval):
        samples.append(one_sample(started))
        if snapshots is not None and due and samples[-1]["data_s"] >= due[0]:
            data = int(samples[-1]["data_s"])
            if tracemalloc.is_tracing():
                tracemalloc.take_snapshot().dump(str(snapshots / f"at-{data:05d}.snap"))
            with open("/proc/self/smaps", "rb") as f:
                (snapshots / f"smaps-{data:05d}.txt").write_bytes(f.read())
            due.pop(0)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--tracemalloc", type=Path, metavar="DIR")
    parser.add_argument("--snapshot-at", type=float, nargs="*", default=[600.0, 3000.0],
                        metavar="DATA_S")
    parser.add_argument("--frames", type=int, default=4,
                        help="traceback depth traced (0: no tracing, /proc/self/smaps only)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.tracemalloc is not None:
        args.tracemalloc.mkdir(parents=True, exist_ok=True)
        if args.frames:
            tracemalloc.start(args.frames)
    replay.Pacer = _SampledPacer  # type: ignore[misc]
    replay.Service = _SampledService  # type: ignore[misc]
    started = time.monotonic()
    samples = [one_sample(started)]
    done = threading.Event()
    sampler = threading.Thread(target=sample, daemon=True,
                               args=(args.interval, samples, started, done, args.tracemalloc,
                                     args.snapshot_at))
    sampler.start()
    status = cli.main(command)
    done.set()
    sampler.join()
    samples.append(one_sample(started))
    json.dump({"status": status, "samples": samples}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
