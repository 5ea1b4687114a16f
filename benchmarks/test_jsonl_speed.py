"""Records per second of ``asterix-gateway decode --format jsonl`` against its peers on the
same capture, in one run (issue 16): the C++ ``asterix`` CLI of asterix_decoder (``-P -j``,
JSON lines from a pcap) built from its sdist, and asterix_decoder's ``parse`` + ``json.dumps``.

Both commands are timed as whole processes (start-up, reading the pcap, writing to
/dev/null); ``parse`` (datagram by datagram) + ``json.dumps`` in this process, its import and
the pcap reading not counted.  Wall time is
the best of the rounds; the commands' CPU time (user + system, from rusage) is recorded too,
as it is steadier on a shared machine.  Rates and ratios go to extra_info and are printed.

With ``--benchmark-enable`` the input is the shipped 10-minute capture and the CLI is built
once into a cache (``$ASTERIX_CLI_CACHE``, default ~/.cache/asterix-gateway): the sdist is
fetched with pip and compiled with g++ against expat; without either the CLI is skipped with
the reason.  In the smoke run (benchmarks disabled) the input is the 32-record sample and the
CLI runs only if it is already built.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pytest

from gateway.ingest import read_datagrams

CAPTURES = Path(__file__).resolve().parent.parent / "captures"


def _cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "asterix-gateway"
    return Path(os.environ.get("ASTERIX_CLI_CACHE", default))


def _cli_dir() -> Path | None:
    try:
        version = metadata.version("asterix_decoder")
    except metadata.PackageNotFoundError:
        return None
    return _cache_dir() / f"asterix-cli-{version}"


def _build_cli(target: Path) -> str | None:
    """Build the asterix CLI into ``target``; the reason it cannot be, or None."""
    version = target.name.removeprefix("asterix-cli-")
    gxx = shutil.which("g++")
    if gxx is None:
        return "no g++ to build the asterix CLI"
    if not Path("/usr/include/expat.h").exists():
        return "no expat headers (apt-get install libexpat1-dev) to build the asterix CLI"
    with tempfile.TemporaryDirectory() as tmp:
        got = subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:",
                              "--no-deps", f"asterix_decoder=={version}", "-d", tmp],
                             capture_output=True, text=True, timeout=300)
        sdists = list(Path(tmp).glob("asterix_decoder-*.tar.gz"))
        if got.returncode or not sdists:
            return f"the asterix_decoder {version} sdist could not be fetched: " + (
                got.stderr.strip().splitlines() or ["no sdist"])[-1]
        with tarfile.open(sdists[0]) as tar:
            tar.extractall(tmp, filter="data")
        src = next(Path(tmp).glob("asterix_decoder-*/"))
        sources = [str(p) for pattern in ("src/main/*.cpp", "src/engine/*.cxx",
                                          "src/asterix/*.cpp", "src/asterix/*.cxx",
                                          "src/asterix/*.c") for p in sorted(src.glob(pattern))]
        build = Path(tmp) / "out"
        (build / "config").mkdir(parents=True)
        done = subprocess.run([gxx, "-O2", "-w", "-DLINUX", f"-I{src}/src/asterix",
                               f"-I{src}/src/engine", f"-I{src}/src/main", *sources, "-lexpat",
                               "-o", str(build / "asterix")],
                              capture_output=True, text=True, timeout=900)
        if done.returncode:
            return "the asterix CLI did not compile: " + done.stderr.strip()[-300:]
        xml = sorted(p.name for p in (src / "asterix" / "config").glob("*.xml"))
        for name in [*xml, "asterix.dtd"]:
            shutil.copy(src / "asterix" / "config" / name, build / "config" / name)
        (build / "config" / "asterix.ini").write_text("\n".join(xml) + "\n")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(str(build), str(target))
    return None


def _cli(build: bool) -> tuple[list[str] | None, str]:
    """The CLI's command prefix (JSON lines from a pcap), or None and why not."""
    where = _cli_dir()
    if where is None:
        return None, "asterix_decoder is not installed"
    if not (where / "asterix").exists():
        if not build:
            return None, "the asterix CLI is built only with --benchmark-enable"
        reason = _build_cli(where)
        if reason:
            return None, reason
    return [str(where / "asterix"), "-d", str(where / "config" / "asterix.ini"), "-P", "-j",
            "-f"], ""


def _timed(run: Callable[[], int], rounds: int) -> tuple[float, float, int]:
    """Best wall and CPU (children's user + system) seconds of ``rounds``, and the count."""
    walls, cpus, count = [], [], 0
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        count = run()
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(walls), min(cpus), count


def test_jsonl_against_the_cli_and_asterix_decoder(benchmark, tmp_path: Path) -> None:
    enabled = not benchmark.disabled
    rounds = 3 if enabled else 1
    pcap = tmp_path / "capture.pcap"
    if enabled:
        pcap.write_bytes(gzip.decompress((CAPTURES / "border-10min.pcap.gz").read_bytes()))
    else:
        shutil.copy(CAPTURES / "decoder-sample.pcap", pcap)
    with open(pcap, "rb") as f:
        payloads = [d.payload for d in read_datagrams(f)]

    ours = [sys.executable, "-m", "gateway.cli", "decode", "--format", "jsonl", str(pcap)]
    checked = subprocess.run(ours, capture_output=True, timeout=600)
    assert checked.returncode == 0, checked.stderr
    records = checked.stdout.count(b"\n")
    assert re.search(rf"decode: {records} records".encode(), checked.stderr)

    def run_ours() -> int:
        subprocess.run(ours, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                       timeout=600)
        return records

    started = resource.getrusage(resource.RUSAGE_CHILDREN)
    benchmark.pedantic(run_ours, rounds=rounds, iterations=1)
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    info = benchmark.extra_info
    info["records"] = records
    if not enabled:
        ours_wall, ours_cpu = 1.0, 1.0  # one untimed smoke round: no figures
    else:
        ours_wall = benchmark.stats.stats.min
        ours_cpu = (ended.ru_utime - started.ru_utime + ended.ru_stime - started.ru_stime
                    ) / rounds
        info["ours_records_per_s"] = round(records / ours_wall)
        info["ours_cpu_records_per_s"] = round(records / ours_cpu)

    asterix = pytest.importorskip("asterix")

    def parse_and_dump() -> int:
        # datagram by datagram: faster here than one parse of the whole capture
        count = 0
        for payload in payloads:
            parsed = asterix.parse(payload)
            "\n".join(json.dumps(r) for r in parsed)
            count += len(parsed)
        return count

    wall, _cpu, parsed = _timed(parse_and_dump, rounds)
    assert parsed == records
    if enabled:
        info["asterix_decoder_records_per_s"] = round(records / wall)
        info["ratio_vs_asterix_decoder"] = round(wall / ours_wall, 2)

    cli, why = _cli(build=enabled)
    if cli is not None:
        done = subprocess.run([*cli, str(pcap)], capture_output=True, timeout=600)
        assert done.returncode == 0 and done.stdout.count(b"\n") == records, done.stderr

        def run_cli() -> int:
            subprocess.run([*cli, str(pcap)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=True, timeout=600)
            return records

        wall, cpu, _ = _timed(run_cli, rounds)
        if enabled:
            info["cli_records_per_s"] = round(records / wall)
            info["cli_cpu_records_per_s"] = round(records / cpu)
            info["ratio_vs_cli"] = round(wall / ours_wall, 2)
            info["cpu_ratio_vs_cli"] = round(cpu / ours_cpu, 2)
    else:
        info["cli_skipped"] = why
    print(f"\njsonl speed ({records} records): {json.dumps(info)}")
