"""``asterix-gateway simulate``: synthetic multi-radar border traffic with ground truth."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from tqdm import tqdm

from gateway.commands import UsageError
from gateway.files import binary_writer, text_writer
from gateway.ingest.url import parse_udp_url
from gateway.sim.live import send_live
from gateway.sim.pcap import FrameWriter
from gateway.sim.plans import plan_text
from gateway.sim.run import simulate
from gateway.sim.scenario import SCENARIOS, degrade
from gateway.sim.truth import truth_lines


def _live_target(text: str) -> tuple[tuple[str, int] | None, str | None]:
    """``sites[?iface=A]`` (every source to its own group) or ``udp://GROUP:PORT[?iface=A]``."""
    if text == "sites" or text.startswith("sites?"):
        url = parse_udp_url("udp://0.0.0.0:1" + text[len("sites"):])
        return None, url.iface
    url = parse_udp_url(text)
    return (url.group, url.port), url.iface


def _epoch(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--start is 'now' or epoch seconds, not {text!r}") from None
    if not 0 <= value < 4102444800:  # 2100-01-01
        raise UsageError(f"--start {text!r} is not a time between 1970 and 2100")
    return value


def run(args: argparse.Namespace) -> int:
    scenario = SCENARIOS.get(args.scenario)
    if scenario is None:
        raise UsageError(f"unknown scenario {args.scenario!r}; have {sorted(SCENARIOS)}")
    for name in args.degrade or ():
        try:
            scenario = degrade(scenario, name)
        except ValueError as exc:
            raise UsageError(f"--degrade: {exc}") from None
    if not 0 < args.duration <= 24 * 3600:
        raise UsageError(f"--duration must be in (0, 86400] seconds, not {args.duration}")
    if args.speed <= 0:
        raise UsageError(f"--speed must be positive, not {args.speed}")
    try:
        live = _live_target(args.live) if args.live else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.start is not None or live is not None:
        # Live receivers place times of day on their own clock: a live feed must be "now".
        start = time.time() if args.start in (None, "now") else _epoch(args.start)
        scenario = dataclasses.replace(scenario, start_utc=round(start, 3))
    parts = 1 + len(scenario.radars) + len(scenario.sdps)
    with tqdm(total=parts, desc="simulate", unit="part", leave=False, file=sys.stderr,
              disable=None) as bar:

        def step(what: str) -> None:
            bar.set_postfix_str(what)
            bar.update()

        sim = simulate(scenario, float(args.duration), args.seed, step=step)
    try:
        with binary_writer(args.out) as out:
            frames = FrameWriter(sim.sources(), scenario.start_utc).write(out, sim.wires)
        if args.truth:
            with text_writer(args.truth) as text:
                for line in truth_lines(sim.flights, sim.traj, scenario.start_utc, sim.spans,
                                        scenario.radars):
                    text.write(line + "\n")
        if args.flight_plans:
            with text_writer(args.flight_plans) as text:
                for line in plan_text(scenario, sim.flights, sim.traj):
                    text.write(line + "\n")
    except OSError as exc:
        raise UsageError(f"{exc.filename}: {exc.strerror}") from None
    flights = len(sim.flights.id)
    print(f"simulate: {args.scenario} {args.duration:g} s seed {args.seed}: {flights} flights, "
          f"{frames} datagrams -> {Path(args.out)}", file=sys.stderr)
    if live is not None:
        destination, iface = live
        sent = send_live(sim.wires, destination, iface=iface, speed=args.speed)
        print(f"simulate: sent {sent} datagrams live", file=sys.stderr)
    return 0
