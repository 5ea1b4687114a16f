"""The sections of the configuration: one frozen dataclass each, its keys typed and documented.

A key's type says what msgspec accepts (``Annotated`` bounds, a pattern, a
``parse``); its default is the field's; the docstring under it is what docs/configuration.md
says about it.  A part that has parameters declares them itself and its section is that
declaration ([associate] is ``TrackerParameters``, [handoff] extends ``HandoffParameters``),
so no default is written twice.  ``Config`` lists the sections, each field carrying its TOML
name and how it is written (``_section``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from msgspec import Meta

from gateway.assess.verdict import Thresholds
from gateway.associate.parameters import (
    SdpsSigmaM,
    SigmaAzimuthDeg,
    SigmaRangeM,
    TrackerParameters,
)
from gateway.config.values import (
    Byte,
    ClientId,
    EnvName,
    InputUrlText,
    IpAddress,
    Latitude,
    Longitude,
    MqttInputUrl,
    MqttUrl,
    MqttUrlsText,
    MqttUrlText,
    Name,
    TopicLevel,
    TopicPrefix,
    parse_input_url,
    parse_mqtt_url,
)
from gateway.handoff.parameters import HandoffParameters
from gateway.ingest.url import UdpUrl

_HALF_DAY = 43200.0  # a time of day is ambiguous beyond 12 h either way
# A connection attempt (TCP, then CONNACK) given up after this: [mqtt] connect_timeout_s, and
# the mqtt:// inputs of a gateway with no [mqtt] section.
CONNECT_TIMEOUT_S = 3.0


def shown_default(text: str) -> dict[str, Any]:
    """Field metadata: the default as the reference shows it, where the value (None) would
    not say what happens."""
    return {"default": text}


@dataclass(frozen=True)
class GatewaySection:
    """Who this gateway is."""

    id: TopicLevel
    """This gateway's name. It is a level of MQTT topics (`status/{id}`, see
    docs/messages.md) and appears in the `status` message, so: 1 to 64 characters, none of
    `/`, `+`, `#` or NUL."""


@dataclass(frozen=True)
class RadarConfig:
    """A radar head whose CAT048 plots (and CAT034 service messages) the gateway receives.
    Its position turns range and azimuth into latitude and longitude."""

    sac: Byte
    """System Area Code of the radar's I010."""
    sic: Byte
    """System Identification Code. (`sac`, `sic`) must differ between `[[radar]]` blocks."""
    name: Name
    """For people: logs and status. One printable line, at most 100 characters."""
    lat: Latitude
    """Antenna latitude, degrees WGS-84."""
    lon: Longitude
    """Antenna longitude, degrees WGS-84."""
    alt_m: Annotated[float, Meta(ge=-1000.0, le=10000.0, extra={"what": "an antenna height in m"})]
    """Antenna height above the WGS-84 ellipsoid (not above sea level), metres."""
    sigma_range_m: SigmaRangeM | None = field(
        default=None, metadata=shown_default("`[associate] default_sigma_range_m`"))
    """The radar's slant-range noise (one sigma), metres: the association weighs its plots
    by it (and adds `[associate] default_bias_range_m` for unestimated bias)."""
    sigma_azimuth_deg: SigmaAzimuthDeg | None = field(
        default=None, metadata=shown_default("`[associate] default_sigma_azimuth_deg`"))
    """The radar's azimuth noise (one sigma), degrees (the association adds
    `[associate] default_bias_azimuth_deg`)."""
    cone_deg: Annotated[float, Meta(ge=1.0, le=90.0, extra={"what": "an elevation in deg"})] = 40.0
    """The radar's cone of silence: it sees nothing above this elevation, degrees.  With
    `range_nm` and the radar horizon (4/3 earth, from `alt_m` and the target's level) it
    tells the association where the radar cannot see: a track in a gap no radar covers
    coasts instead of ending (`[associate] hidden_max_s`)."""
    range_nm: Annotated[float, Meta(ge=1.0, le=1000.0, extra={"what": "a range in NM"})] = 250.0
    """The radar's instrumented range (slant), nautical miles (see `cone_deg`)."""


