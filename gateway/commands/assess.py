"""``asterix-gateway assess``: is each radar's feed in the captures good enough to join the
network?  Timing, registration, detection, accuracy and content against the fused picture
of the other radars, and a verdict per figure (docs/assess.md).

Writes ``DIR/report.json`` (every figure, for scripts) and ``DIR/index.html`` (one
self-contained page: the pictures are inline SVG).  Exit status 0 whatever the verdict
(the verdict is data: a script reads ``overall`` in report.json); 2 for bad usage, a bad
configuration or an unreadable capture.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tqdm import tqdm

from gateway.assess.core import Assessor
from gateway.commands import UsageError
from gateway.commands.service import load_config
from gateway.decoder import iter_chunks
from gateway.ingest import CaptureError, IngestStats, read_datagrams

CHUNK_BYTES = 1 << 16  # datagrams per decode call: the tracker's batches stay small


def radar_key(text: str) -> tuple[int, int]:
    """``SAC/SIC``, each 0-255."""
    try:
        sac, sic = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--radar is SAC/SIC, e.g. 0/101, not {text!r}") from None
    if not (0 <= sac <= 255 and 0 <= sic <= 255):
        raise argparse.ArgumentTypeError(f"--radar SAC and SIC are 0-255, not {text!r}")
    return sac, sic


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("captures", nargs="+", metavar="CAPTURE",
                   help="pcap or pcapng captures (gzipped or not), read in the order given")
    p.add_argument("--config", required=True, metavar="FILE.toml",
                   help="the radars ([[radar]]), the tracker ([associate]) and the "
                   "thresholds ([assess])")
    p.add_argument("--radar", type=radar_key, action="append", metavar="SAC/SIC",
                   help="assess only this radar (repeatable; default: every [[radar]]); "
                   "all of them still make the reference")
    p.add_argument("--report", required=True, metavar="DIR",
                   help="where report.json and index.html go (made if missing)")
    p.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                   help="progress bar on stderr (auto: when stderr is a terminal)")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    for path in args.captures:
        try:
            open(path, "rb").close()
        except OSError as exc:
            raise UsageError(f"{path}: {exc.strerror}") from None
    out = Path(args.report)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out}: {exc.strerror}") from None
    try:
        assessor = Assessor(config, radars=args.radar)
    except ValueError as exc:
        raise UsageError(f"--radar: {exc}") from None
    started = time.perf_counter()
    stats = IngestStats()
    disable = {"auto": None, "always": False, "never": True}[args.progress]
    with tqdm(desc="assess", unit=" datagrams", file=sys.stderr, disable=disable,
              leave=False) as bar:
        for path in args.captures:
            try:
                datagrams = read_datagrams(path, stats=stats)
                for payloads, times in iter_chunks(
                        ((d.payload, d.t_capture) for d in datagrams), CHUNK_BYTES):
                    assessor.feed(payloads, times)
                    bar.update(len(payloads))
            except (CaptureError, OSError) as exc:
                raise UsageError(f"{path}: {exc}") from None
    assessor.finish()
    report = assessor.report()
    report["capture"]["files"] = [str(p) for p in args.captures]  # type: ignore[index]
    report["capture"]["input"] = stats.summary()  # type: ignore[index]
    elapsed = time.perf_counter() - started
    report["capture"]["assess_seconds"] = round(elapsed, 1)  # type: ignore[index]
    try:
        (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
        from gateway.assess.html import write_html
        write_html(report, out / "index.html")
    except OSError as exc:
        raise UsageError(f"{out}: {exc.strerror or exc}") from None
    radars = report["radars"]
    assert isinstance(radars, list)
    for r in radars:
        failed = [k for k, v in r["verdict"].items() if v == "fail"]
        print(f"assess: {r['sac']}/{r['sic']} {r['name']}: {r['overall']}"
              + (f" ({', '.join(failed)})" if failed else ""), file=sys.stderr)
    print(f"assess: {len(radars)} radars, {assessor.plots} plots, {elapsed:.1f} s -> "
          f"{out / 'report.json'}, {out / 'index.html'}", file=sys.stderr)
    return 0
