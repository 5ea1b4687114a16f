"""``import gateway`` changes nothing process-wide; only the service's commands tune the
allocator and the garbage collector (gateway/service/tuning.py)."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway import cli
from gateway.commands import replay as replay_command
from gateway.config import loads
from gateway.ingest import IngestStats
from gateway.service.inputs import Pacer, replay_captures
from gateway.service.shell import Service

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "captures" / "decoder-sample.pcap"
CONFIG = '[gateway]\nid = "gw"\n'

# Runs in a fresh interpreter: records any look-up of mallopt through ctypes, imports the
# package, decodes, and reports the collector's state before and after.
LIBRARY_USE = """
import ctypes, gc, json, sys
looked_up = []
real = ctypes.CDLL
class Recording(real):
    def __getattr__(self, name):
        looked_up.append(name)
        return super().__getattr__(name)
    def __getitem__(self, name):
        looked_up.append(name)
        return super().__getitem__(name)
ctypes.CDLL = Recording
before = (gc.get_freeze_count(), gc.get_threshold(), gc.isenabled())
import gateway
decoded = gateway.decode(sys.argv[1])
after = (gc.get_freeze_count(), gc.get_threshold(), gc.isenabled())
print(json.dumps({"before": before, "after": after, "looked_up": looked_up,
                  "records": sum(len(b) for b in decoded.batches.values())}))
"""


def test_import_and_decode_leave_the_process_as_it_was() -> None:
    done = subprocess.run([sys.executable, "-c", LIBRARY_USE, str(SAMPLE)],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    report = json.loads(done.stdout)
    assert report["records"] > 0  # it did decode
    assert report["after"] == report["before"]  # nothing frozen, thresholds as they were
    assert report["before"][0] == 0
    assert "mallopt" not in report["looked_up"]


def test_the_service_itself_does_not_tune(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A Service run from library code (tests, benchmarks, an embedding program) leaves
    the collector alone: the commands tune, not the service.  The calls are watched, not
    the freeze count: an object frozen by an earlier test in this process may be freed
    meanwhile, and the count falls without anything being tuned."""
    config = loads(CONFIG)
    tuned: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: tuned.append("freeze"))
    monkeypatch.setattr(gc, "set_threshold", lambda *a: tuned.append("set_threshold"))
    monkeypatch.setattr(gc, "disable", lambda: tuned.append("disable"))

    async def main() -> None:
        pacer = Pacer(None)
        with open(tmp_path / "out.jsonl", "wb") as out:
            service = Service(config, out=out, pacer=pacer)
            source = asyncio.create_task(replay_captures(
                [str(SAMPLE)], service.intake, pacer, IngestStats(), stopping=service.stopping))
            await service.run([source])
            assert service.counters["datagrams"] == 5

    asyncio.run(main())
    assert tuned == []


def test_the_replay_command_tunes_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(replay_command, "tune_for_service", lambda: calls.append(1))
    config = tmp_path / "gw.toml"
    config.write_text(CONFIG)
    out = tmp_path / "out.jsonl"
    assert cli.main(["replay", str(SAMPLE), "--config", str(config), "--out", str(out)]) == 0
    assert calls == [1]


def test_tuning_raises_the_first_generation_threshold() -> None:
    """In a fresh interpreter: the command's tuning sets the first generation's threshold
    (gateway/service/tuning.py says why) and leaves the older ones as they were."""
    code = ("import gc, json; from gateway.service.tuning import tune_for_service; "
            "before = gc.get_threshold(); tune_for_service(); "
            "print(json.dumps([before, gc.get_threshold()]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    before, after = json.loads(done.stdout)
    assert after == [10_000, *before[1:]]
