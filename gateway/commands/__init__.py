"""One module per ``asterix-gateway`` command; each exposes ``run(args) -> exit status``."""

from __future__ import annotations

import argparse
from collections.abc import Callable


class UsageError(Exception):
    """Bad usage, bad config or unreadable input: the CLI exits 2 with this one line."""


def positive(option: str, what: str, limit: float = 1e7) -> Callable[[str], float]:
    """An argparse type: a positive number below ``limit``, refused in one line."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option} is {what}, not {text!r}") from None
        if not 0 < value < limit:
            raise argparse.ArgumentTypeError(f"{option} must be positive, not {text!r}")
        return value

    return parse
