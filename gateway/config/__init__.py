"""The gateway's TOML configuration, loaded strictly.

A configuration mistake found at start-up costs a minute; one found as a radar that never
shows up costs an evening.  So every key the gateway does not know, every wrong type and every
value out of range is refused, and the refusal is one line naming the file, the line and the
key (``gw.toml:14: [[radar]] #2 key 'lat': 123.0 is not a latitude (-90..90)``).

``sections`` declares each section as a typed dataclass (a part's own parameters where it has
them), ``values`` the kinds of value, ``load`` reads a file into them with msgspec, ``lines``
finds the line of a key, and ``reference`` writes docs/configuration.md from the declarations.
"""

from gateway.config.load import MAX_SIZE, ConfigError, load, loads
from gateway.config.sections import (
    Config,
    GatewaySection,
    HandoffConfig,
    InputConfig,
    MetricsConfig,
    MqttConfig,
    NormalizeConfig,
    RadarConfig,
    SdpsConfig,
    Section,
    ServiceConfig,
    WebConfig,
    lookup_radar,
    lookup_sdps,
    section_keys,
    sections,
)
from gateway.config.values import MqttUrl, parse_mqtt_url

__all__ = [
    "MAX_SIZE",
    "Config",
    "ConfigError",
    "GatewaySection",
    "HandoffConfig",
    "InputConfig",
    "MetricsConfig",
    "MqttConfig",
    "MqttUrl",
    "NormalizeConfig",
    "RadarConfig",
    "SdpsConfig",
    "Section",
    "ServiceConfig",
    "WebConfig",
    "load",
    "loads",
    "lookup_radar",
    "lookup_sdps",
    "parse_mqtt_url",
    "section_keys",
    "sections",
]
