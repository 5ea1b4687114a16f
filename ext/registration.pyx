# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Radar registration's per-cycle step in C: which of a cycle's plots it learns from, and
the velocity of their tracks.

``Registration.after`` runs once per association cycle (~9,000 in the 10-minute capture)
on a handful of plots, and in numpy it was a dozen calls each costing more than its
elements: the Mode S mask, its count, the address hash, the share, the gathers of the
tracks' velocities and their variances.  Here it is two calls; the rules are
gateway/associate/registration.py's (its docstrings say why).
tests/test_registration_kernel.py checks both functions against the numpy code.

Built with ``-ffp-contract=off``: each float operation is rounded as numpy rounds it.
Every function checks the shapes it is given (ValueError) and the indices it follows
(IndexError).
"""

from libc.math cimport fmax
from libc.stdint cimport int64_t, uint64_t

import numpy as np

cdef double SHARE_SCALE = 4294967296.0  # 2 ** 32: the address hash's range


def modes_share(const int64_t[:] kind, const int64_t[:] icao24, const int64_t[:] idx,
                int64_t modes, double rate, double per_cycle):
    """The positions in ``idx`` of the plots to learn from: Mode S plots (``kind ==
    modes``), and in dense traffic (the running rate of Mode S plots per cycle above
    ``per_cycle``) only those whose address hashes into the share ``per_cycle / rate``
    (Knuth's multiplicative hash, the same addresses for every radar).  Returns
    (positions ascending, the rate updated by this cycle's Mode S count, unchanged
    without any)."""
    cdef Py_ssize_t n = idx.shape[0], T = kind.shape[0], i, c = 0, count = 0
    cdef int64_t r
    cdef double share, bound
    if icao24.shape[0] != T:
        raise ValueError("modes_share: shapes do not match")
    keep_out = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] keep = keep_out
    for i in range(n):
        r = idx[i]
        if r < 0 or r >= T:
            raise IndexError(f"modes_share: plot {r} outside [0, {T})")
        if kind[r] == modes:
            keep[c] = i
            c += 1
    if c == 0:
        return keep_out[:0], rate
    rate += 0.05 * (<double> c - rate)
    share = per_cycle / rate
    if share < 1.0:  # dense traffic: the same share of addresses, for every radar
        bound = share * SHARE_SCALE
        for i in range(c):
            # numpy's int64 (a * 2654435761) & 0xFFFFFFFF, two's complement
            if <double> <int64_t> ((<uint64_t> icao24[idx[keep[i]]] * 2654435761ULL)
                                   & 0xFFFFFFFFULL) < bound:
                keep[count] = keep[i]
                count += 1
        c = count
    return keep_out[:c], rate


def velocities(const double[:, :] x, const double[:, :, :] P, const int64_t[:] rows,
               const int64_t[:] keep):
    """The velocity (``x[rows[keep], 2:4]``) and its variance, the larger of the two
    axes' (numpy's ``fmax``: a nan loses), of the tracks ``rows[keep]``."""
    cdef Py_ssize_t k = keep.shape[0], T = x.shape[0], n = rows.shape[0], i, s
    cdef int64_t r
    if x.shape[1] < 4 or P.shape[0] != T or P.shape[1] < 4 or P.shape[2] < 4:
        raise ValueError("velocities: shapes do not match")
    v_out = np.empty((k, 2), dtype=np.float64)
    w_out = np.empty(k, dtype=np.float64)
    cdef double[:, ::1] v = v_out
    cdef double[::1] w = w_out
    for i in range(k):
        s = keep[i]
        if s < 0 or s >= n:
            raise IndexError(f"velocities: position {s} outside [0, {n})")
        r = rows[s]
        if r < 0 or r >= T:
            raise IndexError(f"velocities: track row {r} outside [0, {T})")
        v[i, 0] = x[r, 2]
        v[i, 1] = x[r, 3]
        w[i] = fmax(P[r, 2, 2], P[r, 3, 3])  # numpy's fmax is C's
    return v_out, w_out
