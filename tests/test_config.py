"""The configuration loader: valid files load, every mistake is one line naming line and key.

Error cases are written as edits of one valid file; the edited line carries a ``# <-`` marker
and the error must name that line.  The shipped border configuration and the configuration
reference are held to the simulator's scenario, so the three cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.associate.build import tracker_from_config
from gateway.associate.parameters import TrackerParameters
from gateway.config import (
    MAX_SIZE,
    Config,
    ConfigError,
    MqttConfig,
    MqttUrl,
    NormalizeConfig,
    RadarConfig,
    SdpsConfig,
    load,
    loads,
    lookup_radar,
    lookup_sdps,
    parse_mqtt_url,
    section_keys,
    sections,
)
from gateway.handoff.parameters import HandoffParameters
from gateway.ingest.url import UdpUrl
from gateway.sim.scenario import BORDER, BORDER_RADARS

ROOT = Path(__file__).resolve().parent.parent
BORDER_TOML = ROOT / "captures" / "border.toml"
BORDER_RADARS_TOML = ROOT / "captures" / "border-radars.toml"
REFERENCE = ROOT / "docs" / "configuration.md"
MARK = "# <-"

BASE = """\
[gateway]
id = "gw-test"

[[radar]]
sac = 0
sic = 101
name = "Monterrey"
lat = 25.7785
lon = -100.1069
alt_m = 520.0

[[radar]]
sac = 1
sic = 11
name = "El Paso"
lat = 31.8067
lon = -106.3778
alt_m = 1250.0

[[sdps]]
sac = 0
sic = 200
name = "SENEAM SDPS"
srp_lat = 27.0
srp_lon = -106.0

[[input]]
url = "udp://232.1.1.101:21101?iface=127.0.0.1"

