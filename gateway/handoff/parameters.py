"""Every tunable of the handoff engine, declared once, with its unit, its range and why.

The ranges are part of the declaration: the configuration's ``[handoff]`` section is this
class plus the two keys only a configuration has (the airspace file and the database), so
a value out of range is refused at load with the same bounds the engine was written for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from msgspec import Meta

__all__ = ["HandoffParameters", "LevelBand", "UnitId", "UnitIds"]

UnitId = Annotated[str, Meta(pattern=r"^[A-Z]{1,4}$", title="unit id", extra={
    "refusal": "is not a unit id (1 to 4 capital letters, as MMTY or KZAB)"})]
"""An ATS unit as AIDC names it: its ICAO location indicator or a short local code."""

UnitIds = Annotated[tuple[UnitId, ...], Meta(min_length=1, extra={
    "refusal": "must name at least one unit"})]

LevelBand = Annotated[str, Meta(pattern=r"^[A-Z]{1,4}/F[0-9]{3}-F[0-9]{3}$", title="level band",
                                extra={"refusal": "is not a level band (UNIT/F290-F410)"})]
"""Flight levels one of our units accepts on an offer: ``MMTY/F290-F410``."""


@dataclass(frozen=True)
class HandoffParameters:
    """What the engine coordinates (its units and their peers) and its timing: the leads
    before the estimated time over the COP, the thresholds of a CDN, the hysteresis that
    keeps jitter near a boundary from starting or cancelling a dialogue, and the LAM
    link's patience."""

    units: UnitIds
    """The units (1 to 4 capital letters, defined in the airspace) whose flights this
    gateway hands over, and accepts from the peers."""
    peers: UnitIds
    """The units on the other side it coordinates with; each answers on
    `aidc/{peer}/{unit}`."""
    cpl_to: tuple[UnitId, ...] = ()
    """Peers that may not hold the flight plan: they get CPL instead of EST."""
    abi_lead_s: Annotated[float, Meta(ge=60.0, le=7200.0)] = 900.0
    """ABI (advance boundary information) this long before the estimated time over the
    COP."""
    est_lead_s: Annotated[float, Meta(ge=30.0, le=7200.0)] = 600.0
    """EST (or CPL) this long before it; less than `abi_lead_s`."""
    toc_lead_s: Annotated[float, Meta(ge=0.0, le=600.0)] = 0.0
    """TOC (transfer of control) this long before it (0: at the crossing); less than
    `est_lead_s`."""
    cdn_level_fl: Annotated[float, Meta(ge=1.0, le=100.0)] = 10.0
    """A coordinated flight whose level (once level) moves this many flight levels from the
    agreed one gets a CDN (10: 1,000 ft)."""
    cdn_time_s: Annotated[float, Meta(ge=10.0, le=3600.0)] = 180.0
    """Likewise for the estimated time over the COP."""
    cdn_interval_s: Annotated[float, Meta(ge=10.0, le=3600.0)] = 120.0
    """At most one CDN per flight this often, so a flight that keeps drifting does not
    flood the peer."""
    hysteresis: Annotated[int, Meta(ge=1, le=20)] = 3
    """Predictions in a row (one every `predict_every_s`) that start a dialogue, or that
    cancel one with MAC: jitter near a boundary neither starts nor cancels anything."""
    crossing_updates: Annotated[int, Meta(ge=1, le=20)] = 2
    """Confirmed updates in a row in another country that make a crossing of a track
    without transponder (one `uncoordinated-crossing` alert each time it crosses): a
    track flying along the border, its position jittering across it, is not alerted at
    every update."""
    cancel_after_s: Annotated[float, Meta(ge=0.0, le=3600.0)] = 60.0
    """... and a dialogue is cancelled only when no prediction has supported it for this
    long as well."""
    predict_every_s: Annotated[float, Meta(ge=1.0, le=60.0)] = 4.0
    """How often each flight's next boundary crossing is predicted."""
    lam_timeout_s: Annotated[float, Meta(ge=1.0, le=600.0)] = 30.0
    """How long to wait for a LAM before sending a message again (same serial)."""
    lam_tries: Annotated[int, Meta(ge=1, le=10)] = 3
    """Sends of one message before giving up with a `lam-timeout` alert."""
    clock_margin_s: Annotated[float, Meta(ge=0.0, le=604_800.0)] = 3600.0
    """After a restart, data no newer than the stored clock decides nothing (a replay
    started again must not repeat what was sent), unless it is more than this far behind
    it: then the stored clock is taken for wrong (a host clock that jumped ahead) or the
    data for another day's, and the data's own time wins at once. Either is logged once."""
    # the accepting side: offers (ABI, EST, CPL) from the peers for flights entering our units
    accept_levels: tuple[LevelBand, ...] = ()
    """Levels each of our units accepts on an offer, as `"UNIT/F290-F410"` bands (several
    per unit allowed); an offer at another level is answered REJ with the reason. A unit
    not named accepts every level."""
    reject_every: Annotated[int, Meta(ge=0, le=1000)] = 0
    """Answer every Nth offer (EST, CPL) with REJ (0: never), for tests and
    demonstrations of the transferring unit's side."""
    match_window_s: Annotated[float, Meta(ge=30.0, le=3600.0)] = 300.0
    """An offer is matched to a fused track by identification and SSR code, by SSR code
    alone, or by a track predicted over the COP within this many seconds of the estimated
    time; an offer still unmatched this long after its estimated time raises a
    `coordination-unmatched` alert."""
    match_radius_nm: Annotated[float, Meta(ge=1.0, le=100.0)] = 10.0
    """... and within this many nautical miles of the COP."""
    max_accepting: Annotated[int, Meta(ge=1, le=100_000)] = 1000
    """Open dialogues for flights entering our units at most: an offer beyond them is
    refused with LRM (counted), so a flood of offers cannot grow the state without bound."""