@dataclass(frozen=True)
class SdpsConfig:
    """A surveillance data processor whose CAT062 system tracks (and CAT065 status) the
    gateway receives."""

    sac: Byte
    """System Area Code of the SDPS's I010."""
    sic: Byte
    """System Identification Code. (`sac`, `sic`) must differ between `[[sdps]]` blocks (a
    radar and an SDPS may share a pair: they are told apart by category)."""
    name: Name
    """For people, as for `[[radar]]`."""
    srp_lat: Latitude | None = None
    """Latitude of the system reference point, the origin of the Cartesian position
    I062/100. Give both `srp_lat` and `srp_lon` or neither."""
    srp_lon: Longitude | None = None
    """Longitude of the system reference point."""
    use_i100: bool = field(default=False, metadata=shown_default(
        "`[normalize] use_i100`, where `srp_lat`/`srp_lon` are given; else false"))
    """For a track without the WGS-84 position I062/105: compute its position from I062/100
    through the system reference point (true), or drop it as unplaceable (false). `true`
    needs `srp_lat` and `srp_lon`."""
    # After loading, use_i100 is the effective choice (see load._finish_sdps).
    sigma_m: SdpsSigmaM | None = field(
        default=None, metadata=shown_default("`[associate] default_sdps_sigma_m`"))
    """The accuracy of this SDPS's track positions (one sigma), metres: the association
    weighs its tracks by it."""


@dataclass(frozen=True)
class InputConfig:
    """A live feed for `run` (`normalize` and `replay` take their inputs on the command
    line)."""

    url: InputUrlText
    """`udp://GROUP:PORT[?iface=ADDR&source=ADDR]`: the multicast group (or unicast address)
    and port to listen on; `iface` the IPv4 address of the interface to join on (default:
    the kernel's choice); `source` the sender for source-specific multicast. IPv4 only. Two
    inputs may not name the same endpoint.

    Or `mqtt://HOST[:PORT]/TOPIC-FILTER` (`mqtts://` for TLS): the `plot` and `track`
    batches other gateways (sites) publish, for a centre that associates what they
    normalised (docs/deployment.md), for example `mqtt://broker:1883/site/v1/plots/#`.
    The nodes of a broker cluster, comma-separated, one scheme for all, up to 16
    (`mqtt://broker-a:1883,broker-b:1883/site/v1/plots/#`): the input fails over between
    them in that order, as the `[mqtt]` sink does between `[mqtt] urls` (an input names its
    nodes itself: it need not be on the broker the gateway publishes to). Inputs that share
    a node must name the same nodes in the same order (they share one connection).
    The filter may not match this gateway's own topics (`[mqtt] topic_prefix`), and a
    gateway's inputs are all `udp://` or all `mqtt://`. Credentials, protocol and
    `ca_file` are `[mqtt]`'s. Every payload is hostile: one that is not a batch of this
    format, of a `[[radar]]`/`[[sdps]]` the configuration knows, from the source its topic
    names, is counted and skipped (`gateway_remote_batches_total`)."""

    @property
    def where(self) -> UdpUrl | MqttInputUrl:
        return parse_input_url(self.url)

    @property
    def is_mqtt(self) -> bool:
        return isinstance(self.where, MqttInputUrl)

    @property
    def endpoint(self) -> UdpUrl:
        where = self.where
        if not isinstance(where, UdpUrl):
            raise TypeError(f"{self.url} is not a UDP input")
        return where