[mqtt]
url = "mqtt://127.0.0.1:1883"
"""


def edit(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def marked_line(text: str) -> int:
    lines = [n for n, line in enumerate(text.split("\n"), 1) if MARK in line]
    assert len(lines) == 1
    return lines[0]


def error(text: str, **kw: object) -> str:
    with pytest.raises(ConfigError) as info:
        loads(text, "gw.toml", **kw)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message and "\r" not in message and message.isprintable(), message
    assert message.startswith("gw.toml:"), message
    return message


def test_base_loads() -> None:
    config = loads(BASE, "gw.toml")
    assert config.gateway.id == "gw-test"
    assert [(r.sac, r.sic, r.name) for r in config.radars] == [(0, 101, "Monterrey"),
                                                               (1, 11, "El Paso")]
    assert config.radars[0] == RadarConfig(sac=0, sic=101, name="Monterrey", lat=25.7785,
                                           lon=-100.1069, alt_m=520.0)
    assert config.sdps == (SdpsConfig(sac=0, sic=200, name="SENEAM SDPS", srp_lat=27.0,
                                      srp_lon=-106.0, use_i100=True),)
    assert config.inputs[0].endpoint == UdpUrl("232.1.1.101", 21101, "127.0.0.1")
    assert config.mqtt == MqttConfig(url="mqtt://127.0.0.1:1883")
    assert config.mqtt.topic_prefix == "surv/v1" and config.mqtt.password is None
    assert config.mqtt.broker == MqttUrl(False, "127.0.0.1", 1883)
    assert config.normalize == NormalizeConfig()
    assert config.normalize.fallback_height_m == 1500.0 and config.normalize.use_i100


def test_minimal_examples() -> None:
    config = loads('[gateway]\nid = "x"\n')
    assert config == Config(gateway=config.gateway)
    assert config.radars == config.sdps == config.inputs == () and config.mqtt is None
    minimal = re.search(r"## Minimal example.*?```toml\n(.*?)```", REFERENCE.read_text(),
                        re.DOTALL)
    assert minimal is not None
    config = loads(minimal[1])
    assert config.gateway.id == "mty-gw-1" and config.radars[0].name == "Monterrey"
    assert config.sdps[0].srp_lat is None and not config.sdps[0].use_i100


def test_integers_accepted_for_floats_and_types_converted() -> None:
    config = loads(edit("lat = 25.7785", "lat = 25"))
    assert config.radars[0].lat == 25.0 and type(config.radars[0].lat) is float


def test_lookup() -> None:
    config = loads(BASE)
    assert lookup_radar(config, 1, 11) is config.radars[1]
    assert lookup_radar(config, 0, 200) is None
    assert lookup_sdps(config, 0, 200) is config.sdps[0]
    assert lookup_sdps(config, 0, 101) is None


UDP = 'url = "udp://232.1.1.101:21101?iface=127.0.0.1"'
MQTT = 'url = "mqtt://127.0.0.1:1883"'

# (what, old, new, expected text after "gw.toml:LINE: ")
CASES = [
    ("unknown key", "sic = 101", f"sicc = 101 {MARK}",
     "unknown key 'sicc' in [[radar]] #1 (known: sac, sic, name, lat, lon, alt_m, sigma_range_m, "
     "sigma_azimuth_deg, cone_deg, range_nm)"),
    ("unknown key in second radar", "alt_m = 1250.0", f"alt_m = 1250.0\nrange_km = 460 {MARK}",
     "unknown key 'range_km' in [[radar]] #2"),
    ("unknown quoted key", 'id = "gw-test"', f'id = "gw-test"\n"i d" = 1 {MARK}',
     "unknown key 'i d' in [gateway]"),
    ("unknown section", "[mqtt]", f"[mqttt] {MARK}", "unknown section [mqttt]"),
    ("unknown array section", "[[input]]", f"[[inputs]] {MARK}", "unknown section [inputs]"),
    ("unknown top-level key", "[gateway]", f"debug = true {MARK}\n[gateway]",
     "unknown top-level key 'debug'"),
    ("unknown sub-table", "[mqtt]", f"[gateway.extra] {MARK}\nx = 1\n[mqtt]",
     "unknown key 'extra' in [gateway]"),
    ("missing key", "lon = -106.3778\n", "", "missing key 'lon' in [[radar]] #2"),
    ("lat range", "lat = 31.8067", f"lat = 123.0 {MARK}",
     "[[radar]] #2 key 'lat': 123.0 is not a latitude (-90..90)"),
    ("lon range", "lon = -100.1069", f"lon = 180.5 {MARK}",
     "[[radar]] #1 key 'lon': 180.5 is not a longitude (-180..180)"),
    ("lat nan", "lat = 25.7785", f"lat = nan {MARK}", "key 'lat': nan is not a latitude"),
    ("lat inf", "lat = 25.7785", f"lat = -inf {MARK}", "key 'lat': -inf is not a latitude"),
    ("alt range", "alt_m = 520.0", f"alt_m = 20000 {MARK}", "key 'alt_m': 20000 is not an"),
    ("sac range", "sac = 1", f"sac = 256 {MARK}", "[[radar]] #2 key 'sac': 256 is not in 0..255"),
    ("sic negative", "sic = 200", f"sic = -1 {MARK}", "[[sdps]] #1 key 'sic': -1 is not in"),
    ("huge integer", "sic = 200", f"sic = 9223372036854775807 {MARK}", "key 'sic': 92233"),
    ("lat string", "lat = 25.7785", f'lat = "25.7785" {MARK}',
     "key 'lat': expected a number, got string '25.7785'"),
    ("sac float", "sac = 0\nsic = 101", f"sac = 0.0 {MARK}\nsic = 101",
     "key 'sac': expected an integer, got float 0.0"),
    ("bool for number", "lat = 25.7785", f"lat = true {MARK}",
     "key 'lat': expected a number, got boolean true"),
    ("bool for integer", "sac = 1", f"sac = false {MARK}",
     "key 'sac': expected an integer, got boolean false"),
    ("array for number", "lat = 25.7785", f"lat = [25.7785] {MARK}",
     "key 'lat': expected a number, got an array"),
    ("table for string", 'name = "El Paso"', f"name = {{a = 1}} {MARK}",
     "key 'name': expected a string, got a table"),
    ("date for number", "lat = 25.7785", f"lat = 2026-05-27 {MARK}",
     "key 'lat': expected a number, got date 2026-05-27"),
    ("empty name", 'name = "El Paso"', f'name = "  " {MARK}', "key 'name': must not be empty"),
    ("name with newline", 'name = "El Paso"', f'name = "El\\nPaso" {MARK}',
     "key 'name': 'El\\nPaso' is not a name"),
    ("duplicate radar", "sac = 1\nsic = 11", f"sac = 0\nsic = 101 {MARK}",
     "[[radar]] #2 key 'sic': sac 0 sic 101 repeats [[radar]] #1"),
    ("duplicate sdps", "[[input]]",
     f'[[sdps]]\nsac = 0\nsic = 200 {MARK}\nname = "again"\n\n[[input]]',
     "[[sdps]] #2 key 'sic': sac 0 sic 200 repeats [[sdps]] #1"),
    ("duplicate input", "[mqtt]",
     f'[[input]]\nurl = "udp://232.1.1.101:21101/?iface=127.0.0.1" {MARK}\n[mqtt]',
     "[[input]] #2 key 'url': 'udp://232.1.1.101:21101?iface=127.0.0.1' repeats [[input]] #1"),
    ("input not udp", UDP, f'url = "tcp://232.1.1.101:21101" {MARK}',
     "[[input]] #1 key 'url': 'tcp://232.1.1.101:21101': expected udp://"),
    ("input host name", UDP, f'url = "udp://radar.local:21101" {MARK}',
     "key 'url': 'udp://radar.local:21101': group 'radar.local' is not an IPv4 address"),
    ("input port", UDP, f'url = "udp://232.1.1.101:0" {MARK}',
     "key 'url': 'udp://232.1.1.101:0': port '0' is not a number in 1..65535"),
    ("input parameter", UDP, f'url = "udp://232.1.1.101:1?ifcae=1.2.3.4" {MARK}',
     "unknown parameter 'ifcae'"),
    ("mqtt scheme", MQTT, f'url = "http://127.0.0.1:1883" {MARK}',
     "[mqtt] key 'url': 'http://127.0.0.1:1883': expected mqtt://HOST[:PORT]"),
    ("mqtt port", MQTT, f'url = "mqtt://127.0.0.1:65536" {MARK}',
     "[mqtt] key 'url': 'mqtt://127.0.0.1:65536': port '65536' is not a number in 1..65535"),
    ("mqtt no host", MQTT, f'url = "mqtt://:1883" {MARK}',
     "[mqtt] key 'url': 'mqtt://:1883': missing host"),
    ("mqtt path", MQTT, f'url = "mqtt://h:1883/topic" {MARK}', "no path, query or fragment"),
    ("mqtt protocol", MQTT, f'{MQTT}\nprotocol = "3" {MARK}',
     "[mqtt] key 'protocol': '3' is not one of '5', '3.1.1'"),
    ("mqtt protocol number", MQTT, f'{MQTT}\nprotocol = 5 {MARK}',
     "[mqtt] key 'protocol': expected a string, got integer 5"),
    ("mqtt client id", MQTT, f'{MQTT}\nclient_id = "gw 1" {MARK}',
     "[mqtt] key 'client_id': 'gw 1' is not a client id"),
    ("mqtt outbox", MQTT, f'{MQTT}\noutbox = 10 {MARK}',
     "[mqtt] key 'outbox': 10 is not in 100..10000000"),
    ("service queue", "[mqtt]", f"[service]\ninput_queue = 0 {MARK}\n[mqtt]",
     "[service] key 'input_queue': 0 is not in 100..10000000"),
    ("metrics host", "[mqtt]", f'[metrics]\nhost = "localhost" {MARK}\n[mqtt]',
     "[metrics] key 'host': 'localhost' is not an IP address"),
    ("metrics port", "[mqtt]", f"[metrics]\nport = 70000 {MARK}\n[mqtt]",
     "[metrics] key 'port': 70000 is not in 0..65535"),
    ("mqtt credentials", MQTT, f'url = "mqtt://u:p@h" {MARK}', "credentials go in username"),
    ("mqtt bad ipv4", MQTT, f'url = "mqtt://127.0.0.300" {MARK}',
     "'127.0.0.300' is not an IPv4"),
    ("mqtt bad host", MQTT, f'url = "mqtt://bro_ker" {MARK}', "'bro_ker' is not a host name"),
    ("mqtt url type", 'url = "mqtt://127.0.0.1:1883"', f"url = 1883 {MARK}",
     "[mqtt] key 'url': expected a string, got integer 1883"),
    ("topic prefix wildcard", 'url = "mqtt://127.0.0.1:1883"',
     f'url = "mqtt://127.0.0.1:1883"\ntopic_prefix = "surv/#" {MARK}',
     "[mqtt] key 'topic_prefix': 'surv/#' is not a topic prefix"),
    ("topic prefix trailing slash", 'url = "mqtt://127.0.0.1:1883"',
     f'url = "mqtt://127.0.0.1:1883"\ntopic_prefix = "surv/" {MARK}', "is not a topic prefix"),
    ("gateway id empty", 'id = "gw-test"', f'id = "" {MARK}',
     "[gateway] key 'id': '' cannot be an MQTT topic level"),
    ("gateway id slash", 'id = "gw-test"', f'id = "gw/1" {MARK}', "'gw/1' cannot be an MQTT"),
    ("gateway id plus", 'id = "gw-test"', f'id = "gw+" {MARK}', "cannot be an MQTT topic level"),
    ("gateway id hash", 'id = "gw-test"', f'id = "#" {MARK}', "cannot be an MQTT topic level"),
    ("gateway id nul", 'id = "gw-test"', f'id = "gw\\u0000" {MARK}',
     "[gateway] key 'id': 'gw\\x00' cannot be an MQTT topic level"),
    ("gateway id long", 'id = "gw-test"', f'id = "{"g" * 65}" {MARK}', "cannot be an MQTT"),
    ("srp half", "srp_lon = -106.0\n", "",
     "[[sdps]] #1 key 'srp_lat': needs 'srp_lon' too"),
    ("use_i100 without srp", "srp_lat = 27.0\nsrp_lon = -106.0",
     f"use_i100 = true {MARK}", "[[sdps]] #1 key 'use_i100': true needs srp_lat and srp_lon"),
    ("use_i100 type", "srp_lon = -106.0", f"srp_lon = -106.0\nuse_i100 = 1 {MARK}",
     "[[sdps]] #1 key 'use_i100': expected true or false, got integer 1"),
    ("normalize unknown", "[mqtt]", f"[normalize]\nfallback_height = 1000 {MARK}\n[mqtt]",
     "unknown key 'fallback_height' in [normalize]"),
    ("normalize range", "[mqtt]", f"[normalize]\nmax_late_s = -1 {MARK}\n[mqtt]",
     "[normalize] key 'max_late_s': -1 is not in 0..43200"),
    ("normalize type", "[mqtt]", f"[normalize]\nuse_i100 = 'yes' {MARK}\n[mqtt]",
     "[normalize] key 'use_i100': expected true or false, got string 'yes'"),
    ("password both", 'url = "mqtt://127.0.0.1:1883"',
     f'url = "mqtt://127.0.0.1:1883"\nusername = "u"\npassword = "p"\npassword_env = "P" {MARK}',
     "[mqtt] key 'password_env': give password or password_env, not both"),
    ("password env unset", 'url = "mqtt://127.0.0.1:1883"',
     f'url = "mqtt://127.0.0.1:1883"\nusername = "u"\npassword_env = "NOT_SET" {MARK}',
     "[mqtt] key 'password_env': environment variable 'NOT_SET' is not set or empty"),
    ("password env name", 'url = "mqtt://127.0.0.1:1883"',
     f'url = "mqtt://127.0.0.1:1883"\nusername = "u"\npassword_env = "A B" {MARK}',
     "[mqtt] key 'password_env': 'A B' is not an environment variable name"),
    ("password without user", 'url = "mqtt://127.0.0.1:1883"',
     f'url = "mqtt://127.0.0.1:1883"\npassword = "p" {MARK}',
     "[mqtt] key 'password': a password needs a username too"),
    ("syntax", "lat = 25.7785", f"lat = 25.77.85 {MARK}", "TOML syntax: "),
    ("syntax duplicate key", "sic = 101", f"sic = 101\nsic = 102 {MARK}", "TOML syntax: "),
    ("syntax duplicate table", "[mqtt]", f"[gateway] {MARK}\n[mqtt]", "TOML syntax: cannot"),
]


@pytest.mark.parametrize("old,new,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_errors_name_line_and_key(old: str, new: str, expected: str) -> None:
    text = edit(old, new)
    message = error(text, env={})
    line = marked_line(text) if MARK in text else None
    prefix = f"gw.toml:{line}: " if line else "gw.toml:"
    assert message.startswith(prefix), (message, prefix)
    assert expected in message, message


def test_missing_key_names_the_table_header() -> None:
    text = edit("lon = -106.3778\n", "")
    assert error(text) == "gw.toml:12: missing key 'lon' in [[radar]] #2"
    assert error('[gateway]\nname = "x"\n').startswith("gw.toml:2: unknown key 'name'")
    assert error("[gateway] # here\n# id = 'x'\n") == "gw.toml:1: missing key 'id' in [gateway]"


def test_missing_gateway_has_no_line() -> None:
    with pytest.raises(ConfigError) as info:
        loads(edit('[gateway]\nid = "gw-test"\n', ""), "gw.toml")
    assert str(info.value) == "gw.toml: missing key 'id' in [gateway]"
    with pytest.raises(ConfigError, match=r"^gw\.toml: missing key 'id' in \[gateway\]$"):
        loads("", "gw.toml")


def test_shape_errors() -> None:
    assert error('[gateway]\nid = "x"\n[radar] # <-\nsac = 1\n') == (
        "gw.toml:3: [radar] must be an array of tables: write [[radar]]")
    assert error('[[gateway]]\nid = "x"\n') == (
        "gw.toml:1: [[gateway]] must be a single table: write [gateway]")
    assert error('gateway = "x"\n') == "gw.toml:1: 'gateway' must be a table: write [gateway]"
    assert error('radar = [1]\n[gateway]\nid = "x"\n') == "gw.toml:1: [[radar]] #1 must be a table"


def test_inline_and_dotted_tables_locate_errors() -> None:
    # keys without a line of their own are reported at the line that holds them
    assert error('gateway = {id = "a/b"}\n').startswith("gw.toml:1: [gateway] key 'id'")
    assert error('gateway.id = "x"\ngateway.idd = 1\n').startswith(
        "gw.toml:2: unknown key 'idd' in [gateway]")
    text = ('input = [{url = "udp://232.1.1.1:1"}, {url = "udp://232.1.1.1:2", x = 1}]\n'
            '[gateway]\nid = "x"\n')
    assert error(text).startswith("gw.toml:1: unknown key 'x' in [[input]] #2")


def test_multiline_values_do_not_confuse_line_numbers() -> None:
    # a [[radar]] header and keys inside strings and arrays must not be taken for real ones
    text = edit('name = "Monterrey"', 'name = """\\\n  sac = 99 \\\n  [[radar]] \\\n  Monterrey"""')
    text = edit("lat = 31.8067", "lat = 931.8067 # <-", text)
    assert error(text).startswith(f"gw.toml:{marked_line(text)}: [[radar]] #2 key 'lat'")
    text = """\
