"""Records as people and scripts read them: JSON lines, or an annotated text tree.

Both are made at the edge, one record at a time, from the batch's item offsets through the
reference codec; the labels and units come from the category definitions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np

from gateway.asterix import CATEGORIES
from gateway.asterix.spec import Body, Compound, Element, Extended, Field, Group, Repetitive
from gateway.decoder import Batch


def in_order(batches: dict[int, Batch]) -> Iterator[tuple[Batch, int]]:
    """Every record of one decode call, in the order it was received."""
    if not batches:
        return
    if len(batches) == 1:
        (batch,) = batches.values()
        for row in range(len(batch)):
            yield batch, row
        return
    keys = [(b, np.full(len(b), i), b.record_offset) for i, b in enumerate(batches.values())]
    which = np.concatenate([k[1] for k in keys])
    rows = np.concatenate([np.arange(len(k[0])) for k in keys])
    order = np.argsort(np.concatenate([k[2] for k in keys]), kind="stable")
    listed = list(batches.values())
    for i in order:
        yield listed[which[i]], int(rows[i])


def _column(batch: Batch, path: str, row: int) -> int | None:
    return int(batch.columns[path][row]) if batch.present[path][row] else None


def record_object(batch: Batch, row: int) -> dict[str, object]:
    """The ``decode --format jsonl`` object for one record (docs/commands.md)."""
    t = batch.t_capture[row]
    return {
        "cat": batch.category,
        "sac": _column(batch, "010/SAC", row),
        "sic": _column(batch, "010/SIC", row),
        "t_capture": None if np.isnan(t) else float(t),
        "len": int(batch.record_length[row]),
        "items": batch.record(row),
    }


def record_json(batch: Batch, row: int) -> str:
    return json.dumps(record_object(batch, row), separators=(", ", ": "))


def _units(fields: tuple[Field, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in fields:
        if isinstance(f, Element):
            if f.unit:
                out[f.name] = f.unit
        elif isinstance(f, Group) and f.name:
            out.update(_units(f.fields))
    return out


def _body_units(body: Body) -> dict[str, str]:
    if isinstance(body, Element):
        return _units((body,))
    if isinstance(body, Group):
        return _units(body.fields)
    if isinstance(body, Extended):
        return {k: v for part in body.parts for k, v in _units(part).items()}
    if isinstance(body, Repetitive):
        return _body_units(body.body)
    if isinstance(body, Compound):
        return {k: v for s in body.subitems if s for k, v in _body_units(s[1]).items()}
    return {}


def _show(value: object, units: dict[str, str], name: str | None) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_show(v, units, k)}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + "; ".join(_show(v, units, name) for v in value) + "]"
    unit = units.get(name or "")
    return f"{value} {unit}" if unit else str(value)


def record_text(batch: Batch, row: int, number: int) -> str:
    """A Wireshark-like view: a header line, then one line per item (compound: per subitem)."""
    category = CATEGORIES[batch.category]
    t = batch.t_capture[row]
    when = "" if np.isnan(t) else " " + datetime.fromtimestamp(t, UTC).isoformat(
        timespec="microseconds").replace("+00:00", "Z")
    sac, sic = _column(batch, "010/SAC", row), _column(batch, "010/SIC", row)
    lines = [f"#{number} CAT{batch.category:03d} SAC/SIC {sac}/{sic} len {batch.record_length[row]}"
             f"{when}"]
    for item_no, value in batch.record(row).items():
        item = category.by_number[item_no]
        units = _body_units(item.body)
        if isinstance(item.body, Compound):
            lines.append(f"  I{item_no} {item.title}:")
            lines.extend(f"    {k}: {_show(v, units, k)}" for k, v in value.items())
        else:
            name = item.body.name if isinstance(item.body, Element) else None
            lines.append(f"  I{item_no} {item.title}: {_show(value, units, name)}")
    return "\n".join(lines)
