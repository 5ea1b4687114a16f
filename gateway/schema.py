"""Regenerate docs/messages.schema.json from the message types: ``python -m gateway.schema``.

The schema file is committed so that consumers of the feed can validate without this package;
it is generated, never edited, and a test fails when it differs from ``messages.schema()``.
``--check`` does the same comparison without writing (exit status 1 when stale).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateway.messages import schema

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "docs" / "messages.schema.json"


def render() -> str:
    """The file's exact text: pretty, sorted keys, one trailing newline."""
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.schema", description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH,
                        help="where to write (default: %(default)s)")
    parser.add_argument("--check", action="store_true",
                        help="only compare; exit 1 if the file is missing or stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        try:
            current = args.path.read_text(encoding="utf-8")
        except OSError as exc:
            print(f"{args.path}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        if current != text:
            print(f"{args.path}: stale; run python -m gateway.schema", file=sys.stderr)
            return 1
        return 0
    args.path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
