# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The tracker's per-batch filter algebra, one track at a time in C.

A radar sector brings ~18 plots: numpy's cost per call, not per element, dominated the
vectorised filter (a dozen small calls per step).  Here each function is one call per
batch with fixed 4x4 / 2x2 algebra in plain loops.  The maths is gateway/associate/
filter.py's (its docstrings say why); tests/test_tracking_kernel.py checks it against a
textbook per-track numpy reference.

State ``[x, y, vx, vy]``, covariance 4x4 row-major.  A model is a turn rate ``w`` (0:
constant velocity), a white-acceleration density ``q`` and ``limit``, the longest it
turns in one prediction (straight before that).  IMM models' predictions are packed
[k, M * 21] per track: per model its predicted probability, state [4], covariance [16].

Every function checks the shapes it is given (ValueError), never reads out of bounds.
"""

from libc.math cimport INFINITY, NAN, cos, exp, fabs, fma, fmax, isfinite, log, sin, sqrt
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc

import numpy as np


include "imm.pxi"
include "advance.pxi"
include "level.pxi"


cdef inline void _kalman(const double* x0, const double* P0, const double* nu,
                         const double* si, double* x, double* P) noexcept nogil:
    """K = P H' S^-1, x = x0 + K nu, P = P0 - K H P0 made exactly symmetric (see
    ConstantVelocity.update_innovation: the rounding's antisymmetric part grows)."""
    cdef double K[8]
    cdef double Pn[16]
    cdef int i, j
    for i in range(4):
        K[2 * i] = P0[4 * i] * si[0] + P0[4 * i + 1] * si[2]
        K[2 * i + 1] = P0[4 * i] * si[1] + P0[4 * i + 1] * si[3]
    for i in range(4):
        x[i] = x0[i] + K[2 * i] * nu[0] + K[2 * i + 1] * nu[1]
        for j in range(4):
            Pn[4 * i + j] = P0[4 * i + j] - (K[2 * i] * P0[j] + K[2 * i + 1] * P0[4 + j])
    for i in range(4):
        for j in range(4):
            P[4 * i + j] = 0.5 * (Pn[4 * i + j] + Pn[4 * j + i])


cdef inline bint _inverse2(double a, double b, double d, double* inv) noexcept nogil:
    """Inverse of the symmetric 2x2 [[a, b], [b, d]] into inv (a', b', d'), False (inv
    untouched) unless it is positive definite and finite: covariance intersection has no
    answer for a degenerate covariance."""
    cdef double det = a * d - b * b
    if not (det > 0.0 and a > 0.0 and isfinite(det) and isfinite(a) and isfinite(b)
            and isfinite(d)):
        return False
    inv[0] = d / det
    inv[1] = -b / det
    inv[2] = a / det
    return True


cdef inline double _ci_candidate(double w, double p, double q, double r, double s,
                                 double u) noexcept nogil:
    """trace of the fused covariance at weight w, +inf where w is outside [0, 1] (or nan)
    or the trace is not a finite positive number."""
    cdef double f
    if not (w >= 0.0 and w <= 1.0):
        return INFINITY
    f = (p + q * w) / (r + s * w + u * w * w)
    if isfinite(f) and f > 0.0:
        return f
    return INFINITY


cdef inline double _ci_weight(const double* a, const double* b) noexcept nogil:
    """Covariance intersection weight of the measurement (ConstantVelocity.ci_weight says
    why the closed form), from the inverses a = A^-1, b = B^-1 as (11, 12, 22).  The
    operations and their order are numpy's in the former vectorised version, so that the
    weight is the same to the bit: candidates 0, 1 and the roots of the derivative, the
    first of the smallest trace wins."""
    cdef double d11 = b[0] - a[0], d12 = b[1] - a[1], d22 = b[2] - a[2]
    cdef double p = a[0] + a[2], q = d11 + d22
    cdef double r = a[0] * a[2] - a[1] * a[1]
    cdef double s = a[0] * d22 + a[2] * d11 - 2.0 * a[1] * d12
    cdef double u = d11 * d22 - d12 * d12
    cdef double A = q * u, B = 2.0 * p * u, C = p * s - q * r
    cdef double disc2 = B * B - 4.0 * A * C
    cdef double disc = sqrt(disc2) if disc2 >= 0.0 else NAN
    cdef double r1, r2, w = 0.0, f, best
    if fabs(A) < 1e-30 * (fabs(B) + fabs(C) + 1e-300):
        r1 = -C / B
        r2 = NAN
    else:
        r1 = (-B + disc) / (2.0 * A)
        r2 = (-B - disc) / (2.0 * A)
    best = _ci_candidate(0.0, p, q, r, s, u)
    f = _ci_candidate(1.0, p, q, r, s, u)
    if f < best:
        best = f
        w = 1.0
    f = _ci_candidate(r1, p, q, r, s, u)
    if f < best:
        best = f
        w = r1
    f = _ci_candidate(r2, p, q, r, s, u)
    if f < best:
        w = r2
    return w


