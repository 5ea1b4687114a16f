# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The tracker's per-cycle bookkeeping in C: what a cycle's chosen (or started) tracks take
from their measurements besides the filter update (``Tracker._absorb``, formerly also
``_pair``) and the time of their state after it (``Tracker._kinematics``); and the tests
and grouping of ``Tracker._publish`` (``census``, ``spans``) and the sources of a batch's
messages (``sources``).

A radar batch updates ~30 tracks: the numpy code made some twenty-five calls per cycle on
arrays that small (gathers, masks, ``where``s, scatters), each costing more than its
elements.  The rules are gateway/associate/tracker.py's (its docstrings say why);
tests/test_cycle_kernel.py checks each function against the numpy code it replaced.

Every row's new values are computed from the table as it was before the call, and written
after, in the order of the rows: numpy's fancy indexing's semantics, so that repeated rows
(the last one stands) give what numpy gave.  The only floating-point operations are
``fmax`` and one addition, as numpy did them (built with ``-ffp-contract=off``).  Every
function checks the shapes it is given (ValueError) and the rows and indices it follows
(IndexError).
"""

from cpython.dict cimport PyDict_Check, PyDict_GetItem
from cpython.list cimport PyList_Append
from cpython.ref cimport PyObject
from libc.math cimport fabs, fmax, isfinite
from libc.stdint cimport int8_t, int64_t, uint8_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

cimport numpy as cnp

import numpy as np

cnp.import_array()

include "advance.pxi"
include "level.pxi"
include "arrays.pxi"

DEF TENTATIVE = 0
DEF IDENT = 4  # columns of an identity: address, discrete code, callsign hash, code
DEF ADDRESS = 0
DEF CODE = 1
DEF CALLSIGN = 2


cdef int _check(const int64_t[::1] a, Py_ssize_t limit, str what) except -1:
    cdef Py_ssize_t i
    for i in range(a.shape[0]):
        if not 0 <= a[i] < limit:
            raise IndexError(f"{what} out of range")
    return 0


cdef class AbsorbTable:
    """Writable views of the track table's columns ``absorb`` writes (state, t_update,
    n_updates, hit_t, ident, tracked, sdps, roc_sdps) and, optionally, its packed level
    rows (``absorb_view``'s level step), taken once: each typed argument costs a buffer
    request and a memoryview object at every call (about half a microsecond each, eight
    per batch).  The table makes new arrays when it grows: ``views`` says whether these
    are still its arrays (the caller then makes a new one)."""

    cdef readonly object state, t_update, n_updates, hit_t, ident, tracked, sdps, roc_sdps
    cdef readonly object level
    cdef const int8_t[::1] vstate
    cdef double[::1] vt_update
    cdef int64_t[::1] vn_updates
    cdef double[:, ::1] vhit_t
    cdef int64_t[:, ::1] vident
    cdef uint8_t[::1] vtracked
    cdef uint8_t[::1] vsdps
    cdef double[::1] vroc_sdps
    cdef double[:, ::1] vlevel

    def __init__(self, state, t_update, n_updates, hit_t, ident, tracked, sdps, roc_sdps,
                 level=None):
        self.state, self.t_update, self.n_updates, self.hit_t = (state, t_update, n_updates,
                                                                 hit_t)
        self.ident, self.tracked, self.sdps, self.roc_sdps = ident, tracked, sdps, roc_sdps
        self.vstate, self.vt_update, self.vn_updates, self.vhit_t = (state, t_update,
                                                                     n_updates, hit_t)
        self.vident, self.vtracked, self.vsdps, self.vroc_sdps = (ident, tracked, sdps,
                                                                  roc_sdps)
        self.level = level
        if level is not None:
            self.vlevel = level

    def views(self, state, t_update, n_updates, hit_t, ident, tracked, sdps,
              roc_sdps, level=None) -> bool:
        """Whether these are the arrays (the same objects) this was made of."""
        return (state is self.state and t_update is self.t_update
                and n_updates is self.n_updates and hit_t is self.hit_t
                and ident is self.ident and tracked is self.tracked and sdps is self.sdps
                and roc_sdps is self.roc_sdps and level is self.level)


def absorb(const int64_t[::1] rows, const int64_t[::1] idx, const double[:] mt,
           const int64_t[:, :] mident, const int64_t[:] mtrn, const double[:] mroc,
           bint sdps, const int8_t[::1] state, double[::1] t_update,
           int64_t[::1] n_updates, double[:, ::1] hit_t, int64_t[:, ::1] ident,
           uint8_t[::1] tracked, uint8_t[::1] sdps_flag, double[::1] roc_sdps,
           const int64_t[:] trn):
    """``Tracker._absorb`` but the level and the plans, and ``_pair``'s test, for the rows
    ``rows`` updated (or started) by the measurements ``idx`` (times ``mt``, identities
    ``mident``, track numbers ``mtrn``, SDPS rates of climb ``mroc`` read when ``sdps``):
    the latest update time (fmax), a tentative row's update count and hit times (shifted,
    the newest last), the identity (each known column of the measurement's replaces the
    row's), ``tracked`` where a track number came, and for an SDPS the flag and the latest
    finite rate.  ``trn``: the table's track numbers of this source, by row.

    Returns (moved, renamed, paired): the rows whose address or code changed, the
    positions whose callsign hash changed (the caller copies their texts), and the
    positions with a track number that is not the row's from this source yet (for
    ``TrackTable.pair``)."""
    return _absorb(rows, idx, mt, mident, mtrn, mroc, sdps, state, t_update, n_updates,
                   hit_t, ident, tracked, sdps_flag, roc_sdps, trn)


def absorb_view(AbsorbTable table, const int64_t[::1] rows, const int64_t[::1] idx,
                const double[:] mt, const int64_t[:, :] mident, const int64_t[:] mtrn,
                const double[:] mroc, bint sdps, const int64_t[:] trn, object mfl=None,
                object level=None):
    """``absorb`` on the table's columns ``table`` views; with ``level`` (the level
    filter's q, sigma and rate sigma: ``LevelFilter.kernel``) also its step of the
    table's level rows by the measurements' levels ``mfl`` at their times
    (``_tracking.level_rows`` on ``mfl[idx]``, ``mt[idx]``: the same code, ext/level.pxi),
    which the caller would otherwise gather and pass in a call of its own."""
    out = _absorb(rows, idx, mt, mident, mtrn, mroc, sdps, table.vstate, table.vt_update,
                  table.vn_updates, table.vhit_t, table.vident, table.vtracked, table.vsdps,
                  table.vroc_sdps, trn)
    cdef const double[:] fl
    cdef double q, sigma, rate_sigma
    if level is not None:
        if table.level is None:
            raise ValueError("absorb_view: the table's views have no level rows")
        fl = mfl
        if fl.shape[0] != mt.shape[0] or table.vlevel.shape[0] != table.vt_update.shape[0]:
            raise ValueError("absorb_view: shapes do not agree")
        q, sigma, rate_sigma = level
        _level_rows(table.vlevel, rows, &idx[0] if idx.shape[0] else NULL, fl, mt, q,
                    sigma, rate_sigma, "absorb_view")
    return out


cdef tuple _absorb(const int64_t[::1] rows, const int64_t[::1] idx, const double[:] mt,
                   const int64_t[:, :] mident, const int64_t[:] mtrn, const double[:] mroc,
                   bint sdps, const int8_t[::1] state, double[::1] t_update,
                   int64_t[::1] n_updates, double[:, ::1] hit_t, int64_t[:, ::1] ident,
                   uint8_t[::1] tracked, uint8_t[::1] sdps_flag, double[::1] roc_sdps,
                   const int64_t[:] trn):
    """``absorb``'s work."""
    cdef Py_ssize_t n = rows.shape[0], cap = t_update.shape[0], m = mt.shape[0]
    cdef Py_ssize_t H = hit_t.shape[1], i, j, r, k
    if idx.shape[0] != n:
        raise ValueError("absorb: rows and idx differ in length")
    if (mident.shape[0] != m or mident.shape[1] != IDENT or mtrn.shape[0] != m
            or (sdps and mroc.shape[0] != m)):
        raise ValueError("absorb: the measurement columns differ in length")
    if (state.shape[0] != cap or n_updates.shape[0] != cap or hit_t.shape[0] != cap
            or ident.shape[0] != cap or ident.shape[1] != IDENT or tracked.shape[0] != cap
            or sdps_flag.shape[0] != cap or roc_sdps.shape[0] != cap
            or trn.shape[0] != cap):
        raise ValueError("absorb: the table's columns differ in length")
    _check(rows, cap, "absorb: row")
    _check(idx, m, "absorb: measurement index")
    cdef Py_ssize_t n_moved = 0, n_renamed = 0, n_paired = 0
    # the new values, all computed before any is written: t_update, roc, H hit times and
    # the identity per position
    cdef double *buf = <double *>malloc(max(n, 1) * (2 + H) * sizeof(double))
    cdef int64_t *ibuf = <int64_t *>malloc(max(n, 1) * (IDENT + 1) * sizeof(int64_t))
    cdef uint8_t *tent = <uint8_t *>malloc(max(n, 1) * 2 * sizeof(uint8_t))
    # the positions found (moved, renamed, paired), copied out at the end
    cdef int64_t *found = <int64_t *>malloc(max(n, 1) * 3 * sizeof(int64_t))
    cdef int64_t *mv = found
    cdef int64_t *rn = found + max(n, 1)
    cdef int64_t *pr = found + 2 * max(n, 1)
    cdef double *tu
    cdef double *rc
    cdef double *ht
    cdef int64_t *idn
    cdef int64_t *nu
    cdef uint8_t *chg
    cdef int64_t v, number
    cdef uint8_t any_chg = 0
    cdef double roc
    if buf == NULL or ibuf == NULL or tent == NULL or found == NULL:
        free(buf)
        free(ibuf)
        free(tent)
        free(found)
        raise MemoryError()
    tu, rc, ht = buf, buf + max(n, 1), buf + 2 * max(n, 1)
    idn, nu = ibuf, ibuf + IDENT * max(n, 1)
    chg = tent + max(n, 1)
    try:
        with nogil:
            for i in range(n):  # read
                r = rows[i]
                j = idx[i]
                tu[i] = fmax(t_update[r], mt[j])
                tent[i] = state[r] == TENTATIVE
                if tent[i]:
                    nu[i] = n_updates[r] + 1
                    for k in range(H - 1):
                        ht[i * H + k] = hit_t[r, k + 1]
                    ht[i * H + H - 1] = mt[j]
                chg[i] = 0
                for k in range(IDENT):
                    v = mident[j, k]
                    if v < 0:
                        v = ident[r, k]
                    elif v != ident[r, k]:
                        chg[i] |= 1 << k
                    idn[i * IDENT + k] = v
                any_chg |= chg[i]
                if sdps:
                    roc = mroc[j]
                    rc[i] = roc if isfinite(roc) else roc_sdps[r]
                number = mtrn[j]
                if number >= 0 and number != trn[r]:
                    pr[n_paired] = i
                    n_paired += 1
            for i in range(n):  # write, in order: the last of a repeated row stands
                r = rows[i]
                j = idx[i]
                t_update[r] = tu[i]
                if tent[i]:
                    n_updates[r] = nu[i]
                    for k in range(H):
                        hit_t[r, k] = ht[i * H + k]
                if any_chg:  # as numpy wrote them: every row's, once one changed
                    for k in range(IDENT):
                        ident[r, k] = idn[i * IDENT + k]
                if chg[i]:
                    if chg[i] & (1 << CALLSIGN):
                        rn[n_renamed] = i
                        n_renamed += 1
                    if chg[i] & ((1 << ADDRESS) | (1 << CODE)):
                        mv[n_moved] = r
                        n_moved += 1
                if mtrn[j] >= 0:
                    tracked[r] = 1
                if sdps:
                    sdps_flag[r] = 1
                    roc_sdps[r] = rc[i]
        return _int64s(mv, n_moved), _int64s(rn, n_renamed), _int64s(pr, n_paired)
    finally:
        free(buf)
        free(ibuf)
        free(tent)
        free(found)