[gateway]
id = "x"
[mqtt]
url = "mqtt://h"
username = '''u
[[radar]]
sac = 5'''
password = '''a''' # '''
[[radar]]
sac = 300 # <-
"""
    assert error(text).startswith(f"gw.toml:{marked_line(text)}: [[radar]] #1 key 'sac'")
    text = """\
[normalize]
bogus = [
  ["gateway"],
  ["radar"], # ]]
]

[gateway] # <-
"""
    assert error(text) == f"gw.toml:{marked_line(text)}: missing key 'id' in [gateway]"


def test_syntax_errors_are_reworded() -> None:
    message = error('[gateway]\nid = "x"\nlat = 25.7.8\n')
    assert re.fullmatch(r"gw\.toml:3: TOML syntax: [a-z].* \(column \d+\)", message), message
    message = error('[gateway]\nid = "x\n')
    assert re.fullmatch(r"gw\.toml:2: TOML syntax: .+", message), message
    message = error('[gateway]\nid = \n')
    assert message.startswith("gw.toml:2: TOML syntax: invalid value"), message
    message = error('[gateway]\nid = "x"\nlist = [1,\n')
    assert message.startswith("gw.toml:4: TOML syntax: "), message
    message = error("a = 1\x00\n")
    assert message.startswith("gw.toml:1: TOML syntax: "), message


def test_password_env_resolves_and_stays_out_of_repr() -> None:
    text = edit('url = "mqtt://127.0.0.1:1883"',
                'url = "mqtts://broker.example.org"\nusername = "gw"\npassword_env = "GW_PW"')
    config = loads(text, env={"GW_PW": "s3cret-value"})
    assert config.mqtt is not None and config.mqtt.password == "s3cret-value"
    assert config.mqtt.username == "gw"
    assert config.mqtt.broker == MqttUrl(True, "broker.example.org", 8883)
    assert "s3cret" not in repr(config) and "s3cret" not in str(config.mqtt)
    plain = loads(edit('url = "mqtt://127.0.0.1:1883"',
                       'url = "mqtt://[::1]:1884"\nusername = "u"\npassword = "hunter2"'))
    assert plain.mqtt is not None and plain.mqtt.password == "hunter2"
    assert "hunter2" not in repr(plain)
    assert plain.mqtt.broker == MqttUrl(False, "::1", 1884)


def test_password_env_uses_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_TEST_PASSWORD", "from-env")
    text = edit('url = "mqtt://127.0.0.1:1883"',
                'url = "mqtt://h"\nusername = "u"\npassword_env = "GW_TEST_PASSWORD"')
    config = loads(text)
    assert config.mqtt is not None and config.mqtt.password == "from-env"
    monkeypatch.setenv("GW_TEST_PASSWORD", "")
    with pytest.raises(ConfigError, match="'GW_TEST_PASSWORD' is not set or empty"):
        loads(text)


def test_use_i100_inherits_from_normalize() -> None:
    no_srp = '[gateway]\nid = "x"\n[[sdps]]\nsac = 0\nsic = 1\nname = "a"\n'
    with_srp = no_srp.replace('name = "a"', 'name = "a"\nsrp_lat = 1\nsrp_lon = 2')
    assert not loads(no_srp).sdps[0].use_i100
    assert loads(with_srp).sdps[0].use_i100
    assert not loads(with_srp + "[normalize]\nuse_i100 = false\n").sdps[0].use_i100
    assert not loads(with_srp + "use_i100 = false\n").sdps[0].use_i100
    assert loads(with_srp + "use_i100 = true\n[normalize]\nuse_i100 = false\n").sdps[0].use_i100
    assert not loads(no_srp + "use_i100 = false\n").sdps[0].use_i100


def test_radar_and_sdps_may_share_a_pair() -> None:
    text = edit("sac = 0\nsic = 200", "sac = 0\nsic = 101")
    config = loads(text)
    assert lookup_radar(config, 0, 101) is not None and lookup_sdps(config, 0, 101) is not None


def test_mqtt_urls() -> None:
    assert parse_mqtt_url("mqtt://localhost") == MqttUrl(False, "localhost", 1883)
    assert parse_mqtt_url("MQTTS://a.b-c.example:9000/") == MqttUrl(True, "a.b-c.example", 9000)
    assert parse_mqtt_url("mqtt://[fe80::1]") == MqttUrl(False, "fe80::1", 1883)
    for bad in ("mqtt://", "mqtt://h:", "mqtt://h:x", "mqtt://h:1:2", "mqtt://[::1", "ws://h",
                "mqtt://h?x=1", "mqtt://-h", "mqtt://[zz]:1", "mqtt://[::1]x", "h:1883"):
        with pytest.raises(ValueError):
            parse_mqtt_url(bad)


# -- files ------------------------------------------------------------------------------------

def test_load_files(tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    path.write_text(BASE)
    assert load(path) == loads(BASE)
    path.write_text(edit("lat = 25.7785", "lat = 99"))
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:8: \[\[radar\]\] #1 key"):
        load(path)
    path.write_bytes(b'[gateway]\nid = "\xff"\n')
    with pytest.raises(ConfigError, match=r":2: not UTF-8 text \(byte 16\)$"):
        load(path)
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read: No such file"):
        load(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path)  # a directory


def test_big_input_is_refused_not_parsed(tmp_path: Path) -> None:
    big = "# " + "x" * MAX_SIZE + "\n"
    with pytest.raises(ConfigError, match="larger than 1 MiB; not a configuration file"):
        loads(big, "gw.toml")
    path = tmp_path / "big.toml"
    path.write_text(big)
    with pytest.raises(ConfigError, match="larger than 1 MiB; not a configuration file"):
        load(path)


def test_many_sites_load() -> None:
    radars = "".join(f"[[radar]]\nsac = {n // 256}\nsic = {n % 256}\nname = \"r{n}\"\n"
                     f"lat = 1\nlon = 2\nalt_m = 3\n" for n in range(3000))
    config = loads('[gateway]\nid = "x"\n' + radars)
    assert len(config.radars) == 3000 and lookup_radar(config, 11, 183) is not None
    text = ('[gateway]\nid = "x"\n' + radars + "[[radar]]\nsac = 0\nsic = 0 # <-\n"
            'name = "again"\nlat = 1\nlon = 2\nalt_m = 3\n')
    assert error(text).startswith(
        f"gw.toml:{marked_line(text)}: [[radar]] #3001 key 'sic': sac 0 sic 0 repeats")


@pytest.mark.parametrize("text", [
    "a = " + "[" * 5000 + "]" * 5000,
    "a = " + "{b = " * 3000 + "1" + "}" * 3000,
    "[gateway]\nid = \"x\"\n[[radar]]\nlat = " + "[" * 300 + "]" * 300 + "\n",
    ".".join(["a"] * 500_000) + " = 1\n",  # tomllib is quadratic in the parts of a key
    "[" + ".".join(["'a'"] * 300_000) + "]\n",
    "x = {" + " . ".join(["a"] * 100_000) + " = 1}\n",
    "[" * 1_000_000,
    "a" * 1_000_000,
    "[[a]]\n" * 170_000,
    "a = " + "9" * 5000 + "\n",
    "a = 1e99999\n",
    "a = \"" + "\\u0041" * 100000 + "\"\n",
    "\n" * 200000,
    "[[a]]\n" * 20000,
])
def test_deep_or_big_input_does_not_crash(text: str) -> None:
    """One line for each; no speed is asserted here (the slowest, 170,000 tables, takes
    about a second on an idle machine and several under load): only that it ends, within a
    hang guard far above that."""
    start = time.monotonic()
    with pytest.raises(ConfigError) as info:
        loads(text, "gw.toml")
    assert "\n" not in str(info.value) and len(str(info.value)) < 400
    assert time.monotonic() - start < 120, "hang guard: quadratic or worse on hostile input"


def test_long_dotted_keys_are_refused_early() -> None:
    assert error("[gateway]\nid = 'x'\n" + ".".join(["k"] * 65) + " = 1\n") == (
        "gw.toml:3: a key with more than 64 dotted parts")
    assert error(".".join(["k"] * 64) + " = 1\n").startswith("gw.toml:1: unknown section [k]")


# -- the border configuration, the reference and the scenario agree ----------------------------

def test_border_config_matches_the_scenario() -> None:
    config = load(BORDER_TOML)
    assert [(r.sac, r.sic, r.name, r.lat, r.lon, r.alt_m) for r in config.radars] == [
        (r.sac, r.sic, r.name, r.lat, r.lon, r.alt_m) for r in BORDER.radars]
    assert [(s.sac, s.sic, s.name, s.srp_lat, s.srp_lon) for s in config.sdps] == [
        (s.sac, s.sic, s.name, s.srp_lat, s.srp_lon) for s in BORDER.sdps]
    assert all(s.use_i100 for s in config.sdps)
    sites = [*BORDER.radars, *BORDER.sdps]
    assert [i.endpoint for i in config.inputs] == [
        UdpUrl(s.group, s.port, "127.0.0.1") for s in sites]
    for site in sites:
        found = (lookup_radar if site in BORDER.radars else lookup_sdps)(config, site.sac, site.sic)
        assert found is not None and found.name == site.name


def test_border_radars_config_is_the_radars_only() -> None:
    """captures/border-radars.toml: the border-radars scenario's eight radars and their
    inputs, no SDPS; otherwise (handoff, normalize, broker) the border configuration."""
    config = load(BORDER_RADARS_TOML)
    assert [(r.sac, r.sic, r.name, r.lat, r.lon, r.alt_m) for r in config.radars] == [
        (r.sac, r.sic, r.name, r.lat, r.lon, r.alt_m) for r in BORDER_RADARS.radars]
    assert not config.sdps
    assert [i.endpoint for i in config.inputs] == [
        UdpUrl(r.group, r.port, "127.0.0.1") for r in BORDER_RADARS.radars]
    border = load(BORDER_TOML)
    assert config.handoff is not None and border.handoff is not None
    assert config.handoff.units == border.handoff.units
    assert config.handoff.airspace == border.handoff.airspace  # resolved next to the file
    assert config.normalize == border.normalize and config.mqtt == border.mqtt


def test_reference_shows_the_border_config() -> None:
    reference = REFERENCE.read_text(encoding="utf-8")
    example = re.search(r"## Complete example.*?```toml\n(.*?)```", reference, re.DOTALL)
    assert example is not None and example[1] == BORDER_TOML.read_text(encoding="utf-8")


def test_reference_documents_every_section_and_key() -> None:
    reference = REFERENCE.read_text(encoding="utf-8")
    for name, section in sections().items():
        heading = f"## `[[{name}]]`" if section.many else f"## `[{name}]`"
        assert heading in reference, heading
        body = reference.split(heading, 1)[1].split("\n## ", 1)[0]
        for key in section_keys(section):
            assert f"| `{key}` |" in body, (name, key)
        documented = set(re.findall(r"^\| `(\w+)` \|", body, re.MULTILINE))
        assert documented == set(section_keys(section)), name


# Keys whose value is any string: names of files, and the broker's credentials.
FREE_TEXT = {("mqtt", "username"), ("mqtt", "password"), ("mqtt", "ca_file"),
             ("handoff", "airspace"), ("handoff", "database"), ("flightplans", "file")}


def test_every_section_key_has_a_check() -> None:
    """Every number has both bounds (a huge or odd value is refused, not used), every string
    a pattern, a set of choices or a parse, unless it is free text by nature."""
    for section in sections().values():
        info = {f.name: f.type for f in msgspec.inspect.type_info(section.cls).fields}
        for key in section_keys(section):
            t, parse = info[key], None
            while isinstance(t, msgspec.inspect.UnionType | msgspec.inspect.Metadata):
                if isinstance(t, msgspec.inspect.Metadata):
                    parse = parse or (t.extra or {}).get("parse")
                    t = t.type
                else:
                    t = next(x for x in t.types if not isinstance(x, msgspec.inspect.NoneType))
            if isinstance(t, msgspec.inspect.VarTupleType):
                t = t.item_type
                if isinstance(t, msgspec.inspect.Metadata):
                    t = t.type
            where = (section.name, key)
            if isinstance(t, msgspec.inspect.IntType | msgspec.inspect.FloatType):
                assert t.ge is not None and t.le is not None, where
            elif isinstance(t, msgspec.inspect.StrType):
                assert t.pattern is not None or callable(parse) or where in FREE_TEXT, where
            else:
                assert isinstance(t, msgspec.inspect.BoolType | msgspec.inspect.LiteralType), where


# -- fuzz: nothing but ConfigError, always one line -------------------------------------------

def _only_config_errors(text: str) -> None:
    try:
        loads(text, "gw.toml", env={"P": "x"})
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith("gw.toml") and "\n" not in message and message.isprintable()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_random_text(text: str) -> None:
    _only_config_errors(text)


_TOML_BITS = st.sampled_from([
    "[", "]", "[[", "]]", "{", "}", "=", '"', "'", '"""', "'''", "#", ".", ",", "\n", " ",
    "0", "1.5", "-", "+", "inf", "nan", "true", "1979-05-27", "\\", "\\u0000", "a", "radar",
    "sdps", "input", "gateway", "mqtt", "normalize", "sac", "lat", "url", "udp://", "mqtt://",
    "password_env", "use_i100", "srp_lat", "1e400", "99999999999999999999", "/", "#", "+",
])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(BASE)), st.integers(0, 8), _TOML_BITS),
                min_size=1, max_size=6),
       st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), max_size=3))
