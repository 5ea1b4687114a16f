"""Where datagrams come from in the service: live sockets or paced captures, into one
bounded intake the pipeline drains.

Live inputs cannot wait: when the intake is full a datagram is dropped and counted
(``input-dropped``), and the kernel's own drops for a full receive buffer show as
``kernel-drops``.  Replay can wait, so it does: at any speed it loses nothing, and at
``max`` it goes exactly as fast as the pipeline and the sinks take it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gateway.ingest import CaptureError, IngestStats, UdpUrl, open_multicast, read_datagrams

log = logging.getLogger(__name__)

READS_PER_WAKE = 512  # datagrams read from one socket before other work gets a turn
# How far replay reads ahead of the pipeline, in datagrams: two of its chunks (the service
# takes 1024 at a time, shell.CHUNK), so it never waits for the reader.  Reading further
# gains nothing and holds memory: while the pipeline waited for a slow broker, the reader
# filled half of the intake (25,000 datagrams of the 50,000 default) and kept it full.
READ_AHEAD = 2048


@dataclass
class Chunk:
    """Datagrams taken together into the pipeline."""

    payloads: list[bytes] = field(default_factory=list)
    t_capture: list[float | None] = field(default_factory=list)
    received: list[float] = field(default_factory=list)  # wall clock, for latency


class Intake:
    """A bounded queue of datagrams; ``arrived`` is set whenever one is added."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._queue: deque[tuple[bytes, float | None, float]] = deque()
        self.arrived = asyncio.Event()
        self.counters: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._queue)

    def offer(self, payload: bytes, t_capture: float | None, received: float) -> bool:
        """Add one datagram unless full (then it is counted and dropped)."""
        if len(self._queue) >= self.limit:
            self.counters["input-dropped"] += 1
            return False
        self._queue.append((payload, t_capture, received))
        self.arrived.set()
        return True

    def take(self, n: int) -> Chunk:
        chunk = Chunk()
        queue = self._queue
        for _ in range(min(n, len(queue))):
            payload, t, received = queue.popleft()
            chunk.payloads.append(payload)
            chunk.t_capture.append(t)
            chunk.received.append(received)
        if not queue:
            self.arrived.clear()
        return chunk


class Inbox:
    """A bounded queue of inbound MQTT messages (topic, payload): the MQTT connection puts,
    the pipeline task takes, so inbound AIDC is handled in the pipeline's order and the
    connection never waits on the handoff or its store.

    When full, the message arriving is dropped (not an older one: the queue keeps the
    order of what it holds) and counted as ``dropped-full``; an AIDC sender repeats a
    message that gets no LAM.  ``arrived`` is set whenever one is added.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._queue: deque[tuple[str, bytes]] = deque()
        self.arrived = asyncio.Event()
        self.counters: Counter[str] = Counter()  # dropped-full, handled, handler-errors

    def __len__(self) -> int:
        return len(self._queue)

    def offer(self, topic: str, payload: bytes) -> bool:
        if len(self._queue) >= self.limit:
            self.counters["dropped-full"] += 1
            return False
        self._queue.append((topic, payload))
        self.arrived.set()
        return True

    def take(self, n: int) -> list[tuple[str, bytes]]:
        queue = self._queue
        out = [queue.popleft() for _ in range(min(n, len(queue)))]
        if not queue:
            self.arrived.clear()
        return out


class MulticastInput:
    """One ``[[input]]``: a joined socket read by the event loop when it is readable."""

    def __init__(self, url: UdpUrl, intake: Intake, rcvbuf: int) -> None:
        self.url = url
        self.intake = intake
        self.rcvbuf = rcvbuf
        self.counters: Counter[str] = Counter()
        self.last: float | None = None  # wall clock of the last datagram
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._sock = open_multicast(self.url, rcvbuf=self.rcvbuf)
        self._sock.setblocking(False)
        self._loop = loop
        loop.add_reader(self._sock.fileno(), self._readable)
        log.info("listening on %s", self.url)

    def stop(self) -> None:
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    def _readable(self) -> None:
        sock, intake, counters = self._sock, self.intake, self.counters
        if sock is None:
            return
        for _ in range(READS_PER_WAKE):
            try:
                payload = sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # e.g. ICMP errors surfacing on a UDP socket
                counters["socket-errors"] += 1
                log.warning("%s: %s", self.url, exc)
                break
            now = time.time()
            counters["datagrams"] += 1
            counters["bytes"] += len(payload)
            self.last = now
            intake.offer(payload, now, now)


class Pacer:
    """Capture time to wall time: ``speed`` times real time, or None for as fast as can be.

    ``now()`` is the replay's clock in capture time, what the pipeline takes as "now".
    """

    def __init__(self, speed: float | None, start_at: float | None = None) -> None:
        """``start_at``: the wall clock time (epoch) the first datagram is due at (None:
        when it is read); replays given one keep in step with each other."""
        self.speed = speed
        self.start_at = start_at
        self._t0: float | None = None  # first capture time
        self._m0 = 0.0
        self.latest: float | None = None

    def now(self) -> float:
        if self._t0 is None:
            return time.time()
        if self.speed is None:
            return self.latest if self.latest is not None else self._t0
        return self._t0 + (time.monotonic() - self._m0) * self.speed

    def delay(self, t_capture: float | None) -> float:
        """Seconds to wait before the datagram captured at ``t_capture`` is due."""
        if t_capture is None:
            return 0.0
        if self._t0 is None:
            self._t0, self._m0 = t_capture, time.monotonic()
            if self.start_at is not None:  # the wall clock's epoch, on the monotonic clock
                self._m0 += self.start_at - time.time()
        self.latest = t_capture if self.latest is None else max(self.latest, t_capture)
        if self.speed is None:
            return 0.0
        return self._m0 + (t_capture - self._t0) / self.speed - time.monotonic()


class Progress(Protocol):
    """A progress bar (tqdm's, in the replay command): told how many datagrams went in."""

    def update(self, n: int, /) -> object: ...


async def replay_captures(paths: Sequence[str], intake: Intake, pacer: Pacer,
                          stats: IngestStats, *, stopping: asyncio.Event,
                          progress: Progress | None = None) -> None:
    """Feed captures into the intake with their own timing; never drops (waits for room,
    reading at most ``READ_AHEAD`` datagrams, or half the intake, ahead of the pipeline).

    CaptureError and OSError propagate with the capture's name.
    """
    fill_to = min(intake.limit // 2, READ_AHEAD)
    for path in paths:
        try:
            datagrams = read_datagrams(path, stats=stats)
            n = 0
            for d in datagrams:
                if stopping.is_set():
                    return
                wait = pacer.delay(d.t_capture)
                if wait > 0:
                    await asyncio.sleep(wait)
                while len(intake) >= fill_to:
                    await asyncio.sleep(0.001)
                    if stopping.is_set():
                        return
                intake.offer(d.payload, d.t_capture, time.time())
                n += 1
                if n % 256 == 0:
                    if progress is not None:
                        progress.update(256)
                    await asyncio.sleep(0)  # let the pipeline run between bursts
        except (CaptureError, OSError) as exc:
            raise CaptureError(f"{path}: {exc}") from None