def advance(double[::1] t, const int64_t[::1] rows, const double[::1] dt):
    """``Tracker._kinematics``' time of the state: t[rows] = fmax(t[rows], t[rows] + dt)
    (a late measurement's update leaves it where it was); returns how many dt < 0."""
    cdef Py_ssize_t n = rows.shape[0], cap = t.shape[0], i
    cdef int64_t back = 0
    if dt.shape[0] != n:
        raise ValueError("advance: rows and dt differ in length")
    _check(rows, cap, "advance: row")
    cdef double *new = <double *>malloc(max(n, 1) * sizeof(double))
    if new == NULL:
        raise MemoryError()
    with nogil:
        back = _advance_times(t, rows, dt, new)
    free(new)
    return back


def census(const int8_t[::1] state, const uint8_t[::1] published, const int64_t[::1] rows,
           int8_t tentative, int8_t coasting):
    """How many of ``rows`` are in state ``tentative``, how many ``coasting``, and how many
    not ``published``: ``Tracker._publish``'s test for its common case (all zero: nothing
    to confirm, resume or name), one call instead of six numpy ones."""
    cdef Py_ssize_t n = rows.shape[0], cap = state.shape[0], i
    cdef Py_ssize_t n_tentative = 0, n_coasting = 0, n_unpublished = 0
    cdef int64_t r
    if published.shape[0] != cap:
        raise ValueError("census: state and published differ in length")
    _check(rows, cap, "census: row")
    for i in range(n):
        r = rows[i]
        n_tentative += state[r] == tentative
        n_coasting += state[r] == coasting
        n_unpublished += not published[r]
    return n_tentative, n_coasting, n_unpublished


