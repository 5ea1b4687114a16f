"""Reading a configuration: TOML text -> checked ``Config``, or one line saying what is wrong.

tomllib parses; each section's table goes through ``msgspec.convert`` into its dataclass,
which checks types and bounds; the rules that span keys or sections (a reference point needs
both coordinates, duplicate sites, the airspace file) are the ``_finish_*`` steps.  An error
names the file, the line (``lines.find_line``) and the key, in the words of ``_explain``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import ssl
import tomllib
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import msgspec
from msgspec import inspect as mi

from gateway.config.explain import child, explain, parsers
from gateway.config.lines import Path, find_line
from gateway.config.sections import Config, Section, sections, settable
from gateway.config.values import show
from gateway.files import (
    CA_FILE_MAX,
    CONFIG_MAX,
    PLAN_FILE_MAX,
    InputFileError,
    read_limited,
    too_large,
)

# A configuration is a few kilobytes; anything much larger is the wrong file, and refusing it
# keeps a mistaken path (a capture, a log) from being parsed into memory.
MAX_SIZE = CONFIG_MAX
KIND = "a configuration file"


class ConfigError(ValueError):
    """The configuration cannot be used; the text is one line naming file, line and key."""


def _error(text: str) -> ConfigError:
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return ConfigError(text)


class _Where:
    """The file being read: turns a path and a complaint into a ConfigError."""

    def __init__(self, name: str, text: str) -> None:
        self.name, self.text = name, text

    def error(self, path: Path, text: str) -> ConfigError:
        line = find_line(self.text, path) if path else None
        return _error(f"{self.name}:{line}: {text}" if line else f"{self.name}: {text}")

    def refuse(self, path: Path, text: str) -> ConfigError:
        """A value refused: ``[[sdps]] #1 key 'srp_lat': needs ...``."""
        key = next(p for p in reversed(path) if isinstance(p, str))
        return self.error(path, f"{_label(path)} key {key!r}: {text}")


def _label(path: Path) -> str:
    if len(path) > 1 and isinstance(path[1], int):
        return f"[[{path[0]}]] #{path[1] + 1}"
    return f"[{path[0]}]"


# -- one section --------------------------------------------------------

_AT = re.compile(r"(.*) - at `\$(.*)`", re.DOTALL)
_STEP = re.compile(r"\.(\w+)|\[(\d+)\]")
_MISSING = re.compile(r"Object missing required field `(.*)`", re.DOTALL)


def _convert(section: Section, raw: object, where: _Where) -> Any:
    """One section's table (or array of tables) as its dataclass(es)."""
    kind: Any = tuple[section.cls, ...] if section.many else section.cls  # type: ignore
    _check_shape(section, raw, where)
    _check_keys(section, raw, where)
    try:
        converted = msgspec.convert(raw, kind)
    except msgspec.ValidationError as exc:
        message = str(exc)
        m = _AT.fullmatch(message)
        text, at = (m[1], m[2]) if m else (message, "")
        path: Path = (section.name, *(s if s else int(i) for s, i in _STEP.findall(at)))
        missing = _MISSING.fullmatch(text)
        if missing:
            raise where.error(path, f"missing key {missing[1]!r} in {_label(path)}") from None
        t: mi.Type = mi.type_info(kind)
        value: Any = raw
        for step in path[1:]:
            t, value = child(t, step), value[step]
        key = next(p for p in reversed(path) if isinstance(p, str))
        raise where.refuse(path, explain(t, value, section.cls, key)) from None
    if section.many:
        return tuple(_parse(section, item, n, where) for n, item in enumerate(converted))
    return _parse(section, converted, None, where)


def _parse(section: Section, item: Any, n: int | None, where: _Where) -> Any:
    """Run the ``parse`` of the keys whose values need code (values.py), keeping what each
    returns."""
    changes = {}
    for key, parse in parsers(section.cls):
        value = getattr(item, key)
        if value is not None:
            try:
                changes[key] = parse(value)
            except ValueError as exc:
                path = (section.name, key) if n is None else (section.name, n, key)
                raise where.refuse(path, str(exc)) from None
    return dataclasses.replace(item, **changes) if changes else item


def _check_shape(section: Section, raw: object, where: _Where) -> None:
    name = section.name
    if section.many:
        if not isinstance(raw, list):
            raise where.error((name,), f"[{name}] must be an array of tables: write [[{name}]]")
        for n, table in enumerate(raw):
            if not isinstance(table, dict):
                raise where.error((name,), f"[[{name}]] #{n + 1} must be a table")
    elif not isinstance(raw, dict):
        raise where.error((name,), f"[[{name}]] must be a single table: write [{name}]"
                          if isinstance(raw, list) else
                          f"{name!r} must be a table: write [{name}]")