@dataclass(frozen=True)
class MqttConfig:
    """Where `run` publishes (`replay --broker URL` publishes too; `--out FILE.jsonl` needs
    no broker). `run` needs this section. The topics and messages are described in
    docs/messages.md."""

    url: MqttUrlText | None = field(
        default=None, metadata=shown_default("none: give `url` or `urls`"))
    """`mqtt://HOST[:PORT]` (port 1883 by default) or `mqtts://HOST[:PORT]` for TLS (8883).
    HOST is a name, an IPv4 address or `[IPv6]`. No path, no query, and no credentials in
    the URL. Give `url` or `urls`, not both."""
    urls: MqttUrlsText = ()
    """The nodes of a clustered broker, 1 to 16 such URLs (docs/deployment.md, "Broker
    cluster"): the gateway connects to the first that answers and, when its connection
    drops, fails over to the next, round robin, with the same backoff; QoS 1 messages not
    yet acknowledged are sent again there, subscriptions made again."""
    topic_prefix: TopicPrefix = "surv/v1"
    """Prepended to every topic (`surv/v1/plots/0-101`). Levels separated by single `/`, no
    `+`, `#` or NUL, not starting with `$` or ending with `/`."""
    username: str | None = None
    """User name for the broker."""
    password: str | None = field(default=None, repr=False)
    """Password for the broker; needs `username`. Prefer `password_env`, which keeps the
    secret out of the file. Never printed."""
    password_env: EnvName | None = None
    """The name of an environment variable holding the password, read when the
    configuration is loaded; unset or empty is an error. Give `password` or `password_env`,
    not both."""
    protocol: Literal["5", "3.1.1"] = "5"
    """`"5"` (MQTT 5) or `"3.1.1"`. Message expiry on `fused/{id}` needs MQTT 5; with 3.1.1
    (NATS's MQTT listener, for one) a retained track state stays until the next update
    supersedes it or the track ends: subscribers judge freshness by its `t` and by the
    gateway's `status` (docs/deployment.md, "Broker cluster")."""
    client_id: ClientId | None = field(
        default=None, metadata=shown_default('`"asterix-gateway-{gateway id}"`'))
    """The MQTT client identifier: 1 to 128 printable ASCII characters, no spaces. Two
    gateways must not share one (the broker would disconnect the first)."""
    keepalive_s: Annotated[int, Meta(ge=5, le=3600)] = 30
    """MQTT keep-alive: how soon the broker notices a dead gateway and publishes its last
    will (`status` offline), after 1.5 times this."""
    connect_timeout_s: Annotated[float, Meta(ge=0.5, le=60.0)] = CONNECT_TIMEOUT_S
    """How long a connection attempt may take, the TCP connect and then the broker's
    CONNACK, each: a node that is dead (no answer) or paused (a cluster electing leaders)
    is given up after this and the next node tried (docs/deployment.md, "Broker cluster").
    The same bound applies to the goodbye sent to a node that stopped answering. The
    `mqtt://` inputs take it too."""
    ca_file: str | None = None
    """With `mqtts://`: a PEM file of the certificate authorities to trust for the broker's
    certificate (default: the system's)."""
    outbox: Annotated[int, Meta(ge=100, le=10_000_000)] = 20_000
    """Messages held for the broker while it is slow or away, per lane: QoS 0 batches (the
    oldest dropped beyond it, counted as `dropped-stream`) and track states (one per
    `fused/{id}` topic; a newer state replaces an unsent older one, counted as
    `coalesced`)."""
    outbox_reliable: Annotated[int, Meta(ge=10, le=1_000_000)] = 10_000
    """QoS 1 messages (`aidc`, `alerts`) held until the broker acknowledges them; kept
    across reconnects, dropped (oldest first, counted as `dropped-reliable`) only beyond
    this."""
    fused_expiry_s: Annotated[int, Meta(ge=1, le=86_400)] = 60
    """MQTT 5 message expiry of the retained `fused/{id}` states: the picture of a gateway
    that died fades by itself."""
    status_interval_s: Annotated[float, Meta(ge=0.5, le=3600.0)] = 10.0
    """How often the retained `status/{gateway}` message (with counters) is refreshed."""
    max_packet_bytes: Annotated[int, Meta(ge=1024, le=268_435_455)] = 65_536
    """The largest MQTT packet the gateway accepts from the broker (MQTT 5 Maximum Packet
    Size, sent when connecting): the broker does not deliver a larger inbound message (an
    AIDC text is at most 1 KiB), so a hostile 20 MB payload never reaches the gateway. With
    MQTT 3.1.1 the broker cannot be told: a larger message is dropped on arrival and
    counted (`dropped-oversize`)."""
    drain_timeout_s: Annotated[float, Meta(ge=0.5, le=3600.0)] = 10.0
    """On SIGTERM or Ctrl-C, how long `run` waits for the broker to take what is still in the
    outbox. The stop is bounded: the process ends about 2 s after this at most, even when
    the broker is connected but silent; what is left is counted and named in one line, and
    the exit status is 3 (docs/commands.md)."""

    @property
    def nodes(self) -> tuple[str, ...]:
        """The broker's URLs, in the order they are tried (one for a single broker)."""
        return self.urls or ((self.url,) if self.url is not None else ())

    @property
    def brokers(self) -> tuple[MqttUrl, ...]:
        return tuple(parse_mqtt_url(u) for u in self.nodes)

    @property
    def broker(self) -> MqttUrl:
        """The first node (the only one for a single broker)."""
        return self.brokers[0]