cdef inline bint _intersect(const double* x0, const double* P0, const double* z,
                              const double* R, double* x, double* P) noexcept nogil:
    """Covariance intersection of the state x0, P0's position with the estimate z, R
    (ConstantVelocity.intersect says why the velocity follows by regression); False,
    with x, P a copy of x0, P0, where either position covariance is not positive definite
    (nothing to intersect).

    Bit for bit what the former numpy version gave: its element-wise steps are unfused;
    its three matrix products went to OpenBLAS, whose small-matrix kernel accumulates
    with fused multiply-adds (the first product rounded, the second fused), so those
    are fma() here, and the extension is built with -ffp-contract=off so that gcc fuses
    nothing else."""
    cdef double a[3]
    cdef double b[3]
    cdef double f[3]
    cdef double L[8]
    cdef double T[8]
    cdef double sh[4]
    cdef double w, v, ax, ay, gx, gy, d0, d1, pij
    cdef int i, j
    if not (_inverse2(P0[0], P0[1], P0[5], a) and _inverse2(R[0], R[1], R[3], b)):
        for i in range(4):
            x[i] = x0[i]
        for i in range(16):
            P[i] = P0[i]
        return False
    w = _ci_weight(a, b)
    v = 1.0 - w
    # inverse2 of the fused information; positive definite as a convex sum of two
    f[2] = v * a[0] + w * b[0]
    f[1] = v * a[1] + w * b[1]
    f[0] = v * a[2] + w * b[2]
    d0 = f[2] * f[0] - f[1] * f[1]
    f[0] = f[0] / d0
    f[1] = -f[1] / d0
    f[2] = f[2] / d0
    ax = x0[0]
    ay = x0[1]
    gx = v * (a[0] * ax + a[1] * ay) + w * (b[0] * z[0] + b[1] * z[1])
    gy = v * (a[1] * ax + a[2] * ay) + w * (b[1] * z[0] + b[2] * z[1])
    d0 = f[0] * gx + f[1] * gy - ax
    d1 = f[1] * gx + f[2] * gy - ay
    # L = P H' A^-1 [4, 2] (numpy: matmul, OpenBLAS)
    for i in range(4):
        L[2 * i] = fma(P0[4 * i + 1], a[1], P0[4 * i] * a[0])
        L[2 * i + 1] = fma(P0[4 * i + 1], a[2], P0[4 * i] * a[1])
    # A - Af
    sh[0] = P0[0] - f[0]
    sh[1] = P0[1] - f[1]
    sh[2] = P0[4] - f[1]
    sh[3] = P0[5] - f[2]
    # T = L (A - Af) [4, 2] (OpenBLAS)
    for i in range(4):
        T[2 * i] = fma(L[2 * i + 1], sh[2], L[2 * i] * sh[0])
        T[2 * i + 1] = fma(L[2 * i + 1], sh[3], L[2 * i] * sh[1])
    for i in range(4):
        # numpy: einsum, unfused
        x[i] = x0[i] + (L[2 * i] * d0 + L[2 * i + 1] * d1)
        for j in range(4):
            # P - T L' (OpenBLAS)
            P[4 * i + j] = P0[4 * i + j] - fma(T[2 * i + 1], L[2 * j + 1], T[2 * i] * L[2 * j])
    for i in range(4):
        P[5 * i] = 0.5 * (P[5 * i] + P[5 * i])
        for j in range(i + 1, 4):
            pij = 0.5 * (P[4 * i + j] + P[4 * j + i])
            P[4 * i + j] = pij
            P[4 * j + i] = pij
    return True