def _check_keys(section: Section, raw: Any, where: _Where) -> None:
    """Every key must be one the section declares (msgspec ignores others in a dataclass)."""
    known = {f.name for f in settable(section.cls)}
    tables = enumerate(raw) if section.many else [(None, raw)]
    for n, table in tables:
        for key in table:
            if key not in known:
                path: Path = (section.name, key) if n is None else (section.name, n, key)
                raise where.error(path, f"unknown key {key!r} in {_label(path)} "
                                  f"(known: {', '.join(f.name for f in settable(section.cls))})")


# -- the whole file -------------------------------------------------------------------------

def _build(doc: dict[str, Any], where: _Where, env: Mapping[str, str]) -> Config:
    known = sections()
    for name, value in doc.items():
        if name not in known:
            is_table = isinstance(value, dict) or (
                isinstance(value, list) and value and all(isinstance(v, dict) for v in value))
            what = f"unknown section [{name}]" if is_table else f"unknown top-level key {name!r}"
            raise where.error((name,), f"{what} (known sections: {', '.join(known)})")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Config):
        section: Section = f.metadata["section"]
        raw = doc.get(section.name)
        if raw is None:
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                continue
            # a required section left out: say which of its keys is missing, on no line
            values[f.name] = _convert(section, {}, _Where(where.name, ""))
        else:
            values[f.name] = _convert(section, raw, where)
        if section.unique:
            _check_unique(section, values[f.name], where)
    config = Config(**values)
    for finish in _FINISH:
        config = finish(config, doc, where, env)
    return config


def _check_unique(section: Section, items: tuple[Any, ...], where: _Where) -> None:
    seen: dict[Hashable, int] = {}
    for n, item in enumerate(items):
        value = tuple(getattr(item, k) for k in section.unique)
        if value in seen:
            shown = " ".join(f"{k} {show(getattr(item, k))}" for k in section.unique
                             ) if len(section.unique) > 1 else show(value[0])
            raise where.refuse((section.name, n, section.unique[-1]),
                               f"{shown} repeats [[{section.name}]] #{seen[value] + 1}")
        seen[value] = n


def _finish_mqtt(config: Config, doc: dict[str, Any], where: _Where,
                 env: Mapping[str, str]) -> Config:
    """Resolve ``password_env`` at load so that a missing secret fails at start-up."""
    mqtt = config.mqtt
    if mqtt is None:
        return config
    if (mqtt.url is None) == (not mqtt.urls):
        raise where.refuse(("mqtt", "url"), "give url (one broker) or urls (the nodes of a "
                           "cluster), one of them")
    password = mqtt.password
    if mqtt.password_env is not None:
        if password is not None:
            raise where.refuse(("mqtt", "password_env"), "give password or password_env, not both")
        password = env.get(mqtt.password_env)
        if not password:
            raise where.refuse(("mqtt", "password_env"), f"environment variable "
                               f"{mqtt.password_env!r} is not set or empty")
    if password is not None and mqtt.username is None:
        raise where.refuse(("mqtt", "password"), "a password needs a username too")
    if mqtt.ca_file is not None:
        _check_ca_file(mqtt.ca_file, where)
    return dataclasses.replace(config, mqtt=dataclasses.replace(mqtt, password=password))


def _check_ca_file(path: str, where: _Where) -> None:
    """Read (with its ceiling) and parsed at load: a wrong CA file is one line at start,
    not a TLS failure at every connection attempt."""
    try:
        pem = read_limited(path, CA_FILE_MAX, "a CA file").decode("ascii")
        ssl.create_default_context().load_verify_locations(cadata=pem)
    except InputFileError as exc:
        raise where.refuse(("mqtt", "ca_file"), str(exc)) from None
    except (UnicodeDecodeError, ssl.SSLError, ValueError):
        raise where.refuse(("mqtt", "ca_file"), f"{path}: not PEM certificates") from None


def _finish_sdps(config: Config, doc: dict[str, Any], where: _Where,
                 env: Mapping[str, str]) -> Config:
    """A system reference point is both coordinates or none; settle each site's use_i100."""
    sites = []
    for n, (site, table) in enumerate(zip(config.sdps, doc.get("sdps", ()), strict=True)):
        has_srp = site.srp_lat is not None
        if has_srp != (site.srp_lon is not None):
            given, needed = ("srp_lat", "srp_lon") if has_srp else ("srp_lon", "srp_lat")
            raise where.refuse(("sdps", n, given),
                               f"needs {needed!r} too (the system reference point is both)")
        if "use_i100" in table:
            if site.use_i100 and not has_srp:
                raise where.refuse(("sdps", n, "use_i100"), "true needs srp_lat and srp_lon "
                                   "(I100 is relative to them)")
            sites.append(site)
        else:
            sites.append(dataclasses.replace(site, use_i100=config.normalize.use_i100 and has_srp))
    return dataclasses.replace(config, sdps=tuple(sites))


