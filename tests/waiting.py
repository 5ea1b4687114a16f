"""Waiting in tests for a state that announces itself with no event a test can wait on.

Where there is an event (a subscriber's message, a process's output line, a port
accepting), tests wait on that.  Where there is only a state to look at (a counter behind
an HTTP endpoint), ``wait_until`` looks again until it holds or a deadline passes: the test
goes on as soon as the state is reached, and never on a guess of how long it takes.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """True as soon as ``condition()`` holds; False once ``timeout`` seconds have passed
    (the caller's assertions then say what was missing)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)  # the pace of looking again, not a guess at a duration
    return True
