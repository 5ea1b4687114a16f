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

``keep_cycle`` reads its eighteen arrays by numpy's C API (``_array``: any strides,
aligned, native order), not as typed memoryviews: taking eighteen views cost ~2 us a call,
more than the work on a cycle's handful of plots.

Built with ``-ffp-contract=off``: each float operation is rounded as numpy rounds it.
Every function checks the shapes it is given (ValueError) and the indices it follows
(IndexError).
"""

from libc.math cimport fmax, isfinite
from cpython.dict cimport PyDict_Next
from cpython.object cimport PyObject
from libc.stdint cimport int64_t, uint64_t
from cpython.mem cimport PyMem_Free, PyMem_Malloc

import numpy as np
cimport numpy as cnp

cnp.import_array()

cdef double SHARE_SCALE = 4294967296.0  # 2 ** 32: the address hash's range
cdef double REFERENCE_M = 100000.0  # gateway/associate/registration.py's (a test checks)


cdef struct Array:  # a numpy array's data, shape and strides (bytes), up to 3-d
    char* data
    Py_ssize_t n0, n1, n2, s0, s1, s2


cdef int _array(object a, int typenum, int ndim, bint write, Array* out,
                str name) except -1:
    """``out`` from the numpy array ``a`` of type ``typenum`` and ``ndim`` dimensions
    (aligned, native byte order; writable if ``write``): a few pointer reads where a
    typed memoryview costs ~0.1-0.2 us to take, and keep_cycle takes eighteen arrays a
    cycle.  The caller's reference keeps the array alive."""
    cdef cnp.ndarray arr
    if not cnp.PyArray_Check(a):
        raise TypeError(f"keep_cycle: {name} is not a numpy array")
    arr = <cnp.ndarray>a
    if (cnp.PyArray_TYPE(arr) != typenum or cnp.PyArray_NDIM(arr) != ndim
            or not cnp.PyArray_ISALIGNED(arr) or not cnp.PyArray_ISNOTSWAPPED(arr)
            or (write and not cnp.PyArray_ISWRITEABLE(arr))):
        raise ValueError(f"keep_cycle: {name} is not a {ndim}-d array of its type")
    out.data = <char*>cnp.PyArray_DATA(arr)
    out.n0 = cnp.PyArray_DIM(arr, 0)
    out.s0 = cnp.PyArray_STRIDE(arr, 0)
    out.n1 = cnp.PyArray_DIM(arr, 1) if ndim > 1 else 1
    out.s1 = cnp.PyArray_STRIDE(arr, 1) if ndim > 1 else 0
    out.n2 = cnp.PyArray_DIM(arr, 2) if ndim > 2 else 1
    out.s2 = cnp.PyArray_STRIDE(arr, 2) if ndim > 2 else 0
    return 0


cdef inline double _f(const Array* a, Py_ssize_t i) noexcept nogil:
    return (<const double*>(a.data + i * a.s0))[0]


cdef inline double _f2(const Array* a, Py_ssize_t i, Py_ssize_t j) noexcept nogil:
    return (<const double*>(a.data + i * a.s0 + j * a.s1))[0]


cdef inline int64_t _i(const Array* a, Py_ssize_t i) noexcept nogil:
    return (<const int64_t*>(a.data + i * a.s0))[0]


cdef inline int64_t _i2(const Array* a, Py_ssize_t i, Py_ssize_t j) noexcept nogil:
    return (<const int64_t*>(a.data + i * a.s0 + j * a.s1))[0]


cdef inline void _set(Array* a, Py_ssize_t i, Py_ssize_t j, double v) noexcept nogil:
    (<double*>(a.data + i * a.s0 + j * a.s1))[0] = v