def _models(const double[::1] w, const double[::1] q, const double[::1] limit) -> int:
    if not (w.shape[0] == q.shape[0] == limit.shape[0] >= 1):
        raise ValueError("every model needs a turn rate, a q and a limit")
    return w.shape[0]


def predict(const double[:, :, ::1] xm, const double[:, :, :, ::1] Pm, const double[::1] dt,
            const double[::1] w, const double[::1] q, const double[::1] limit):
    """Each model's state [k, M, 4] and covariance [k, M, 4, 4] predicted by dt [k]
    (negative: backwards with the noise of |dt|).  New arrays."""
    cdef Py_ssize_t k = xm.shape[0], i
    cdef int M = _models(w, q, limit), b
    if xm.shape[1] != M or xm.shape[2] != 4 or Pm.shape[0] != k or Pm.shape[1] != M \
            or Pm.shape[2] != 4 or Pm.shape[3] != 4 or dt.shape[0] != k:
        raise ValueError("predict: shapes do not agree")
    x_out = np.empty((k, M, 4))
    P_out = np.empty((k, M, 4, 4))
    cdef double[:, :, ::1] xo = x_out
    cdef double[:, :, :, ::1] Po = P_out
    with nogil:
        for i in range(k):
            for b in range(M):
                _predict(&xm[i, b, 0], &Pm[i, b, 0, 0], dt[i], w[b], q[b], limit[b],
                         &xo[i, b, 0], &Po[i, b, 0, 0])
    return x_out, P_out


def innovation(const double[:, ::1] x, const double[:, :, ::1] P, const double[:, ::1] z,
               const double[:, :, ::1] R):
    """Innovations nu [n, 2], S^-1 [n, 2, 2] and Mahalanobis distances [n] of position
    measurements z, R against predicted states x, P."""
    cdef Py_ssize_t n = x.shape[0], i
    if x.shape[1] != 4 or P.shape[0] != n or P.shape[1] != 4 or P.shape[2] != 4 \
            or z.shape[0] != n or z.shape[1] != 2 or R.shape[0] != n or R.shape[1] != 2 \
            or R.shape[2] != 2:
        raise ValueError("innovation: shapes do not agree")
    nu_out = np.empty((n, 2))
    si_out = np.empty((n, 2, 2))
    d2_out = np.empty(n)
    cdef double[:, ::1] nu = nu_out
    cdef double[:, :, ::1] si = si_out
    cdef double[::1] d2 = d2_out
    with nogil:
        for i in range(n):
            d2[i] = _innovate(&x[i, 0], &P[i, 0, 0], &z[i, 0], &R[i, 0, 0], &nu[i, 0],
                              &si[i, 0, 0])
    return nu_out, si_out, d2_out


cdef tuple _new_states(const double[:, ::1] x, const double[:, :, ::1] P,
                       const double[:, ::1] v, const double[:, :, ::1] M, str name):
    """Empty x [n, 4] and P [n, 4, 4] for states updated by a position vector v [n, 2] and
    its 2x2 matrix M [n, 2, 2], once their shapes agree: the Kalman update and the
    covariance intersection take the same four arrays."""
    cdef Py_ssize_t n = x.shape[0]
    if x.shape[1] != 4 or P.shape[0] != n or P.shape[1] != 4 or P.shape[2] != 4 \
            or v.shape[0] != n or v.shape[1] != 2 or M.shape[0] != n or M.shape[1] != 2 \
            or M.shape[2] != 2:
        raise ValueError(f"{name}: shapes do not agree")
    return np.empty((n, 4)), np.empty((n, 4, 4))


def kalman_update(const double[:, ::1] x, const double[:, :, ::1] P,
                  const double[:, ::1] nu, const double[:, :, ::1] s_inv):
    """Kalman update of predicted states by their innovations and S^-1.  New arrays."""
    cdef Py_ssize_t n = x.shape[0], i
    x_out, P_out = _new_states(x, P, nu, s_inv, "kalman_update")
    cdef double[:, ::1] xo = x_out
    cdef double[:, :, ::1] Po = P_out
    with nogil:
        for i in range(n):
            _kalman(&x[i, 0], &P[i, 0, 0], &nu[i, 0], &s_inv[i, 0, 0], &xo[i, 0],
                    &Po[i, 0, 0])
    return x_out, P_out