@dataclass(frozen=True)
class NormalizeConfig:
    """How decoded records become `plot` and `track` messages. Every key is optional."""

    fallback_height_m: Annotated[float, Meta(ge=-1000.0, le=30000.0,
                                             extra={"what": "a height in m"})] = 1500.0
    """Height above the ellipsoid assumed for a plot with neither a Mode C flight level
    (I090) nor a measured height (I110), to project its slant range onto the earth. Such a
    plot's `fl` stays null."""
    height_offset_m: Annotated[float, Meta(ge=-1000.0, le=1000.0,
                                           extra={"what": "a height offset in m"})] = 0.0
    """Added to the pressure altitude (flight level x 30.48 m) to approximate the height
    above the ellipsoid when projecting a plot: roughly the local geoid height plus the mean
    difference between pressure and geometric altitude."""
    max_late_s: Annotated[float, Meta(ge=0.0, le=_HALF_DAY)] = 30.0
    """How far a record's time of day may be behind the reference clock (the capture time,
    or the wall clock live) before the record is counted as out of window instead of placed
    in time."""
    max_early_s: Annotated[float, Meta(ge=0.0, le=_HALF_DAY)] = 5.0
    """How far a record's time of day may be ahead of the reference clock, likewise."""
    use_i100: bool = True
    """The default of `[[sdps]] use_i100` for every SDPS that has a system reference
    point."""
    sectors_per_batch: Annotated[int, Meta(ge=1, le=8)] = 1
    """How many of a radar's antenna sectors make one `plot` batch, and one association
    cycle: its batch closes at every this many sector crossings (CAT034 sector or north
    messages). Each cycle has a fixed cost, and the border capture's sectors hold about
    seven plots each: with 2 it replayed in about 0.8 of the CPU time, with nearly the same
    picture (README, "Service figures"). The cost is latency: a sector's plots wait for the
    next `sectors_per_batch - 1` sectors (at 16 sectors a scan, a 4.8 s radar's sector is
    0.3 s, a 12 s radar's 0.75 s), and a merged batch comes later than the other radars'
    reports of the same moment (beyond `[associate] late_window_s` they are dropped: 333
    of the capture's 62,233 plots at 4, none at 2). Keep 1 live; 2 for replays that look
    for an event. SDPS cycles are never merged."""


