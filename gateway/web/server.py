"""The web map's HTTP side: the page, its static files, the layout, the event stream and
one track's details (docs/web.md), served by aiohttp in the service's event loop.

The producer never waits for a browser: every ``update_s`` the update is made and encoded
once, then put (``put_nowait``) on each client's bounded queue.  A client whose queue is
full has fallen behind (its socket does not drain): it is disconnected on the spot, logged
and counted, and the browser's EventSource reconnects for a fresh snapshot when it can.
At most ``max_clients`` streams at once (503 beyond); every other request is answered from
memory, and every unknown path or id is a 404.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

from gateway.config import Config
from gateway.files import AIRSPACE_MAX, InputFileError, read_limited
from gateway.web.picture import AirPicture

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
MAX_ID = 64  # a track id is one MQTT topic level: longer is no id of ours
_encoder = msgspec.json.Encoder()


def sse(event: str, data: dict[str, Any]) -> bytes:
    """One server-sent event: msgspec's JSON has no newline, so one ``data:`` line."""
    return b"event: " + event.encode() + b"\ndata: " + _encoder.encode(data) + b"\n\n"


class _Client:
    __slots__ = ("queue", "transport", "peer")

    def __init__(self, size: int, transport: asyncio.BaseTransport | None, peer: str) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=size)
        self.transport = transport
        self.peer = peer


class WebServer:
    """The web map for one service: ``start`` listens, ``run`` sends the updates until
    cancelled, ``stop`` closes every stream and the listener."""

    def __init__(self, picture: AirPicture, layout: dict[str, Any], *, update_s: float,
                 client_queue: int, max_clients: int, speed: float | None,
                 clock: Callable[[], float],
                 inputs: Callable[[], dict[str, float | None]] = dict) -> None:
        """``clock``: the picture's time now (the capture's in replay); ``inputs``: each
        live input's age of its last datagram; ``speed``: the replay's (None: live or
        as fast as it goes)."""
        self.picture = picture
        self.layout = layout
        self.update_s = update_s
        self.client_queue = client_queue
        self.max_clients = max_clients
        self.speed = speed
        self.clock = clock
        self.inputs = inputs
        self.clients: set[_Client] = set()
        self.counters: Counter[str] = Counter()
        self.url: str | None = None
        self._runner: web.AppRunner | None = None
        self.app = web.Application(middlewares=[_errors])
        self.app.router.add_get("/", self._index)
        self.app.router.add_get("/api/layout", self._layout)
        self.app.router.add_get("/api/events", self._events)
        self.app.router.add_get("/api/track/{id}", self._track)
        if STATIC.is_dir():
            self.app.router.add_static("/static/", STATIC, follow_symlinks=False)

    # -- listening ----------------------------------------------------------------------------

    async def start(self, host: str, port: int, *, any_port_if_busy: bool = False) -> str:
        """Listen; with ``any_port_if_busy`` a busy port is said and a free one taken.
        Returns the URL."""
        # handler_cancellation: a browser that goes away ends its stream's handler at
        # once, so it stops counting against max_clients before the next update
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                                     shutdown_timeout=1.0, handler_cancellation=True)
        await self._runner.setup()
        try:
            site = web.TCPSite(self._runner, host, port)
            await site.start()
        except OSError as exc:
            if not (any_port_if_busy and exc.errno == errno.EADDRINUSE):
                await self._runner.cleanup()
                raise
            log.warning("web: %s:%d is busy; serving on a free port instead", host, port)
            site = web.TCPSite(self._runner, host, 0)
            await site.start()
        server = site._server  # the bound address: aiohttp keeps it here only
        sockets = getattr(server, "sockets", None) or []
        bound = sockets[0].getsockname() if sockets else (host, port)
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self.url = f"http://{shown}:{bound[1]}/"
        return self.url

    async def stop(self) -> None:
        for client in list(self.clients):
            self._close(client)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- the updates --------------------------------------------------------------------------

    async def run(self) -> None:
        """One update every ``update_s`` wall seconds to every client, until cancelled."""
        start = time.monotonic()
        n = 0
        while True:
            n += 1
            await asyncio.sleep(max(start + n * self.update_s - time.monotonic(), 0.0))
            self.broadcast()

    def broadcast(self) -> None:
        """Make the update (always: the picture's marks move on) and hand it to each client
        without waiting; a client whose queue is full is dropped."""
        data = sse("update", self._complete(self.picture.update(self.clock())))
        self.counters["updates"] += 1
        for client in list(self.clients):
            try:
                client.queue.put_nowait(data)
            except asyncio.QueueFull:
                self.counters["clients-dropped"] += 1
                log.warning("web: client %s fell %d events behind: disconnected (%d so far)",
                            client.peer, self.client_queue, self.counters["clients-dropped"])
                self._close(client)

    def _close(self, client: _Client) -> None:
        """Its handler ends at once: the sentinel for one waiting on the queue, the
        transport's abort for one blocked writing to a socket that does not drain."""
        self.clients.discard(client)
        try:
            client.queue.get_nowait()  # room for the sentinel
        except asyncio.QueueEmpty:
            pass
        client.queue.put_nowait(None)
        if client.transport is not None:
            client.transport.abort()  # type: ignore[attr-defined]

    def _complete(self, event: dict[str, Any]) -> dict[str, Any]:
        """The parts the picture does not know: speed, inputs, clients."""
        event["speed"] = self.speed
        event["inputs"] = self.inputs()
        counts = event["counts"]
        counts["clients"] = len(self.clients)
        counts["clients_dropped"] = self.counters["clients-dropped"]
        return event

    # -- handlers -----------------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.StreamResponse:
        index = STATIC / "index.html"
        if not index.is_file():
            raise web.HTTPNotFound(text="no page installed\n")
        return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

    async def _layout(self, request: web.Request) -> web.Response:
        return web.json_response(self.layout, dumps=_dumps)

    async def _track(self, request: web.Request) -> web.Response:
        track_id = request.match_info["id"]
        details = self.picture.details(track_id) if len(track_id) <= MAX_ID else None
        if details is None:
            self.counters["track-not-found"] += 1
            shown = track_id if len(track_id) <= MAX_ID else track_id[:MAX_ID] + "..."
            return web.json_response({"error": f"no live track {shown!r}"}, status=404)
        return web.json_response(details, dumps=_dumps)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if len(self.clients) >= self.max_clients:
            self.counters["clients-refused"] += 1
            return web.json_response(
                {"error": f"{self.max_clients} clients already ([web] max_clients)"},
                status=503)
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no"})
        await response.prepare(request)
        client = _Client(self.client_queue, request.transport, str(request.remote))
        self.clients.add(client)  # first: the snapshot counts it
        client.queue.put_nowait(sse("snapshot", self._complete(
            self.picture.snapshot(self.clock()))))
        self.counters["clients-connected"] += 1
        try:
            while True:
                data = await client.queue.get()
                if data is None:
                    break
                await response.write(data)
                self.counters["events-sent"] += 1
        except (ConnectionError, RuntimeError):
            pass  # the browser went away (or was dropped): nothing to say to it
        finally:
            self.clients.discard(client)
        return response


