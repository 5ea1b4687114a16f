"""The web map's page in a real headless Chromium, against a stand-in server in this test.

The stand-in follows docs/web.md's protocol (layout, then a snapshot and updates over
server-sent events, a track's details) with a scripted picture: three tracks that move,
one whose handoff becomes "transferred", an "uncoordinated-crossing" alert, a run of
1,000-track updates (their apply times are measured and printed, never asserted) and a
dropped stream, after which the page must reconnect and show the new snapshot.  The end
to end test against the gateway's own server is tests/test_web_replay.py.
"""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.browser import artifacts_dir, chromium_page

STATIC = Path(__file__).resolve().parent.parent / "gateway" / "web" / "static"
T0 = 1767225600.0
BIG = 1000          # tracks in each big update
BIG_UPDATES = 30    # big updates sent (their apply times are the measurement)
STEP_S = 0.15       # the stand-in's update period (wall s)


def _track(tid: str, i: int, step: int, handoff: str = "none", **kw: Any) -> dict[str, Any]:
    lat = 29.0 + 0.5 * math.sin(i) + 0.01 * step
    lon = -104.0 + 2.0 * math.cos(i) + 0.02 * step
    out = {"id": tid, "state": "confirmed", "kind": ("mode-s", "mode-ac", "primary")[i % 3],
           "lat": lat, "lon": lon, "fl": 300 + i % 100, "roc_fpm": (-1500, 0, 1500)[i % 3],
           "gs_kt": 420.0, "trk_deg": (i * 37) % 360, "callsign": f"TST{i:04d}",
           "mode3a": f"{i % 8}{i % 7}{i % 5}{i % 3}", "icao24": f"0d{i:04x}",
           "sources": ["0-101", "0-102"], "handoff": handoff, "from": None, "to": None}
    out.update(kw)
    return out


def _event(kind: str, body: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(body)}\n\n".encode()


