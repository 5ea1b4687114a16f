"""Every tunable of the tracker, declared once, with its unit, its range and why it has its
default.

The defaults are tuned for the border scenario (eight en-route Mode S radars of 4.6-12 s
rotation, two SDPS, ~370 aircraft airborne); another region changes the frame, another
radar mix the timeouts.  Parts read the fields they need; nothing else holds a number.  The
ranges (``Meta``) are what the configuration's ``[associate]`` section accepts: that section
is this class, so a key, its default and its bounds are written here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from msgspec import Meta

from gateway.associate.frame import FrameParameters

__all__ = ["NON_DISCRETE_CODES", "SdpsSigmaM", "SigmaAzimuthDeg", "SigmaRangeM",
           "TrackerParameters"]

# Mode-3/A codes that say something about the situation, not who the aircraft is: unlawful
# interference, radio failure, emergency, VFR / conspicuity codes of both sides of the
# border, the block default and the test code.  Many aircraft may squawk them at once.
NON_DISCRETE_CODES: frozenset[int] = frozenset(
    int(c, 8) for c in ("7500", "7600", "7700", "1200", "2000", "7000", "7777", "0000"))

# The accuracy of one source, one sigma: the tracker's defaults and each configured site's
# own key ([[radar]], [[sdps]]) share these bounds.
SigmaRangeM = Annotated[float, Meta(ge=1.0, le=5000.0, extra={"what": "a range accuracy in m"})]
SigmaAzimuthDeg = Annotated[float, Meta(ge=0.001, le=5.0,
                                        extra={"what": "an azimuth accuracy in deg"})]
SdpsSigmaM = Annotated[float, Meta(ge=1.0, le=10000.0, extra={"what": "a track accuracy in m"})]

# Fields that only code sets: the configuration refuses them as unknown keys.  The frame has
# no bounds of its own yet, and Mode-3/A codes are octal, which TOML cannot write.
_CODE_ONLY = {"settable": False}


@dataclass(frozen=True)
class TrackerParameters:
    """The multi-source tracker: how sources are weighed, which measurement goes to which
    track, and when a track is confirmed, coasts and ends.  Every key is optional; the
    defaults suit en-route Mode S radars of 4.6-12 s rotation and SDPS of 4-5 s. The
    conformal frame and the Mode-3/A codes that are not identities are set in code only."""

    enabled: bool = True
    """Associate at all. `false` makes a site gateway (docs/deployment.md): it decodes and
    normalises, publishes `plot` and `track` batches, and leaves association (and
    `[handoff]`, which needs it) to a centre that takes them with an `mqtt://` input."""

    # -- frame -------------------------------------------------------------------------------
    frame: FrameParameters = field(default_factory=FrameParameters, metadata=_CODE_ONLY)
    """The conformal plane the filter works in (Lambert conic, standard parallels 27/33 N)."""

    # -- filter (predictor/updater) ----------------------------------------------------------
    q: Annotated[float, Meta(ge=0.01, le=1000.0)] = 6.0
    """Acceleration spectral density of the CV model (``filter_model = "cv"``), m^2/s^3
    per axis.  Bank-limited
    airliner turns reach ~4.5 m/s^2 sideways; with updates every 1-3 s from several radars
    this keeps a turning aircraft inside its gate without making straight flight noisy."""
    filter_model: Literal["imm", "cv"] = "imm"
    """The kinematic filter: ``imm``, an interacting multiple model of a quiet constant
    velocity and coordinated turns left and right (the ``imm_*`` keys); ``cv``, one
    constant-velocity model of density ``q``.  Radar-only on the border capture the IMM
    smooths straight flight much harder and still follows turns (see the README)."""
    imm_q_straight: Annotated[float, Meta(ge=0.001, le=1000.0)] = 0.5
    """Acceleration density of the IMM's straight (CV) model, m^2/s^3: small, since
    turns are the turning models' business; speed changes (climb, descent, wind) stay in
    it (0.2-1.0 gave the same radar-only RMS within 3 m on the border capture)."""
    imm_q_turn: Annotated[float, Meta(ge=0.001, le=1000.0)] = 1.5
    """Acceleration density of the IMM's turning models: a turn at another rate than
    ``imm_turn_rate_deg_s``, its roll-in and roll-out."""
    imm_turn_rate_deg_s: Annotated[float, Meta(ge=0.1, le=20.0)] = 3.0
    """Turn rate of the IMM's coordinated-turn models (one left, one right): standard
    rate; bank-limited airliners at cruise turn slower, which the turn noise covers."""
    imm_straight_sojourn_s: Annotated[float, Meta(ge=1.0, le=100000.0)] = 300.0
    """Mean time an aircraft flies straight before it turns (the Markov chain's rate out
    of the straight model): en-route legs last minutes."""
    imm_turn_sojourn_s: Annotated[float, Meta(ge=1.0, le=100000.0)] = 60.0
    """Mean time a turn lasts: a 90-degree turn at a bank-limited 1.5 deg/s, half a
    holding pattern at 3 deg/s."""
    imm_straight_probability: Annotated[float, Meta(ge=0.01, le=0.99)] = 0.8
    """Probability of the straight model when a track starts (the rest split between
    the turns)."""
    initial_speed_sigma_mps: Annotated[float, Meta(ge=1.0, le=1000.0)] = 200.0
    """Velocity sigma of a track started from a position alone (no source velocity)."""
    plot_velocity_sigma_mps: Annotated[float, Meta(ge=0.1, le=500.0)] = 15.0
    """Trust in a radar tracker's own velocity (CAT048 I200) when starting a track."""
    sdps_velocity_sigma_mps: Annotated[float, Meta(ge=0.1, le=500.0)] = 10.0
    """Trust in an SDPS track's velocity when starting a track."""
    level_q: Annotated[float, Meta(ge=0.0, le=10.0)] = 0.002
    """Vertical acceleration density of the level filter, FL^2/s^3 (~150 fpm/s manoeuvres)."""
    level_sigma_fl: Annotated[float, Meta(ge=0.01, le=50.0)] = 0.3
    """Noise of one reported flight level (Mode C steps 100 ft), FL."""
    late_window_s: Annotated[float, Meta(ge=0.0, le=60.0)] = 2.0
    """A measurement up to this much older than its track's state is used (predicted
    backwards); older ones are counted (``late-measurement-dropped``) and dropped."""

    # -- measurement noise of sources that do not give their own ---------------------------------
    default_sigma_range_m: SigmaRangeM = 60.0
    """Slant-range noise (one sigma) of a radar whose `[[radar]]` gives no `sigma_range_m`,
    metres (and of a radar not configured at all)."""
    default_sigma_azimuth_deg: SigmaAzimuthDeg = 0.08
    """Azimuth noise (one sigma) of a radar whose `[[radar]]` gives no
    `sigma_azimuth_deg`, degrees."""
    default_bias_range_m: Annotated[float, Meta(ge=0.0, le=5000.0)] = 30.0
    """Allowance for an unestimated range bias, added in quadrature to every radar's range
    noise (border radars: <= 30 m)."""
    default_bias_azimuth_deg: Annotated[float, Meta(ge=0.0, le=5.0)] = 0.03
    """Allowance for an unestimated azimuth bias, likewise (border radars: <= 0.03 deg)."""
    default_sdps_sigma_m: SdpsSigmaM = 100.0
    """Position accuracy (one sigma) of an SDPS whose `[[sdps]]` gives no `sigma_m`,
    metres.  The tracker weighs every SDPS by one accuracy: the least accurate
    configured."""

    # -- gating (hypothesiser) -----------------------------------------------------------------
    gate_chi2: Annotated[float, Meta(ge=0.1, le=1000.0)] = 13.8
    """Position-only gate on the Mahalanobis d^2: 99.9 % of true pairs at 2 degrees of
    freedom."""
    identity_gate_chi2: Annotated[float, Meta(ge=0.1, le=10000.0)] = 30.0
    """Gate when the identity agrees (code, callsign, or the source's own track number
    continues): the identity already makes a wrong pair unlikely, so manoeuvres the CV
    model did not foresee may pass."""
    modes_gate_chi2: Annotated[float, Meta(ge=0.1, le=100000.0)] = 200.0
    """Gate for a Mode S address match: generous, the address is a hard key.  Beyond it the
    address is on a second, distant target (``modes-address-conflict``)."""
    cap_m: Annotated[float, Meta(ge=100.0, le=1000000.0)] = 10_000.0
    """Hard cap on the innovation, metres, whatever the covariance says (a track started
    from one plot has an enormous one)."""
    modes_cap_m: Annotated[float, Meta(ge=100.0, le=1000000.0)] = 20_000.0
    """Hard cap on the innovation for a Mode S address match."""
    max_speed_mps: Annotated[float, Meta(ge=10.0, le=2000.0)] = 350.0
    """Fastest target considered (~680 kt): bounds the search around a batch spread in time."""
    non_discrete_codes: frozenset[int] = field(default=NON_DISCRETE_CODES, metadata=_CODE_ONLY)
    """Mode-3/A codes that are not identities (emergency, VFR, conspicuity, test)."""

    # -- costs (associator) ---------------------------------------------------------------------
    # cost of a pair = d^2 - bonuses + penalties; a measurement left alone costs miss_cost.
    # The order of the bonuses is the order of trust: address, continuity, callsign, code.
    modes_bonus: Annotated[float, Meta(ge=0.0, le=1000.0)] = 100.0
    """Address equal (such a pair also excludes every other track for the measurement)."""
    continuity_bonus: Annotated[float, Meta(ge=0.0, le=1000.0)] = 30.0
    """The source's own track number already feeds this track."""
    callsign_bonus: Annotated[float, Meta(ge=0.0, le=1000.0)] = 20.0
    """Both have the same identification (callsign)."""
    callsign_mismatch_penalty: Annotated[float, Meta(ge=0.0, le=1000.0)] = 5.0
    """Both have an identification and they differ: suspicious, not forbidden (an SDPS's
    flight-plan callsign and a Mode S ident may be written differently)."""
    code_bonus: Annotated[float, Meta(ge=0.0, le=1000.0)] = 20.0
    """Both have the same discrete Mode-3/A code."""
    code_mismatch_penalty: Annotated[float, Meta(ge=0.0, le=1000.0)] = 20.0
    """Discrete codes differ but the pair is allowed (same address, or the source's track
    number continues): a squawk change.  Chosen so that code_bonus + this penalty exceeds the
    continuity bonus: a re-used radar track number whose code matches another gating track
    goes to that track."""
    anonymous_track_penalty: Annotated[float, Meta(ge=0.0, le=1000.0)] = 15.0
    """A measurement with an identity going to a track without one (position only).  With
    the code bonus it outweighs continuity: a Mode A/C report whose code matches a gating
    track goes there, not to the position-only track its radar number happened to feed
    (a primary plot of the same aircraft before its first reply)."""
    miss_cost: Annotated[float, Meta(ge=0.0, le=1000.0)] = 20.0
    """Cost of leaving a measurement unassigned (it may start a track)."""

    # -- lifecycle (initiator, deleter) -----------------------------------------------------------
    confirm_updates_modes: Annotated[int, Meta(ge=1, le=20)] = 1
    """Updates that confirm a track with a Mode S address or one an SDPS reports: the
    address is a 24-bit key under parity and an SDPS track is confirmed already, so the
    first report is published (a flight entering coverage is seen at once: at one update
    of a 12 s radar a second confirming one cost 0.7 % of completeness radar-only)."""
    confirm_updates_identity: Annotated[int, Meta(ge=1, le=20)] = 2
    """Updates that confirm a track with a discrete Mode-3/A code (replies can be garbled
    or reflected: one is not enough)."""
    confirm_updates_position: Annotated[int, Meta(ge=1, le=20)] = 3
    """Updates that confirm a position-only track (M of M-of-N): clutter rarely lines up."""
    confirm_updates_tracked: Annotated[int, Meta(ge=1, le=20)] = 2
    """Updates that confirm a position-only track fed by a radar's own track (its plots
    carry the radar's track number: its tracker saw them line up already), in a cell the
    clutter map finds clean; it must still pass the speed and manoeuvre gates.  A primary
    target seen by one slow radar is published a scan sooner."""
    confirm_window_s: Annotated[float, Meta(ge=1.0, le=3600.0)] = 30.0
    """... and they must fall within this window (N of M-of-N, as time)."""
    min_speed_mps: Annotated[float, Meta(ge=0.0, le=500.0)] = 10.0
    """Speed gate, floor: a position-only track whose plots imply it is slower than this
    (~20 kt; drones and light aircraft fly 40-150 kt) is not confirmed: ground clutter and
    weather stand still."""
    max_speed_primary_mps: Annotated[float, Meta(ge=10.0, le=2000.0)] = 160.0
    """Speed gate, ceiling, of a position-only track (~310 kt): aircraft without a
    transponder are drones, light aircraft and turboprops (40-250 kt); clutter that lines
    up by chance mostly implies more.  (A fast aircraft's primary plots before its first
    reply are not lost: its SSR replies start a track of their own.)"""
    max_accel_mps2: Annotated[float, Meta(ge=1.0, le=1000.0)] = 30.0
    """Manoeuvre gate: a position-only track whose velocity differs from the mean velocity
    of its plots by more than this acceleration (3 g, beyond what an aircraft sustains)
    over their time is not confirmed: plots of clutter that happened to gate each other."""
    initiation_gate_sigmas: Annotated[float, Meta(ge=0.0, le=10.0)] = 2.5
    """Allowance of the speed and manoeuvre gates for the noise of the plots, in sigmas:
    only a track clearly too slow, too fast or too agile is held back."""
    clutter_cell_range_m: Annotated[float, Meta(ge=500.0, le=100000.0)] = 10_000.0
    """Clutter map: the range size of one cell of a radar's map (range x azimuth cells)."""
    clutter_cell_azimuth_deg: Annotated[float, Meta(ge=0.5, le=90.0)] = 10.0
    """Clutter map: the azimuth size of one cell."""
    clutter_max_range_m: Annotated[float, Meta(ge=10000.0, le=1000000.0)] = 500_000.0
    """Clutter map: cells cover this range (farther plots count in the last ring); with the
    cell sizes this bounds the memory (50 x 36 cells of each radar by default)."""
    clutter_memory_s: Annotated[float, Meta(ge=1.0, le=86400.0)] = 600.0
    """Clutter map: time constant of the exponential decay of a cell's density (a cell's
    value is the number of plots that never joined a confirmed track, seen in about this
    much time)."""
    clutter_plots_per_extra_hit: Annotated[float, Meta(ge=0.01, le=10000.0)] = 0.5
    """Clutter map: a position-only track started in a cell of this density (false plots
    per ``clutter_memory_s``; 20 false plots per scan of a 6 s radar make ~1) needs one more
    update to be confirmed (two at twice it, ...), its window stretched in proportion: where
    false plots are many, a chance alignment needs to last longer."""
    clutter_max_extra_hits: Annotated[int, Meta(ge=0, le=10)] = 2
    """Clutter map: at most this many more updates, however dense the cell."""
    tentative_timeout_s: Annotated[float, Meta(ge=1.0, le=3600.0)] = 30.0
    """A tentative track without an update this long is dropped silently."""
    coast_after_s: Annotated[float, Meta(ge=1.0, le=3600.0)] = 25.0
    """A confirmed track without an update this long is coasting (~2x the slowest radar)."""
    end_after_s: Annotated[float, Meta(ge=1.0, le=86400.0)] = 60.0
    """A confirmed track without an update this long has ended, where no radar is
    expected to see it (leaving the coverage, a radar's scan period not learnt yet, no
    coverage model, ``end_probability`` 0); where radars are, the misses decide
    (``end_probability``), between ``end_min_s`` and ``end_max_s``."""
    detection_probability: Annotated[float, Meta(ge=0.01, le=0.999)] = 0.9
    """Chance that one scan of a radar covering a track with a transponder (a code or an
    address) detects it, as the deleter counts misses.  Below what en-route SSR / Mode S
    achieve (0.96-0.98, the simulator's too): a fade, a garbled reply, a reflection make
    misses come in runs, which an assumed independence would under-rate."""
    detection_probability_primary: Annotated[float, Meta(ge=0.01, le=0.999)] = 0.5
    """The same for a position-only track (primary plots): a primary radar's detection
    falls with range to nothing at its (shorter, unmodelled) primary range (the
    simulator's 0.9 at short range is 0.6 at 150 NM of 200), and a light aircraft's echo is
    small, so its misses say little: such a track in one radar's coverage ends at
    ``end_max_s``, in dense coverage sooner."""
    end_probability: Annotated[float, Meta(ge=0.0, le=0.5)] = 1e-6
    """ARTAS-like deletion: a confirmed track that the radars whose coverage its prediction
    is in should have detected k times since its last update (k summed over those radars:
    the scans that passed since, from each one's scan period, learnt from its plots, less
    half a scan for the plot still on its way) has ended once the chance of k misses in a
    row, (1 - Pd)^k, is below this: one 12 s radar at Pd 0.9 misses 6 scans (~78 s), four
    radars of 4.6-6 s the same in ~13 s (then ``end_min_s``).  Over thousands of tracks a
    run of 5 misses of one radar happens (a primary-only aircraft on the border capture);
    in dense coverage a few silent seconds mean the aircraft is gone, and a longer-lived
    track only takes other aircraft's plots.  0: ``end_after_s`` alone."""
    tentative_end_probability: Annotated[float, Meta(ge=0.0, le=0.5)] = 0.01
    """The same for a tentative track, dropped sooner (at most ``tentative_timeout_s``):
    clutter that lined up once is not seen again, and a real aircraft's track that is
    dropped starts again at its next plot."""
    end_min_s: Annotated[float, Meta(ge=1.0, le=3600.0)] = 20.0
    """Floor of the miss-counting rule for a confirmed track: however many radars should
    have seen it, a track ends no sooner (a manoeuvre outside every gate, a coverage model
    wrong by some terrain, radars' misses that are not independent)."""
    end_max_s: Annotated[float, Meta(ge=1.0, le=86400.0)] = 90.0
    """Ceiling of the miss-counting rule: a confirmed track in some radar's coverage ends
    after this much silence whatever its radars' periods and detection (a primary-only
    track seen by one slow radar)."""
    reacquire_window_s: Annotated[float, Meta(ge=0.0, le=86400.0)] = 1800.0
    """A track confirmed with the Mode S address of a track that ended less than this ago,
    within reach of where that one was last seen (max speed x time), takes its id back: an
    aircraft crossing a coverage gap keeps its id (``track-reacquired``).  0: never."""
    reacquire_accel_mps2: Annotated[float, Meta(ge=0.0, le=100.0)] = 3.0
    """A track of a Mode A/C aircraft (no address) confirmed with the discrete Mode-3/A code
    (and the identification, when both have one) of a track that ended less than
    ``reacquire_window_s`` ago takes its id back if it is within ``cap_m`` plus
    half this acceleration times the time since squared of where that track's velocity
    would have taken it (a code is less sure than an address: the reach is the predicted
    position's, not anywhere the aircraft could have flown)."""
    reacquire_straight_window_s: Annotated[float, Meta(ge=0.0, le=86400.0)] = 3600.0
    """Beyond ``reacquire_window_s`` and up to this long, a Mode A/C track takes back the
    id of the track that ended with its discrete code only on stronger evidence: the
    identifications agree where both have one, both report the same level (within
    ``reacquire_level_fl``: a cruise the gap did not change) and it is within ``cap_m``
    plus ``reacquire_drift_mps`` times the time since of where the old track's velocity
    leads in a straight line.  On the border-radars hour a flight at FL320 crossed 465 km
    outside every radar's range in 35 minutes and came back 4.5 km from that straight
    line, with a code no other flight used: one leg, one aircraft.  (A code that came
    back elsewhere, or at another level, is a new id.)  0, or not above
    ``reacquire_window_s``: never."""
    reacquire_drift_mps: Annotated[float, Meta(ge=0.0, le=100.0)] = 5.0
    """The straight-line re-acquisition's allowance for what the old velocity does not
    say (wind, a small change of heading or speed), m/s: 10 km more per 2,000 s."""
    reacquire_level_fl: Annotated[float, Meta(ge=0.0, le=100.0)] = 5.0
    """The straight-line re-acquisition's level agreement, FL (Mode C is 100 ft steps)."""
    hidden_max_s: Annotated[float, Meta(ge=0.0, le=3600.0)] = 300.0
    """A confirmed track whose predicted position no configured radar sees (a cone of
    silence, a hole below the radar horizon between radars) but which its velocity brings
    back into some radar's coverage is hidden: it coasts and does not end for as long as
    it is hidden, up to this long since its last update; once visible again it ends after
    ``end_after_s`` of silence as usual.  A 40 degree cone is 29 km across at FL400: two
    minutes at 450 kt, four at 250 kt.  0: coverage is not modelled."""
    hidden_review_s: Annotated[float, Meta(ge=0.5, le=600.0)] = 5.0
    """How often a coasting track's visibility is looked at again (seconds of data)."""
    hidden_height_m: Annotated[float, Meta(ge=0.0, le=30000.0)] = 600.0
    """Height assumed for the coverage of a track without a level (primary only), metres:
    low (2,000 ft, light aircraft and drones), since a track wrongly thought hidden only
    ends later, while one wrongly thought visible ends in its gap and comes back with a
    new id."""
    output_period_s: Annotated[float, Meta(ge=0.0, le=3600.0)] = 0.0
    """Periodic output, as ARTAS does: every this many seconds of data time (on multiples
    of it), each confirmed track that has had no message for a period is published with
    its filter's prediction to that time, flagged ``extrapolated``; tracks are still
    published on every update.  A consumer sees each track at least every two periods,
    coasting ones included.  0 (the default): only on updates and lifecycle changes.
    ARTAS publishes every 4-5 s."""
    publish_tentative: bool = False
    """Publish tentative tracks too (state ``tentative``); off: a consumer sees a track only
    once it is confirmed, and never sees clutter that did not line up."""
    report_velocity_sigma_mps: Annotated[float, Meta(ge=0.1, le=1000.0)] = 40.0
    """Ground speed and track are reported (not null) once the velocity uncertainty
    (square root of the trace of its covariance) is below this."""
    report_roc_sigma_fpm: Annotated[float, Meta(ge=1.0, le=100000.0)] = 1000.0
    """Rate of climb is reported once its sigma is below this."""

    # -- radar registration (registration.py) -------------------------------------------------
    registration: bool = True
    """Estimate each radar's range bias, range gain, azimuth bias and time-stamp offset from
    the Mode S aircraft several radars see, and correct its plots with them once
    established.  Off: plots go to the filter as the radars gave them, with the default
    bias allowance."""
    registration_pair_window_s: Annotated[float, Meta(ge=0.1, le=60.0)] = 6.0
    """Two radars' plots of one address at most this far apart in time form a pair (the
    earlier is moved to the later's time with the track's velocity: a manoeuvre over a
    longer time blurs the pair, ``registration_accel_mps2`` allows for it).  Half the
    slowest rotation (12 s) pairs every scan; on the border capture 6 s gives twice the
    pairs of 3 s and range biases within 8 m instead of 11 m."""
    registration_forget_s: Annotated[float, Meta(ge=10.0, le=1e7)] = 3600.0
    """Time constant of the exponential forgetting of the equations, seconds of data: a
    bias that drifts is followed within about this long."""
    registration_solve_every: Annotated[int, Meta(ge=1, le=1_000_000)] = 200
    """The estimate is solved again after this many accepted pairs."""
    registration_learn_batch: Annotated[int, Meta(ge=1, le=100_000)] = 256
    """Mode S plots are paired and learnt from this many at a time (numpy's cost is per
    call, and one cycle holds a handful of plots); the estimate lags by as much."""
    registration_plots_per_cycle: Annotated[float, Meta(ge=1.0, le=100_000.0)] = 8.0
    """Mode S plots an association cycle learns from, on average: in denser traffic only a
    share of the addresses is learnt from (the same share for every radar, chosen by a
    hash of the address, so that pairs still form): pairs then come faster than the biases
    need, and the tracker keeps its speed.  The border capture's sectors hold 6 plots at
    the median: nearly all are used (54,600 pairs in 10 minutes); 1,000 aircraft seen by 8
    radars in 16 sectors still make 150 pairs a second."""
    registration_min_pairs: Annotated[float, Meta(ge=1.0, le=1e7)] = 300.0
    """A radar's plots are corrected once it has this many (forgotten) pairs."""
    registration_gate_chi2: Annotated[float, Meta(ge=1.0, le=1e6)] = 20.0
    """A pair whose difference, less what the estimate explains, exceeds this Mahalanobis
    d^2 (2 degrees of freedom; 99.995 %) is rejected: another aircraft with the address,
    a garbled plot, a sharp manoeuvre."""
    registration_cap_m: Annotated[float, Meta(ge=10.0, le=1e6)] = 2000.0
    """A pair's difference beyond this is rejected whatever its covariance, metres."""
    registration_max_addresses: Annotated[int, Meta(ge=10, le=1_000_000)] = 20_000
    """Addresses remembered at once (the oldest forgotten first)."""
    registration_accel_mps2: Annotated[float, Meta(ge=0.0, le=100.0)] = 3.0
    """Manoeuvre allowance when moving a plot in time along the track's velocity."""
    registration_velocity_sigma_mps: Annotated[float, Meta(ge=0.1, le=1000.0)] = 30.0
    """A pair counts only if its track's velocity is known better than this (per axis)."""
    registration_prior_range_m: Annotated[float, Meta(ge=0.1, le=1e5)] = 100.0
    """Weak prior (one sigma, zero mean) of a range bias, metres: regularises what the
    geometry leaves unseen."""
    registration_prior_gain: Annotated[float, Meta(ge=1e-7, le=1.0)] = 0.001
    """Prior of a range gain's departure from 1."""
    registration_prior_azimuth_deg: Annotated[float, Meta(ge=1e-4, le=10.0)] = 0.1
    """Prior of an azimuth bias, degrees."""
    registration_prior_time_s: Annotated[float, Meta(ge=1e-3, le=100.0)] = 0.5
    """Prior of a time-stamp offset, seconds (an offset common to every radar cannot be
    seen from pairs: the prior keeps it at zero)."""
    registration_min_allowance_m: Annotated[float, Meta(ge=0.0, le=1000.0)] = 5.0
    """Least range bias allowance of a corrected radar (the estimate's sigma is optimistic:
    successive pairs share plots)."""
    registration_min_allowance_deg: Annotated[float, Meta(ge=0.0, le=1.0)] = 0.005
    """Least azimuth bias allowance of a corrected radar, degrees."""
    registration_output_period_s: Annotated[float, Meta(ge=1.0, le=86400.0)] = 60.0
    """Each radar's estimate is published (``registration`` message) this often, seconds of
    data time."""
