"""The simulation run that made the shipped capture and truth (captures/border-10min.*).

``test_simulator`` holds the shipped files to it byte for byte and ``test_normalize``
measures the normaliser against it.  It takes seconds to make, so it is made once per test
session, by whichever module asks first.
"""

from __future__ import annotations

from functools import cache

from gateway.sim.run import Simulation, simulate
from gateway.sim.scenario import BORDER

SHIPPED_SEED, SHIPPED_DURATION = 2026, 600.0


@cache
def shipped_simulation() -> Simulation:
    """Shared: callers must not change it."""
    return simulate(BORDER, SHIPPED_DURATION, SHIPPED_SEED)
