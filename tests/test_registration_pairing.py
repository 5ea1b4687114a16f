"""Radar registration's plots worked on in C (gateway._registration) against the Python
and numpy code they replaced in ``Registration._keep``/``_work``, kept here as the
reference.  ``pair_plots``: the same pairs in the same order, the same records, and the
per-address memory (an OrderedDict of each radar's last plot) left the same, order
included; on random streams of plots with repeated addresses, several radars, times near
the window's edge and nan times.  ``keep_plots``: the rows ``_work`` gathered from the
cycles ``_keep`` had kept, to the bit.  Shapes that do not match must raise."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

from gateway._registration import keep_plots, pair_plots

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


# -- the plots kept: copied as they come (keep_plots), not gathered in _work ------------------

def ref_gather(parts):
    """``_work``'s gathering of the cycles ``_keep`` had kept (source, rows, the cycle's
    columns, velocities, variances): source, address, columns [n, 8], velocity, variance."""
    source = np.concatenate([np.full(len(j), s) for s, j, _c, _v, _w in parts])
    sizes = [len(c[0]) for _s, _j, c, _v, _w in parts]
    start = np.cumsum([0, *sizes[:-1]])
    rows = np.concatenate([j + a for (_s, j, _c, _v, _w), a in zip(
        parts, start.tolist(), strict=True)])
    gathered = [np.concatenate(column)[rows] for column in zip(
        *(c for _s, _j, c, _v, _w in parts), strict=True)]
    address = gathered.pop()
    cols = np.stack(gathered, axis=1)
    vel = np.concatenate([v for _s, _j, _c, v, _w in parts])
    vvar = np.concatenate([w for _s, _j, _c, _v, w in parts])
    return source, address, cols, vel, vvar


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and bool(
        np.array_equal(a.view(np.int64), b.view(np.int64)))


@pytest.mark.parametrize("seed", range(20))
def test_keeping_is_the_gathering(seed: int) -> None:
    rng = np.random.default_rng(seed)
    parts = []
    num, ids = np.empty((500, 11)), np.empty((500, 2), dtype=np.int64)
    at = 0
    for _ in range(int(rng.integers(1, 12))):
        n = int(rng.integers(1, 30))
        xy = rng.normal(size=(n, 2)) * 1e5
        c = [rng.normal(size=n) for _ in range(5)]  # line of sight, slant, ground, scale
        c[2][::5] = np.nan
        t = rng.uniform(0, 100, n)
        ident = rng.integers(-1, 1 << 24, (n, 4))
        j = np.sort(rng.choice(n, int(rng.integers(1, n + 1)), replace=False))
        v, w = rng.normal(size=(len(j), 2)), rng.uniform(0, 50, len(j))
        source = int(rng.integers(0, 8))
        parts.append((source, j, (t, xy[:, 0], xy[:, 1], *c, ident[:, 0]), v, w))
        at = keep_plots(num, ids, at, source, j, t, xy[:, 0], xy[:, 1], *c, ident[:, 0], v, w)
    source, address, cols, vel, vvar = ref_gather(parts)
    assert at == len(source)
    assert _same(ids[:at, 0], source) and _same(ids[:at, 1], address)
    assert _same(np.ascontiguousarray(num[:at, :8]), cols)
    assert _same(np.ascontiguousarray(num[:at, 8:10]), vel)
    assert _same(np.ascontiguousarray(num[:at, 10]), vvar)


def test_keeping_checks_room_shapes_and_rows() -> None:
    z, i = np.zeros(3), np.zeros(3, np.int64)
    v, w = np.zeros((1, 2)), np.zeros(1)
    with pytest.raises(ValueError):  # no room
        keep_plots(np.empty((0, 11)), np.empty((0, 2), np.int64), 0, 0, i[:1], z, z, z, z, z,
                   z, z, z, i, v, w)
    num, ids = np.empty((4, 11)), np.empty((4, 2), np.int64)
    with pytest.raises(ValueError):  # a column short
        keep_plots(num, ids, 0, 0, i[:1], z, z[:2], z, z, z, z, z, z, i, v, w)
    with pytest.raises(IndexError):
        keep_plots(num, ids, 0, 0, np.array([3]), z, z, z, z, z, z, z, z, i, v, w)
