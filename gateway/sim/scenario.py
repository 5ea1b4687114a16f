"""The border scenario: radar and SDPS sites, airports, airlines, and traffic parameters.

Sites are at their approximate real locations along the US-Mexico border; SAC/SIC codes,
multicast groups and ports are the project's own.  Everything the simulator does is a
function of these values and a seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class RadarSite:
    """An en-route Mode S radar with co-located PSR, and how it errs."""

    name: str
    sac: int
    sic: int
    lat: float  # degrees WGS-84
    lon: float
    alt_m: float  # antenna height above the ellipsoid
    group: str  # multicast group its CAT048/CAT034 go to
    port: int
    period_s: float  # antenna rotation period
    side: str  # "MX" or "US"
    range_nm: float = 250.0  # instrumented range (SSR / Mode S)
    psr_range_nm: float = 200.0
    sigma_range_m: float = 50.0  # one-sigma measurement noise
    sigma_azimuth_deg: float = 0.065
    bias_range_m: float = 0.0  # fixed systematic error
    bias_azimuth_deg: float = 0.0
    range_gain: float = 1.0  # measured slant range = range_gain * true + bias_range_m + noise
    time_offset_s: float = 0.0  # how late its time stamps (I140) are against true detection
    pd_modes: float = 0.98  # detection probability by kind of reply
    pd_ssr: float = 0.96
    pd_psr: float = 0.90  # at short range; falls off towards psr_range_nm
    cone_deg: float = 40.0  # cone of silence: no detection above this elevation
    min_range_nm: float = 0.5  # blind zone around the antenna (transmit pulse, ground clutter)
    sectors: int = 16  # CAT034 sector crossings per scan
    false_plots_per_scan: float = 4.0  # PSR clutter
    # heavy clutter in one azimuth sector (degrees from, to; plots a scan there): off by
    # default, so the shipped captures' random streams are untouched
    clutter_sector_deg: tuple[float, float] = (0.0, 0.0)
    clutter_sector_per_scan: float = 0.0
    track_drop_rate: float = 0.002  # chance per plot that the local track is re-initialised


@dataclass(frozen=True)
class SdpsSite:
    """A surveillance data processor publishing CAT062 system tracks and CAT065 status."""

    name: str
    sac: int
    sic: int
    group: str
    port: int
    period_s: float  # track update period
    side: str
    srp_lat: float  # system reference point of I062/100
    srp_lon: float
    sigma_m: float = 40.0  # track position error, one sigma
    margin_deg: float = 0.5  # how far across the border its area of responsibility reaches


@dataclass(frozen=True)
class Airport:
    icao: str
    lat: float
    lon: float
    elev_m: float
    country: str  # "MX" or "US"


@dataclass(frozen=True)
class Overflight:
    """A flight routed straight over a radar at a level, passing over it at a fraction of the
    run: it crosses that radar's cone of silence, where (low enough) no other radar sees it."""

    radar: str  # RadarSite.name
    fl: float  # flight level it stays at
    course_deg: float  # direction it crosses the radar in
    at: float  # fraction of the run's duration at which it is overhead
    gs_kt: float  # its speed: slow and low makes a long gap
    transponder: str = "modes"  # "modes" | "modeac"


@dataclass(frozen=True)
class Scenario:
    name: str
    radars: tuple[RadarSite, ...]
    sdps: tuple[SdpsSite, ...]
    airports: tuple[Airport, ...]
    airlines: tuple[tuple[str, str], ...]  # (ICAO designator, country)
    aircraft_types: tuple[tuple[str, str, float], ...]  # (ICAO type, wake category, cruise kt)
    flights_per_hour: float
    region: tuple[float, float, float, float] = (25.0, 34.0, -118.0, -95.0)  # S N W E
    start_utc: float = 1779868800.0  # 2026-05-27 08:00:00 UTC: capture timestamps start here
    # Shares of the traffic by transponder and by behaviour.
    share_modeac: float = 0.08  # Mode A/C only transponders
    primary_only_per_hour: float = 6.0  # slow, low, no transponder, crossing the border
    turnback_share: float = 0.04  # flights that approach the border and turn back
    squawk_change_share: float = 0.1
    extras: dict[str, float] = field(default_factory=dict)
    # What the radar-only tracker must cope with (all off by default, and off in `border`,
    # whose shipped capture must stay what it is).  Drawn from their own random stream.
    drones_per_hour: float = 0.0  # slow (40-150 kt) low (< 2,000 ft AGL) primary-only targets
    manoeuvring_flights: int = 0  # transponder flights with 3 deg/s turns, holds, fast climbs
    overflights: tuple[Overflight, ...] = ()  # routed straight over a radar's cone of silence