def ci_weight(const double[:, :, ::1] P, const double[:, :, ::1] R):
    """Covariance intersection weights [n] of position estimates R [n, 2, 2] against the
    states' covariances P [n, 4, 4] (their position blocks): in [0, 1], nan where either
    is not positive definite."""
    cdef Py_ssize_t n = P.shape[0], i
    if P.shape[1] != 4 or P.shape[2] != 4 or R.shape[0] != n or R.shape[1] != 2 \
            or R.shape[2] != 2:
        raise ValueError("ci_weight: shapes do not agree")
    w_out = np.empty(n)
    cdef double[::1] w = w_out
    cdef double a[3]
    cdef double b[3]
    with nogil:
        for i in range(n):
            if _inverse2(P[i, 0, 0], P[i, 0, 1], P[i, 1, 1], a) \
                    and _inverse2(R[i, 0, 0], R[i, 0, 1], R[i, 1, 1], b):
                w[i] = _ci_weight(a, b)
            else:
                w[i] = NAN
    return w_out


def intersect(const double[:, ::1] x, const double[:, :, ::1] P, const double[:, ::1] z,
              const double[:, :, ::1] R):
    """Covariance intersection of states x [n, 4], P [n, 4, 4] with position estimates
    z [n, 2], R [n, 2, 2]: new x, P, and how many rows were left as they were because a
    position covariance was not positive definite."""
    cdef Py_ssize_t n = x.shape[0], i, bad = 0
    x_out, P_out = _new_states(x, P, z, R, "intersect")
    cdef double[:, ::1] xo = x_out
    cdef double[:, :, ::1] Po = P_out
    with nogil:
        for i in range(n):
            if not _intersect(&x[i, 0], &P[i, 0, 0], &z[i, 0], &R[i, 0, 0], &xo[i, 0],
                          &Po[i, 0, 0]):
                bad += 1
    return x_out, P_out, bad


def imm_predict(const double[:, ::1] tx, const double[:, :, ::1] tP,
                const double[:, :, ::1] txm, const double[:, :, :, ::1] tPm,
                const double[:, ::1] tmu, const int64_t[::1] rows, const double[::1] dt,
                const double[::1] mu0, const double[::1] w, const double[::1] q,
                const double[::1] limit, const double[::1] ev, const double[:, ::1] V,
                const double[:, ::1] Vi):
    """IMM mixing and prediction of the table's ``rows`` by dt: the combined prediction
    x [k, 4], P [k, 4, 4] (what the gate judges on) and every model's, packed [k, M * 21].

    Table arrays: x [N, 4], P [N, 4, 4], per-model xm [N, M, 4], Pm [N, M, 4, 4], mu
    [N, M]; a row whose mu is nan (a new track) starts every model at its x, P with the
    probabilities mu0.  The Markov transition over |dt| is ``V diag(exp(|dt| ev)) Vi``
    (the rate matrix diagonalised), clipped at 0 and its rows normalised.  Mixing as in
    InteractingMultipleModel._mix_predict: from the states less their mean (no
    cancellation)."""
    cdef int M = _models(w, q, limit)
    cdef Py_ssize_t k = rows.shape[0], N = tx.shape[0], i
    cdef int64_t r
    if tx.shape[1] != 4 or tP.shape[0] != N or tP.shape[1] != 4 or tP.shape[2] != 4 \
            or txm.shape[0] != N or txm.shape[1] != M or txm.shape[2] != 4 \
            or tPm.shape[0] != N or tPm.shape[1] != M or tPm.shape[2] != 4 \
            or tPm.shape[3] != 4 or tmu.shape[0] != N or tmu.shape[1] != M \
            or dt.shape[0] != k or mu0.shape[0] != M or ev.shape[0] != M \
            or V.shape[0] != M or V.shape[1] != M or Vi.shape[0] != M or Vi.shape[1] != M:
        raise ValueError("imm_predict: shapes do not agree")
    for i in range(k):
        if rows[i] < 0 or rows[i] >= N:
            raise ValueError("imm_predict: row out of the table")
    x_out = np.empty((k, 4))
    P_out = np.empty((k, 4, 4))
    packed_out = np.empty((k, M * 21))
    cdef double[:, ::1] xo = x_out
    cdef double[:, :, ::1] Po = P_out
    cdef double[:, ::1] pk = packed_out
    cdef double* scratch = <double*> malloc(sizeof(double) * IMM_SCRATCH(M))
    if scratch == NULL:
        raise MemoryError()
    try:
        with nogil:
            for i in range(k):
                r = rows[i]
                _imm_predict_row(M, &tx[r, 0], &tP[r, 0, 0], &txm[r, 0, 0], &tPm[r, 0, 0, 0],
                                 &tmu[r, 0], dt[i], &mu0[0], &w[0], &q[0], &limit[0],
                                 &ev[0], &V[0, 0], &Vi[0, 0], scratch, &pk[i, 0], &xo[i, 0],
                                 &Po[i, 0, 0])
    finally:
        free(scratch)
    return x_out, P_out, packed_out


