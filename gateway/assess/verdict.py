"""The verdict: each figure of a radar against its threshold, pass or fail (or ``n/a``
when the capture did not give enough to measure it), and where each threshold comes from.

The thresholds are the ``[assess]`` section (``Thresholds``); their defaults and sources
are listed in docs/assess.md.  ``SOURCES`` names the source of each default: the EUROCONTROL
Standard Document for Radar Surveillance in En-Route Airspace and Major Terminal Areas
(SUR.ET1.ST01.1000-STD-01-01, 1997; read with the EUROCONTROL Specification for ATM
Surveillance System Performance, SPEC-0147, which supersedes it at system level) where it
gives a sensor figure, else the project's own choice, said so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Annotated

from msgspec import Meta

Fraction = Annotated[float, Meta(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Meta(ge=0.0, le=1e9)]

EUROCONTROL_RADAR = ("EUROCONTROL Standard Document for Radar Surveillance in En-Route "
                     "Airspace and Major Terminal Areas, SUR.ET1.ST01.1000-STD-01-01 (1997)")
PROJECT = "the project's own choice (no EUROCONTROL sensor figure)"


@dataclass(frozen=True)
class Thresholds:
    """What `assess` holds each radar's figures to (docs/assess.md says where each default
    comes from). Every key is optional."""

    pd_modes_min: Fraction = 0.97
    """Least probability of detection of Mode S replies, against the other radars' picture."""
    pd_modeac_min: Fraction = 0.97
    """Least probability of detection of Mode A/C replies."""
    pd_psr_min: Fraction = 0.90
    """Least probability of detection of the primary radar, within `psr_range_nm`."""
    psr_range_nm: Annotated[float, Meta(ge=1.0, le=1000.0)] = 80.0
    """The primary radar's Pd is judged within this slant range (it falls off beyond)."""
    range_bias_max_m: NonNegative = 100.0
    """Largest range bias (absolute), metres, as registration estimates it."""
    azimuth_bias_max_deg: NonNegative = 0.1
    """Largest azimuth bias (absolute), degrees."""
    time_offset_max_s: NonNegative = 0.2
    """Largest time-stamp offset (absolute), seconds, relative to the other radars."""
    range_noise_max_m: NonNegative = 70.0
    """Largest range noise (one sigma, after bias), metres."""
    azimuth_noise_max_deg: NonNegative = 0.08
    """Largest azimuth noise (one sigma, after bias), degrees."""
    false_plots_per_scan_max: NonNegative = 50.0
    """Most false (clutter) plots per scan."""
    rotation_jitter_max_s: NonNegative = 0.1
    """Largest standard deviation of the rotation period, seconds."""
    delay_p95_max_s: NonNegative = 2.0
    """Largest 95th percentile of the delay from detection (I140) to arrival, seconds."""
    missing_sectors_max: NonNegative = 0.0
    """Most sector messages missing over the capture."""
    out_of_order_max: NonNegative = 0.0
    """Most datagrams out of order over the capture."""
    time_jumps_max: NonNegative = 0.0
    """Most time-of-day jumps (a datagram's time against the capture clock moving by more
    than `time_jump_s`)."""
    time_jump_s: Annotated[float, Meta(ge=0.01, le=3600.0)] = 2.0
    """What counts as a time-of-day jump, seconds."""
    code_mismatch_max: Fraction = 0.02
    """Largest share of plots whose Mode 3/A code differs from the picture's."""
    level_mismatch_max: Fraction = 0.02
    """Largest share of plots whose level differs from the picture's by more than
    `level_tolerance_ft`."""
    level_tolerance_ft: Annotated[float, Meta(ge=1.0, le=10000.0)] = 300.0
    """How far a plot's level may be from the picture's, feet."""
    duplicate_address_max: Fraction = 0.005
    """Largest share of Mode S plots whose address the radar reported twice in one scan."""
    min_opportunities: Annotated[int, Meta(ge=1, le=10_000_000)] = 200
    """Fewer opportunities than this and a Pd is `n/a`, not pass or fail."""
    min_samples: Annotated[int, Meta(ge=1, le=10_000_000)] = 100
    """Fewer samples than this and a noise or consistency share is `n/a`."""


SOURCES: dict[str, str] = {
    "pd_modes_min": f"{EUROCONTROL_RADAR}: SSR probability of detection",
    "pd_modeac_min": f"{EUROCONTROL_RADAR}: SSR probability of detection",
    "pd_psr_min": f"{EUROCONTROL_RADAR}: PSR probability of detection",
    "psr_range_nm": PROJECT,
    "range_bias_max_m": f"{EUROCONTROL_RADAR}: SSR systematic range error",
    "azimuth_bias_max_deg": f"{EUROCONTROL_RADAR}: SSR systematic azimuth error",
    "time_offset_max_s": PROJECT,
    "range_noise_max_m": f"{EUROCONTROL_RADAR}: SSR random range error",
    "azimuth_noise_max_deg": f"{EUROCONTROL_RADAR}: SSR random azimuth error",
    "false_plots_per_scan_max": PROJECT,
    "rotation_jitter_max_s": PROJECT,
    "delay_p95_max_s": PROJECT,
    "missing_sectors_max": PROJECT,
    "out_of_order_max": PROJECT,
    "time_jumps_max": PROJECT,
    "time_jump_s": PROJECT,
    "code_mismatch_max": PROJECT,
    "level_mismatch_max": PROJECT,
    "level_tolerance_ft": PROJECT,
    "duplicate_address_max": PROJECT,
    "min_opportunities": PROJECT,
    "min_samples": PROJECT,
}
assert set(SOURCES) == {f.name for f in fields(Thresholds)}