def spans(const int64_t[::1] rows):
    """One message per track of a batch that several sources fed (``Tracker._publish``):
    (order, unique rows, starts, ends), with ``order`` the stable ascending order of
    ``rows`` (np.argsort's, kind="stable": a counting sort, equal rows in their order),
    the distinct rows ascending, and the span [starts[i], ends[i]) of each in that order.
    One call for the six numpy ones; rows are non-negative (IndexError)."""
    cdef Py_ssize_t n = rows.shape[0], i, k = 0
    cdef int64_t top = -1, r
    for i in range(n):
        if rows[i] < 0:
            raise IndexError("spans: negative row")
        if rows[i] > top:
            top = rows[i]
    count = np.zeros(top + 2, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] c = count, o = order
    for i in range(n):
        c[rows[i] + 1] += 1
    cdef Py_ssize_t distinct = 0
    for r in range(top + 1):
        distinct += c[r + 1] > 0
    unique = np.empty(distinct, dtype=np.int64)
    starts = np.empty(distinct, dtype=np.int64)
    ends = np.empty(distinct, dtype=np.int64)
    cdef int64_t[::1] u = unique, s = starts, e = ends
    for r in range(top + 1):  # each row's first position in the order, and its span
        if c[r + 1] > 0:
            u[k] = r
            s[k] = c[r]
            e[k] = c[r] + c[r + 1]
            k += 1
        c[r + 1] += c[r]
    for i in range(n):  # c[r]: the next position of row r
        o[c[rows[i]]] = i
        c[rows[i]] += 1
    return order, unique, starts, ends