cdef inline Py_ssize_t _imm_update_row(int M, const double* packed, const double* z,
                                       const double* R, double floor, bint kalman,
                                       double* mu, double* xm, double* Pm,
                                       double* loglik) noexcept nogil:
    """One track's models (packed [M * 21]) weighed by their likelihoods of z, R and
    updated by it (``imm_update`` says how): mu [M], xm [M * 4], Pm [M * 16]; returns how
    many models were left as predicted (intersection only)."""
    cdef double nu[2]
    cdef double si[4]
    cdef double d2, det, top, tot
    cdef Py_ssize_t bad = 0
    cdef const double* slot
    cdef int b
    for b in range(M):
        slot = packed + 21 * b
        d2 = _innovate(slot + 1, slot + 5, z, R, nu, si)
        det = si[0] * si[3] - si[1] * si[2]
        loglik[b] = -0.5 * d2 + 0.5 * log(det if det > 1e-300 else 1e-300)
        if kalman:
            _kalman(slot + 1, slot + 5, nu, si, xm + 4 * b, Pm + 16 * b)
        elif not _intersect(slot + 1, slot + 5, z, R, xm + 4 * b, Pm + 16 * b):
            bad += 1
    top = loglik[0]
    for b in range(1, M):
        if loglik[b] > top:
            top = loglik[b]
    tot = 0.0
    for b in range(M):
        mu[b] = packed[21 * b] * exp(loglik[b] - top)
        if not mu[b] >= floor:
            mu[b] = floor
        tot = tot + mu[b]
    for b in range(M):
        mu[b] = mu[b] / tot
    return bad


cdef inline void _imm_store_row(int M, const double* mu, double* xm, double* Pm, double dt,
                                const double* w, const double* q, const double* limit,
                                double* tx, double* tP, double* txm, double* tPm,
                                double* tmu) noexcept nogil:
    """One track's updated models (mu [M], xm [M * 4], Pm [M * 16]) into its table row
    (tx [4], tP [16], txm [M * 4], tPm [M * 16], tmu [M]), as ``imm_store`` says."""
    cdef double xb[4]
    cdef double Pb[16]
    cdef int b, j
    for b in range(M):
        if dt < 0:
            _predict(xm + 4 * b, Pm + 16 * b, -dt, w[b], q[b], limit[b], xb, Pb)
            for j in range(4):
                xm[4 * b + j] = xb[j]
            for j in range(16):
                Pm[16 * b + j] = Pb[j]
        for j in range(4):
            txm[4 * b + j] = xm[4 * b + j]
        for j in range(16):
            tPm[16 * b + j] = Pm[16 * b + j]
        tmu[b] = mu[b]
    _combine(M, mu, xm, 4, Pm, 16, True, tx, tP)


