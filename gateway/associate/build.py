"""The tracker a configuration describes: its parameters ([associate]), each radar's noise,
antenna and coverage (cone of silence, range, horizon), the SDPS accuracy, and fused ids
prefixed so that several gateways' ids never collide on one network."""

from __future__ import annotations

from gateway.associate.coverage import Coverage, RadarCoverage
from gateway.associate.frame import ConformalFrame
from gateway.associate.measurements import RadarNoise
from gateway.associate.parameters import TrackerParameters
from gateway.associate.tracker import Tracker
from gateway.config import Config


def tracker_from_config(config: Config, parameters: TrackerParameters | None = None) -> Tracker:
    """``parameters`` replaces the configuration's [associate] (tests, experiments)."""
    p = parameters or config.associate

    def given(value: float | None, default: float) -> float:
        return default if value is None else value

    radars = {(r.sac, r.sic): RadarNoise(given(r.sigma_range_m, p.default_sigma_range_m),
                                         given(r.sigma_azimuth_deg, p.default_sigma_azimuth_deg),
                                         p.default_bias_range_m, p.default_bias_azimuth_deg,
                                         r.lat, r.lon, r.alt_m)
              for r in config.radars}
    # One SDPS accuracy for the tracker: the least accurate configured, to stay conservative.
    sdps_sigma = max((given(s.sigma_m, p.default_sdps_sigma_m) for s in config.sdps),
                     default=p.default_sdps_sigma_m)
    frame = ConformalFrame(p.frame)
    coverage = Coverage(frame, [RadarCoverage(r.lat, r.lon, r.alt_m, r.cone_deg, r.range_nm,
                                              key=(r.sac, r.sic))
                                for r in sorted(config.radars, key=lambda r: (r.sac, r.sic))])
    return Tracker(p, radars, sdps_sigma, id_prefix=f"{config.gateway.id}-T", frame=frame,
                   coverage=coverage)