BORDER = Scenario(
    name="border",
    radars=(
        RadarSite("Monterrey", 0, 101, 25.7785, -100.1069, 520.0, "232.1.1.101", 21101, 6.0,
                  "MX", sigma_range_m=45.0, sigma_azimuth_deg=0.06, bias_range_m=18.0,
                  bias_azimuth_deg=0.02),
        RadarSite("Chihuahua", 0, 102, 28.7030, -105.9650, 1420.0, "232.1.1.102", 21102, 8.0,
                  "MX", sigma_range_m=60.0, sigma_azimuth_deg=0.07, bias_range_m=-25.0,
                  bias_azimuth_deg=-0.03),
        RadarSite("Hermosillo", 0, 103, 29.0959, -111.0480, 190.0, "232.1.1.103", 21103, 10.0,
                  "MX", sigma_range_m=70.0, sigma_azimuth_deg=0.08, bias_range_m=30.0,
                  bias_azimuth_deg=0.01),
        RadarSite("Tijuana", 0, 104, 32.5411, -116.9701, 150.0, "232.1.1.104", 21104, 4.8,
                  "MX", sigma_range_m=40.0, sigma_azimuth_deg=0.05, bias_range_m=-12.0,
                  bias_azimuth_deg=0.025),
        RadarSite("El Paso", 1, 11, 31.8067, -106.3778, 1250.0, "232.1.2.11", 22011, 12.0,
                  "US", sigma_range_m=35.0, sigma_azimuth_deg=0.055, bias_range_m=10.0,
                  bias_azimuth_deg=-0.015),
        RadarSite("Laredo", 1, 12, 27.5438, -99.4616, 160.0, "232.1.2.12", 22012, 4.6,
                  "US", sigma_range_m=30.0, sigma_azimuth_deg=0.05, bias_range_m=-8.0,
                  bias_azimuth_deg=0.02),
        RadarSite("Tucson", 1, 13, 32.1161, -110.9410, 800.0, "232.1.2.13", 22013, 10.0,
                  "US", sigma_range_m=50.0, sigma_azimuth_deg=0.06, bias_range_m=20.0,
                  bias_azimuth_deg=-0.02),
        RadarSite("San Diego", 1, 14, 32.8540, -116.4160, 1900.0, "232.1.2.14", 22014, 12.0,
                  "US", sigma_range_m=45.0, sigma_azimuth_deg=0.065, bias_range_m=-20.0,
                  bias_azimuth_deg=0.01),
    ),
    sdps=(
        SdpsSite("SENEAM SDPS", 0, 200, "232.1.1.200", 21200, 4.0, "MX", 27.0, -106.0),
        SdpsSite("FAA SDPS", 1, 200, "232.1.2.200", 22200, 5.0, "US", 31.5, -106.0),
    ),
    airports=(
        Airport("MMMX", 19.4363, -99.0721, 2230.0, "MX"),
        Airport("MMMY", 25.7785, -100.1069, 390.0, "MX"),
        Airport("MMCU", 28.7029, -105.9646, 1360.0, "MX"),
        Airport("MMHO", 29.0959, -111.0480, 190.0, "MX"),
        Airport("MMTJ", 32.5411, -116.9701, 150.0, "MX"),
        Airport("MMGL", 20.5218, -103.3112, 1530.0, "MX"),
        Airport("MMMZ", 23.1614, -106.2661, 11.0, "MX"),
        Airport("MMCS", 31.6361, -106.4289, 1200.0, "MX"),
        Airport("MMTC", 25.5683, -103.4107, 1120.0, "MX"),
        Airport("MMNL", 27.4439, -99.5705, 150.0, "MX"),
        Airport("KELP", 31.8072, -106.3778, 1206.0, "US"),
        Airport("KLRD", 27.5438, -99.4616, 155.0, "US"),
        Airport("KTUS", 32.1161, -110.9410, 806.0, "US"),
        Airport("KSAN", 32.7336, -117.1897, 5.0, "US"),
        Airport("KPHX", 33.4343, -112.0116, 346.0, "US"),
        Airport("KDFW", 32.8998, -97.0403, 185.0, "US"),
        Airport("KIAH", 29.9902, -95.3368, 30.0, "US"),
        Airport("KSAT", 29.5337, -98.4698, 247.0, "US"),
        Airport("KLAX", 33.9416, -118.4085, 38.0, "US"),
        Airport("KABQ", 35.0402, -106.6090, 1630.0, "US"),
    ),
    airlines=(("AMX", "MX"), ("VIV", "MX"), ("VOI", "MX"), ("AIJ", "MX"), ("AAL", "US"),
              ("UAL", "US"), ("DAL", "US"), ("SWA", "US"), ("ASA", "US"), ("SKW", "US")),
    aircraft_types=(("B738", "M", 450.0), ("A320", "M", 447.0), ("A321", "M", 450.0),
                    ("B38M", "M", 453.0), ("E190", "M", 430.0), ("B789", "H", 488.0),
                    ("CRJ9", "M", 440.0), ("B77W", "H", 490.0)),
    flights_per_hour=300.0,
)