def _finish_handoff(config: Config, doc: dict[str, Any], where: _Where,
                    env: Mapping[str, str]) -> Config:
    """The airspace file is found next to the configuration, and must define every unit
    named; the leads must come in order."""
    h = config.handoff
    if h is None:
        return config

    def refuse(key: str, text: str) -> ConfigError:
        return where.refuse(("handoff", key), text)

    for key in ("units", "peers", "cpl_to"):
        if len(set(getattr(h, key))) != len(getattr(h, key)):
            raise refuse(key, "a unit is listed twice")
    if h.est_lead_s >= h.abi_lead_s:
        raise refuse("est_lead_s", f"{h.est_lead_s:g} must be less than abi_lead_s "
                     f"({h.abi_lead_s:g}): ABI comes first")
    if h.toc_lead_s >= h.est_lead_s:
        raise refuse("toc_lead_s", "must be less than est_lead_s")
    if set(h.units) & set(h.peers):
        raise refuse("peers", "a unit cannot be its own peer")
    if not set(h.cpl_to) <= set(h.peers):
        raise refuse("cpl_to", "names a unit that is not in peers")
    from gateway.handoff.policy import bands

    try:
        levels = bands(h.accept_levels)
    except ValueError as exc:
        raise refuse("accept_levels", str(exc)) from None
    strangers = sorted(set(levels) - set(h.units))
    if strangers:
        raise refuse("accept_levels", f"{', '.join(strangers)} is not one of units")
    base = os.path.dirname(where.name) if os.path.exists(where.name) else ""
    path = os.path.join(base, h.airspace)
    from gateway.handoff.airspace import Airspace, AirspaceError

    try:
        airspace = Airspace.load(path)
    except AirspaceError as exc:
        raise refuse("airspace", str(exc)) from None
    for key in ("units", "peers"):
        missing = [u for u in getattr(h, key) if u not in airspace.units]
        if missing:
            raise refuse(key, f"{', '.join(missing)} not defined in {h.airspace}")
    database = h.database
    if not database.strip():
        raise refuse("database", 'empty: give an SQLite file, or ":memory:" to keep the '
                     "dialogues in memory only (a restart loses them)")
    if database != ":memory:":
        database = os.path.join(base, database)
    return dataclasses.replace(config, handoff=dataclasses.replace(h, airspace=path,
                                                                   database=database))


def _finish_flightplans(config: Config, doc: dict[str, Any], where: _Where,
                        env: Mapping[str, str]) -> Config:
    """The plan file is found next to the configuration and must be a file."""
    f = config.flightplans
    if f is None or f.file is None:
        return config
    base = os.path.dirname(where.name) if os.path.exists(where.name) else ""
    path = os.path.join(base, f.file)
    try:  # read whole once here so that a file the gateway cannot use stops the start
        read_limited(path, PLAN_FILE_MAX, "a flight plan file").decode("ascii")
    except InputFileError as exc:
        raise where.refuse(("flightplans", "file"), str(exc)) from None
    except UnicodeDecodeError as exc:
        raise where.refuse(("flightplans", "file"),
                           f"{f.file}: not ASCII text (byte {exc.start})") from None
    return dataclasses.replace(config, flightplans=dataclasses.replace(f, file=path))


