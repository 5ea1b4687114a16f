"""The web map page in a real headless Chromium against the gateway's own server.

During a real ``replay --web`` (issue 17's proof): the page loads with no console error,
tracks appear and move, the track list shows callsigns of the fused picture the replay
writes, a handoff changes a track's colour and the capture's uncoordinated crossing is
listed in the alerts; a screenshot is kept as a test artefact.

A replay has no neighbour unit to answer its offers, so its dialogues stop short of a
transfer (in the 10-minute border capture: notified, offered, cancelled; the first
handoff state at capture second 8, the first uncoordinated crossing at second 19).  The
demo runs a neighbour beside the gateway, so the "transferred" colour is checked there
(its first transfer comes about 20 capture seconds in).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser import artifacts_dir, chromium_page
from tests.test_web_replay import free_port, fused_callsigns

CAPTURE = Path("captures/border-10min.pcap.gz")
CONFIG = Path("captures/border.toml")
SPEED = "2"          # the first alert (capture s 19) comes ~10 s after the start
WAIT_MS = 90_000     # bounds on waits for a process's page, not measured durations


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as f:
        return subprocess.Popen([sys.executable, "-m", "gateway.cli", *args],
                                stdout=f, stderr=subprocess.STDOUT)


def _open(page: Any, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Load the page as soon as the process serves it."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        try:
            page.goto(f"http://127.0.0.1:{port}/")
            return
        except Exception as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the page never loaded:\n"
                                     + log.read_text()[-2000:]) from exc
            time.sleep(0.1)  # the pace of trying again


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_the_map_of_a_replay(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "out.jsonl"
    log = tmp_path / "replay.log"
    proc = _start(["replay", str(CAPTURE), "--config", str(CONFIG), "--speed", SPEED,
                   "--out", str(out), "--web", f"127.0.0.1:{port}"], log)
    try:
        with chromium_page() as (page, errors):
            _open(page, proc, port, log)
            page.wait_for_function("window.gatewayMap && gatewayMap.tracks().length > 5",
                                   timeout=WAIT_MS)
            assert page.inner_text("#gw-mode") == "replay"
            assert "\u00D72" in page.inner_text("#pic-speed")
            # tracks move: a track seen now is somewhere else a few updates later
            before = {t["id"]: (t["lat"], t["lon"]) for t in
                      page.evaluate("gatewayMap.tracks()")}
            events = page.evaluate("gatewayMap.events()")
            page.wait_for_function(f"gatewayMap.events() >= {events + 3}", timeout=WAIT_MS)
            after = {t["id"]: (t["lat"], t["lon"]) for t in page.evaluate("gatewayMap.tracks()")}
            moved = [i for i in before.keys() & after.keys() if before[i] != after[i]]
            assert len(moved) >= 3, (before, after)
            # a handoff changes a track's colour while the page looks
            seen = {t["id"]: t["handoff"] for t in page.evaluate("gatewayMap.tracks()")}
            changed = None
            deadline = time.monotonic() + WAIT_MS / 1000
            while changed is None and time.monotonic() < deadline:
                page.wait_for_timeout(300)  # the pace of looking again
                for t in page.evaluate("gatewayMap.tracks()"):
                    was = seen.get(t["id"])
                    if was is not None and was != t["handoff"] and page.evaluate(
                            "s => gatewayMap.handoffColour(s)", was) != t["colour"]:
                        changed = (t["id"], was, t["handoff"], t["colour"])
                        break
                    seen[t["id"]] = t["handoff"]
            assert changed is not None, "no track changed its handoff colour"
            tid, was, now, colour = changed
            assert page.evaluate(f"gatewayMap.handoffColour('{now}')") == colour
            # the uncoordinated crossing flashes and is listed
            page.wait_for_selector('#alerts li[data-type="uncoordinated-crossing"]',
                                   timeout=WAIT_MS)
            # the list shows callsigns of the fused picture the replay writes
            listed = set(page.eval_on_selector_all(
                "#tracklist tbody tr[data-id] td:nth-child(2)",
                "cells => cells.map(c => c.textContent).filter(t => t)"))
            assert len(listed) >= 5
            assert listed <= fused_callsigns(out, states=())
            # a click on a row shows its details and the plots behind it
            page.click("#tracklist tbody tr[data-id]")
            page.wait_for_function(
                "document.querySelector('#details').textContent.includes('plots behind it')",
                timeout=WAIT_MS)
            page.screenshot(path=str(artifacts_dir() / "web-map-replay.png"))
            times = page.evaluate("gatewayMap.applyTimes")
            print(f"\nreplay: {tid} went {was} -> {now}; {len(listed)} callsigns listed; "
                  f"apply time median {statistics.median(times):.1f} ms over {len(times)} "
                  f"events")
            assert errors == []
    finally:
        _stop(proc)


@pytest.mark.slow
def test_the_map_of_the_demo_shows_a_transfer(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    proc = _start(["demo", "--embedded", "--speed", "5", "--web", f"127.0.0.1:{port}"], log)
    try:
        with chromium_page() as (page, errors):
            _open(page, proc, port, log)
            page.wait_for_function(
                "document.querySelector('#gw-mode').textContent === 'demo'", timeout=WAIT_MS)
            row = page.wait_for_selector('#tracklist tr[data-handoff="transferred"]',
                                         timeout=WAIT_MS)
            tid = row.get_attribute("data-id")
            assert page.evaluate(f"gatewayMap.colourOf('{tid}')") == page.evaluate(
                "gatewayMap.handoffColour('transferred')")
            assert page.evaluate("gatewayMap.handoffColour('transferred')") != page.evaluate(
                "gatewayMap.handoffColour('none')")
            assert "TOC" in page.inner_text("#aidc tbody") or "AOC" in page.inner_text(
                "#aidc tbody")
            page.screenshot(path=str(artifacts_dir() / "web-map-demo.png"))
            assert errors == []
    finally:
        _stop(proc)
