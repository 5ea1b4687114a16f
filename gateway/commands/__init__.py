"""One module per ``asterix-gateway`` command; each exposes ``run(args) -> exit status``."""

from __future__ import annotations


class UsageError(Exception):
    """Bad usage, bad config or unreadable input: the CLI exits 2 with this one line."""