def test_mutated_config(edits: list[tuple[int, int, str]], swaps: list[tuple[int, int]]) -> None:
    text = BASE
    for at, delete, insert in edits:
        text = text[:at] + insert + text[at + delete:]
    lines = text.split("\n")
    for a, b in swaps:
        if a < len(lines) and b < len(lines):
            lines[a], lines[b] = lines[b], lines[a]
    _only_config_errors("\n".join(lines))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted({k for s in sections().values() for k in section_keys(s)})),
       st.sampled_from(['"x"', "1", "-1", "1.5", "true", "[]", "{}", "2026-01-01", '"a/b"',
                        '"udp://232.1.1.1:1"', '"mqtt://h"', "256", "nan", "1e300", '""']),
       st.integers(0, BASE.count("\n")))
def test_any_key_any_value_anywhere(key: str, value: str, line: int) -> None:
    lines = BASE.split("\n")
    lines.insert(line, f"{key} = {value}")
    _only_config_errors("\n".join(lines))


HANDOFF = f'''[gateway]
id = "gw"
[handoff]
airspace = "{ROOT / "captures" / "border-airspace.geojson"}"
units = ["MMTY"]
peers = ["KZHU"]
'''


@pytest.mark.parametrize("extra, expected", [
    ("", None),
    ('est_lead_s = 1000.0', "[handoff] key 'est_lead_s': 1000 must be less than abi_lead_s"),
    ('cpl_to = ["KZAB"]', "[handoff] key 'cpl_to': names a unit that is not in peers"),
    ('toc_lead_s = 600.0', "[handoff] key 'toc_lead_s': must be less than est_lead_s"),
    ('accept_levels = ["MMTY/F290-F410", "MMTY/F100-F200"]\nreject_every = 3\n'
     'match_window_s = 120\nmatch_radius_nm = 5\nmax_accepting = 50', None),
    ('accept_levels = ["MMTY/F410-F290"]',
     "[handoff] key 'accept_levels': 'MMTY/F410-F290': the lowest level is above the highest"),
    ('accept_levels = ["KZHU/F290-F410"]', "[handoff] key 'accept_levels': KZHU is not one of "
     "units"),
    ('accept_levels = ["MMTY F290"]', "is not a level band (UNIT/F290-F410)"),
    ('reject_every = -1', "[handoff] key 'reject_every': -1 is not in 0..1000"),
    ('match_window_s = 5', "[handoff] key 'match_window_s': 5 is not in 30..3600"),
    ('max_accepting = 0', "[handoff] key 'max_accepting': 0 is not in 1..100000"),
])
def test_handoff_section(extra: str, expected: str | None) -> None:
    text = HANDOFF + extra + "\n"
    if expected is None:
        h = loads(text, "gw.toml").handoff
        assert h is not None and (h.units, h.peers, h.abi_lead_s) == (("MMTY",), ("KZHU",), 900.0)
    else:
        assert expected in error(text)