def _finish_inputs(config: Config, doc: dict[str, Any], where: _Where,
                   env: Mapping[str, str]) -> Config:
    """A centre's MQTT inputs: never its own topics (it would read back what it publishes:
    plots and tracks publish under the prefix too), never mixed with UDP inputs (the two
    run on different clocks), and only with association on (nothing else uses them).
    A site without association has no handoff (it has no fused tracks to hand off)."""
    from gateway.config.values import MqttInputUrl, MqttUrl, topic_matches
    from gateway.publish.topics import DEFAULT_PREFIX

    if not config.associate.enabled and config.handoff is not None:
        raise where.refuse(("associate", "enabled"), "false leaves [handoff] nothing to "
                           "coordinate: remove [handoff], or associate (docs/deployment.md)")
    mqtt_inputs = [(n, i.where) for n, i in enumerate(config.inputs) if i.is_mqtt]
    if not mqtt_inputs:
        return config
    if len(mqtt_inputs) != len(config.inputs):
        raise where.refuse(("input", mqtt_inputs[0][0], "url"), "a gateway's inputs are all "
                           "udp:// or all mqtt:// (a site decodes, a centre associates)")
    if not config.associate.enabled:
        raise where.refuse(("associate", "enabled"), "false with mqtt:// inputs: a centre "
                           "that does not associate has nothing to do")
    prefix = config.mqtt.topic_prefix if config.mqtt is not None else DEFAULT_PREFIX
    own = [f"{prefix}/{level}" for level in ("plots/0-0", "tracks/0-0", "picture",
                                             "fused/x", "alerts", "status/x")]
    lists: dict[MqttUrl, tuple[MqttUrl, ...]] = {}  # each node: the list that names it
    for n, url in mqtt_inputs:
        assert isinstance(url, MqttInputUrl)
        mine = [t for t in own if topic_matches(url.filter, t)]
        if mine:
            raise where.refuse(("input", n, "url"), f"the filter {url.filter!r} matches this "
                               f"gateway's own topics ({mine[0]}): give [mqtt] topic_prefix "
                               "a prefix of the centre's own")
        for node in url.brokers:  # one connection per broker: one list of its nodes
            if lists.setdefault(node, url.brokers) != url.brokers:
                raise where.refuse(("input", n, "url"), f"names {node} as another input does "
                                   "but a different list of nodes: inputs on one broker "
                                   "name the same nodes in the same order")
    return config


def _finish_store(config: Config, doc: dict[str, Any], where: _Where,
                  env: Mapping[str, str]) -> Config:
    """A lease renewed less than twice within its life lapses at the first slow renewal."""
    s = config.store
    if s.url is not None and s.renew_s * 2 >= s.lease_s:
        raise where.refuse(("store", "renew_s"), f"{s.renew_s:g} must be less than half of "
                           f"lease_s ({s.lease_s:g}): the lease would lapse at the first slow "
                           "renewal")
    return config


_FINISH: tuple[Callable[[Config, dict[str, Any], _Where, Mapping[str, str]], Config], ...] = (
    _finish_mqtt, _finish_sdps, _finish_handoff, _finish_flightplans, _finish_inputs,
    _finish_store)


# -- text and files -------------------------------------------------------------------------

def _syntax(exc: ValueError, text: str, name: str) -> ConfigError:
    """tomllib's message, re-worded so that the line number leads like every other error."""
    message = str(exc)
    m = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", message, re.DOTALL)
    if m:
        return _error(f"{name}:{m[2]}: TOML syntax: {m[1][:1].lower()}{m[1][1:]} "
                      f"(column {m[3]})")
    m = re.fullmatch(r"(.*) \(at end of document\)", message, re.DOTALL)
    if m:
        return _error(f"{name}:{text.count(chr(10)) + 1}: TOML syntax: "
                      f"{m[1][:1].lower()}{m[1][1:]} (at end of file)")
    return _error(f"{name}: TOML syntax: {message.split(':')[0][:120]}")


# tomllib takes time quadratic in the parts of one dotted key (a.b.c...): 20,000 parts take
# seconds, the 500,000 that fit in MAX_SIZE would take most of an hour.  A real key has a few.
# Possessive quantifiers and the look-behind keep this search itself linear.
_MAX_KEY_PARTS = 64
_LONG_KEY = re.compile(
    rf"""(?<![\w"'-])(?:(?:[\w-]++|"[^"\n]*+"|'[^'\n]*+')[ \t]*+\.[ \t]*+){{{_MAX_KEY_PARTS}}}"""
)


def loads(text: str, name: str = "<string>", *, env: Mapping[str, str] | None = None) -> Config:
    """Parse a configuration; ``env`` (default os.environ) resolves ``password_env``."""
    if len(text) > MAX_SIZE:
        raise _error(too_large(name, MAX_SIZE, KIND))
    long_key = _LONG_KEY.search(text)
    if long_key:
        line = text.count("\n", 0, long_key.start()) + 1
        raise _error(f"{name}:{line}: a key with more than {_MAX_KEY_PARTS} dotted parts")
    try:
        doc = tomllib.loads(text)
    except RecursionError:
        raise _error(f"{name}: TOML syntax: nested too deeply") from None
    except ValueError as exc:  # TOMLDecodeError, and int() refusing a number too long
        raise _syntax(exc, text, name) from None
    return _build(doc, _Where(name, text), os.environ if env is None else env)


def load(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> Config:
    name = os.fspath(path)
    try:
        data = read_limited(path, MAX_SIZE, KIND)
    except InputFileError as exc:
        raise _error(str(exc)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _error(f"{name}:{line}: not UTF-8 text (byte {exc.start})") from None
    return loads(text, name, env=env)
