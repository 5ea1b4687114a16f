"""Radar registration's learning step (``Registration._learn``) with its element-wise
steps in C (gateway._registration's ``learn_terms``, ``learn_gate``, ``learn_sums``)
against the numpy code it was, kept here as the reference: the same normal equations,
pair counts and tallies, to the bit, on seeded random pairs with rejections of every
kind (a chi-square outlier, a difference beyond the cap, a nan or too uncertain velocity),
none and all rejected.  Shapes that do not match and indices outside the equations must
raise."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from gateway._registration import learn_gate, learn_sums, learn_terms, pair_columns
from gateway.associate.parameters import TrackerParameters
from gateway.associate.registration import NP, REFERENCE_MPS, Registration

_T, _X, _Y, _H = 0, 1, 2, slice(3, 9)
# numpy warns on the nan and infinite velocities the cases hold on purpose
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def ref_learn(self, ri, rj, sj, si, v, vvar) -> None:
    """``Registration._learn`` as it was, in numpy."""
    p = self.p
    dt = ri[:, _T] - rj[:, _T]
    d = ri[:, _X:_Y + 1] - (rj[:, _X:_Y + 1] + v * dt[:, None])
    J = np.empty((len(dt), 2, 2 * NP))
    J[:, :, 0:3] = ri[:, _H].reshape(-1, 2, 3)
    J[:, :, 3] = -v / REFERENCE_MPS
    J[:, :, 4:7] = -rj[:, _H].reshape(-1, 2, 3)
    J[:, :, 7] = v / REFERENCE_MPS
    extra = vvar * dt ** 2 + (0.5 * p.registration_accel_mps2 * dt ** 2) ** 2
    S = np.empty((len(dt), 2, 2))
    S[:, 0, 0] = ri[:, 9] + rj[:, 9] + extra
    S[:, 0, 1] = S[:, 1, 0] = ri[:, 10] + rj[:, 10]
    S[:, 1, 1] = ri[:, 11] + rj[:, 11] + extra
    cols, theta, Psub, flat = pair_columns(si, sj, self.theta, self.P)
    Jt = J.transpose(0, 2, 1)
    e = d - (J @ theta[:, :, None])[:, :, 0]
    G = S + J @ Psub @ Jt
    det = G[:, 0, 0] * G[:, 1, 1] - G[:, 0, 1] ** 2
    chi2 = (G[:, 1, 1] * e[:, 0] ** 2 - 2 * G[:, 0, 1] * e[:, 0] * e[:, 1]
            + G[:, 0, 0] * e[:, 1] ** 2) / det
    ok = ((chi2 < p.registration_gate_chi2) & (np.hypot(d[:, 0], d[:, 1])
                                               < p.registration_cap_m)
          & np.isfinite(chi2) & (det > 0) & np.isfinite(v).all(axis=1)
          & (vvar < p.registration_velocity_sigma_mps ** 2))
    self.rejected += int((~ok).sum())
    if not ok.any():
        return
    if not ok.all():
        J, Jt, S, d, cols, flat, sj, si = (J[ok], Jt[ok], S[ok], d[ok], cols[ok],
                                           flat[ok], sj[ok], si[ok])
    self._forget(float(ri[:, _T].max()))
    det = S[:, 0, 0] * S[:, 1, 1] - S[:, 0, 1] ** 2
    W = np.empty_like(S)
    W[:, 0, 0], W[:, 1, 1] = S[:, 1, 1] / det, S[:, 0, 0] / det
    W[:, 0, 1] = W[:, 1, 0] = -S[:, 0, 1] / det
    JW = Jt @ W
    JWJ = JW @ J
    JWd = (JW @ d[:, :, None])[:, :, 0]
    size = len(self.b)
    self.N += np.bincount(flat.ravel(), JWJ.ravel(), size * size).reshape(size, size)
    self.b += np.bincount(cols.ravel(), JWd.ravel(), size)
    self.pairs += np.bincount(np.concatenate((si, sj)), minlength=self.n)
    self.accepted += len(d)
    self.since_solve += len(d)


def state(rng: np.random.Generator, n: int) -> Registration:
    """A Registration's learning state over ``n`` radars, without a model."""
    reg = Registration.__new__(Registration)
    reg.p = TrackerParameters()
    reg.n, m = n, n * NP
    A = rng.normal(0, 5, (m, m))
    reg.N = A @ A.T
    reg.b = rng.normal(0, 100, m)
    reg.pairs = rng.uniform(0, 500, n)
    reg.theta = rng.normal(0, 20, m)
    B = rng.normal(0, 3, (m, m))
    reg.P = B @ B.T + np.eye(m)
    reg.t_forget = float(rng.choice([-np.inf, 0.0, 50.0]))
    reg.rejected = reg.accepted = reg.since_solve = 0
    return reg


