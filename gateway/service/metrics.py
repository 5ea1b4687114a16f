"""Prometheus metrics and a health endpoint, on one small HTTP listener.

The service keeps its counts in plain ``Counter`` objects (the sans-IO parts count what they
see); a collector turns a snapshot of them into metric families at scrape time, so nothing
is counted twice and no part of the pipeline imports the metrics library.  Only the
latency histogram is a prometheus_client object, because it keeps buckets.

The listener is asyncio's, not prometheus_client's thread, so that ``/health`` can answer
from the service's own state.  Requests are hostile input too: one line of at most 8 KiB,
read within 5 s, or the connection is closed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


# A family's label: one name with values keyed by str, or several names keyed by tuples.
Labels = str | tuple[str, ...]
Family = tuple[str, Labels, Mapping[Any, float]]  # keys: str, or tuples of str


@dataclass
class Snapshot:
    """What the service reports: counters by family and label, and gauges."""

    counters: dict[str, Family] = field(default_factory=dict)
    gauges: dict[str, Family] = field(default_factory=dict)
    healthy: bool = True
    health: dict[str, object] = field(default_factory=dict)  # served as JSON on /health


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot()
        for kind, families in ((CounterMetricFamily, snap.counters),
                               (GaugeMetricFamily, snap.gauges)):
            for name, (doc, label, values) in families.items():
                names = list(label) if isinstance(label, tuple) else [label] if label else []
                family = kind(name, doc, labels=names or None)
                for key, value in sorted(values.items()):
                    keys: list[str] = (list(key) if isinstance(key, tuple) else
                                       [key] if names else [])
                    family.add_metric(keys, value)
                yield family


class Metrics:
    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self.snapshot = snapshot
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_SnapshotCollector(snapshot))
        self.latency = Histogram(
            "gateway_latency_seconds",
            "From datagram received to its message handed to the broker",
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self.server: asyncio.Server | None = None

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    async def start(self, host: str, port: int) -> tuple[str, int]:
        self.server = await asyncio.start_server(self._serve, host, port, limit=8192)
        bound = self.server.sockets[0].getsockname()
        log.info("metrics on http://%s:%d/metrics, health on /health", bound[0], bound[1])
        return bound[0], bound[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5.0)
            parts = line.decode("latin-1").split()
            method, path = (parts[0], parts[1].split("?")[0]) if len(parts) >= 2 else ("", "")
            if method not in ("GET", "HEAD"):
                status, ctype, body = "405 Method Not Allowed", "text/plain", b"GET only\n"
            elif path == "/metrics":
                status, ctype = "200 OK", "text/plain; version=0.0.4; charset=utf-8"
                body = self.exposition()
            elif path in ("/health", "/healthz"):
                snap = self.snapshot()
                status = "200 OK" if snap.healthy else "503 Service Unavailable"
                ctype, body = "application/json", json.dumps(snap.health).encode() + b"\n"
            else:
                status, ctype, body = "404 Not Found", "text/plain", b"/metrics or /health\n"
            head = (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
            writer.write(head.encode() + (b"" if method == "HEAD" else body))
            await asyncio.wait_for(writer.drain(), 5.0)
        except (TimeoutError, ValueError, ConnectionError, asyncio.LimitOverrunError):
            pass  # a slow, oversized or vanished client: just close
        finally:
            writer.close()