def imm_update(const double[:, ::1] packed, const double[:, ::1] z, const double[:, :, ::1] R,
               double floor, bint kalman):
    """Every model of the packed predictions [k, M * 21] weighed by its likelihood of the
    position measurement z, R, and updated by it: Kalman if ``kalman``, else (an SDPS
    track) covariance intersection.  Mode probabilities mu [k, M] (each at least
    ``floor``, then normalised), states [k, M, 4], covariances [k, M, 4, 4], and how many
    models were left as predicted because a position covariance was not positive definite
    (intersection only)."""
    cdef Py_ssize_t k = packed.shape[0], i
    if packed.shape[1] % 21 != 0 or packed.shape[1] == 0:
        raise ValueError("imm_update: packed rows are M * 21 wide")
    cdef int M = packed.shape[1] // 21
    if z.shape[0] != k or z.shape[1] != 2 or R.shape[0] != k or R.shape[1] != 2 \
            or R.shape[2] != 2:
        raise ValueError("imm_update: shapes do not agree")
    mu_out = np.empty((k, M))
    x_out = np.empty((k, M, 4))
    P_out = np.empty((k, M, 4, 4))
    cdef double[:, ::1] mu = mu_out
    cdef double[:, :, ::1] xo = x_out
    cdef double[:, :, :, ::1] Po = P_out
    cdef double* loglik = <double*> malloc(sizeof(double) * M)
    if loglik == NULL:
        raise MemoryError()
    cdef Py_ssize_t bad = 0
    try:
        with nogil:
            for i in range(k):
                bad += _imm_update_row(M, &packed[i, 0], &z[i, 0], &R[i, 0, 0], floor,
                                       kalman, &mu[i, 0], &xo[i, 0, 0], &Po[i, 0, 0, 0],
                                       loglik)
    finally:
        free(loglik)
    return mu_out, x_out, P_out, bad


cdef int _table(const double[:, ::1] tx, const double[:, :, ::1] tP,
                const double[:, :, ::1] txm, const double[:, :, :, ::1] tPm,
                const double[:, ::1] tmu, int M, const int64_t[:] rows,
                str name) except -1:
    """Check the table's arrays (x [N, 4], P [N, 4, 4], xm [N, M, 4], Pm [N, M, 4, 4],
    mu [N, M]) against each other and the rows against the table."""
    cdef Py_ssize_t N = tx.shape[0], i
    if tx.shape[1] != 4 or tP.shape[0] != N or tP.shape[1] != 4 or tP.shape[2] != 4 \
            or txm.shape[0] != N or txm.shape[1] != M or txm.shape[2] != 4 \
            or tPm.shape[0] != N or tPm.shape[1] != M or tPm.shape[2] != 4 \
            or tPm.shape[3] != 4 or tmu.shape[0] != N or tmu.shape[1] != M:
        raise ValueError(f"{name}: shapes do not agree")
    for i in range(rows.shape[0]):
        if rows[i] < 0 or rows[i] >= N:
            raise ValueError(f"{name}: row out of the table")
    return 0


def imm_store(const double[:, ::1] mu, double[:, :, ::1] xm, double[:, :, :, ::1] Pm,
              const double[::1] dt, const double[::1] w, const double[::1] q,
              const double[::1] limit, double[:, ::1] tx, double[:, :, ::1] tP,
              double[:, :, ::1] txm, double[:, :, :, ::1] tPm, double[:, ::1] tmu,
              const int64_t[::1] rows):
    """Updated models mu [k, M], xm [k, M, 4], Pm [k, M, 4, 4] into the table's rows: a
    model updated at a late measurement's time (dt < 0) brought back to the present first
    (xm, Pm in place), the combined estimate by moment matching made exactly symmetric."""
    cdef int M = _models(w, q, limit)
    cdef Py_ssize_t k = rows.shape[0], i
    if mu.shape[0] != k or mu.shape[1] != M or xm.shape[0] != k or xm.shape[1] != M \
            or xm.shape[2] != 4 or Pm.shape[0] != k or Pm.shape[1] != M or Pm.shape[2] != 4 \
            or Pm.shape[3] != 4 or dt.shape[0] != k:
        raise ValueError("imm_store: shapes do not agree")
    _table(tx, tP, txm, tPm, tmu, M, rows, "imm_store")
    cdef int64_t r
    with nogil:
        for i in range(k):
            r = rows[i]
            _imm_store_row(M, &mu[i, 0], &xm[i, 0, 0], &Pm[i, 0, 0, 0], dt[i], &w[0], &q[0],
                           &limit[0], &tx[r, 0], &tP[r, 0, 0], &txm[r, 0, 0],
                           &tPm[r, 0, 0, 0], &tmu[r, 0])


