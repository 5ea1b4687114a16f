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

from libc.math cimport fmax, hypot, isfinite
from cpython.dict cimport PyDict_Next
from cpython.object cimport PyObject
from libc.stdint cimport int8_t, int64_t, uint64_t
from libc.string cimport memcpy
from cpython.mem cimport PyMem_Calloc, PyMem_Free, PyMem_Malloc

import numpy as np
cimport numpy as cnp

cnp.import_array()

cdef double SHARE_SCALE = 4294967296.0  # 2 ** 32: the address hash's range
cdef double REFERENCE_M = 100000.0  # gateway/associate/registration.py's (a test checks)
cdef double REFERENCE_MPS = 250.0  # likewise


include "arrays.pxi"  # the one check of an array read raw
include "views.pxi"  # its accessors


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
    _array(num_, cnp.NPY_FLOAT64, 2, WRITABLE, &num, "keep_cycle: num")
    _array(ids_, cnp.NPY_INT64, 2, WRITABLE, &ids, "keep_cycle: ids")
    _array(kind_, cnp.NPY_INT64, 1, 0, &kind, "keep_cycle: kind")
    _array(ident_, cnp.NPY_INT64, 2, 0, &ident, "keep_cycle: ident")
    _array(idx_, cnp.NPY_INT64, 1, 0, &idx, "keep_cycle: idx")
    _array(rows_, cnp.NPY_INT64, 1, 0, &rows, "keep_cycle: rows")
    _array(x_, cnp.NPY_FLOAT64, 2, 0, &x, "keep_cycle: x")
    _array(P_, cnp.NPY_FLOAT64, 3, 0, &P, "keep_cycle: P")
    _array(t_, cnp.NPY_FLOAT64, 1, 0, &t, "keep_cycle: t")
    _array(xy_, cnp.NPY_FLOAT64, 2, 0, &xy, "keep_cycle: xy")
    _array(los_x_, cnp.NPY_FLOAT64, 1, 0, &los_x, "keep_cycle: los_x")
    _array(los_y_, cnp.NPY_FLOAT64, 1, 0, &los_y, "keep_cycle: los_y")
    _array(slant_, cnp.NPY_FLOAT64, 1, 0, &slant, "keep_cycle: slant")
    _array(ground_, cnp.NPY_FLOAT64, 1, 0, &ground, "keep_cycle: ground")
    _array(k_, cnp.NPY_FLOAT64, 1, 0, &k, "keep_cycle: k")
    cdef Py_ssize_t n = idx.shape[0], T = kind.shape[0], R = x.shape[0], i, c = 0, count
    cdef Py_ssize_t s, row = at
    cdef int64_t r, q
    cdef double share, bound, tn, xn, yn, u0, u1, sl, gr, kn, g, f, fk, b, along, across
    if ident.shape[0] != T or ident.shape[1] < 1 or t.shape[0] != T or xy.shape[0] != T \
            or xy.shape[1] != 2 \
            or los_x.shape[0] != T or los_y.shape[0] != T or slant.shape[0] != T \
            or ground.shape[0] != T or k.shape[0] != T or rows.shape[0] != n:
        raise ValueError("keep_cycle: shapes do not match")
    if x.shape[1] < 4 or P.shape[0] != R or P.shape[1] < 4 or P.shape[2] < 4:
        raise ValueError("keep_cycle: shapes do not match")
    if (num.shape[1] != 15 or ids.shape[1] != 2 or ids.shape[0] != num.shape[0] or at < 0
            or at + n > num.shape[0]):
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
                if <double> <int64_t> ((<uint64_t> _i(&ident, _i(&idx, keep[i]), 0)
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
            tn, xn, yn = _f(&t, q), _f(&xy, q, 0), _f(&xy, q, 1)
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
            _fw(&num, row, 0)[0] = tn
            _fw(&num, row, 1)[0] = xn
            _fw(&num, row, 2)[0] = yn
            # H's geometric columns, [2, 3] row-major: f k u, f k rho u / ref, g k w / ref
            # with w = (u1, -u0) (clockwise: where azimuth grows)
            _fw(&num, row, 3)[0] = fk * u0
            _fw(&num, row, 4)[0] = b * u0
            _fw(&num, row, 5)[0] = (g / REFERENCE_M) * u1
            _fw(&num, row, 6)[0] = fk * u1
            _fw(&num, row, 7)[0] = b * u1
            _fw(&num, row, 8)[0] = (g / REFERENCE_M) * -u0
            along = noise_range * (fk * fk)
            across = noise_azimuth * (g * g)
            _fw(&num, row, 9)[0] = along * (u0 * u0) + across * (u1 * u1)
            _fw(&num, row, 10)[0] = along * u0 * u1 + across * u1 * -u0
            _fw(&num, row, 11)[0] = along * (u1 * u1) + across * (-u0 * -u0)
            _fw(&num, row, 12)[0] = _f(&x, r, 2)
            _fw(&num, row, 13)[0] = _f(&x, r, 3)
            _fw(&num, row, 14)[0] = fmax(_f(&P, r, 2, 2), _f(&P, r, 3, 3))  # numpy's is C's
            (<int64_t*>(ids.data + row * ids.strides[0]))[0] = source
            (<int64_t*>(ids.data + row * ids.strides[0] + ids.strides[1]))[0] = _i(&ident, q, 0)
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


# -- Registration._learn's element-wise steps ----------------------------------------------
# ``_learn`` was some forty numpy calls on arrays of a few hundred pairs, most of them
# element-wise (a microsecond or two each) around the stacked matrix products, which stay
# numpy's (its BLAS's bits).  These are the element-wise steps, each float operation as
# numpy did it in its order (tests/test_registration_learn.py keeps the numpy code).

def learn_terms(object ri_, object rj_, object v_, object vvar_, double half_accel):
    """For the pairs of plots ``ri`` [p, 12] (this radar's records) and ``rj`` [p, 12]
    (the other radar's, moved to ri's time with the velocity ``v`` [p, 2], of variance
    ``vvar`` [p]): the difference ``d`` [p, 2], the Jacobian ``J = [H_i, -H_j]`` [p, 2, 8]
    and the difference's covariance ``S`` [p, 2, 2] (both radars' noise, and on the
    diagonal the velocity's uncertainty and the manoeuvre allowance ``half_accel`` = half
    the acceleration, over the time moved).  New arrays."""
    cdef Array ri, rj, v, vvar
    _array(ri_, cnp.NPY_FLOAT64, 2, 0, &ri, "learn_terms: ri")
    _array(rj_, cnp.NPY_FLOAT64, 2, 0, &rj, "learn_terms: rj")
    _array(v_, cnp.NPY_FLOAT64, 2, 0, &v, "learn_terms: v")
    _array(vvar_, cnp.NPY_FLOAT64, 1, 0, &vvar, "learn_terms: vvar")
    cdef Py_ssize_t p = ri.shape[0], i, r, c
    if (ri.shape[1] != 12 or rj.shape[1] != 12 or rj.shape[0] != p or v.shape[0] != p
            or v.shape[1] != 2 or vvar.shape[0] != p):
        raise ValueError("learn_terms: shapes do not match")
    cdef cnp.npy_intp dims[3]
    dims[0], dims[1], dims[2] = p, 2, 8
    J_out = cnp.PyArray_EMPTY(3, dims, cnp.NPY_FLOAT64, 0)
    dims[2] = 2
    S_out = cnp.PyArray_EMPTY(3, dims, cnp.NPY_FLOAT64, 0)
    d_out = cnp.PyArray_EMPTY(2, dims, cnp.NPY_FLOAT64, 0)
    cdef double* J = <double*>cnp.PyArray_DATA(<cnp.ndarray>J_out)
    cdef double* S = <double*>cnp.PyArray_DATA(<cnp.ndarray>S_out)
    cdef double* d = <double*>cnp.PyArray_DATA(<cnp.ndarray>d_out)
    cdef double dt, dt2, extra, b, v0, v1
    for i in range(p):
        dt = _f(&ri, i, 0) - _f(&rj, i, 0)
        v0, v1 = _f(&v, i, 0), _f(&v, i, 1)
        d[2 * i] = _f(&ri, i, 1) - (_f(&rj, i, 1) + v0 * dt)
        d[2 * i + 1] = _f(&ri, i, 2) - (_f(&rj, i, 2) + v1 * dt)
        for r in range(2):
            for c in range(3):
                J[16 * i + 8 * r + c] = _f(&ri, i, 3 + 3 * r + c)
                J[16 * i + 8 * r + 4 + c] = -_f(&rj, i, 3 + 3 * r + c)
        J[16 * i + 3] = -v0 / REFERENCE_MPS
        J[16 * i + 11] = -v1 / REFERENCE_MPS
        J[16 * i + 7] = v0 / REFERENCE_MPS
        J[16 * i + 15] = v1 / REFERENCE_MPS
        dt2 = dt * dt
        b = half_accel * dt2
        extra = _f(&vvar, i) * dt2 + b * b
        S[4 * i] = _f(&ri, i, 9) + _f(&rj, i, 9) + extra
        S[4 * i + 1] = S[4 * i + 2] = _f(&ri, i, 10) + _f(&rj, i, 10)
        S[4 * i + 3] = _f(&ri, i, 11) + _f(&rj, i, 11) + extra
    return d_out, J_out, S_out


def learn_gate(object G_, object e_, object d_, object S_, object v_, object vvar_,
               double gate, double cap, double vmax2):
    """Which pairs pass (their residual ``e`` [p, 2] against the estimate, of covariance
    ``G`` [p, 2, 2]: chi-square below ``gate``, finite, ``G`` positive; the difference
    ``d`` [p, 2] shorter than ``cap``; the velocity ``v`` [p, 2] finite, its variance
    ``vvar`` [p] below ``vmax2``): a bool array [p] and how many failed; and the
    weights ``W = S^-1`` [p, 2, 2] of every pair's ``S`` [p, 2, 2] (the caller keeps the
    rows of those that passed).  New arrays."""
    cdef Array G, e, d, S, v, vvar
    _array(G_, cnp.NPY_FLOAT64, 3, 0, &G, "learn_gate: G")
    _array(e_, cnp.NPY_FLOAT64, 2, 0, &e, "learn_gate: e")
    _array(d_, cnp.NPY_FLOAT64, 2, 0, &d, "learn_gate: d")
    _array(S_, cnp.NPY_FLOAT64, 3, 0, &S, "learn_gate: S")
    _array(v_, cnp.NPY_FLOAT64, 2, 0, &v, "learn_gate: v")
    _array(vvar_, cnp.NPY_FLOAT64, 1, 0, &vvar, "learn_gate: vvar")
    cdef Py_ssize_t p = G.shape[0], i, failed = 0
    if (G.shape[1] != 2 or G.shape[2] != 2 or e.shape[0] != p or e.shape[1] != 2
            or d.shape[0] != p or d.shape[1] != 2
            or S.shape[0] != p or S.shape[1] != 2 or S.shape[2] != 2 or v.shape[0] != p
            or v.shape[1] != 2
            or vvar.shape[0] != p):
        raise ValueError("learn_gate: shapes do not match")
    cdef cnp.npy_intp dims[3]
    dims[0], dims[1], dims[2] = p, 2, 2
    ok_out = cnp.PyArray_EMPTY(1, dims, cnp.NPY_BOOL, 0)
    W_out = cnp.PyArray_EMPTY(3, dims, cnp.NPY_FLOAT64, 0)
    cdef cnp.npy_bool* ok = <cnp.npy_bool*>cnp.PyArray_DATA(<cnp.ndarray>ok_out)
    cdef double* W = <double*>cnp.PyArray_DATA(<cnp.ndarray>W_out)
    cdef double g00, g01, g11, e0, e1, det, chi2, s00, s01, s11
    cdef bint good
    for i in range(p):
        g00, g01, g11 = _f(&G, i, 0, 0), _f(&G, i, 0, 1), _f(&G, i, 1, 1)
        e0, e1 = _f(&e, i, 0), _f(&e, i, 1)
        det = g00 * g11 - g01 * g01
        chi2 = (g11 * (e0 * e0) - 2.0 * g01 * e0 * e1 + g00 * (e1 * e1)) / det
        good = (chi2 < gate and hypot(_f(&d, i, 0), _f(&d, i, 1)) < cap
                and isfinite(chi2) and det > 0.0 and isfinite(_f(&v, i, 0))
                and isfinite(_f(&v, i, 1)) and _f(&vvar, i) < vmax2)
        ok[i] = good
        failed += not good
        s00, s01, s11 = _f(&S, i, 0, 0), _f(&S, i, 0, 1), _f(&S, i, 1, 1)
        det = s00 * s11 - s01 * s01
        W[4 * i] = s11 / det
        W[4 * i + 3] = s00 / det
        W[4 * i + 1] = W[4 * i + 2] = -s01 / det
    return ok_out, failed, W_out


def learn_sums(object N_, object b_, object pairs_, object flat_, object JWJ_,
               object cols_, object JWd_, object si_, object sj_):
    """The accepted pairs into the normal equations, in place: ``N`` [m, m] gets each
    pair's ``JWJ`` [p, 8, 8] at its cells ``flat`` [p, 64], ``b`` [m] its ``JWd`` [p, 8]
    at ``cols`` [p, 8], ``pairs`` [n] one for each radar of each pair (``si``, ``sj``).
    As numpy's ``x += np.bincount(...)`` did: the pairs' terms summed in order from zero,
    then added to every cell."""
    cdef Array N, b, pairs, flat, JWJ, cols, JWd, si, sj
    _array(N_, cnp.NPY_FLOAT64, 2, WRITABLE, &N, "learn_sums: N")
    _array(b_, cnp.NPY_FLOAT64, 1, WRITABLE, &b, "learn_sums: b")
    _array(pairs_, cnp.NPY_FLOAT64, 1, WRITABLE, &pairs, "learn_sums: pairs")
    _array(flat_, cnp.NPY_INT64, 2, 0, &flat, "learn_sums: flat")
    _array(JWJ_, cnp.NPY_FLOAT64, 3, 0, &JWJ, "learn_sums: JWJ")
    _array(cols_, cnp.NPY_INT64, 2, 0, &cols, "learn_sums: cols")
    _array(JWd_, cnp.NPY_FLOAT64, 2, 0, &JWd, "learn_sums: JWd")
    _array(si_, cnp.NPY_INT64, 1, 0, &si, "learn_sums: si")
    _array(sj_, cnp.NPY_INT64, 1, 0, &sj, "learn_sums: sj")
    cdef Py_ssize_t m = b.shape[0], n = pairs.shape[0], p = flat.shape[0], i, a, c
    cdef int64_t q
    if (N.shape[0] != m or N.shape[1] != m or flat.shape[1] != 64 or JWJ.shape[0] != p
            or JWJ.shape[1] != 8 or JWJ.shape[2] != 8 or cols.shape[0] != p or cols.shape[1] != 8
            or JWd.shape[0] != p or JWd.shape[1] != 8
            or si.shape[0] != p or sj.shape[0] != p):
        raise ValueError("learn_sums: shapes do not match")
    cdef double* acc = <double*>PyMem_Calloc(m * m + m + 1, sizeof(double))
    cdef int64_t* count = <int64_t*>PyMem_Calloc(n + 1, sizeof(int64_t))
    if acc == NULL or count == NULL:
        PyMem_Free(acc)
        PyMem_Free(count)
        raise MemoryError()
    try:
        for i in range(p):  # check every index first: nothing changes on an error
            for a in range(64):
                q = _i(&flat, i, a)
                if q < 0 or q >= m * m:
                    raise IndexError(f"learn_sums: cell {q} outside [0, {m * m})")
            for a in range(8):
                q = _i(&cols, i, a)
                if q < 0 or q >= m:
                    raise IndexError(f"learn_sums: column {q} outside [0, {m})")
            if _i(&si, i) < 0 or _i(&si, i) >= n or _i(&sj, i) < 0 or _i(&sj, i) >= n:
                raise IndexError(f"learn_sums: radar outside [0, {n})")
        for i in range(p):
            for a in range(8):
                for c in range(8):
                    acc[_i(&flat, i, 8 * a + c)] += _f(&JWJ, i, a, c)
        for i in range(p):
            for a in range(8):
                acc[m * m + _i(&cols, i, a)] += _f(&JWd, i, a)
        for i in range(p):
            count[_i(&si, i)] += 1
        for i in range(p):
            count[_i(&sj, i)] += 1
        for a in range(m):
            for c in range(m):
                _fw(&N, a, c)[0] = _f(&N, a, c) + acc[m * a + c]
            (<double*>(b.data + a * b.strides[0]))[0] += acc[m * m + a]
        for a in range(n):
            (<double*>(pairs.data + a * pairs.strides[0]))[0] += <double> count[a]
    finally:
        PyMem_Free(acc)
        PyMem_Free(count)