@pytest.mark.parametrize("old, new, expected", [
    ('units = ["MMTY"]', 'units = ["MMXX"]', "[handoff] key 'units': MMXX not defined in"),
    ('units = ["MMTY"]', 'units = ["mmty"]', "is not a unit id"),
    ('peers = ["KZHU"]', 'peers = []', "[handoff] key 'peers': must name at least one unit"),
    ('peers = ["KZHU"]', 'peers = ["MMTY"]', "a unit cannot be its own peer"),
    ('airspace = "', 'airspace = "/nonexistent', "No such file or directory"),
])
def test_handoff_errors_name_the_key(old: str, new: str, expected: str) -> None:
    assert expected in error(HANDOFF.replace(old, new))


def test_handoff_parameters_are_the_engines() -> None:
    """[handoff] is the engine's parameters plus the airspace and the database: every engine
    parameter can be set, and a key left out is the engine's own default."""
    h = loads(HANDOFF + "predict_every_s = 8.0\ncancel_after_s = 90\n", "gw.toml").handoff
    assert h is not None and (h.predict_every_s, h.cancel_after_s) == (8.0, 90.0)
    engine = HandoffParameters(units=("MMTY",), peers=("KZHU",))
    for f in dataclasses.fields(HandoffParameters):
        if f.name not in ("units", "peers", "predict_every_s", "cancel_after_s"):
            assert getattr(h, f.name) == getattr(engine, f.name), f.name
    assert "[handoff] key 'predict_every_s': 0.5 is not in 1..60" in error(
        HANDOFF + "predict_every_s = 0.5\n")
    assert "[handoff] key 'units': a unit is listed twice" in error(
        HANDOFF.replace('units = ["MMTY"]', 'units = ["MMTY", "MMTY"]'))
    assert error(HANDOFF.replace('peers = ["KZHU"]', 'peers = "KZHU" # <-')).endswith(
        "[handoff] key 'peers': expected an array of unit ids, got string 'KZHU'")


