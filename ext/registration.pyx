# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Radar registration's per-cycle step in C: which of a cycle's plots it learns from, the
velocity of their tracks, and the plots kept and paired.

``Registration.after`` runs once per association cycle (~9,000 in the 10-minute capture)
on a handful of plots, and in numpy it was a dozen calls each costing more than its
elements: the Mode S mask, its count, the address hash, the share, the gathers of the
tracks' velocities and their variances.  Here it is two calls; the rules are
gateway/associate/registration.py's (its docstrings say why).
tests/test_registration_kernel.py checks these two against the numpy code.

``pair_plots`` is ``Registration._work``'s loop over the plots it works on (every Mode S
plot learnt from, ~54,000 in the capture): the same dict and OrderedDict steps, without
the interpreter's cost per step.  ``keep_plots`` copies a cycle's plots into the rows
``_work`` reads, where the cycle's columns were kept and gathered there with two dozen
numpy calls.  tests/test_registration_pairing.py holds both to the code they replaced.

Built with ``-ffp-contract=off``: each float operation is rounded as numpy rounds it.
Every function checks the shapes it is given (ValueError) and the indices it follows
(IndexError).
"""

from libc.math cimport fmax
from cpython.dict cimport PyDict_Next
from cpython.object cimport PyObject
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


def keep_plots(double[:, ::1] num, int64_t[:, ::1] ids, Py_ssize_t at, int64_t source,
               const int64_t[:] j, const double[:] t, const double[:] x, const double[:] y,
               const double[:] los_x, const double[:] los_y, const double[:] slant,
               const double[:] ground, const double[:] k, const int64_t[:] icao24,
               const double[:, :] velocity, const double[:] velocity_var):
    """``Registration._keep``'s plots ``j`` of one cycle, copied into rows ``at`` on of the
    buffers ``_work`` reads: ``num`` [., 11] (t, x, y, line of sight x, y, slant range,
    ground range, scale; velocity x, y; its variance) and ``ids`` [., 2] (source,
    address).  Returns the next free row.  One call a cycle, where keeping the cycle's
    columns and gathering them in ``_work`` cost two dozen numpy calls for every kept
    cycle."""
    cdef Py_ssize_t i, n = j.shape[0], T = t.shape[0], r, row
    if num.shape[1] != 11 or ids.shape[1] != 2 or at < 0 or at + n > num.shape[0] \
            or ids.shape[0] != num.shape[0]:
        raise ValueError("keep_plots: the buffers are too small")
    if x.shape[0] != T or y.shape[0] != T or los_x.shape[0] != T or los_y.shape[0] != T \
            or slant.shape[0] != T or ground.shape[0] != T or k.shape[0] != T \
            or icao24.shape[0] != T or velocity.shape[0] != n or velocity.shape[1] != 2 \
            or velocity_var.shape[0] != n:
        raise ValueError("keep_plots: shapes do not match")
    for i in range(n):
        r = j[i]
        if r < 0 or r >= T:
            raise IndexError(f"keep_plots: plot {r} outside [0, {T})")
        row = at + i
        num[row, 0] = t[r]
        num[row, 1] = x[r]
        num[row, 2] = y[r]
        num[row, 3] = los_x[r]
        num[row, 4] = los_y[r]
        num[row, 5] = slant[r]
        num[row, 6] = ground[r]
        num[row, 7] = k[r]
        num[row, 8] = velocity[i, 0]
        num[row, 9] = velocity[i, 1]
        num[row, 10] = velocity_var[i]
        ids[row, 0] = source
        ids[row, 1] = icao24[r]
    return at + n
