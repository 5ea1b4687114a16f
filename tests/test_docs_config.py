"""docs/configuration.md is what the declarations say: regenerate it, do not edit it.

If the first test fails, run ``python -m gateway.config.reference --write
docs/configuration.md`` and commit the result.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

from gateway.config import sections
from gateway.config.reference import field_docs, reference
from gateway.config.sections import Config, settable

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "configuration.md"


def test_committed_reference_is_generated() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == reference(), (
        "docs/configuration.md is stale: python -m gateway.config.reference --write "
        "docs/configuration.md")


def test_every_section_and_key_is_documented() -> None:
    for name, section in sections().items():
        doc = section.cls.__doc__ or ""
        # a dataclass without a docstring gets its signature as one
        assert doc and not doc.startswith(section.cls.__name__ + "("), name
        docs = field_docs(section.cls)
        for f in settable(section.cls):
            assert len(docs.get(f.name, "")) > 10, (name, f.name)


def test_defaults_shown_are_the_declared_ones() -> None:
    """The reference's default column comes from the fields: change a default, and the page
    changes with it (the handoff's prediction interval drifted when it was written by hand)."""
    text = reference()
    assert re.search(r"^\| `predict_every_s` \| float 1\.\.60 \| `4\.0` \|", text, re.MULTILINE)
    assert re.search(r"^\| `coast_after_s` \| float 1\.\.3600 \| `25\.0` \|", text, re.MULTILINE)
    assert "one every 8 s" not in text
    for f in dataclasses.fields(Config):
        section = f.metadata["section"]
        heading = f"## `[[{section.name}]]`" if section.many else f"## `[{section.name}]`"
        assert text.count(heading) == 1, heading


def test_reference_names_no_document_outside_the_repository() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    assert "contract" not in text.lower()
    for link in re.findall(r"\]\(([^)#][^)]*)\)", text):  # markdown links other than anchors
        assert not re.match(r"[a-z]+://", link), link


def test_the_command_prints_and_writes(tmp_path: Path) -> None:
    out = tmp_path / "configuration.md"
    done = subprocess.run([sys.executable, "-m", "gateway.config.reference", "--write",
                           str(out)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8") == reference()
    printed = subprocess.run([sys.executable, "-m", "gateway.config.reference"],
                             capture_output=True, text=True, timeout=60, check=False)
    assert printed.returncode == 0 and printed.stdout == reference()