@dataclass(frozen=True)
class ServiceConfig:
    """The live shell around the pipeline (`run`). Every key is optional."""

    rcvbuf_bytes: Annotated[int, Meta(ge=64 << 10, le=1 << 30)] = 8 << 20
    """SO_RCVBUF asked for each input socket: a radar's scan arrives as a burst, and the
    default buffer holds about 250 small datagrams. The kernel caps it at
    `net.core.rmem_max` unless the gateway may force it (CAP_NET_ADMIN); the log says what
    was granted, and `gateway_kernel_receive_buffer_errors_total` counts what the kernel
    still dropped."""
    input_queue: Annotated[int, Meta(ge=100, le=10_000_000)] = 50_000
    """Datagrams received but not yet through the pipeline. Beyond it a live datagram is
    dropped and counted (`input-dropped`); replay waits instead."""
    idle_tick_s: Annotated[float, Meta(ge=0.05, le=60.0)] = 1.0
    """When no datagram has come for this long (in the clock's time: the wall clock live,
    the capture's time in replay), the tracker is ticked so that tracks coast and end on
    time."""
    inbound_queue: Annotated[int, Meta(ge=10, le=1_000_000)] = 10_000
    """Inbound AIDC messages received from the broker but not yet handled by the pipeline.
    Beyond it a newly arriving message is dropped and counted
    (`gateway_aidc_inbound_total{outcome="dropped-full"}`); its sender repeats it for want of
    a LAM. So at most this many times `[mqtt] max_packet_bytes` bytes wait."""
    on_task_failure: Literal["restart", "stop"] = "restart"
    """What a task of the service (pipeline, MQTT connection, status reporter) that fails
    with an unforeseen error does: `"restart"` after a backoff (1 s doubling to 30 s), or
    `"stop"` the gateway with exit status 1 and the reason in one line. Either way the
    failure is logged with its traceback, listed on `/health` (503 until the task runs
    again) and counted (`gateway_task_failures_total{task}`)."""
    task_restart_limit: Annotated[int, Meta(ge=0, le=1_000_000)] = 10
    """With `on_task_failure = "restart"`: after this many restarts of one task the gateway
    stops as with `"stop"` (a task that keeps failing will not heal by itself)."""
    remote_hold_s: Annotated[float, Meta(ge=0.0, le=60.0)] = 2.0
    """With `mqtt://` inputs (a centre): how long, in the data's time, a site's batch is
    held so that batches of all sites reach association in the order of their data, as in
    one process (one site may be this far behind another at no cost). The centre's
    picture is this much later. At most `inbound_queue` batches are held."""
    replay_broker_wait_s: Annotated[float, Meta(ge=0.5, le=86_400.0)] = 300.0
    """How long `replay` waits for a broker that is gone (unreachable, or not taking
    messages) before it gives up, names what was not delivered and exits 3
    (`replay --broker-wait S` overrides it). Replay never drops a message otherwise."""


@dataclass(frozen=True)
class MetricsConfig:
    """Prometheus metrics (`GET /metrics`) and a health endpoint (`GET /health`: 200 with a
    JSON body while the broker is connected and nothing fails, 503 otherwise, the body then
    listing each failure and its reason) for `run`. Every key is optional."""

    enabled: bool = True
    """Serve them at all."""
    host: IpAddress = "127.0.0.1"
    """The address to listen on (`"0.0.0.0"` for every interface)."""
    port: Annotated[int, Meta(ge=0, le=65535)] = 9810
    """The TCP port; 0 picks a free one (the log says which)."""