def bounds(const double[:] t):
    """(earliest, latest) of a batch's times, as numpy's ``minimum.reduce`` and
    ``maximum.reduce`` give them (a nan anywhere: nan; no time: ValueError), in one call:
    ``Tracker.update`` needs both of every cycle, and each ufunc reduction costs about a
    microsecond at the Python level, on ~16 times."""
    cdef Py_ssize_t n = t.shape[0], i
    cdef double lo, hi, v
    if n == 0:
        raise ValueError("bounds: no times")
    lo = hi = t[0]
    for i in range(n):
        v = t[i]
        if v != v:
            return v, v
        if v < lo:
            lo = v
        if v > hi:
            hi = v
    return lo, hi



def sources(object refs, object index, object track_number, object idx, list out):
    """``index[idx]`` as a new int64 array, and ``out`` extended by the SourceRef of each of
    those reports, ``refs[track_number[i]]`` for i in idx (``Tracker.update``: what each
    message of the batch came from).  ``refs`` is a dict (a subclass's ``__missing__``
    makes what it lacks, by subscription as before); the hits are read without the
    subclass's slot lookup, and the fancy index, ``tolist`` and ``map`` of the numpy code
    are one loop.  The arrays are aligned 1-d int64 numpy arrays, any strides, read
    without typed memoryviews (each cost about as much as the loop).  An index outside
    ``index`` or ``track_number`` is an IndexError (negative ones too: the tracker's never
    are)."""
    cdef Py_ssize_t n, limit, n_tn, s_idx, s_index, s_tn, k
    cdef const char* p_idx = _column(idx, cnp.NPY_INT64, 0, &n, &s_idx, "sources: idx")
    cdef const char* p_index = _column(index, cnp.NPY_INT64, 0, &limit, &s_index,
                                       "sources: index")
    cdef const char* p_tn = _column(track_number, cnp.NPY_INT64, 0, &n_tn, &s_tn,
                                    "sources: track_number")
    cdef int64_t i
    cdef PyObject* hit
    cdef object key
    if not PyDict_Check(refs):  # a subclass too (a typed ``dict`` argument is exact)
        raise TypeError("sources: refs is not a dict")
    if n_tn != limit:
        raise ValueError("sources: index and track_number differ in length")
    for k in range(n):
        i = (<const int64_t*>(p_idx + k * s_idx))[0]
        if i < 0 or i >= limit:
            raise IndexError(f"sources: index {i} outside 0..{limit - 1}")
    cdef cnp.npy_intp d = n
    cdef cnp.ndarray result = cnp.PyArray_EMPTY(1, &d, cnp.NPY_INT64, 0)
    cdef int64_t* r = <int64_t*>cnp.PyArray_DATA(result)
    for k in range(n):
        i = (<const int64_t*>(p_idx + k * s_idx))[0]
        r[k] = (<const int64_t*>(p_index + i * s_index))[0]
        key = (<const int64_t*>(p_tn + i * s_tn))[0]
        hit = PyDict_GetItem(refs, key)
        if hit == NULL:
            PyList_Append(out, refs[key])
        else:
            PyList_Append(out, <object>hit)
    return result