def _dumps(obj: Any) -> str:
    return _encoder.encode(obj).decode()


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Unknown paths and methods as small answers; an unforeseen error a logged 500,
    never a crash of the server."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException as exc:
        if exc.status == 404 and request.path.startswith("/api/"):
            return web.json_response({"error": "not found"}, status=404)
        raise
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception:
        log.exception("web: %s %s failed", request.method, request.path[:200])
        return web.json_response({"error": "internal error"}, status=500)


def layout(config: Config, mode: str, update_s: float) -> dict[str, Any]:
    """The static part of the page: sites, units, COPs (``/api/layout``)."""
    return {
        "gateway": config.gateway.id,
        "mode": mode,
        "radars": [{"id": f"{r.sac}-{r.sic}", "name": r.name, "lat": r.lat, "lon": r.lon,
                    "range_nm": r.range_nm} for r in config.radars],
        "sdps": [{"id": f"{s.sac}-{s.sic}", "name": s.name} for s in config.sdps],
        "airspace": airspace(config.handoff.airspace) if config.handoff is not None else None,
        "update_s": update_s,
    }


def airspace(path: str) -> dict[str, Any] | None:
    """The [handoff] airspace file as GeoJSON, with ``properties.unit`` (the unit's id, as
    the AIDC messages name it) on each unit and ``properties.cop`` (its name) on each
    COP.  The handoff has read and checked it at start; unreadable now, the map goes
    without (logged)."""
    try:
        data = json.loads(read_limited(path, AIRSPACE_MAX, "an airspace file"))
        features = data["features"]
        for f in features:
            props = f.setdefault("properties", {}) or {}
            if props.get("kind") == "unit" and "id" in props:
                props["unit"] = props["id"]
            elif props.get("kind") == "cop" and "name" in props:
                props["cop"] = props["name"]
    except (InputFileError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.error("web: the airspace %s cannot be shown: %s", path, exc)
        return None
    return {"type": "FeatureCollection", "features": features}