@dataclass(frozen=True)
class WebConfig:
    """The live web map (docs/web.md): a page with the fused tracks, the radars' plots,
    the units and COPs, the handoff states, the AIDC log and the alerts, served by `run`,
    `replay` and `demo` (`--web HOST:PORT` or `--web off` override `enabled`, `host` and
    `port`; `demo` serves it unless told `--web off`). Every key is optional; each bound
    keeps a flood of tracks or a slow browser from costing the gateway memory or time."""

    enabled: bool = False
    """Serve the map (`run`, `replay`)."""
    host: IpAddress = "127.0.0.1"
    """The address to listen on (`"0.0.0.0"` for every interface: the map has no login)."""
    port: Annotated[int, Meta(ge=0, le=65535)] = 8080
    """The TCP port; 0 picks a free one (the URL is printed)."""
    update_s: Annotated[float, Meta(ge=0.1, le=60.0)] = 1.0
    """How often each browser gets an update (wall clock seconds)."""
    client_queue: Annotated[int, Meta(ge=2, le=10_000)] = 16
    """Updates waiting for one browser at most. A browser that falls this far behind is
    disconnected (logged, counted: `gateway_web_clients_dropped_total`); it reconnects by
    itself for a fresh snapshot. The gateway never waits for a browser."""
    max_clients: Annotated[int, Meta(ge=1, le=1000)] = 20
    """Browsers connected at once at most; one more gets 503."""
    max_tracks: Annotated[int, Meta(ge=10, le=100_000)] = 5000
    """Live tracks the map keeps at most (each with a trail of up to 300 positions, about
    7 KiB); beyond it the track silent longest is dropped from the map (counted)."""
    max_plots: Annotated[int, Meta(ge=100, le=1_000_000)] = 20_000
    """Plots kept per radar (those of the last 60 s at most), for the plot layer and for
    the plots behind a track."""
    plots_per_event: Annotated[int, Meta(ge=10, le=100_000)] = 2000
    """Plots per radar in one event at most (the newest are kept)."""
    aidc_log: Annotated[int, Meta(ge=10, le=100_000)] = 500
    """AIDC messages the map's log keeps."""
    alert_log: Annotated[int, Meta(ge=10, le=100_000)] = 200
    """Alerts the map's list keeps."""


@dataclass(frozen=True, kw_only=True)
class HandoffConfig(HandoffParameters):
    """Border coordination (AIDC) for `run`, `replay` and `demo`: the units this gateway
    coordinates for, as the transferring unit (flights leaving them) and as the accepting
    unit (flights entering them), and the neighbouring units it coordinates with. Leave
    the section out and no AIDC message is sent. `airspace` and `database` are the
    configuration's own; every other key is a parameter of the handoff engine
    (gateway/handoff/parameters.py)."""

    airspace: str
    """A GeoJSON file (relative to this configuration's folder) of the units' polygons
    (`kind: "unit"`, `id`, `name`, `country`) and the coordination points on their shared
    boundaries (`kind: "cop"`, `name`, `units`: the two unit ids).
    `captures/border-airspace.geojson` is the border region's."""
    # After loading, airspace and database are paths that work from any directory.
    database: str = ":memory:"
    """An SQLite file (relative to this configuration's folder) for the dialogue state, so
    that a restart neither repeats nor loses a message. It is checked at start (an intact
    SQLite file of the gateway's own, of a layout version it knows, writable): anything
    else is a one-line error and exit 2. `":memory:"` keeps the state in memory only (a
    warning at start: a restart loses the dialogues); an empty value is an error."""


@dataclass(frozen=True)
class StoreConfig:
    """Where a redundant pair of `run` processes keeps what they share: leave it out for
    one process (the handoff's state then goes to `[handoff] database`, SQLite). With
    `url`, two processes with the same `[gateway] id` form a pair: a lease in the
    database decides which one is active (publishes and coordinates); the other, standby,
    computes the same picture and publishes nothing until the lease lapses, then takes
    over (docs/deployment.md)."""

    url: Annotated[str, Meta(pattern=r"^postgres(ql)?://",
                             extra={"what": "a postgresql:// URL"})] | None = None
    """A PostgreSQL connection URL (`postgresql://user:password@host:port/database`)
    shared by the pair: the handoff's state and the lease (it replaces `[handoff]
    database`)."""
    lease_s: Annotated[float, Meta(ge=0.5, le=60.0)] = 3.0
    """The lease lapses this long after the active process last renewed it; the standby
    then takes over. It must be more than twice `renew_s`."""
    renew_s: Annotated[float, Meta(ge=0.1, le=20.0)] = 1.0
    """The active process renews the lease this often."""
    statement_timeout_ms: Annotated[int, Meta(ge=100, le=60_000)] = 2000
    """Every statement on the database waits this long at most (and connecting, in whole
    seconds, at least 1)."""