def _frame(step: int, tracks: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    body = {"t": T0 + step, "speed": 5.0, "tracks": tracks, "gone": [], "plots": {},
            "aidc": [], "alerts": [], "inputs": {},
            "sources": {"0-101": 0.5, "0-102": 1.5},
            "counts": {"tracks": len(tracks), "plots_per_s": 100.0, "clients": 1,
                       "clients_dropped": 0}}
    body.update(kw)
    return body


class StandIn:
    """The protocol's server side, scripted, on a free port in a thread of its own."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self._gates = [asyncio.Event(), asyncio.Event()]

    def go(self, phase: int) -> None:
        """Let the script run its next phase (the test has looked at the one before)."""
        self._loop.call_soon_threadsafe(self._gates[phase].set)

    async def index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    async def layout(self, request: web.Request) -> web.Response:
        airspace = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"unit": "MMTY"}, "geometry": {
                "type": "Polygon",
                "coordinates": [[[-106, 27], [-102, 27], [-102, 30], [-106, 30], [-106, 27]]]}},
            {"type": "Feature", "properties": {"cop": "BORDR"},
             "geometry": {"type": "Point", "coordinates": [-104, 29.5]}}]}
        return web.json_response({
            "gateway": "stand-in", "mode": "replay", "update_s": STEP_S,
            "radars": [{"id": "0-101", "name": "North", "lat": 30.0, "lon": -104.5,
                        "range_nm": 200.0},
                       {"id": "0-102", "name": "South", "lat": 27.5, "lon": -103.0,
                        "range_nm": 150.0}],
            "sdps": [], "airspace": airspace})

    async def track(self, request: web.Request) -> web.Response:
        tid = request.match_info["id"]
        if not tid.startswith("T"):
            return web.json_response({"error": f"unknown track {tid}"}, status=404)
        t = _track(tid, 1, 0)
        t["trail"] = [[t["lat"] - 0.01 * k, t["lon"] - 0.02 * k] for k in range(50, 0, -1)]
        plots = [{"src": "0-101", "t": T0 + k, "lat": t["lat"], "lon": t["lon"], "fl": 301,
                  "mode3a": "1234", "icao24": "0d0001"} for k in range(7)]
        return web.json_response({"track": t, "fpl": None, "plots": plots})

    async def events(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._events(request)
        except ConnectionResetError:  # the browser closed: the stand-in's stream ends
            return web.StreamResponse()

    async def _events(self, request: web.Request) -> web.StreamResponse:
        self.connections += 1
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
        await resp.prepare(request)
        await resp.write(b"retry: 300\n\n")
        if self.connections > 1:
            # after the drop: a new snapshot of five tracks, then quiet updates
            snap = [dict(_track(f"R{i}", i, 0), trail=[]) for i in range(5)]
            await resp.write(_event("snapshot", _frame(100, snap)))
            step = 100
            while True:
                await asyncio.sleep(STEP_S)
                step += 1
                await resp.write(_event("update", _frame(step, [])))
        ids = ["T1", "T2", "T3"]
        snap = [dict(_track(t, i, 0), trail=[]) for i, t in enumerate(ids)]
        await resp.write(_event("snapshot", _frame(0, snap)))
        await self._gates[0].wait()
        for step in range(1, 16):
            await asyncio.sleep(STEP_S)
            handoff = "transferred" if step >= 6 else ("offered" if step >= 3 else "none")
            tracks = [_track(t, i, step, handoff if t == "T2" else "none")
                      for i, t in enumerate(ids)]
            extra: dict[str, Any] = {
                "plots": {"0-101": [[T0 + step, tr["lat"], tr["lon"], tr["fl"], None]
                                    for tr in tracks]}}
            if step == 3:
                extra["aidc"] = [{"t": T0 + step, "msg": "CPL", "from": "MMTY", "to": "KZAB",
                                  "callsign": "TST0001", "track_id": "T2", "serial": 1}]
            if step == 8:
                extra["alerts"] = [{"t": T0 + step, "type": "uncoordinated-crossing",
                                    "track_id": "T3", "text": "TST0002 crossed MMTY/KZAB"}]
            await resp.write(_event("update", _frame(step, tracks, **extra)))
        await self._gates[1].wait()
        for k in range(BIG_UPDATES):
            await asyncio.sleep(STEP_S)
            step = 16 + k
            tracks = [_track(f"B{i:04d}", i, step, ("none", "offered", "transferred")[i % 3])
                      for i in range(BIG)]
            await resp.write(_event("update", _frame(step, tracks, gone=ids if k == 0 else [])))
        return resp  # the stream ends here: the page must reconnect

    def __enter__(self) -> StandIn:
        threading.Thread(target=self._serve, daemon=True).start()
        assert self._ready.wait(10), "the stand-in server did not start"
        return self

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/", self.index)
        app.router.add_static("/static/", STATIC)
        app.router.add_get("/api/layout", self.layout)
        app.router.add_get("/api/events", self.events)
        app.router.add_get("/api/track/{id}", self.track)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self._runner is not None:
                await self._runner.cleanup()
        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


def _positions(page: Any) -> dict[str, tuple[float, float]]:
    return {t["id"]: (t["lat"], t["lon"]) for t in page.evaluate("gatewayMap.tracks()")}


@pytest.mark.slow
def test_page_follows_the_stand_in(stand_in: StandIn) -> None:
    with chromium_page() as (page, errors):
        page.goto(f"http://127.0.0.1:{stand_in.port}/")
        page.wait_for_function("window.gatewayMap && gatewayMap.tracks().length === 3",
                               timeout=15_000)
        first = _positions(page)
        none_colour = page.evaluate("gatewayMap.handoffColour('none')")
        blue = page.evaluate("gatewayMap.handoffColour('transferred')")
        assert none_colour != blue
        assert page.evaluate("gatewayMap.colourOf('T2')") == none_colour
        stand_in.go(0)
        # tracks move, and the list shows their callsigns
        page.wait_for_function("gatewayMap.events() >= 3", timeout=10_000)
        moved = _positions(page)
        assert all(moved[t] != first[t] for t in first), (first, moved)
        for callsign in ("TST0000", "TST0001", "TST0002"):
            assert page.locator("#tracklist tbody tr", has_text=callsign).count() == 1
        # the transfer changes T2's colour, on the map and in the list
        page.wait_for_selector('#tracklist tr[data-id="T2"][data-handoff="transferred"]',
                               timeout=10_000)
        assert page.evaluate("gatewayMap.colourOf('T2')") == blue
        assert page.evaluate("gatewayMap.colourOf('T1')") == none_colour
        # the alert flashes and is listed; the AIDC log has its message
        alert = page.wait_for_selector('#alerts li[data-type="uncoordinated-crossing"]',
                                       timeout=10_000)
        assert "TST0002" in alert.inner_text()
        assert "flash" in (alert.get_attribute("class") or "")
        assert "CPL" in page.inner_text("#aidc tbody")
        # search narrows the list; a click on a row shows the details and plots behind it
        page.fill("#search", "tst0002")
        assert page.locator("#tracklist tbody tr[data-id]").count() == 1
        page.click('#tracklist tr[data-id="T3"]')
        page.wait_for_function(
            "document.querySelector('#details').textContent.includes('7 plots behind it')",
            timeout=10_000)
        page.fill("#search", "")
        stand_in.go(1)
        page.check('#plot-layers input[data-src="0-101"]')
        # the 1,000-track updates: applied, measured
        page.wait_for_function(f"gatewayMap.tracks().length === {BIG}", timeout=20_000)
        page.wait_for_function(f"gatewayMap.events() >= {16 + BIG_UPDATES}", timeout=30_000)
        page.screenshot(path=str(artifacts_dir() / "web-page-stand-in.png"))
        times = page.evaluate(f"gatewayMap.applyTimes.slice(16, {16 + BIG_UPDATES})")
        assert len(times) == BIG_UPDATES
        median = statistics.median(times)
        print(f"\napply time of one {BIG}-track update: median {median:.1f} ms, "
              f"max {max(times):.1f} ms over {len(times)} updates")
        (artifacts_dir() / "web-apply-times.json").write_text(json.dumps(
            {"tracks": BIG, "updates": len(times), "median_ms": median, "times_ms": times}))
        # the stream ends: the page reconnects and shows the new snapshot
        page.wait_for_function("gatewayMap.tracks().length === 5", timeout=20_000)
        assert stand_in.connections >= 2
        assert sorted(t["id"] for t in page.evaluate("gatewayMap.tracks()")) == [
            "R0", "R1", "R2", "R3", "R4"]
    assert errors == []


