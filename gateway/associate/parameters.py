"""Every tunable of the tracker, declared once, with its unit and why it has its default.

The defaults are tuned for the border scenario (eight en-route Mode S radars of 4.6-12 s
rotation, two SDPS, ~370 aircraft airborne); another region changes the frame, another
radar mix the timeouts.  Parts read the fields they need; nothing else holds a number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.associate.frame import FrameParameters

__all__ = ["NON_DISCRETE_CODES", "TrackerParameters"]

# Mode-3/A codes that say something about the situation, not who the aircraft is: unlawful
# interference, radio failure, emergency, VFR / conspicuity codes of both sides of the
# border, the block default and the test code.  Many aircraft may squawk them at once.
NON_DISCRETE_CODES: frozenset[int] = frozenset(
    int(c, 8) for c in ("7500", "7600", "7700", "1200", "2000", "7000", "7777", "0000"))


@dataclass(frozen=True)
class TrackerParameters:
    """Parameters of the multi-source tracker (units in the names or the comments)."""

    # -- frame -------------------------------------------------------------------------------
    frame: FrameParameters = field(default_factory=FrameParameters)
    """The conformal plane the filter works in (Lambert conic, standard parallels 27/33 N)."""

    # -- filter (predictor/updater) ----------------------------------------------------------
    q: float = 6.0
    """Acceleration spectral density of the CV model, m^2/s^3 per axis.  Bank-limited
    airliner turns reach ~4.5 m/s^2 sideways; with updates every 1-3 s from several radars
    this keeps a turning aircraft inside its gate without making straight flight noisy."""
    initial_speed_sigma_mps: float = 200.0
    """Velocity sigma of a track started from a position alone (no source velocity)."""
    plot_velocity_sigma_mps: float = 15.0
    """Trust in a radar tracker's own velocity (CAT048 I200) when starting a track."""
    sdps_velocity_sigma_mps: float = 10.0
    """Trust in an SDPS track's velocity when starting a track."""
    level_q: float = 0.002
    """Vertical acceleration density of the level filter, FL^2/s^3 (~150 fpm/s manoeuvres)."""
    level_sigma_fl: float = 0.3
    """Noise of one reported flight level (Mode C steps 100 ft), FL."""
    late_window_s: float = 2.0
    """A measurement up to this much older than its track's state is used (predicted
    backwards); older ones are counted (``late-measurement-dropped``) and dropped."""

    # -- measurement noise of radars not configured -------------------------------------------
    default_sigma_range_m: float = 60.0
    default_sigma_azimuth_deg: float = 0.08
    default_bias_range_m: float = 30.0
    """Allowance for an unestimated range bias, added in quadrature (border radars: <= 30 m)."""
    default_bias_azimuth_deg: float = 0.03
    """Allowance for an unestimated azimuth bias (border radars: <= 0.03 deg)."""

    # -- gating (hypothesiser) -----------------------------------------------------------------
    gate_chi2: float = 13.8
    """Position-only gate on the Mahalanobis d^2: 99.9 % of true pairs at 2 degrees of
    freedom."""
    identity_gate_chi2: float = 30.0
    """Gate when the identity agrees (code, callsign, or the source's own track number
    continues): the identity already makes a wrong pair unlikely, so manoeuvres the CV
    model did not foresee may pass."""
    modes_gate_chi2: float = 200.0
    """Gate for a Mode S address match: generous, the address is a hard key.  Beyond it the
    address is on a second, distant target (``modes-address-conflict``)."""
    cap_m: float = 10_000.0
    """Hard cap on the innovation, metres, whatever the covariance says (a track started
    from one plot has an enormous one)."""
    modes_cap_m: float = 20_000.0
    """Hard cap on the innovation for a Mode S address match."""
    max_speed_mps: float = 350.0
    """Fastest target considered (~680 kt): bounds the search around a batch spread in time."""
    non_discrete_codes: frozenset[int] = NON_DISCRETE_CODES
    """Mode-3/A codes that are not identities (emergency, VFR, conspicuity, test)."""

    # -- costs (associator) ---------------------------------------------------------------------
    # cost of a pair = d^2 - bonuses + penalties; a measurement left alone costs miss_cost.
    # The order of the bonuses is the order of trust: address, continuity, callsign, code.
    modes_bonus: float = 100.0
    """Address equal (such a pair also excludes every other track for the measurement)."""
    continuity_bonus: float = 30.0
    """The source's own track number already feeds this track."""
    callsign_bonus: float = 20.0
    callsign_mismatch_penalty: float = 5.0
    """Both have an identification and they differ: suspicious, not forbidden (an SDPS's
    flight-plan callsign and a Mode S ident may be written differently)."""
    code_bonus: float = 20.0
    """Both have the same discrete Mode-3/A code."""
    code_mismatch_penalty: float = 20.0
    """Discrete codes differ but the pair is allowed (same address, or the source's track
    number continues): a squawk change.  Chosen so that code_bonus + this penalty exceeds the
    continuity bonus: a re-used radar track number whose code matches another gating track
    goes to that track."""
    anonymous_track_penalty: float = 15.0
    """A measurement with an identity going to a track without one (position only).  With
    the code bonus it outweighs continuity: a Mode A/C report whose code matches a gating
    track goes there, not to the position-only track its radar number happened to feed
    (a primary plot of the same aircraft before its first reply)."""
    miss_cost: float = 20.0
    """Cost of leaving a measurement unassigned (it may start a track)."""

    # -- lifecycle (initiator, deleter) -----------------------------------------------------------
    confirm_updates_identity: int = 2
    """Updates that confirm a track with an identity (Mode S address, discrete code) or one
    an SDPS reports."""
    confirm_updates_position: int = 3
    """Updates that confirm a position-only track (M of M-of-N): clutter rarely lines up."""
    confirm_window_s: float = 30.0
    """... and they must fall within this window (N of M-of-N, as time)."""
    tentative_timeout_s: float = 30.0
    """A tentative track without an update this long is dropped silently."""
    coast_after_s: float = 25.0
    """A confirmed track without an update this long is coasting (~2x the slowest radar)."""
    end_after_s: float = 60.0
    """A track without an update this long has ended."""
    reacquire_window_s: float = 1800.0
    """A track confirmed with the Mode S address of a track that ended less than this ago,
    within reach of where that one was last seen (max speed x time), takes its id back: an
    aircraft crossing a coverage gap keeps its id (``track-reacquired``).  0: never."""
    publish_tentative: bool = False
    """Publish tentative tracks too (state ``tentative``); off: a consumer sees a track only
    once it is confirmed, and never sees clutter that did not line up."""
    report_velocity_sigma_mps: float = 40.0
    """Ground speed and track are reported (not null) once the velocity uncertainty
    (square root of the trace of its covariance) is below this."""
    report_roc_sigma_fpm: float = 1000.0
    """Rate of climb is reported once its sigma is below this."""