@dataclass(frozen=True)
class FlightplansConfig:
    """Filed flight plans for a radar-only site (no SDPS sends CAT062 I390): ICAO FPL, CHG,
    CNL and DLA messages (Doc 4444) from a file read at start and/or an MQTT topic, kept on
    file and correlated with fused tracks by callsign and SSR code (docs/flightplans.md).
    A fused track that carries no plan of its own gets the one it correlates with as its
    `fpl`. Leave the section out and no plan is filed. Every key is optional."""

    file: str | None = None
    """A text file of plan messages (relative to this configuration's folder), read once
    at start: each `(` ... `)` is one message; one that does not parse is logged and
    counted (`fpl-refused`), the others are filed. At most 16 MiB."""
    # After loading, file is a path that works from any directory.
    topic: Annotated[str, Meta(pattern=r"^[^+#\x00]{1,256}$",
                               extra={"what": "an MQTT topic without wildcards"})] | None = None
    """An MQTT topic (whole, not under `[mqtt] topic_prefix`, no wildcard) the gateway
    subscribes to for plan messages: each payload is ASCII text of one or more messages.
    Used when the gateway has a broker (`[mqtt]`, `replay --broker`). Every payload is
    hostile: one that is not ASCII text or does not parse is counted
    (`fpl-undecodable`, `fpl-refused`) and skipped."""
    window_before_s: Annotated[float, Meta(ge=0.0, le=_HALF_DAY)] = 3600.0
    """A track may be correlated with a plan from this long before the plan's EOBT."""
    window_after_s: Annotated[float, Meta(ge=0.0, le=_HALF_DAY)] = 3600.0
    """... until this long after its ETA (EOBT plus the total EET of field 16); then the
    plan is dropped from file (`fpl-expired`)."""
    max_plans: Annotated[int, Meta(ge=1, le=1_000_000)] = 10_000
    """Plans on file at most; beyond it the plan whose window ends first is dropped
    (`fpl-evicted`)."""


@dataclass(frozen=True)
class Section:
    """How a ``Config`` field is written in TOML.

    ``many``: an array of tables (``[[name]]``).  ``unique``: keys whose values together
    must differ between the tables of an array.  ``summary``: its line in the reference's
    table of sections.
    """

    name: str
    cls: type
    summary: str
    many: bool = False
    unique: tuple[str, ...] = ()


def _section(name: str, cls: type, summary: str, **kw: Any) -> dict[str, Any]:
    return {"section": Section(name, cls, summary, **kw)}