def keep_cycle(object num_, object ids_, Py_ssize_t at, int64_t source,
               double noise_range, double noise_azimuth, object kind_, object ident_,
               object idx_, int64_t modes, double rate, double per_cycle, object rows_,
               object x_, object P_, object t_, object xy_, object los_x_, object los_y_,
               object slant_, object ground_, object k_):
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
    cdef Array num, ids, kind, ident, idx, rows, x, P, t, xy, los_x, los_y, slant, ground, k
    _array(num_, cnp.NPY_FLOAT64, 2, True, &num, "num")
    _array(ids_, cnp.NPY_INT64, 2, True, &ids, "ids")
    _array(kind_, cnp.NPY_INT64, 1, False, &kind, "kind")
    _array(ident_, cnp.NPY_INT64, 2, False, &ident, "ident")
    _array(idx_, cnp.NPY_INT64, 1, False, &idx, "idx")
    _array(rows_, cnp.NPY_INT64, 1, False, &rows, "rows")
    _array(x_, cnp.NPY_FLOAT64, 2, False, &x, "x")
    _array(P_, cnp.NPY_FLOAT64, 3, False, &P, "P")
    _array(t_, cnp.NPY_FLOAT64, 1, False, &t, "t")
    _array(xy_, cnp.NPY_FLOAT64, 2, False, &xy, "xy")
    _array(los_x_, cnp.NPY_FLOAT64, 1, False, &los_x, "los_x")
    _array(los_y_, cnp.NPY_FLOAT64, 1, False, &los_y, "los_y")
    _array(slant_, cnp.NPY_FLOAT64, 1, False, &slant, "slant")
    _array(ground_, cnp.NPY_FLOAT64, 1, False, &ground, "ground")
    _array(k_, cnp.NPY_FLOAT64, 1, False, &k, "k")
    cdef Py_ssize_t n = idx.n0, T = kind.n0, R = x.n0, i, c = 0, count
    cdef Py_ssize_t s, row = at
    cdef int64_t r, q
    cdef double share, bound, tn, xn, yn, u0, u1, sl, gr, kn, g, f, fk, b, along, across
    if ident.n0 != T or ident.n1 < 1 or t.n0 != T or xy.n0 != T or xy.n1 != 2 \
            or los_x.n0 != T or los_y.n0 != T or slant.n0 != T \
            or ground.n0 != T or k.n0 != T or rows.n0 != n:
        raise ValueError("keep_cycle: shapes do not match")
    if x.n1 < 4 or P.n0 != R or P.n1 < 4 or P.n2 < 4:
        raise ValueError("keep_cycle: shapes do not match")
    if num.n1 != 15 or ids.n1 != 2 or ids.n0 != num.n0 or at < 0 or at + n > num.n0:
        raise ValueError("keep_cycle: the buffers are too small")
    cdef int64_t* keep = <int64_t*>PyMem_Malloc((n if n else 1) * sizeof(int64_t))
    if keep == NULL:
        raise MemoryError()
    try:
        for i in range(n):
            q = _i(&idx, i)
            if q < 0 or q >= T:
                raise IndexError(f"keep_cycle: plot {q} outside [0, {T})")
            if _i(&kind, q) == modes:
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
                if <double> <int64_t> ((<uint64_t> _i2(&ident, _i(&idx, keep[i]), 0)
                                        * 2654435761ULL) & 0xFFFFFFFFULL) < bound:
                    keep[count] = keep[i]
                    count += 1
            c = count
        for i in range(c):
            s = keep[i]
            r = _i(&rows, s)
            if r < 0 or r >= R:
                raise IndexError(f"keep_cycle: track row {r} outside [0, {R})")
            q = _i(&idx, s)
            tn, xn, yn = _f(&t, q), _f2(&xy, q, 0), _f2(&xy, q, 1)
            u0, u1, sl, gr, kn = (_f(&los_x, q), _f(&los_y, q), _f(&slant, q),
                                  _f(&ground, q), _f(&k, q))
            if not (isfinite(tn) and isfinite(xn) and isfinite(yn) and isfinite(u0)
                    and isfinite(u1) and isfinite(sl) and isfinite(gr) and isfinite(kn)
                    and sl > 0.0 and gr > 0.0):  # no usable geometry: counted, not kept
                continue
            g = gr * kn  # ground in plane metres
            f = fmax(sl * kn / g, 1.0)
            fk = f * kn
            b = fk * sl / REFERENCE_M
            _set(&num, row, 0, tn)
            _set(&num, row, 1, xn)
            _set(&num, row, 2, yn)
            # H's geometric columns, [2, 3] row-major: f k u, f k rho u / ref, g k w / ref
            # with w = (u1, -u0) (clockwise: where azimuth grows)
            _set(&num, row, 3, fk * u0)
            _set(&num, row, 4, b * u0)
            _set(&num, row, 5, (g / REFERENCE_M) * u1)
            _set(&num, row, 6, fk * u1)
            _set(&num, row, 7, b * u1)
            _set(&num, row, 8, (g / REFERENCE_M) * -u0)
            along = noise_range * (fk * fk)
            across = noise_azimuth * (g * g)
            _set(&num, row, 9, along * (u0 * u0) + across * (u1 * u1))
            _set(&num, row, 10, along * u0 * u1 + across * u1 * -u0)
            _set(&num, row, 11, along * (u1 * u1) + across * (-u0 * -u0))
            _set(&num, row, 12, _f2(&x, r, 2))
            _set(&num, row, 13, _f2(&x, r, 3))
            _set(&num, row, 14, fmax(  # numpy's fmax is C's
                (<const double*>(P.data + r * P.s0 + 2 * P.s1 + 2 * P.s2))[0],
                (<const double*>(P.data + r * P.s0 + 3 * P.s1 + 3 * P.s2))[0]))
            (<int64_t*>(ids.data + row * ids.s0))[0] = source
            (<int64_t*>(ids.data + row * ids.s0 + ids.s1))[0] = _i2(&ident, q, 0)
            row += 1
        return row, c, rate
    finally:
        PyMem_Free(keep)


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
