# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Radar registration's per-cycle step in C: which of a cycle's plots it learns from, the
velocity of their tracks, and the plots kept and paired.

``Registration.after`` runs once per association cycle (~9,000 in the 10-minute capture)
on a handful of plots, and in numpy it was a dozen calls each costing more than its
elements: the Mode S mask, its count, the address hash, the share, the gathers of the
tracks' velocities and their variances, the copy of the plots kept, and in ``_work`` the
test of their geometry and their records.  ``keep_cycle`` is all of it in one call; the
rules are gateway/associate/registration.py's (its docstrings say why).
tests/test_registration_kernel.py checks it against the numpy code it replaced.

``pair_plots`` is ``Registration._work``'s loop over the plots it works on (every Mode S
plot learnt from, ~54,000 in the capture): the same dict and OrderedDict steps, without
the interpreter's cost per step.  tests/test_registration_pairing.py holds it to the code
it replaced.

Built with ``-ffp-contract=off``: each float operation is rounded as numpy rounds it.
Every function checks the shapes it is given (ValueError) and the indices it follows
(IndexError).
"""

from libc.math cimport fmax, isfinite
from cpython.dict cimport PyDict_Next
from cpython.object cimport PyObject
from libc.stdint cimport int64_t, uint64_t

import numpy as np

cdef double SHARE_SCALE = 4294967296.0  # 2 ** 32: the address hash's range
cdef double REFERENCE_M = 100000.0  # gateway/associate/registration.py's (a test checks)


def keep_cycle(double[:, ::1] num, int64_t[:, ::1] ids, Py_ssize_t at, int64_t source,
               double noise_range, double noise_azimuth, const int64_t[:] kind,
               const int64_t[:, :] ident, const int64_t[:] idx, int64_t modes, double rate,
               double per_cycle, const int64_t[:] rows, const double[:, :] x,
               const double[:, :, :] P, const double[:] t, const double[:, :] xy,
               const double[:] los_x, const double[:] los_y, const double[:] slant,
               const double[:] ground, const double[:] k):
    """``Registration.after``'s cycle in one call: the measurements ``idx`` (that went to
    the tracks ``rows``) it learns from, and what ``_work`` needs of them.

    Chosen: the Mode S plots (``kind == modes``; the address is ``ident[:, 0]``, read
    here: Measurements' icao24 property and its view cost as much as this call), and in
    dense traffic (the running rate of Mode S plots per cycle above ``per_cycle``) only
    those whose address hashes into the share ``per_cycle / rate`` (Knuth's
    multiplicative hash, the same addresses for every radar).  Each chosen plot with a
    usable geometry (its eight numbers finite, slant and ground range positive) is
    written to row ``at`` on of ``num`` [., 15]: its record (t, raw x, y, H's geometric
    columns, its noise R from the radar's ``noise_range`` m^2 and ``noise_azimuth``
    rad^2: gateway/associate/registration.py's layout), its track's velocity ``x[r,
    2:4]`` and the larger of the two axes' variances (numpy's ``fmax``: a nan loses);
    ``ids`` gets (source, address).  Returns (the next free row, the plots chosen with or
    without a usable geometry, the rate updated by this cycle's Mode S count, unchanged
    without any).

    Where it was three calls (the choice, the velocities, the copy) and the test of the
    geometry and the records were numpy in ``_work`` (tests/test_registration_kernel.py
    keeps that code); each float operation is numpy's, in numpy's order."""
    cdef Py_ssize_t n = idx.shape[0], T = kind.shape[0], R = x.shape[0], i, c = 0, count
    cdef Py_ssize_t s, row = at
    cdef int64_t r, q
    cdef double share, bound, tn, xn, yn, u0, u1, sl, gr, kn, g, f, fk, b, along, across
    if ident.shape[0] != T or ident.shape[1] < 1 or t.shape[0] != T or xy.shape[0] != T or xy.shape[1] != 2 \
            or los_x.shape[0] != T or los_y.shape[0] != T or slant.shape[0] != T \
            or ground.shape[0] != T or k.shape[0] != T or rows.shape[0] != n:
        raise ValueError("keep_cycle: shapes do not match")
    if x.shape[1] < 4 or P.shape[0] != R or P.shape[1] < 4 or P.shape[2] < 4:
        raise ValueError("keep_cycle: shapes do not match")
    if num.shape[1] != 15 or ids.shape[1] != 2 or ids.shape[0] != num.shape[0] or at < 0 \
            or at + n > num.shape[0]:
        raise ValueError("keep_cycle: the buffers are too small")
    keep_out = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] keep = keep_out
    for i in range(n):
        q = idx[i]
        if q < 0 or q >= T:
            raise IndexError(f"keep_cycle: plot {q} outside [0, {T})")
        if kind[q] == modes:
            keep[c] = i
            c += 1
    if c == 0:
        return at, 0, rate
    rate += 0.05 * (<double> c - rate)
    share = per_cycle / rate
    if share < 1.0:  # dense traffic: the same share of addresses, for every radar
        bound = share * SHARE_SCALE
        count = 0
        for i in range(c):
            # numpy's int64 (a * 2654435761) & 0xFFFFFFFF, two's complement
            if <double> <int64_t> ((<uint64_t> ident[idx[keep[i]], 0] * 2654435761ULL)
                                   & 0xFFFFFFFFULL) < bound:
                keep[count] = keep[i]
                count += 1
        c = count
    for i in range(c):
        s = keep[i]
        r = rows[s]
        if r < 0 or r >= R:
            raise IndexError(f"keep_cycle: track row {r} outside [0, {R})")
        q = idx[s]
        tn, xn, yn = t[q], xy[q, 0], xy[q, 1]
        u0, u1, sl, gr, kn = los_x[q], los_y[q], slant[q], ground[q], k[q]
        if not (isfinite(tn) and isfinite(xn) and isfinite(yn) and isfinite(u0)
                and isfinite(u1) and isfinite(sl) and isfinite(gr) and isfinite(kn)
                and sl > 0.0 and gr > 0.0):  # no usable geometry: counted, not kept
            continue
        g = gr * kn  # ground in plane metres
        f = fmax(sl * kn / g, 1.0)
        fk = f * kn
        b = fk * sl / REFERENCE_M
        num[row, 0] = tn
        num[row, 1] = xn
        num[row, 2] = yn
        # H's geometric columns, [2, 3] row-major: f k u, f k rho u / ref, g k w / ref with
        # w = (u1, -u0) (clockwise: where azimuth grows)
        num[row, 3] = fk * u0
        num[row, 4] = b * u0
        num[row, 5] = (g / REFERENCE_M) * u1
        num[row, 6] = fk * u1
        num[row, 7] = b * u1
        num[row, 8] = (g / REFERENCE_M) * -u0
        along = noise_range * (fk * fk)
        across = noise_azimuth * (g * g)
        num[row, 9] = along * (u0 * u0) + across * (u1 * u1)
        num[row, 10] = along * u0 * u1 + across * u1 * -u0
        num[row, 11] = along * (u1 * u1) + across * (-u0 * -u0)
        num[row, 12] = x[r, 2]
        num[row, 13] = x[r, 3]
        num[row, 14] = fmax(P[r, 2, 2], P[r, 3, 3])  # numpy's fmax is C's
        ids[row, 0] = source
        ids[row, 1] = ident[q, 0]
        row += 1
    return row, c, rate


def pair_plots(object last, const int64_t[:] address, const int64_t[:] source,
               const double[:] t, bytes records, Py_ssize_t size, double window):
    """``Registration._work``'s pairing (its docstring says why), the same steps on the same
    objects: for each plot n in order, its address's entry in ``last`` (an OrderedDict,
    made on first sight, else moved to the end), a pair with every other radar's last
    plot there at most ``window`` seconds apart (in the entry's order), then the plot as
    its radar's last: (time, its record, ``records[n * size:(n + 1) * size]``).

    Returns (the plots' positions of the pairs, the other plots' records joined, the
    other radars)."""
    cdef Py_ssize_t i, n = address.shape[0], pos
    cdef object a, s, seen, get = last.get, move = last.move_to_end, o, entry
    cdef double tn, dt
    cdef list mine = [], theirs = [], other = []
    cdef PyObject* key
    cdef PyObject* value
    if source.shape[0] != n or t.shape[0] != n or len(records) < n * size:
        raise ValueError("pair_plots: shapes do not match")
    for i in range(n):
        a = address[i]
        s = source[i]
        tn = t[i]
        seen = get(a)
        if seen is None:
            seen = {}
            last[a] = seen
        else:
            move(a)
            pos = 0
            while PyDict_Next(seen, &pos, &key, &value):
                o = <object> key
                entry = <object> value
                dt = tn - <double> entry[0]
                if o != s and -window <= dt <= window:  # times are finite
                    mine.append(i)
                    theirs.append(entry[1])
                    other.append(o)
        seen[s] = (tn, records[i * size:(i + 1) * size])
    return mine, b"".join(theirs), other



def pair_columns(const int64_t[:] si, const int64_t[:] sj, const double[:] theta,
                 const double[:, :] P):
    """``Registration._learn``'s gathers for the pairs of radars ``si``, ``sj`` (4 unknowns
    each): the pairs' columns of the equations ``cols`` [n, 8] (si's four, then sj's),
    the estimate there ``theta[cols]`` [n, 8], its covariance ``P[cols][:, :, cols]``
    [n, 8, 8] and the cells of the normal matrix they add to, ``cols[a] * size +
    cols[b]`` [n, 64] (row-major).  Copies only; where numpy's fancy indexing over
    [n, 8, 8] index arrays was a fifth of ``_learn``."""
    cdef Py_ssize_t n = si.shape[0], size = theta.shape[0], i, a, b
    cdef int64_t ci, cj
    if sj.shape[0] != n or P.shape[0] != size or P.shape[1] != size:
        raise ValueError("pair_columns: shapes do not match")
    cols_out = np.empty((n, 8), dtype=np.int64)
    theta_out = np.empty((n, 8))
    P_out = np.empty((n, 8, 8))
    flat_out = np.empty((n, 64), dtype=np.int64)
    cdef int64_t[:, ::1] cols = cols_out, flat = flat_out
    cdef double[:, ::1] th = theta_out
    cdef double[:, :, ::1] Ps = P_out
    for i in range(n):
        ci, cj = si[i] * 4, sj[i] * 4
        if ci < 0 or ci + 4 > size or cj < 0 or cj + 4 > size:
            raise IndexError(f"pair_columns: radar outside [0, {size // 4})")
        for a in range(4):
            cols[i, a] = ci + a
            cols[i, 4 + a] = cj + a
        for a in range(8):
            th[i, a] = theta[cols[i, a]]
            for b in range(8):
                Ps[i, a, b] = P[cols[i, a], cols[i, b]]
                flat[i, 8 * a + b] = cols[i, a] * size + cols[i, b]
    return cols_out, theta_out, P_out, flat_out
