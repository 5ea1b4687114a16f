"""The tracker a configuration describes: each radar's noise and antenna, the SDPS accuracy,
and fused ids prefixed so that several gateways' ids never collide on one network."""

from __future__ import annotations

from gateway.associate.measurements import RadarNoise
from gateway.associate.parameters import TrackerParameters
from gateway.associate.tracker import Tracker
from gateway.config import Config


def tracker_from_config(config: Config, parameters: TrackerParameters | None = None) -> Tracker:
    p = parameters or TrackerParameters()
    radars = {(r.sac, r.sic): RadarNoise(r.sigma_range_m, r.sigma_azimuth_deg,
                                         p.default_bias_range_m, p.default_bias_azimuth_deg,
                                         r.lat, r.lon, r.alt_m)
              for r in config.radars}
    # One SDPS accuracy for the tracker: the least accurate configured, to stay conservative.
    sdps_sigma = max((s.sigma_m for s in config.sdps), default=100.0)
    return Tracker(p, radars, sdps_sigma, id_prefix=f"{config.gateway.id}-T")