cdef class ImmRows:
    """Writable views of the track table's IMM columns (x, P, per-model xm, Pm, mu) and
    state times, and of the filter's w, q, limit, taken once: each typed argument costs
    ``imm_absorb`` a buffer request and a memoryview object at every call (about half a
    microsecond each, nine per batch).  The table makes new arrays when it grows:
    ``views`` says whether these are still its arrays (the caller then makes a new one)."""

    cdef readonly object x, P, xm, Pm, mu, t, w, q, limit
    cdef double[:, ::1] tx
    cdef double[:, :, ::1] tP
    cdef double[:, :, ::1] txm
    cdef double[:, :, :, ::1] tPm
    cdef double[:, ::1] tmu
    cdef double[::1] tt
    cdef const double[::1] vw, vq, vlimit

    def __init__(self, x, P, xm, Pm, mu, t, w, q, limit):
        self.x, self.P, self.xm, self.Pm, self.mu, self.t = x, P, xm, Pm, mu, t
        self.w, self.q, self.limit = w, q, limit
        self.tx, self.tP, self.txm, self.tPm, self.tmu, self.tt = x, P, xm, Pm, mu, t
        self.vw, self.vq, self.vlimit = w, q, limit

    def views(self, x, P, xm, Pm, mu, t, w, q, limit) -> bool:
        """Whether these are the arrays (the same objects) this was made of."""
        return (x is self.x and P is self.P and xm is self.xm and Pm is self.Pm
                and mu is self.mu and t is self.t and w is self.w and q is self.q
                and limit is self.limit)


def imm_absorb(const double[:, ::1] packed, const double[:, :] x, const double[:, :] nu,
               const double[:, :, :] mR, const int64_t[:] meas, const double[:] dt,
               double floor, bint kalman, const double[::1] w, const double[::1] q,
               const double[::1] limit, double[:, ::1] tx, double[:, :, ::1] tP,
               double[:, :, ::1] txm, double[:, :, :, ::1] tPm, double[:, ::1] tmu,
               double[::1] t, const int64_t[:] rows):
    """``imm_update`` then ``imm_store`` and the state's time, for the pairs the tracker
    chose, in one call and without the intermediate arrays: pair i measured
    z = x[i, :2] + nu[i] (its hypothesis' prediction plus innovation, as the tracker
    forms it) with the covariance mR[meas[i]], dt[i] after the state of row rows[i]; the
    table's time then t[rows] = fmax(t[rows], t[rows] + dt) (a late measurement's update
    leaves it where it was).  Returns (models left as predicted: intersection only, how
    many dt < 0)."""
    return _imm_absorb(packed, x, nu, mR, meas, dt, floor, kalman, w, q, limit, tx, tP, txm,
                       tPm, tmu, t, rows)


def imm_absorb_view(ImmRows table, const double[:, ::1] packed, const double[:, :] x,
                    const double[:, :] nu, const double[:, :, :] mR, const int64_t[:] meas,
                    const double[:] dt, double floor, bint kalman, const int64_t[:] rows):
    """``imm_absorb`` on the table and filter ``table`` views."""
    return _imm_absorb(packed, x, nu, mR, meas, dt, floor, kalman, table.vw, table.vq,
                       table.vlimit, table.tx, table.tP, table.txm, table.tPm, table.tmu,
                       table.tt, rows)


