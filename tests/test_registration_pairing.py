"""Radar registration's plots worked on in C (gateway._registration) against the Python
and numpy code they replaced in ``Registration._work``/``_learn``, kept here as the
reference.  ``pair_plots``: the same pairs in the same order, the same records, and the
per-address memory (an OrderedDict of each radar's last plot) left the same, order
included; on random streams of plots with repeated addresses, several radars, times near
the window's edge and nan times.  ``pair_columns``: the columns, estimate, covariance and
cells of the normal matrix ``_learn`` gathered for its pairs, to the bit.  Shapes that do
not match and radars outside the equations must raise."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

from gateway._registration import pair_columns, pair_plots

RECORD = 12


def ref_pair(last, address, source, t, buf, size, window):
    mine, theirs, other = [], [], []
    for n, (a, s, tn) in enumerate(zip(address.tolist(), source.tolist(), t.tolist(),
                                       strict=True)):
        seen = last.get(a)
        if seen is None:
            seen = last[a] = {}
        else:
            last.move_to_end(a)
            for o, (tq, q) in seen.items():
                if o != s and -window <= tn - tq <= window:
                    mine.append(n)
                    theirs.append(q)
                    other.append(o)
        seen[s] = (tn, buf[n * size:(n + 1) * size])
    return mine, b"".join(theirs), other


def _batch(rng: np.random.Generator, n: int, t0: float):
    address = rng.integers(0, 30, n).astype(np.int64)
    source = rng.integers(0, 5, n).astype(np.int64)
    rec = rng.normal(size=(n, RECORD))
    rec[:, 0] = t0 + np.sort(rng.uniform(0, 20, n))
    rec[::17, 0] = rec[::17, 0].round()  # whole seconds: differences exactly the window
    if n > 3:
        rec[3, 0] = np.nan
    return address, source, rec


@pytest.mark.parametrize("seed", range(30))
def test_pairing_is_the_python_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    mine_last: OrderedDict = OrderedDict()
    ref_last: OrderedDict = OrderedDict()
    t0 = 0.0
    for _ in range(5):
        address, source, rec = _batch(rng, int(rng.integers(0, 80)), t0)
        t0 += 10.0
        size = rec.itemsize * RECORD
        buf = rec.tobytes()
        got = pair_plots(mine_last, address, source, rec[:, 0], buf, size, 6.0)
        want = ref_pair(ref_last, address, source, rec[:, 0], buf, size, 6.0)
        assert got == want
        assert _state(mine_last) == _state(ref_last)


def _state(last: OrderedDict) -> list:
    """The memory in its order, entries in theirs, times by their text (nan == nan)."""
    return [(a, [(o, repr(tq), q) for o, (tq, q) in seen.items()])
            for a, seen in last.items()]


def test_pairing_checks_shapes() -> None:
    address = np.zeros(3, np.int64)
    rec = np.zeros((3, RECORD))
    with pytest.raises(ValueError):
        pair_plots(OrderedDict(), address, address[:2], rec[:, 0], rec.tobytes(), 96, 6.0)
    with pytest.raises(ValueError):
        pair_plots(OrderedDict(), address, address, rec[:, 0], rec.tobytes()[:-1], 96, 6.0)


# -- the pairs' gathers in _learn (pair_columns) ------------------------------------------

NP = 4


def ref_columns(si, sj, theta, P):
    """``_learn``'s numpy: columns, estimate, covariance, the normal matrix's cells."""
    cols = np.empty((len(si), 2 * NP), dtype=np.int64)
    cols[:, :NP] = si[:, None] * NP + np.arange(NP)
    cols[:, NP:] = sj[:, None] * NP + np.arange(NP)
    size = len(theta)
    flat = (cols[:, :, None] * size + cols[:, None, :]).reshape(len(si), -1)
    return cols, theta[cols], P[cols[:, :, None], cols[:, None, :]], flat


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("seed", range(20))
def test_pair_columns_are_the_gathers(seed: int) -> None:
    rng = np.random.default_rng(seed)
    radars = int(rng.integers(2, 9))
    n = int(rng.integers(0, 300))
    theta = rng.normal(size=radars * NP)
    P = rng.normal(size=(radars * NP, radars * NP))
    P[rng.random(P.shape) < 0.02] = np.nan
    si = rng.integers(0, radars, n)
    sj = np.array(rng.integers(0, radars, n).tolist())  # as _work makes it, from a list
    si = np.stack([si, si], axis=1)[:, 0]  # a strided view, as _work's source[mine]
    got = pair_columns(si, sj, theta, P)
    want = ref_columns(si, sj, theta, P)
    assert all(_same(g, w) for g, w in zip(got, want, strict=True))


def test_pair_columns_checks_shapes_and_radars() -> None:
    theta, P = np.zeros(8), np.zeros((8, 8))
    one = np.zeros(1, dtype=np.int64)
    with pytest.raises(ValueError):
        pair_columns(one, np.zeros(2, dtype=np.int64), theta, P)
    with pytest.raises(ValueError):
        pair_columns(one, one, theta, P[:4])
    with pytest.raises(IndexError):  # a radar outside the equations
        pair_columns(one, one + 2, theta, P)
    with pytest.raises(IndexError):
        pair_columns(one - 1, one, theta, P)