def test_associate_section_sets_the_trackers_parameters() -> None:
    assert loads(BASE).associate == TrackerParameters()
    config = loads(BASE + "[associate]\ngate_chi2 = 9.2\nconfirm_updates_position = 4\n"
                   "default_sigma_range_m = 80\ndefault_sdps_sigma_m = 150.0\n")
    assert config.associate == TrackerParameters(gate_chi2=9.2, confirm_updates_position=4,
                                                 default_sigma_range_m=80.0,
                                                 default_sdps_sigma_m=150.0)
    tracker = tracker_from_config(config)
    assert tracker.parameters is config.associate
    # a radar without its own sigma takes [associate]'s; one with its own keeps it
    sited = loads(edit("alt_m = 520.0", "alt_m = 520.0\nsigma_range_m = 45.0",
                       BASE + "[associate]\ndefault_sigma_range_m = 80\n"))
    noise = tracker_from_config(sited).model.radars
    assert noise[(0, 101)].sigma_range_m == 45.0 and noise[(1, 11)].sigma_range_m == 80.0
    assert noise[(1, 11)].sigma_azimuth_deg == TrackerParameters().default_sigma_azimuth_deg
    assert tracker_from_config(config).model.sdps_sigma_m == 150.0


@pytest.mark.parametrize("extra, expected", [
    ("gate_chi2 = -1 # <-", "[associate] key 'gate_chi2': -1 is not in 0.1..1000"),
    ("coast_after_s = 'long' # <-",
     "[associate] key 'coast_after_s': expected a number, got string 'long'"),
    ("confirm_updates_position = 2.5 # <-",
     "[associate] key 'confirm_updates_position': expected an integer, got float 2.5"),
    ("frame = {lat_1 = 20} # <-", "unknown key 'frame' in [associate]"),
    ("non_discrete_codes = [7500] # <-", "unknown key 'non_discrete_codes' in [associate]"),
    ("default_sigma_range_m = 0.5 # <-",
     "[associate] key 'default_sigma_range_m': 0.5 is not a range accuracy in m (1..5000)"),
])
def test_associate_errors(extra: str, expected: str) -> None:
    text = BASE + "[associate]\n" + extra + "\n"
    message = error(text)
    assert message.startswith(f"gw.toml:{marked_line(text)}: ") and expected in message, message