cdef tuple _imm_absorb(const double[:, ::1] packed, const double[:, :] x,
                       const double[:, :] nu, const double[:, :, :] mR,
                       const int64_t[:] meas, const double[:] dt, double floor, bint kalman,
                       const double[::1] w, const double[::1] q, const double[::1] limit,
                       double[:, ::1] tx, double[:, :, ::1] tP, double[:, :, ::1] txm,
                       double[:, :, :, ::1] tPm, double[:, ::1] tmu, double[::1] t,
                       const int64_t[:] rows):
    """``imm_absorb``'s work."""
    cdef int M = _models(w, q, limit)
    cdef Py_ssize_t k = rows.shape[0], n = mR.shape[0], i
    if packed.shape[0] != k or packed.shape[1] != M * 21 or x.shape[0] != k \
            or x.shape[1] < 2 or nu.shape[0] != k or nu.shape[1] != 2 \
            or mR.shape[1] != 2 or mR.shape[2] != 2 or meas.shape[0] != k \
            or dt.shape[0] != k or t.shape[0] != tx.shape[0]:
        raise ValueError("imm_absorb: shapes do not agree")
    _table(tx, tP, txm, tPm, tmu, M, rows, "imm_absorb")
    for i in range(k):
        if meas[i] < 0 or meas[i] >= n:
            raise ValueError("imm_absorb: measurement out of the batch")
    cdef double* scratch = <double*> malloc(sizeof(double) * (M * 22 + k))
    if scratch == NULL:
        raise MemoryError()
    cdef double* mu = scratch
    cdef double* xm = mu + M
    cdef double* Pm = xm + 4 * M
    cdef double* loglik = Pm + 16 * M
    cdef double* later = loglik + M
    cdef double z[2]
    cdef double R[4]
    cdef Py_ssize_t bad = 0, back = 0
    cdef int64_t r, j
    with nogil:
        for i in range(k):
            r, j = rows[i], meas[i]
            z[0] = x[i, 0] + nu[i, 0]
            z[1] = x[i, 1] + nu[i, 1]
            R[0], R[1], R[2], R[3] = mR[j, 0, 0], mR[j, 0, 1], mR[j, 1, 0], mR[j, 1, 1]
            bad += _imm_update_row(M, &packed[i, 0], z, R, floor, kalman, mu, xm, Pm,
                                   loglik)
            _imm_store_row(M, mu, xm, Pm, dt[i], &w[0], &q[0], &limit[0], &tx[r, 0],
                           &tP[r, 0, 0], &txm[r, 0, 0], &tPm[r, 0, 0, 0], &tmu[r, 0])
        back = _advance_times(t, rows, dt, later)
    free(scratch)
    return bad, back


def level_step(double[:, :] s, double[:, :, :] P, const double[::1] dt, const double[::1] z,
               double q, double sigma, double rate_sigma):
    """LevelFilter.step in place on s [n, 2] and P [n, 2, 2] (views are fine): predict by
    dt, Kalman update by the reported level z, a late report's state brought forward
    again, a track without a level (nan) started at its report at rest."""
    cdef Py_ssize_t n = s.shape[0], i
    if s.shape[1] != 2 or P.shape[0] != n or P.shape[1] != 2 or P.shape[2] != 2 \
            or dt.shape[0] != n or z.shape[0] != n:
        raise ValueError("level_step: shapes do not agree")
    cdef double st[2]
    cdef double Pt[4]
    cdef double r2 = sigma * sigma
    with nogil:
        for i in range(n):
            st[0] = s[i, 0]
            st[1] = s[i, 1]
            Pt[0] = P[i, 0, 0]
            Pt[1] = P[i, 0, 1]
            Pt[2] = P[i, 1, 0]
            Pt[3] = P[i, 1, 1]
            _level_one(st, Pt, dt[i], z[i], q, r2, rate_sigma)
            s[i, 0] = st[0]
            s[i, 1] = st[1]
            P[i, 0, 0] = Pt[0]
            P[i, 0, 1] = Pt[1]
            P[i, 1, 0] = Pt[2]
            P[i, 1, 1] = Pt[3]


def level_rows(double[:, ::1] level, const int64_t[::1] rows, const double[:] z,
               const double[:] t, double q, double sigma, double rate_sigma):
    """LevelFilter.absorb: the packed level rows ``rows`` of the table ``level`` [cap, 8]
    (state [2], covariance [4], time of the latest report, its level) take the reports
    z at times t, where z is not nan: each steps by dt = t - its time (0 while it has
    none), its time becomes fmax(time, t) and its latest level z unless dt < 0.  Each
    row's values are computed from the table as it was and written in the order of the
    rows (numpy's gather-and-scatter: the last of a repeated row stands).  The work is
    ext/level.pxi's, which ext/cycle.pyx's ``absorb_view`` shares."""
    if z.shape[0] != rows.shape[0] or t.shape[0] != rows.shape[0]:
        raise ValueError("level_rows: shapes do not agree")
    _level_rows(level, rows, NULL, z, t, q, sigma, rate_sigma, "level_rows")
