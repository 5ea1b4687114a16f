"""The climb and descent time kernel (``_airspace.time_to``, ext/airspace.pyx) against the
Python loop it replaced in ``Handoff._time_to`` (kept as ``Handoff._time_to_python``): the
same seconds to the bit, over levels, rates, speeds and distances, the approach schedule
and the ground included."""

from __future__ import annotations

import numpy as np
import pytest

from gateway import _airspace
from gateway.handoff.engine import Handoff


def cases(seed: int, n: int) -> list[tuple[float, float, float, float]]:
    rng = np.random.default_rng(seed)
    v = rng.choice([60.0, 140.0, 250.0, 310.5, 480.0, 620.0], n) + rng.uniform(-5, 5, n)
    fl = np.concatenate([rng.uniform(-5, 450, n - n // 4), rng.uniform(0, 110, n // 4)])
    roc = rng.choice([-1, 1], n) * rng.uniform(500, 6000, n)
    dist = rng.uniform(0, 3600, n) * v
    out = [(float(a), float(b), float(c), float(d)) for a, b, c, d in zip(v, fl, roc, dist,
                                                                         strict=True)]
    # whole numbers (as the messages' int fields give), the edges of the schedule
    out += [(450.0, 100.0, -1500.0, 450.0 * 300), (250.0, 25.0, -800.0, 250.0 * 200),
            (300.0, 70.0, -500.0, 3e6), (300.0, 0.0, -3000.0, 1e4), (300.0, 99.99, -700.0, 5e4),
            (420.0, 350.0, 2000.0, 0.0), (420.0, 350.0, 2000.0, 1e9), (5.0, 10.0, -600.0, 1e7)]
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_time_to_is_the_python_loop_to_the_bit(seed: int) -> None:
    for v, fl, roc, dist in cases(seed, 400):
        want = Handoff._time_to_python(v, fl, roc, dist)
        got = _airspace.time_to(v, fl, roc, dist)
        assert got == want or (np.isnan(got) and np.isnan(want)), (v, fl, roc, dist)


def test_time_to_edge_inputs() -> None:
    for args in [(float("nan"), 300.0, -1000.0, 1e4), (300.0, float("nan"), -1000.0, 1e4),
                 (300.0, 300.0, -1000.0, float("inf")), (-300.0, 300.0, 1000.0, -1e4),
                 (300.0, 300.0, -1000.0, -5.0)]:
        want = Handoff._time_to_python(*args)
        got = _airspace.time_to(*args)
        assert got == want or (np.isnan(got) and np.isnan(want)), args
    with pytest.raises(ZeroDivisionError):
        Handoff._time_to_python(0.0, 300.0, 1000.0, 0.0)
    with pytest.raises(ZeroDivisionError):
        _airspace.time_to(0.0, 300.0, 1000.0, 0.0)
