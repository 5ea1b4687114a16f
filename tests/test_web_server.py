"""The web map's server (gateway/web/server.py) on a real listening socket: the layout, the
event stream, one track's details, hostile requests, the client cap and a client that
stops reading."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from gateway.config import load
from gateway.publish.batch import Kind, Published
from gateway.web.picture import AirPicture
from gateway.web.server import WebServer, layout
from tests.test_web_picture import T0, fused, plot

WAIT_S = 10.0  # for a condition, never a measured duration


def server(picture: AirPicture, **kw: Any) -> WebServer:
    options: dict[str, Any] = dict(update_s=0.1, client_queue=4, max_clients=3, speed=5.0,
                                   clock=lambda: T0 + 100)
    options.update(kw)
    return WebServer(picture, {"gateway": "gw", "mode": "replay", "radars": [], "sdps": [],
                               "airspace": None, "update_s": options["update_s"]}, **options)


def with_server(test: Callable[[WebServer, str], Awaitable[None]], picture: AirPicture,
                updates: bool = True, **kw: Any) -> None:
    """``test`` against a listening server, sending its updates unless ``updates`` is
    False (the test then broadcasts them itself)."""
    async def main() -> None:
        web = server(picture, **kw)
        url = await web.start("127.0.0.1", 0)
        runner = asyncio.create_task(web.run()) if updates else None
        try:
            await test(web, url)
        finally:
            if runner is not None:
                runner.cancel()
            await web.stop()

    asyncio.run(main())


async def until(condition: Callable[[], bool]) -> bool:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(poll(), WAIT_S)
    except TimeoutError:
        return False
    return True


async def read_events(response: aiohttp.ClientResponse, n: int) -> list[tuple[str, Any]]:
    """The first ``n`` server-sent events: (event, data)."""
    out: list[tuple[str, Any]] = []
    event = None
    while len(out) < n:
        line = (await response.content.readline()).decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            assert event is not None
            out.append((event, json.loads(line[6:])))
    return out


def test_layout_of_the_shipped_border_config() -> None:
    config = load("captures/border.toml")
    out = layout(config, "replay", 1.0)
    assert out["gateway"] == "border-gw-1" and out["mode"] == "replay"
    assert out["radars"][0] == {"id": "0-101", "name": "Monterrey", "lat": 25.7785,
                                "lon": -100.1069, "range_nm": 250.0}
    assert [s["id"] for s in out["sdps"]] == ["0-200", "1-200"]
    props = [f["properties"] for f in out["airspace"]["features"]]
    assert {p["unit"] for p in props if "unit" in p} >= {"MMTY", "MMZT", "KZHU"}
    assert any(p.get("cop") == "ALTAR" for p in props)


def test_layout_events_and_track_details() -> None:
    picture = AirPicture()
    picture.take([Published(Kind.PICTURE, [fused("T1"), fused("T2", lat=26.0)]),
                  Published(Kind.PLOTS, [plot(T0, 25.0, -100.0, icao24="0D0ABC")],
                            source=(0, 101))])
    picture.update(T0)  # from here, updates carry only what changes

    async def test(web: WebServer, url: str) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "api/layout") as r:
                assert r.status == 200 and (await r.json())["gateway"] == "gw"
            async with http.get(url + "api/events") as r:
                assert r.headers["Content-Type"] == "text/event-stream"
                (kind, snap), = await read_events(r, 1)
                assert kind == "snapshot"
                assert sorted(t["id"] for t in snap["tracks"]) == ["T1", "T2"]
                assert snap["speed"] == 5.0 and snap["t"] == T0 + 100
                assert snap["counts"]["clients"] == 1
                picture.take([Published(Kind.PICTURE, [fused("T2", t=T0 + 5, lat=26.1)])])
                while True:  # updates until the one with T2's move
                    (kind, update), = await read_events(r, 1)
                    assert kind == "update"
                    if update["tracks"]:
                        break
                assert [t["id"] for t in update["tracks"]] == ["T2"]
                assert update["tracks"][0]["lat"] == 26.1
            async with http.get(url + "api/track/T1") as r:
                body = await r.json()
                assert r.status == 200 and body["track"]["id"] == "T1"
                assert body["plots"][0]["icao24"] == "0D0ABC"
            assert web.counters["events-sent"] >= 2

    with_server(test, picture)


def test_hostile_requests() -> None:
    async def test(web: WebServer, url: str) -> None:
        async with aiohttp.ClientSession() as http:
            for path in ("api/track/nope", "api/track/%00%ff", "api/track/" + "x" * 4000,
                         "api/track/..%2F..%2Fetc%2Fpasswd", "api/nothing"):
                async with http.get(url + path) as r:
                    assert r.status == 404, path
                    assert "error" in await r.json()
            for path in ("nothing", "static/../../setup.py", "static/nope.js"):
                async with http.get(url + path) as r:
                    assert r.status in (403, 404), path
            async with http.post(url + "api/layout", data=b"x" * 100_000) as r:
                assert r.status == 405
            async with http.get(url + "api/layout") as r:  # still serving
                assert r.status == 200

    with_server(test, AirPicture())


def test_clients_beyond_the_cap_get_503() -> None:
    async def test(web: WebServer, url: str) -> None:
        async with aiohttp.ClientSession() as http:
            streams = [await http.get(url + "api/events") for _ in range(3)]
            assert await until(lambda: len(web.clients) == 3)
            async with http.get(url + "api/events") as r:
                assert r.status == 503
            assert web.counters["clients-refused"] == 1
            for s in streams:
                s.close()
            assert await until(lambda: not web.clients)

    with_server(test, AirPicture(), updates=False)  # gone without an update to find it


def test_a_client_that_stops_reading_is_dropped_and_the_others_go_on() -> None:
    """A socket with a small receive buffer that never reads: its queue fills and it is
    disconnected; broadcast never waits for it, and a reading client gets every update."""
    picture = AirPicture()
    # big updates: 2,000 tracks change before each one
    tracks = [fused(f"T{i}", lat=20 + i * 0.001) for i in range(2000)]

    async def test(web: WebServer, url: str) -> None:
        host, port = url.removeprefix("http://").rstrip("/").split(":")
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.setblocking(False)
        await asyncio.get_running_loop().sock_connect(slow, (host, int(port)))
        await asyncio.get_running_loop().sock_sendall(
            slow, b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "api/events") as reader:
                assert await until(lambda: len(web.clients) == 2)
                sent = 0
                received = 0
                while web.counters["clients-dropped"] == 0 and sent < 1000:
                    picture.take([Published(Kind.PICTURE, tracks)])
                    web.broadcast()  # returns at once, whatever the clients do
                    sent += 1
                    received += len(await read_events(reader, 1))
                assert web.counters["clients-dropped"] == 1
                assert len(web.clients) == 1  # the reader
                assert received == sent
        slow.close()

    with_server(test, picture, updates=False, client_queue=2)


def test_the_service_reports_the_map_on_health_and_metrics() -> None:
    """/health has a "web" part and /metrics the map's families; a picture that fails
    is logged, counted and listed as a failure, and the pipeline goes on."""
    import dataclasses

    from gateway.service.shell import Service

    config = load("captures/border.toml")
    config = dataclasses.replace(config, web=dataclasses.replace(config.web, enabled=True))
    service = Service(config)
    assert service.picture is not None and service.web is not None
    service._publish([Published(Kind.PICTURE, [fused("T1")])], None)
    snap = service.snapshot()
    assert snap.health["web"] == {"url": None, "clients": 0, "clients_dropped": 0,
                                  "events_sent": 0, "tracks": 1}
    text = service.metrics.exposition().decode()
    assert "gateway_web_clients_dropped_total 0.0" in text
    assert "gateway_web_tracks 1.0" in text
    assert service.status_counters().get("web-clients-dropped", 0) == 0

    class Broken(list[Any]):
        def __iter__(self) -> Any:
            raise RuntimeError("a bug in the picture")

    service._publish(Broken([Published(Kind.PICTURE, [])]), None)
    assert service.counters["web-picture-errors"] == 1
    assert "web picture" in service.failures()
    service._publish([Published(Kind.PICTURE, [fused("T2")])], None)
    assert "web picture" not in service.failures() and len(service.picture.tracks) == 2


def test_the_web_option() -> None:
    import argparse

    import pytest

    from gateway.commands.service import web_address, with_web

    assert web_address("off") is None
    assert web_address("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert web_address("[::1]:0") == ("::1", 0)
    for bad in ("localhost:80", "127.0.0.1", "127.0.0.1:70000", "127.0.0.1:x", ":80", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            web_address(bad)
    config = load("captures/border.toml")
    assert with_web(config, False) is config and not config.web.enabled
    on = with_web(config, ("0.0.0.0", 9000))
    assert (on.web.enabled, on.web.host, on.web.port) == (True, "0.0.0.0", 9000)
    assert not with_web(on, None).web.enabled