@dataclass(frozen=True)
class Config:
    """The gateway reads one TOML file (`--config FILE.toml`; commands `normalize`, `replay`,
    `run`, `peer`). It is read strictly: a key or section the gateway does not know, a value
    of the wrong type or out of range, and a duplicate site are errors, never silent
    defaults. Each error is one line naming the file, the line and the key, and the command
    exits with status 2:

    ```
    gw.toml:14: [[radar]] #2 key 'lat': 123.0 is not a latitude (-90..90)
    gw.toml:7: unknown key 'sicc' in [[radar]] #1 (known: sac, sic, name, lat, lon, alt_m, sigma_range_m, sigma_azimuth_deg)
    gw.toml: missing key 'id' in [gateway]
    gw.toml:3: TOML syntax: invalid value (column 7)
    ```

    `[[name]]` sections are arrays of tables: write one block per site or input; `#n` in an
    error counts the blocks of that name from 1. Sections may come in any order. Numbers
    accept integers where a float is expected (`lat = 25`), never strings or booleans;
    integers (`sac`, `sic`) do not accept floats (`0.0`). `nan` and `inf` are refused
    everywhere. A file larger than 1 MiB is refused (it is not a configuration).

    Records from a SAC/SIC that has no `[[radar]]` (CAT048, CAT034) or `[[sdps]]` (CAT062,
    CAT065) cannot be placed on the earth.
    """  # noqa: E501

    gateway: GatewaySection = field(
        metadata=_section("gateway", GatewaySection, "who this gateway is"))
    radars: tuple[RadarConfig, ...] = field(default=(), metadata=_section(
        "radar", RadarConfig, "one per CAT048/CAT034 source", many=True, unique=("sac", "sic")))
    sdps: tuple[SdpsConfig, ...] = field(default=(), metadata=_section(
        "sdps", SdpsConfig, "one per CAT062/CAT065 source", many=True, unique=("sac", "sic")))
    inputs: tuple[InputConfig, ...] = field(default=(), metadata=_section(
        "input", InputConfig, "one per live feed, UDP or MQTT (`run`)", many=True, unique=("url",)))
    mqtt: MqttConfig | None = field(default=None, metadata=_section(
        "mqtt", MqttConfig, "the broker (`run`; `replay --broker` overrides)"))
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig, metadata=_section(
        "normalize", NormalizeConfig, "how records become plots and tracks"))
    associate: TrackerParameters = field(default_factory=TrackerParameters, metadata=_section(
        "associate", TrackerParameters, "how plots and tracks become fused tracks"))
    service: ServiceConfig = field(default_factory=ServiceConfig, metadata=_section(
        "service", ServiceConfig, "input buffers and the clock of `run`"))
    metrics: MetricsConfig = field(default_factory=MetricsConfig, metadata=_section(
        "metrics", MetricsConfig, "Prometheus metrics and the health endpoint of `run`"))
    web: WebConfig = field(default_factory=WebConfig, metadata=_section(
        "web", WebConfig, "the live web map of `run`, `replay` and `demo`"))
    handoff: HandoffConfig | None = field(default=None, metadata=_section(
        "handoff", HandoffConfig, "border coordination (AIDC)"))
    store: StoreConfig = field(default_factory=StoreConfig, metadata=_section(
        "store", StoreConfig, "the database a redundant pair shares (`run`)"))
    flightplans: FlightplansConfig | None = field(default=None, metadata=_section(
        "flightplans", FlightplansConfig, "filed flight plans (FPL) for radar-only sites"))
    assess: Thresholds = field(default_factory=Thresholds, metadata=_section(
        "assess", Thresholds, "the thresholds `assess` holds each radar to"))


def sections() -> dict[str, Section]:
    """Every section by its TOML name, in the order of ``Config``."""
    return {f.metadata["section"].name: f.metadata["section"] for f in dataclasses.fields(Config)}


def settable(cls: type) -> list[dataclasses.Field[Any]]:
    """The fields of a section that the configuration may set: the required ones first (a
    subclass's come after its base's), else in declaration order."""
    fields = [f for f in dataclasses.fields(cls) if f.init and f.metadata.get("settable", True)]
    return sorted(fields, key=lambda f: f.default is not dataclasses.MISSING
                  or f.default_factory is not dataclasses.MISSING)


def section_keys(section: Section) -> tuple[str, ...]:
    """Every key a section accepts."""
    return tuple(f.name for f in settable(section.cls))


def lookup_radar(config: Config, sac: int, sic: int) -> RadarConfig | None:
    return next((r for r in config.radars if r.sac == sac and r.sic == sic), None)


def lookup_sdps(config: Config, sac: int, sic: int) -> SdpsConfig | None:
    return next((s for s in config.sdps if s.sac == sac and s.sic == sic), None)