def pairs_of(rng: np.random.Generator, n: int, k: int):
    ri, rj = np.empty((k, 12)), np.empty((k, 12))
    for r in (ri, rj):
        r[:, 0] = 100.0 + rng.uniform(-6, 6, k)
        r[:, 1:3] = rng.normal(0, 1e5, (k, 2))
        r[:, 3:9] = rng.normal(0, 1, (k, 6))
        a, c = rng.uniform(100, 40000, k), rng.uniform(100, 40000, k)
        r[:, 9], r[:, 11] = a, c
        r[:, 10] = rng.uniform(-0.9, 0.9, k) * np.sqrt(a * c)
    rj[::5, 0] = ri[::5, 0]  # no time between the two: dt exactly zero
    v = rng.normal(0, 200, (k, 2))
    rj[:, 1:3] = ri[:, 1:3] - v * (ri[:, :1] - rj[:, :1]) + rng.normal(0, 150, (k, 2))
    vvar = rng.uniform(0, 400, k)
    bad = rng.random(k)
    rj[bad < 0.05, 1] += 5000.0  # beyond the cap
    rj[(bad >= 0.05) & (bad < 0.1), 2] += 800.0  # an outlier for the gate
    v[(bad >= 0.1) & (bad < 0.13), 0] = np.nan
    v[(bad >= 0.13) & (bad < 0.15), 1] = np.inf
    vvar[(bad >= 0.15) & (bad < 0.18)] = 1e4  # too uncertain
    si = rng.integers(0, n, k).astype(np.int64)
    sj = (si + rng.integers(1, n, k)) % n
    return ri, rj, sj.astype(np.int64), si, v, vvar


def same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def check(reg: Registration, args) -> None:
    want = copy.deepcopy(reg)
    ref_learn(want, *(a.copy() for a in args))
    reg._learn(*args)
    for name in ("N", "b", "pairs"):
        assert same(getattr(reg, name), getattr(want, name)), name
    for name in ("rejected", "accepted", "since_solve", "t_forget"):
        assert getattr(reg, name) == getattr(want, name), name


@pytest.mark.parametrize("seed", range(40))
def test_learn_is_numpys(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 11))
    reg = state(rng, n)
    for _ in range(3):  # several rounds on the same equations
        check(reg, pairs_of(rng, n, int(rng.integers(1, 400))))


def test_none_and_all_rejected() -> None:
    rng = np.random.default_rng(7)
    reg = state(rng, 4)
    ri, rj, sj, si, v, vvar = pairs_of(rng, 4, 50)
    v[:] = np.nan  # every one rejected: the equations stay
    N = reg.N.copy()
    check(reg, (ri, rj, sj, si, v, vvar))
    assert same(reg.N, N) and reg.rejected == 50 and reg.accepted == 0
    ri, rj, sj, si, v, vvar = pairs_of(rng, 4, 50)
    reg.p = TrackerParameters(registration_gate_chi2=1e6, registration_cap_m=1e6,
                              registration_velocity_sigma_mps=1000.0)
    v[~np.isfinite(v)] = 1.0
    check(reg, (ri, rj, sj, si, v, vvar))  # none rejected
    assert reg.rejected == 50 and reg.accepted == 50


def test_hostile_inputs_raise() -> None:
    z2, z3 = np.zeros((3, 2)), np.zeros((3, 2, 2))
    with pytest.raises(ValueError):
        learn_terms(np.zeros((3, 12)), np.zeros((3, 11)), z2, np.zeros(3), 1.5)
    with pytest.raises(ValueError):
        learn_terms(np.zeros((3, 12)), np.zeros((3, 12)), z2, np.zeros(2), 1.5)
    with pytest.raises(ValueError):  # not float64
        learn_terms(np.zeros((3, 12), np.float32), np.zeros((3, 12)), z2, np.zeros(3), 1.5)
    with pytest.raises(TypeError):
        learn_terms([[0.0] * 12] * 3, np.zeros((3, 12)), z2, np.zeros(3), 1.5)
    with pytest.raises(ValueError):
        learn_gate(z3, z2, z2, z3[:2], z2, np.zeros(3), 20.0, 2000.0, 900.0)
    N, b, pairs = np.zeros((8, 8)), np.zeros(8), np.zeros(2)
    flat, cols = np.zeros((1, 64), np.int64), np.zeros((1, 8), np.int64)
    JWJ, JWd, s = np.ones((1, 8, 8)), np.ones((1, 8)), np.zeros(1, np.int64)
    learn_sums(N, b, pairs, flat, JWJ, cols, JWd, s, s)
    assert N[0, 0] == 64.0 and b[0] == 8.0 and pairs.tolist() == [2.0, 0.0]
    for bad in ({"flat": flat + 64}, {"cols": cols - 1}, {"si": s + 2}):
        args = dict(N=N, b=b, pairs=pairs, flat=flat, JWJ=JWJ, cols=cols, JWd=JWd, si=s,
                    sj=s) | bad
        with pytest.raises(IndexError):
            learn_sums(*args.values())
    assert N[0, 0] == 64.0 and b[0] == 8.0  # nothing added on an error
    with pytest.raises(ValueError):  # read-only equations
        N.flags.writeable = False
        learn_sums(N, b, pairs, flat, JWJ, cols, JWd, s, s)
    with pytest.raises(ValueError):
        learn_sums(np.zeros((8, 8)), b, pairs, flat, JWJ[:, :7], cols, JWd, s, s)
