"""docs/configuration.md, written from the declarations so that the two cannot drift apart.

Each section's introduction is its class's docstring, each key's line is its type (bounds
included), its default and the docstring under the field; the page's introduction is
``Config``'s docstring.  Regenerate after changing a section, a part's parameters or
captures/border.toml (a test fails until you do)::

    python -m gateway.config.reference --write docs/configuration.md
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import re
import sys
import textwrap
from importlib.resources import files
from typing import Any

from msgspec import inspect as mi

from gateway.config.explain import bounds, choices, kind_name, unwrap
from gateway.config.sections import Config, Section, sections, settable

__all__ = ["MINIMAL", "field_docs", "main", "reference"]

MINIMAL = """\
[gateway]
id = "mty-gw-1"                       # appears in topics and status

[[radar]]                             # one per CAT048/CAT034 source
sac = 0
sic = 101
name = "Monterrey"
lat = 25.7785                         # degrees WGS-84
lon = -100.1069
alt_m = 520.0                         # antenna height above the ellipsoid

[[sdps]]                              # one per CAT062/CAT065 source
sac = 0
sic = 200
name = "SENEAM SDPS"

[[input]]
url = "udp://232.1.1.11:21111?iface=10.0.0.2"

[mqtt]
url = "mqtt://127.0.0.1:1883"         # mqtts:// for TLS
topic_prefix = "surv/v1"
"""


def field_docs(cls: type) -> dict[str, str]:
    """The docstrings written under a dataclass's fields (and its bases' fields), which
    Python keeps nowhere at run time: read from the source, as Sphinx does."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        body = next(n for n in tree.body if isinstance(n, ast.ClassDef)).body
        for node, after in zip(body, body[1:], strict=False):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs


def _markdown(text: str) -> str:
    """A docstring as Markdown: reStructuredText's ``code`` becomes `code`."""
    return re.sub(r"(?<!`)``(?!`)", "`", text)


def _one_line(text: str) -> str:
    return " ".join(_markdown(text).split())


def _type(cls: type, f: dataclasses.Field[Any], t: mi.Type) -> str:
    t, _ = unwrap(t)
    if isinstance(t, mi.IntType | mi.FloatType):
        name = "integer" if isinstance(t, mi.IntType) else "float"
        return f"{name} {bounds(t)}".strip()
    if isinstance(t, mi.BoolType):
        return "boolean"
    if isinstance(t, mi.LiteralType):
        return "string: " + " or ".join(f'`"{v}"`' for v in choices(cls, f.name))
    return kind_name(t).removeprefix("an ").removeprefix("a ")


def toml_value(value: Any) -> str:
    """A value as TOML writes it (the values configurations hold: no tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def _default(f: dataclasses.Field[Any]) -> str:
    if "default" in f.metadata:
        return str(f.metadata["default"])
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "required"
    return "none" if value is None else f"`{toml_value(value)}`"


def _section(section: Section) -> str:
    cls = section.cls
    heading = f"[[{section.name}]]" if section.many else f"[{section.name}]"
    types = {f.name: f.type for f in mi.type_info(cls).fields}  # type: ignore[attr-defined]
    docs = field_docs(cls)
    rows = [f"| `{f.name}` | {_type(cls, f, types[f.name])} | {_default(f)} | "
            f"{_one_line(docs.get(f.name, ''))} |" for f in settable(cls)]
    return "\n".join([f"## `{heading}`", "", _markdown(inspect.cleandoc(cls.__doc__ or "")), "",
                      "| key | type | default | meaning |", "|---|---|---|---|", *rows, ""])


def reference() -> str:
    """The whole page."""
    table = []
    for f in dataclasses.fields(Config):
        s: Section = f.metadata["section"]
        heading = f"[[{s.name}]]" if s.many else f"[{s.name}]"
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        table.append(f"| [`{heading}`](#{s.name}) | {'yes' if required else 'no'} | {s.summary} |")
    border = (files("gateway.captures") / "border.toml").read_text(encoding="utf-8")
    return "\n".join([
        "# Configuration reference", "",
        "<!-- Generated by `python -m gateway.config.reference --write docs/configuration.md` "
        "from gateway/config/sections.py and the parts' parameters: edit those, not this "
        "page. -->", "",
        _markdown(inspect.cleandoc(Config.__doc__ or "")), "",
        "| section | required | what |", "|---|---|---|", *table, "",
        *(_section(s) for s in sections().values()),
        "## Minimal example", "",
        "The smallest useful configuration: one radar, one SDPS, one feed, a broker.", "",
        "```toml", MINIMAL + "```", "",
        "## Complete example: the border scenario", "",
        "The eight radars and two SDPS of the simulated US-Mexico border "
        "(`gateway/sim/scenario.py`),\nas shipped in `captures/border.toml` to go with "
        "`captures/border-10min.pcap.gz`. A test holds\nthis file, this page and the scenario "
        "to the same values.", "",
        "```toml", border + "```", ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.config.reference",
                                     description="Write the configuration reference.")
    parser.add_argument("--write", metavar="FILE", help="write it to FILE (default: print)")
    args = parser.parse_args(argv)
    text = reference()
    if args.write:
        with open(args.write, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