# -- [flightplans] ------------------------------------------------------------------------------

PLAN = ("(FPL-AMX412/A4121-IS-B738/M-SDE2E3FGHIRWY/LB1-MMMX1230-N0450F350 DCT TIJ"
        "-KLAX0305 KSAN-DOF/261204)\n")


def test_flightplans_section(tmp_path: Path) -> None:
    (tmp_path / "plans.txt").write_text(PLAN)
    path = tmp_path / "gw.toml"
    path.write_text('[gateway]\nid = "gw"\n[flightplans]\nfile = "plans.txt"\n'
                    'topic = "fdps/fpl"\nwindow_before_s = 600\n')
    f = load(path).flightplans
    assert f is not None
    assert (f.file, f.topic, f.window_before_s, f.window_after_s, f.max_plans) == (
        str(tmp_path / "plans.txt"), "fdps/fpl", 600.0, 3600.0, 10_000)
    assert loads('[gateway]\nid = "gw"\n').flightplans is None
    assert loads('[gateway]\nid = "gw"\n[flightplans]\n').flightplans is not None


@pytest.mark.parametrize("extra, expected", [
    ('file = "/nonexistent/plans.txt"', "[flightplans] key 'file': /nonexistent/plans.txt"),
    ('topic = "fdps/#"', "[flightplans] key 'topic'"),
    ('topic = ""', "[flightplans] key 'topic'"),
    ("window_before_s = -1", "[flightplans] key 'window_before_s'"),
    ("window_after_s = 1e9", "[flightplans] key 'window_after_s'"),
    ("max_plans = 0", "[flightplans] key 'max_plans'"),
    ("plans = 3", "unknown key 'plans' in [flightplans]"),
])
def test_flightplans_errors_name_the_key(extra: str, expected: str) -> None:
    assert expected in error(f'[gateway]\nid = "gw"\n[flightplans]\n{extra}\n')


