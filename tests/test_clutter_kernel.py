"""The clutter map's kernels (ext/lifecycle.pyx: ``clutter_cells``, ``clutter_density``,
``clutter_learn``) against the numpy code they replaced in ``ClutterMap``, kept here as the
reference, to the bit: on random plots and maps, on plots exactly on a ring or sector edge
and a few ulp either side of it, with lines of sight and ranges that are not finite, cells
repeated in one call, sources with no map yet, and nan times."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gateway.associate import TrackerParameters
from gateway.associate.lifecycle import ClutterMap

P = TrackerParameters()


# -- the reference: the numpy code the kernels replaced ------------------------------------

def ref_cells(cm: ClutterMap, ground: np.ndarray, los_x: np.ndarray,
              los_y: np.ndarray) -> np.ndarray:
    ok = np.isfinite(ground) & np.isfinite(los_x) & np.isfinite(los_y)
    ring = np.minimum(np.where(ok, ground, 0.0) // cm.p.clutter_cell_range_m,
                      cm.n_range - 1).astype(np.int64)
    az = np.degrees(np.arctan2(np.where(ok, los_x, 0.0), np.where(ok, los_y, 0.0))) % 360.0
    sector = np.minimum(az // cm.p.clutter_cell_azimuth_deg,
                        cm.n_azimuth - 1).astype(np.int64)
    return np.where(ok, ring * cm.n_azimuth + sector, -1)


def ref_at(cm: ClutterMap, source: np.ndarray, cell: np.ndarray, t: np.ndarray) -> np.ndarray:
    out = np.zeros(len(cell))
    known = (cell >= 0) & (source < len(cm.density))
    if known.any():
        s, c, tk = source[known], cell[known], t[known]
        tau = cm.p.clutter_memory_s
        age = np.fmax(tk - cm.t[s, c], 0.0)
        since = np.fmax(tk - cm.start[s], cm.WARM_S)
        out[known] = cm.density[s, c] * np.exp(-age / tau) / -np.expm1(-since / tau)
    return out


def ref_learn(cm: ClutterMap, source: np.ndarray, cell: np.ndarray, t: np.ndarray,
              plots: np.ndarray) -> None:
    known = (cell >= 0) & (source >= 0)
    if not known.any():
        return
    cm._ensure(int(source[known].max()))
    s, c, t, n = source[known], cell[known], t[known], plots[known]
    np.fmin.at(cm.start, s, t)
    tau = cm.p.clutter_memory_s
    now = float(t.max())
    cm.density[s, c] *= np.exp(-np.fmax(now - cm.t[s, c], 0.0) / tau)
    cm.t[s, c] = now
    np.add.at(cm.density, (s, c), n * np.exp(-np.fmax(now - t, 0.0) / tau))


def same(a: np.ndarray, b: np.ndarray) -> None:
    """Equal to the bit (nan where nan), dtype and shape too."""
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def maps(seed: int) -> tuple[ClutterMap, ClutterMap]:
    """Two maps alike, coarse cells (so that plots share them), some history."""
    p = dataclasses.replace(P, clutter_cell_range_m=5_000.0, clutter_cell_azimuth_deg=7.5)
    a, b = ClutterMap(p), ClutterMap(p)
    for cm in (a, b):
        cm._ensure(2)  # source 2's map has not begun (start nan)
        cells = cm.density.shape[1]
        r = np.random.default_rng(seed)
        cm.density[:2] = r.exponential(3.0, (2, cells)) * (r.random((2, cells)) < 0.5)
        cm.t[:2] = r.uniform(0.0, 500.0, (2, cells))
        cm.start[:2] = r.uniform(0.0, 100.0, 2)
    return a, b


# -- the tests ------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 2, 50, 2000])
def test_cells_are_numpys_on_random_plots(n: int) -> None:
    cm = ClutterMap(P)
    rng = np.random.default_rng(n)
    ground = rng.uniform(0.0, 1.2 * P.clutter_max_range_m, n)
    los = rng.normal(size=(2, n))
    bad = rng.random(n) < 0.2
    ground[bad & (rng.random(n) < 0.5)] = np.nan
    los[0, bad & (rng.random(n) < 0.5)] = np.inf
    got = ClutterMap(P).cells(_Plots(ground, los[0], los[1]))
    same(got, ref_cells(cm, ground, los[0], los[1]))


def test_cells_on_and_beside_every_edge_are_numpys() -> None:
    """Ranges and bearings exactly on a ring's or sector's edge, and 3 ulp either side."""
    cm = ClutterMap(P)
    edges_r = np.arange(cm.n_range + 2) * P.clutter_cell_range_m
    edges_a = np.radians(np.arange(cm.n_azimuth + 1) * P.clutter_cell_azimuth_deg)

    def beside(v: np.ndarray) -> np.ndarray:
        out = [v]
        for way in (np.inf, -np.inf):
            w = v
            for _ in range(3):
                w = np.nextafter(w, way)
                out.append(w)
        return np.concatenate(out)
    r = beside(edges_r)
    r = r[r >= 0]
    bearing = beside(edges_a)
    g, b = np.meshgrid(r, bearing)
    g, b = g.ravel(), b.ravel()
    x, y = np.sin(b), np.cos(b)
    # and the exact axes, both signs of zero
    x = np.concatenate([x, [0.0, -0.0, 0.0, -0.0, 1.0, -1.0]])
    y = np.concatenate([y, [1.0, 1.0, -1.0, -1.0, 0.0, -0.0]])
    g = np.concatenate([g, np.full(6, 1_000.0)])
    same(cm.cells(_Plots(g, x, y)), ref_cells(cm, g, x, y))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_density_is_numpys(seed: int) -> None:
    a, _ = maps(seed)
    rng = np.random.default_rng(100 + seed)
    n = 40
    cells = a.density.shape[1]
    source = rng.integers(0, 4, n)  # 2 and 3: sources with no map (3), or a fresh one (2)
    cell = np.where(rng.random(n) < 0.2, -1, rng.integers(0, cells, n))
    t = rng.uniform(0.0, 800.0, n)
    t[::7] = np.nan
    same(a.at(source, cell, t), ref_at(a, source, cell, t))
    same(a.at(source[:0], cell[:0], t[:0]), ref_at(a, source[:0], cell[:0], t[:0]))
    with pytest.raises(IndexError):
        a.at(np.array([0]), np.array([cells]), np.array([1.0]))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_learn_is_numpys(seed: int) -> None:
    """Several calls on the same two maps, cells repeated within a call, new sources (the
    map grows), measurements with no cell or no source, and a call with a nan time."""
    a, b = maps(seed)
    rng = np.random.default_rng(200 + seed)
    cells = a.density.shape[1]
    for call in range(12):
        n = int(rng.integers(0, 6))
        source = rng.integers(-1, 5, n)
        cell = np.where(rng.random(n) < 0.2, -1, rng.integers(0, 4, n) * (cells // 4))
        t = 500.0 + 10.0 * call + rng.uniform(-5.0, 5.0, n)
        if call == 7 and n:
            t[-1] = np.nan
        plots = rng.integers(1, 6, n).astype(np.float64)
        a.learn(source, cell, t, plots)
        ref_learn(b, source, cell, t, plots)
        for x, y in ((a.density, b.density), (a.t, b.t), (a.start, b.start)):
            same(x, y)


class _Plots:
    """What ``cells`` reads of ``Measurements``."""

    def __init__(self, ground: np.ndarray, los_x: np.ndarray, los_y: np.ndarray) -> None:
        self.ground_m, self.los_x, self.los_y = ground, los_x, los_y
