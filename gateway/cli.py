"""The ``asterix-gateway`` command: parses arguments and calls in, nothing more.

Exit status (docs/commands.md): 0 success, 1 runtime failure, 2 bad usage, bad config or
unreadable input, each with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gateway.commands import UsageError


def _categories(text: str) -> list[int]:
    try:
        return [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of category numbers: {text!r}") from None


def _ports(text: str) -> list[int]:
    try:
        ports = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of UDP ports: {text!r}") from None
    if not ports or any(not 0 < p < 65536 for p in ports):
        raise argparse.ArgumentTypeError(f"UDP ports are 1-65535: {text!r}")
    return ports


def parser(only_decode: bool = False) -> argparse.ArgumentParser:
    """The whole command line; with ``only_decode`` just ``decode``, which then starts
    without importing what the other commands need (the service, tracker and SciPy stack:
    most of a second, which counts where ``decode`` is a pipeline's first stage)."""
    from gateway.commands import decode as decode_command

    top = argparse.ArgumentParser(prog="asterix-gateway", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("decode", help="every ASTERIX record of a capture, raw file or live feed",
                       description="Decode every ASTERIX record of pcap/pcapng captures, raw "
                       "ASTERIX files, stdin (-) or a live feed (udp://GROUP:PORT).")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--format", choices=("jsonl", "text"), default="jsonl")
    p.add_argument("--category", type=_categories, default=None,
                   help="only these categories, e.g. 48,62")
    p.add_argument("--port", type=_ports, default=None, action="extend",
                   help="only UDP datagrams to these destination ports (captures)")
    p.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                   help="progress bar on stderr (auto: when stderr is a terminal)")
    p.set_defaults(run=decode_command.run)
    if only_decode:
        return top

    from gateway.commands import assess as assess_command
    from gateway.commands import demo as demo_command
    from gateway.commands import evaluate as evaluate_command
    from gateway.commands import normalize as normalize_command
    from gateway.commands import peer as peer_command
    from gateway.commands import replay as replay_command
    from gateway.commands import run as run_command
    from gateway.commands import simulate as simulate_command
    from gateway.commands.service import add_web_argument
    from gateway.service.logs import add_arguments as add_log_arguments

    p = sub.add_parser("normalize", help="plots and source tracks in the shared format",
                       description="Plots (CAT048) and SDPS tracks (CAT062) of captures or raw "
                       "files as shared-format JSON lines, placed on WGS-84 and UTC.")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--config", required=True, metavar="FILE.toml")
    p.add_argument("--out", metavar="FILE.jsonl", help="default: standard output")
    p.add_argument("--date", metavar="YYYY-MM-DD",
                   help="the UTC date of raw inputs, which carry no capture time")
    p.set_defaults(run=normalize_command.run)

    p = sub.add_parser("replay", help="the whole pipeline fed from captures",
                       description="Decode, normalise and associate captures; write every "
                       "message the gateway would publish (plots, tracks, fused updates).")
    p.add_argument("captures", nargs="+", metavar="CAPTURE")
    p.add_argument("--config", required=True, metavar="FILE.toml")
    p.add_argument("--speed", default=None, type=replay_command.speed, metavar="1|N|max",
                   help="times real time, by the captures' timestamps (default: max)")
    p.add_argument("--at", default=None, type=replay_command.start_at, metavar="EPOCH",
                   help="with --speed N: the capture's first datagram is due at this wall "
                   "clock time (UTC epoch seconds), so that replays started with one --at "
                   "keep in step (site gateways feeding a centre)")
    p.add_argument("--out", metavar="FILE.jsonl", help="the JSON-lines sink (.gz to compress)")
    p.add_argument("--broker", metavar="mqtt://HOST[:PORT][,...]",
                   help="publish over MQTT (default: the config's [mqtt] if no --out); "
                   "several, comma-separated: the nodes of a broker cluster")
    p.add_argument("--broker-wait", type=replay_command.broker_wait, default=None,
                   metavar="S", help="give up (exit 3) after S s without the broker "
                   "(default: [service] replay_broker_wait_s, 300)")
    add_web_argument(p, "[web] enabled, off")
    add_log_arguments(p, "warning")
    p.set_defaults(run=replay_command.run)

    p = sub.add_parser("run", help="the live gateway: UDP multicast in, MQTT out",
                       description="Join the configured [[input]] feeds, run the pipeline and "
                       "publish to the [mqtt] broker until SIGTERM or Ctrl-C.")
    p.add_argument("--config", required=True, metavar="FILE.toml")
    p.add_argument("--out", metavar="FILE.jsonl",
                   help="also write every published message to this file")
    p.add_argument("--broker", metavar="mqtt://HOST[:PORT][,...]",
                   help="instead of [mqtt] url; several: the nodes of a broker cluster")
    add_web_argument(p, "[web] enabled, off")
    add_log_arguments(p, "info")
    p.set_defaults(run=run_command.run)

    p = sub.add_parser("peer", help="the neighbouring units, played by the handoff engine",
                       description="Play the neighbouring control units with the handoff "
                       "engine, from the picture the gateway publishes over MQTT and on its "
                       "data clock: offer the flights leaving them (ABI, EST, TOC) and answer "
                       "for those entering them (ACP or REJ, AOC).")
    peer_command.add_arguments(p)
    add_log_arguments(p, "info")
    p.set_defaults(run=peer_command.run)

    p = sub.add_parser("demo", help="simulated border traffic through the whole gateway, "
                       "something to look at",
                       description="Replay the shipped border capture through the whole "
                       "gateway into an MQTT broker (one found at 127.0.0.1:1883, or an "
                       "embedded one) and show the fused picture as it comes back.")
    demo_command.add_arguments(p)
    add_web_argument(p, "127.0.0.1:8080, or a free port if it is busy")
    add_log_arguments(p, "warning")
    p.set_defaults(run=demo_command.run)

    p = sub.add_parser("evaluate", help="association and accuracy figures against ground truth",
                       description="Score the fused tracks (and each single source) of a tracks "
                       "file against simulation ground truth; definitions in docs/evaluation.md.")
    evaluate_command.add_arguments(p)
    p.set_defaults(run=evaluate_command.run)

    p = sub.add_parser("assess", help="is each radar's feed good enough to join the network",
                       description="Assess each radar of captures against the fused picture "
                       "of the others: timing, registration, detection, accuracy, content and "
                       "a verdict; writes DIR/report.json and DIR/index.html "
                       "(docs/assess.md).")
    assess_command.add_arguments(p)
    p.set_defaults(run=assess_command.run)

    p = sub.add_parser("simulate", help="synthetic multi-radar traffic with ground truth",
                       description="Simulate radars and SDPS of a scenario: a pcap of their "
                       "ASTERIX datagrams, ground truth, optionally sent live.")
    p.add_argument("--scenario", required=True, metavar="NAME",
                   help="border, or border-radars (for a radar-only gateway: clutter, drones, "
                   "sharp manoeuvres, cone-of-silence overflights, range gains, clock offsets)")
    p.add_argument("--duration", type=float, default=600.0, metavar="S", help="seconds")
    p.add_argument("--seed", type=int, default=1, metavar="N")
    p.add_argument("--out", required=True, metavar="FILE.pcap")
    p.add_argument("--truth", metavar="FILE.jsonl", help="ground truth (.gz to compress)")
    p.add_argument("--flight-plans", metavar="FILE", help="the flights' filed plans (ICAO FPL, "
                   "and CHG for code changes), one message a line, for [flightplans] file")
    p.add_argument("--live", metavar="udp://GROUP:PORT|sites",
                   help="also send the datagrams: all to one group, or each source to its own")
    p.add_argument("--speed", type=float, default=1.0, metavar="N",
                   help="live sending speed, times real time")
    p.add_argument("--degrade", action="append", metavar="RADAR",
                   help="make this radar (by name, e.g. Tucson) unfit to join a network: clock "
                   "0.5 s late, azimuth bias 0.2 deg, Pd 0.7, 150 clutter plots a scan in "
                   "90-112.5 deg (for `assess`; may be repeated)")
    p.add_argument("--start", metavar="now|EPOCH",
                   help="UTC start of the simulated time (default: the scenario's fixed "
                   "start; now with --live)")
    p.set_defaults(run=simulate_command.run)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser(only_decode=argv[:1] == ["decode"]).parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except UsageError as exc:
        print(f"asterix-gateway: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
