"""``asterix-gateway evaluate``: association and accuracy figures against ground truth.

Prints a table on stdout; ``--json FILE`` also writes every figure as JSON, ``--picture
FILE.png`` draws one flight (``--flight``, or the one with the longest radar silence) through
the gateway: truth, plots and fused track.  The definitions are in docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

from gateway.commands import UsageError
from gateway.evaluate import EvaluationError, Params, evaluate
from gateway.files import text_writer
from gateway.trace import draw, trace_files


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The command's arguments (cli.py may register them through this)."""
    p.add_argument("--truth", required=True, metavar="FILE.jsonl",
                   help="ground truth from `simulate --truth` (.gz read as gzip)")
    p.add_argument("--tracks", required=True, metavar="FILE.jsonl",
                   help="shared-format messages: fused updates, and plots/tracks for the "
                   "single-source baselines (.gz read as gzip)")
    p.add_argument("--json", metavar="FILE.json", help="also write the figures as JSON")
    p.add_argument("--picture", metavar="FILE.png",
                   help="also draw one flight's truth, plots and fused track(s) and its error "
                   "against time (.png, .svg or .pdf; needs matplotlib: the [plot] extra)")
    p.add_argument("--flight", metavar="ID",
                   help="the flight --picture draws (default: the one with the longest "
                   "silence of every radar in mid-flight, e.g. a cone-of-silence overflight)")
    p.add_argument("--recent", type=float, default=12.0, metavar="S",
                   help="completeness: a matching update at most S seconds old (default 12)")
    p.add_argument("--max-distance", type=float, default=2000.0, metavar="M",
                   help="completeness: within M metres of truth (default 2000)")
    p.add_argument("--duplicate", type=float, default=30.0, metavar="S",
                   help="duplicate: alive alongside another track of the flight for more "
                   "than S seconds (default 30)")
    p.add_argument("--span-tolerance", type=float, default=1.0, metavar="S",
                   help="slack at the edges of track-map spans and of truth (default 1)")


def _check(name: str, value: float, *, positive: bool = False) -> float:
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        need = "positive" if positive else "zero or more"
        raise UsageError(f"{name} must be {need}, not {value}")
    return value


def _picture(args: argparse.Namespace, params: Params) -> None:
    """Trace one flight and draw it; every failure is a one-line usage error."""
    try:
        tr = trace_files(args.truth, args.tracks, args.flight, params)
        draw(tr, args.picture)
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{exc.filename or args.picture}: {exc.strerror or exc}") from None
    except (EvaluationError, ValueError) as exc:
        raise UsageError(f"--picture: {exc}") from None
    print(f"evaluate: {args.picture}: flight {tr.flight}, {len(tr.fused)} fused id(s), "
          f"{sum(len(s.t) for s in tr.plots.values())} plots, "
          f"{sum(b - a for a, b in tr.gaps):.0f} s without a radar plot", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    recent = _check("--recent", args.recent, positive=True)
    distance = _check("--max-distance", args.max_distance, positive=True)
    duplicate = _check("--duplicate", args.duplicate)
    tolerance = _check("--span-tolerance", args.span_tolerance)
    started = time.perf_counter()
    try:
        report = evaluate(args.truth, args.tracks, recent_s=recent, max_distance_m=distance,
                          duplicate_s=duplicate, span_tolerance_s=tolerance)
    except OSError as exc:
        raise UsageError(f"{exc.filename or args.truth}: {exc.strerror or exc}") from None
    except EvaluationError as exc:
        raise UsageError(str(exc)) from None
    elapsed = time.perf_counter() - started
    if args.json:
        try:
            with text_writer(args.json) as out:
                out.write(report.to_json())
        except OSError as exc:
            raise UsageError(f"{args.json}: {exc.strerror or exc}") from None
    sys.stdout.write(report.table())
    sys.stdout.flush()
    if args.picture:
        _picture(args, Params(recent, distance, duplicate, tolerance))
    print(f"evaluate: {report.fused.updates} fused updates, {len(report.sources)} single "
          f"sources, {elapsed:.1f} s", file=sys.stderr)
    return 0
