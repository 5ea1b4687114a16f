"""``asterix-gateway decode`` as users run it: the installed command, real files, pipes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sample_capture

COMMAND = [sys.executable, "-m", "gateway.cli"]


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*COMMAND, *args], input=stdin, capture_output=True, timeout=60)


def lines(out: bytes) -> list[dict]:
    return [json.loads(line) for line in out.decode().splitlines()]


def test_decode_jsonl_shape() -> None:
    done = run("decode", str(sample_capture.PATH))
    assert done.returncode == 0, done.stderr
    records = lines(done.stdout)
    assert len(records) == 32
    first_plot = next(r for r in records if r["cat"] == 48)
    assert set(first_plot) == {"cat", "sac", "sic", "t_capture", "len", "items"}
    assert (first_plot["sac"], first_plot["sic"]) == (0, 101)
    assert first_plot["t_capture"] == pytest.approx(sample_capture.T0 + 0.75)
    # capture order is kept across categories: north marker, plots, sector, tracks, status
    assert [r["cat"] for r in records] == [34] + [48] * 24 + [34] + [62] * 5 + [65]
    summary = done.stderr.decode().strip().splitlines()
    assert len(summary) == 1 and "32 records" in summary[0] and "no problems" in summary[0]


def test_decode_text_has_labels_and_units() -> None:
    done = run("decode", "--format", "text", str(sample_capture.PATH))
    text = done.stdout.decode()
    assert "I040 Measured Position in Polar Co-ordinates: RHO" in text
    assert " NM, THETA " in text and "2026-05-27T08:00:00.750000Z" in text


def test_category_and_port_filters() -> None:
    only_tracks = lines(run("decode", "--category", "62", str(sample_capture.PATH)).stdout)
    assert {r["cat"] for r in only_tracks} == {62} and len(only_tracks) == 5
    radar_port = lines(run("decode", "--port", "21111", str(sample_capture.PATH)).stdout)
    assert {r["cat"] for r in radar_port} == {34, 48}


def test_stdin_and_raw_stream(tmp_path: Path) -> None:
    records = lines(run("decode", str(sample_capture.PATH)).stdout)
    from gateway.asterix import CATEGORIES
    from gateway.asterix.codec import RecordCodec, datablock

    codec = RecordCodec(CATEGORIES[48])
    raw = b"".join(datablock(48, [codec.encode_record(r["items"])]) for r in records
                   if r["cat"] == 48)
    done = run("decode", "-", stdin=raw)
    assert done.returncode == 0, done.stderr
    from_raw = lines(done.stdout)
    assert [r["items"] for r in from_raw] == [r["items"] for r in records if r["cat"] == 48]
    assert all(r["t_capture"] is None for r in from_raw)


def test_unreadable_input_exits_2_with_one_line(tmp_path: Path) -> None:
    done = run("decode", str(tmp_path / "missing.pcap"))
    assert done.returncode == 2
    assert done.stderr.decode().count("\n") == 1 and "missing.pcap" in done.stderr.decode()
    bad_category = run("decode", "--category", "21", str(sample_capture.PATH))
    assert bad_category.returncode == 2 and b"21" in bad_category.stderr


def test_garbage_is_counted_not_fatal(tmp_path: Path) -> None:
    junk = tmp_path / "junk.ast"
    good = sample_capture.PATH.read_bytes()
    junk.write_bytes(bytes([48, 0, 40]) + b"\xff" * 37 + bytes(range(256)))
    done = run("decode", str(junk))
    assert done.returncode == 0
    assert "problems:" in done.stderr.decode() and "no problems" not in done.stderr.decode()
    assert good  # the sample itself is untouched


def test_closed_pipe_is_not_an_error() -> None:
    big = sample_capture.PATH
    cmd = " ".join([*COMMAND, "decode", str(big), str(big), str(big)]) + " | head -1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True,
                          timeout=60)
    assert done.returncode == 0
    assert b"Traceback" not in done.stderr
