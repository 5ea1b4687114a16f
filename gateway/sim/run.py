"""A whole simulation: traffic, every radar and SDPS, and their datagrams in send order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gateway.sim import radar, sdps
from gateway.sim.feeds import Wire, radar_datagrams
from gateway.sim.radar import Plots, TrackSpan
from gateway.sim.scenario import RadarSite, Scenario, SdpsSite
from gateway.sim.traffic import Flights, Trajectories, simulate_traffic


@dataclass(frozen=True)
class Simulation:
    scenario: Scenario
    flights: Flights
    traj: Trajectories
    wires: list[Wire]  # every datagram of every source, in the order sent
    spans: dict[tuple[int, int, int], list[TrackSpan]]  # (sac, sic, cat) -> track numbers
    plots: dict[str, Plots]  # what each radar meant to send
    tracks: dict[str, sdps.Tracks]  # what each SDPS meant to send

    def sources(self) -> dict[str, tuple[str, bytes]]:
        """Each site's IPv4 source address and MAC on the simulated site network."""
        sites: list[RadarSite | SdpsSite] = [*self.scenario.radars, *self.scenario.sdps]
        return {s.name: (f"10.20.{s.sac}.{s.sic}", bytes([2, 0, 0, 0, s.sac, s.sic]))
                for s in sites}


def simulate(scenario: Scenario, duration: float, seed: int,
             step: Callable[[str], None] = lambda _what: None) -> Simulation:
    """Deterministic: each part draws from its own stream of one seed sequence."""
    streams = np.random.SeedSequence(seed).spawn(1 + len(scenario.radars) + len(scenario.sdps))
    flights, traj = simulate_traffic(scenario, duration, int(streams[0].generate_state(1)[0]))
    step("traffic")
    wires: list[Wire] = []
    spans: dict[tuple[int, int, int], list[TrackSpan]] = {}
    all_plots: dict[str, Plots] = {}
    all_tracks: dict[str, sdps.Tracks] = {}
    for site, stream in zip(scenario.radars, streams[1:], strict=False):
        plots, site_spans = radar.observe(site, flights, traj, duration,
                                          np.random.default_rng(stream))
        wires += radar_datagrams(site, plots, flights, scenario.start_utc, duration)
        spans[(site.sac, site.sic, 48)] = site_spans
        all_plots[site.name] = plots
        step(site.name)
    for centre, stream in zip(scenario.sdps, streams[1 + len(scenario.radars):], strict=True):
        same_side = [r for r in scenario.radars if r.side == centre.side]
        tracks, site_spans = sdps.track(centre, same_side, traj, duration,
                                        np.random.default_rng(stream))
        wires += sdps.sdps_datagrams(centre, tracks, flights, scenario.start_utc, duration)
        spans[(centre.sac, centre.sic, 62)] = site_spans
        all_tracks[centre.name] = tracks
        step(centre.name)
    wires.sort(key=lambda w: w.t)  # stable: a source's own order is kept at equal times
    return Simulation(scenario, flights, traj, wires, spans, all_plots, all_tracks)