def test_flightplans_file_must_be_ascii_text(tmp_path: Path) -> None:
    (tmp_path / "plans.txt").write_bytes(PLAN.encode() + "(FPL-Ä)".encode())
    path = tmp_path / "gw.toml"
    path.write_text('[gateway]\nid = "gw"\n[flightplans]\nfile = "plans.txt"\n')
    with pytest.raises(ConfigError, match="not ASCII text"):
        load(path)


def test_mqtt_urls_name_the_nodes_of_a_cluster_and_exclude_url() -> None:
    """`urls` is a cluster's nodes, in the order tried; `url` or `urls`, one of them,
    never both, never none, never the same node twice."""
    head = '[gateway]\nid = "gw"\n[mqtt]\n'
    config = loads(head + 'urls = ["mqtt://a:1884", "mqtts://[::1]", "mqtt://c"]\n')
    assert config.mqtt is not None and config.mqtt.url is None
    assert config.mqtt.brokers == (MqttUrl(False, "a", 1884), MqttUrl(True, "::1", 8883),
                                   MqttUrl(False, "c", 1883))
    assert config.mqtt.broker == MqttUrl(False, "a", 1884)
    single = loads(head + 'url = "mqtt://a"\n').mqtt
    assert single is not None and single.nodes == ("mqtt://a",)
    either = r"url \(one broker\) or urls"
    for bad, why in (('url = "mqtt://a"\nurls = ["mqtt://b"]\n', either),
                     ('topic_prefix = "x"\n', either), ('urls = []\n', either),
                     ('urls = ["mqtt://a"' + "".join(f', "mqtt://n{i}"' for i in range(16)) + "]",
                      "key 'urls'"),
                     ('urls = ["mqtt://a", "mqtt://a:1883"]\n', "named twice"),
                     ('urls = ["mqtt://a/x"]\n', "no path")):
        with pytest.raises(ConfigError, match=why):
            loads(head + bad)


def test_broker_option_takes_a_comma_separated_list_of_nodes() -> None:
    from gateway.commands import UsageError
    from gateway.commands.service import broker_config
    config = loads('[gateway]\nid = "gw"\n[mqtt]\nurl = "mqtt://a"\ntopic_prefix = "p"\n')
    many = broker_config(config, "mqtt://b:1, mqtt://c:2")
    assert many is not None and many.nodes == ("mqtt://b:1", "mqtt://c:2")
    assert many.url is None and many.topic_prefix == "p"
    one = broker_config(config, "mqtt://b")
    assert one is not None and one.url == "mqtt://b" and one.urls == ()
    for bad in ("mqtt://b,mqtt://b", "mqtt://b,", "http://b"):
        with pytest.raises(UsageError, match="--broker"):
            broker_config(config, bad)