def _at_least(value: float | None, limit: float, enough: bool) -> str:
    if value is None or not math.isfinite(value) or not enough:
        return "n/a"
    return "pass" if value >= limit else "fail"


def _at_most(value: float | None, limit: float, enough: bool = True) -> str:
    if value is None or not math.isfinite(value) or not enough:
        return "n/a"
    return "pass" if abs(value) <= limit else "fail"


def verdict(radar: dict[str, object], th: Thresholds) -> dict[str, str]:
    """Figure -> pass | fail | n/a, for one radar's figures as report.json holds them."""
    pd = radar["pd"]
    n = radar["pd_opportunities"]
    assert isinstance(pd, dict) and isinstance(n, dict)
    timing = radar["timing"]
    acc = radar["accuracy"]
    assert isinstance(timing, dict) and isinstance(acc, dict)

    def num(d: dict[str, object], k: str) -> float | None:
        v = d.get(k)
        return float(v) if isinstance(v, (int, float)) else None

    def share(bad: str, total: str) -> tuple[float | None, bool]:
        t = num(acc, total) or 0.0
        return ((num(acc, bad) or 0.0) / t if t else None), t >= th.min_samples

    code, code_ok = share("code_mismatches", "codes_checked")
    level, level_ok = share("level_mismatches", "levels_checked")
    dup, dup_ok = share("duplicate_addresses", "modes_plots")
    delay = timing.get("delay_s")
    registered = bool(radar.get("registration_established"))
    return {
        "pd_modes": _at_least(num(pd, "modes"), th.pd_modes_min,
                              (num(n, "modes") or 0) >= th.min_opportunities),
        "pd_modeac": _at_least(num(pd, "modeac"), th.pd_modeac_min,
                               (num(n, "modeac") or 0) >= th.min_opportunities),
        "pd_psr": _at_least(num(pd, "psr"), th.pd_psr_min,
                            (num(n, "psr") or 0) >= th.min_opportunities),
        "range_bias_m": _at_most(num(radar, "range_bias_m"), th.range_bias_max_m, registered),
        "azimuth_bias_deg": _at_most(num(radar, "azimuth_bias_deg"), th.azimuth_bias_max_deg,
                                     registered),
        "time_offset_s": _at_most(num(radar, "time_offset_s"), th.time_offset_max_s,
                                  registered),
        "range_noise_m": _at_most(num(radar, "range_noise_m"), th.range_noise_max_m,
                                  (num(acc, "noise_samples") or 0) >= th.min_samples),
        "azimuth_noise_deg": _at_most(num(radar, "azimuth_noise_deg"),
                                      th.azimuth_noise_max_deg,
                                      (num(acc, "noise_samples") or 0) >= th.min_samples),
        "false_plots_per_scan": _at_most(num(radar, "false_plots_per_scan"),
                                         th.false_plots_per_scan_max),
        "rotation_jitter_s": _at_most(num(timing, "rotation_jitter_s"),
                                      th.rotation_jitter_max_s),
        "delay_p95_s": _at_most(num(delay, "p95") if isinstance(delay, dict) else None,
                                th.delay_p95_max_s),
        "missing_sectors": _at_most(num(timing, "missing_sectors"), th.missing_sectors_max),
        "out_of_order_datagrams": _at_most(num(timing, "out_of_order_datagrams"),
                                           th.out_of_order_max),
        "time_jumps": _at_most(num(timing, "time_jumps"), th.time_jumps_max),
        "code_mismatch_share": _at_most(code, th.code_mismatch_max, code_ok),
        "level_mismatch_share": _at_most(level, th.level_mismatch_max, level_ok),
        "duplicate_address_share": _at_most(dup, th.duplicate_address_max, dup_ok),
    }


# Without these a radar cannot be said to pass, however well the rest went.
CORE = ("pd_modes", "range_bias_m", "azimuth_bias_deg", "range_noise_m", "azimuth_noise_deg")


def overall(v: dict[str, str]) -> str:
    """``fail`` if any figure fails; ``incomplete`` if none fails but a core figure
    (``CORE``) could not be judged (too short a capture, too few shared targets); else
    ``pass``."""
    if "fail" in v.values():
        return "fail"
    return "incomplete" if any(v.get(k) != "pass" for k in CORE) else "pass"