def _radar_errors(site: RadarSite) -> RadarSite:
    """Border-radars: 20 clutter plots a scan everywhere; range gains of a few parts in ten
    thousand (tens of metres at 100 km) and time stamps late by tens to 200 ms on some radars,
    besides the range and azimuth biases they all have."""
    gain, offset = {
        "Monterrey": (1.0003, 0.080), "Chihuahua": (1.0, 0.150), "Hermosillo": (1.0005, 0.0),
        "Tijuana": (1.0002, 0.040), "El Paso": (0.9997, 0.0), "Laredo": (1.0, 0.200),
        "Tucson": (1.0004, 0.120), "San Diego": (1.0, 0.0),
    }[site.name]
    return replace(site, false_plots_per_scan=20.0, range_gain=gain, time_offset_s=offset)


# The border, as a multi-radar tracker without SDPS has to take it: the same sites and traffic,
# plus clutter, drones, sharp manoeuvres, cone-of-silence overflights and radars whose range
# gain and clock are off.  captures/border-radars.toml is its radar-only configuration.
BORDER_RADARS = replace(
    BORDER, name="border-radars", radars=tuple(_radar_errors(r) for r in BORDER.radars),
    drones_per_hour=24.0, manoeuvring_flights=6,
    overflights=(
        # Low and slow over Hermosillo: no other radar sees that low there (Tucson's horizon
        # ends short of it), so nothing sees them for about a minute.
        Overflight("Hermosillo", 80.0, 20.0, 0.35, 160.0, "modeac"),
        Overflight("Hermosillo", 60.0, 110.0, 0.6, 140.0, "modes"),
        # High over Monterrey, El Paso and Tucson: Laredo, Chihuahua and Hermosillo see them.
        Overflight("Monterrey", 250.0, 300.0, 0.45, 430.0, "modes"),
        Overflight("El Paso", 200.0, 70.0, 0.55, 380.0, "modeac"),
        Overflight("Tucson", 330.0, 190.0, 0.7, 450.0, "modeac"),
    ),
)

# What ``degrade`` does to a radar: the faults a feed assessment must find (issue 18).
DEGRADED_TIME_OFFSET_S = 0.5
DEGRADED_AZIMUTH_BIAS_DEG = 0.2
DEGRADED_PD = 0.7
DEGRADED_CLUTTER_SECTOR_DEG = (90.0, 112.5)
DEGRADED_CLUTTER_PER_SCAN = 150.0


def degrade(scenario: Scenario, name: str) -> Scenario:
    """The scenario with radar ``name`` made unfit to join a network: its clock 0.5 s late,
    its azimuth 0.2 deg off, a probability of detection of 0.7 for every kind of reply and
    150 clutter plots a scan in one sector.  Why: ``assess`` must find and name such a
    radar among sound ones (tests/test_assess.py); everything else stays as it was."""
    names = [r.name for r in scenario.radars]
    if name not in names:
        raise ValueError(f"no radar {name!r} in scenario {scenario.name!r}; have {names}")
    radars = tuple(replace(
        r, time_offset_s=DEGRADED_TIME_OFFSET_S, bias_azimuth_deg=DEGRADED_AZIMUTH_BIAS_DEG,
        pd_modes=DEGRADED_PD, pd_ssr=DEGRADED_PD, pd_psr=DEGRADED_PD,
        clutter_sector_deg=DEGRADED_CLUTTER_SECTOR_DEG,
        clutter_sector_per_scan=DEGRADED_CLUTTER_PER_SCAN) if r.name == name else r
        for r in scenario.radars)
    return replace(scenario, radars=radars)


SCENARIOS: dict[str, Scenario] = {BORDER.name: BORDER, BORDER_RADARS.name: BORDER_RADARS}
