"""The deleter's per-batch bookkeeping in C: the intervals each batch's plots give of their
radar's scan period; and in each review, the tracks old enough to look at, their straight-
line prediction, the scans a silent track has missed, and when to look again.

Every radar batch updates ~20 tracks and each review looks at a few dozen: the numpy code
made about fifteen calls per step on arrays that small, each costing more than its
elements.  The rules are gateway/associate/lifecycle.py's (``TimeoutDeleter``, whose
docstrings say why); tests/test_lifecycle_kernel.py checks each function against the numpy
code it replaced.

Floats are computed in numpy's order, one operation at a time (built with
``-ffp-contract=off``: no fused multiply-add; ``rint`` and ``floor`` round as numpy's do),
so every interval and count is the same to the bit.  Bool arrays are read as bytes.  Every
function checks the shapes it is given (ValueError) and the rows it follows (IndexError).
"""

cimport numpy as cnp
from libc.math cimport INFINITY, NAN, copysign, floor, fmax, fmin, fmod, isfinite, isnan, rint, sqrt
from libc.stdint cimport int8_t, int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

import numpy as np

cnp.import_array()

ctypedef unsigned char flag

include "arrays.pxi"  # the one check of an array read raw
include "views.pxi"  # its accessors


def scan_period(object owner, object last, object rows, object uid, object t,
                Py_ssize_t site, double known, bint collect, double lo, double hi):
    """One radar's plots at times ``t`` updated ``rows`` (their uids ``uid``): forget the
    latest plot times of a row another track had (``owner`` != uid: nan, owner := uid),
    move column ``site`` of ``last`` on to max(t, latest), and return the median of the
    intervals since each row's previous plot of this radar that lie in [lo, hi], each
    divided by the scans it spans at the period ``known``: max(rint(dt / known), 1)
    (undivided while ``known`` is not finite); nan when there is none, or not
    ``collect``.  As numpy's fancy indexing does, every interval is read before any time
    is written, and of repeated rows the last one's time stays.  The median is np.median's
    number: the middle value, or the mean of the two middle ones, (a + b) / 2.  Arrays
    (int64 owner, rows and uid [n], float64 last [cap, sites] and t [n]) are numpy's,
    aligned, any strides, read by pointer (arrays.pxi: called every batch, its five typed
    memoryviews cost more than its few dozen intervals)."""
    cdef Array owner_, last_, rows_, uid_, t_
    _array(owner, cnp.NPY_INT64, 1, WRITABLE, &owner_, "scan_period: owner")
    _array(last, cnp.NPY_FLOAT64, 2, WRITABLE, &last_, "scan_period: last")
    _array(rows, cnp.NPY_INT64, 1, 0, &rows_, "scan_period: rows")
    _array(uid, cnp.NPY_INT64, 1, 0, &uid_, "scan_period: uid")
    _array(t, cnp.NPY_FLOAT64, 1, 0, &t_, "scan_period: t")
    cdef Py_ssize_t n = rows_.shape[0], cap = owner_.shape[0], i, j, r, k = 0, half
    cdef Py_ssize_t sites = last_.shape[1]
    cdef double d, ti, li
    cdef bint divide = isfinite(known)
    if uid_.shape[0] != n or t_.shape[0] != n or last_.shape[0] != cap:
        raise ValueError("scan_period: rows, uid and t differ in length, or owner and last")
    if not 0 <= site < sites:
        raise IndexError("scan_period: no such site")
    for i in range(n):
        if not 0 <= _i(&rows_, i) < cap:
            raise IndexError("scan_period: row out of range")
    cdef double *o = <double *>malloc(2 * max(n, 1) * sizeof(double))
    cdef double *moved = o + max(n, 1)  # the latest times, all read before any is written
    if o == NULL:
        raise MemoryError()
    try:
        for i in range(n):  # a row another track had: its times are not this track's
            r = _i(&rows_, i)
            if _i(&owner_, r) != _i(&uid_, i):
                for j in range(sites):
                    _fw(&last_, r, j)[0] = NAN
                _iw(&owner_, r)[0] = _i(&uid_, i)
        for i in range(n):  # every interval and time from the times before this batch
            r = _i(&rows_, i)
            ti, li = _f(&t_, i), _f(&last_, r, site)
            o[i] = ti - li
            moved[i] = fmax(ti, li)
        for i in range(n):
            _fw(&last_, _i(&rows_, i), site)[0] = moved[i]
        if not collect:
            return NAN
        for i in range(n):
            d = o[i]
            if d >= lo and d <= hi:  # nan (no earlier plot) is neither
                o[k] = d / fmax(rint(d / known), 1.0) if divide else d
                k += 1
        if k == 0:
            return NAN
        for i in range(1, k):  # insertion sort: a batch has a few dozen (none nan)
            d = o[i]
            j = i - 1
            while j >= 0 and o[j] > d:
                o[j + 1] = o[j]
                j -= 1
            o[j + 1] = d
        half = k // 2
        if k % 2:
            return o[half]
        return (o[half - 1] + o[half]) / 2.0
    finally:
        free(o)


def missed_scans(const flag[:, :] seen, const double[:] silent, const double[:] period):
    """(k, covered) per row: the sum over the radars that see it (``seen`` [n, radars]) of
    max(floor(silent / period - 0.5), 0), radars of no finite count left out; and whether
    any radar sees it."""
    cdef Py_ssize_t n = seen.shape[0], m = seen.shape[1], i, j
    cdef double s, total
    cdef bint any_
    if silent.shape[0] != n or period.shape[0] != m:
        raise ValueError("missed_scans: shapes differ")
    k = np.empty(n, dtype=np.float64)
    covered = np.empty(n, dtype=np.bool_)
    cdef double[:] ko = k
    cdef flag[:] co = covered.view(np.uint8)
    for i in range(n):
        total = 0.0
        any_ = False
        for j in range(m):
            if seen[i, j]:
                any_ = True
                s = floor(silent[i] / period[j] - 0.5)
                if isfinite(s):
                    total += fmax(s, 0.0)
        ko[i] = total
        co[i] = any_
    return k, covered


def earliest(object state, object t_update, object t_hidden, object rows, object after,
             double since_t):
    """The earliest of the times at which a rule may change one of ``rows``, not before
    ``since_t`` (inf: none): for each rule (a row of ``after``, read by state), the row's
    silence start plus that rule's silence; the silence starts at the latest update, or of
    a track not tentative (state 0) at its latest time hidden if later.  Arrays (int8
    state, float64 t_update, t_hidden [cap] and after [rules, 3], int64 rows) are read by
    pointer (arrays.pxi), as ``aged``'s."""
    cdef Array state_, t_update_, t_hidden_, rows_, after_
    _array(state, cnp.NPY_INT8, 1, 0, &state_, "earliest: state")
    _array(t_update, cnp.NPY_FLOAT64, 1, 0, &t_update_, "earliest: t_update")
    _array(t_hidden, cnp.NPY_FLOAT64, 1, 0, &t_hidden_, "earliest: t_hidden")
    _array(rows, cnp.NPY_INT64, 1, 0, &rows_, "earliest: rows")
    _array(after, cnp.NPY_FLOAT64, 2, 0, &after_, "earliest: after")
    cdef Py_ssize_t n = rows_.shape[0], cap = state_.shape[0], nrules = after_.shape[0]
    cdef Py_ssize_t i, j, r
    cdef int s
    cdef double since, at, best = INFINITY
    if t_update_.shape[0] != cap or t_hidden_.shape[0] != cap or after_.shape[1] != 3:
        raise ValueError("earliest: columns differ in length, or not 3 states")
    for i in range(n):
        r = _i(&rows_, i)
        if not 0 <= r < cap:
            raise IndexError("earliest: row out of range")
        s = _b(&state_, r)
        if not 0 <= s < 3:
            raise IndexError("earliest: no such state")
        since = (_f(&t_update_, r) if s == 0
                 else fmax(_f(&t_update_, r), _f(&t_hidden_, r)))
        for j in range(nrules):
            at = since + _f(&after_, j, s)
            if at >= since_t and at < best:  # nan is neither
                best = at
    return best


def predicted(const double[:, :] x, const double[:] t, const double[:, :] level,
              const int64_t[:] rows, double now, Py_ssize_t level_t, Py_ssize_t level_last,
              double ft, double default_h):
    """(x, y, vx, vy, h, rate) of ``rows`` at ``now``: the straight line from the state
    ``x`` at ``t``; the height from the latest flight level (column ``level_last``, hundreds
    of feet of ``ft`` m) on at the level filter's rate (column 1, 100 ft/s, 0 where nan)
    since ``level_t`` (0 where nan), not below 0, ``default_h`` without a level."""
    cdef Py_ssize_t n = rows.shape[0], cap = x.shape[0], i, r
    cdef double dt, fl, rate, since
    if t.shape[0] != cap or level.shape[0] != cap or x.shape[1] != 4:
        raise ValueError("predicted: columns differ in length, or x not 4 wide")
    if not (0 <= level_t < level.shape[1] and 0 <= level_last < level.shape[1]
            and level.shape[1] > 1):
        raise IndexError("predicted: no such level column")
    out = np.empty((6, n), dtype=np.float64)
    cdef double[:, :] o = out
    for i in range(n):
        r = rows[i]
        if not 0 <= r < cap:
            raise IndexError("predicted: row out of range")
        dt = now - t[r]
        fl = level[r, level_last]
        rate = level[r, 1]
        rate = (rate if rate == rate else 0.0) * 100.0 * ft
        since = now - level[r, level_t]
        since = since if since == since else 0.0
        o[0, i] = x[r, 0] + x[r, 2] * dt
        o[1, i] = x[r, 1] + x[r, 3] * dt
        o[2, i] = x[r, 2]
        o[3, i] = x[r, 3]
        o[4, i] = fmax(fl * 100.0 * ft + rate * since, 0.0) if fl == fl else default_h
        o[5, i] = rate
    return out[0], out[1], out[2], out[3], out[4], out[5]


def aged(object state, object t_update, object t_hidden, object rows, double now,
         double shortest):
    """(rows, age, silent, state) of the ``rows`` whose age since their latest update at
    ``now`` is at least ``shortest`` (in their order): that age, the silence since the
    later of their latest update and latest time hidden, and their state.  Arrays (int8
    state, float64 t_update and t_hidden [cap], int64 rows) are read by pointer
    (arrays.pxi: each review's first step, where eight typed memoryviews cost more than
    the rows), the results made by numpy's C API."""
    cdef Array state_, t_update_, t_hidden_, rows_
    _array(state, cnp.NPY_INT8, 1, 0, &state_, "aged: state")
    _array(t_update, cnp.NPY_FLOAT64, 1, 0, &t_update_, "aged: t_update")
    _array(t_hidden, cnp.NPY_FLOAT64, 1, 0, &t_hidden_, "aged: t_hidden")
    _array(rows, cnp.NPY_INT64, 1, 0, &rows_, "aged: rows")
    cdef Py_ssize_t n = rows_.shape[0], cap = state_.shape[0], i, r, k = 0
    cdef double age, tu
    if t_update_.shape[0] != cap or t_hidden_.shape[0] != cap:
        raise ValueError("aged: columns differ in length")
    cdef cnp.npy_intp dim = n
    kept = cnp.PyArray_EMPTY(1, &dim, cnp.NPY_INT64, 0)
    ages = cnp.PyArray_EMPTY(1, &dim, cnp.NPY_FLOAT64, 0)
    silent = cnp.PyArray_EMPTY(1, &dim, cnp.NPY_FLOAT64, 0)
    states = cnp.PyArray_EMPTY(1, &dim, cnp.NPY_INT8, 0)
    cdef int64_t* ko = <int64_t*>cnp.PyArray_DATA(<cnp.ndarray>kept)
    cdef double* ao = <double*>cnp.PyArray_DATA(<cnp.ndarray>ages)
    cdef double* so = <double*>cnp.PyArray_DATA(<cnp.ndarray>silent)
    cdef int8_t* st = <int8_t*>cnp.PyArray_DATA(<cnp.ndarray>states)
    for i in range(n):
        r = _i(&rows_, i)
        if not 0 <= r < cap:
            raise IndexError("aged: row out of range")
        tu = _f(&t_update_, r)
        age = now - tu
        if age >= shortest:  # nan is not
            ko[k] = r
            ao[k] = age
            so[k] = now - fmax(tu, _f(&t_hidden_, r))
            st[k] = _b(&state_, r)
            k += 1
    return kept[:k], ages[:k], silent[:k], states[:k]


def hide_look(object state, object age, double coast_after, double hidden_max):
    """``review``'s rows (indices into its arrays) whose coverage gap to look at: not
    tentative (state 0), silent for more than ``coast_after`` and at most ``hidden_max``.
    ``aged``'s int8 state and float64 age, read by pointer (arrays.pxi), as by the steps
    after it."""
    cdef Array state_, age_
    _array(state, cnp.NPY_INT8, 1, 0, &state_, "hide_look: state")
    _array(age, cnp.NPY_FLOAT64, 1, 0, &age_, "hide_look: age")
    cdef Py_ssize_t n = state_.shape[0], i, k = 0
    cdef double a
    if age_.shape[0] != n:
        raise ValueError("hide_look: shapes differ")
    cdef cnp.npy_intp dim = n
    out = cnp.PyArray_EMPTY(1, &dim, cnp.NPY_INT64, 0)
    cdef int64_t* o = <int64_t*>cnp.PyArray_DATA(<cnp.ndarray>out)
    for i in range(n):
        a = _f(&age_, i)
        if _b(&state_, i) != 0 and a > coast_after and a <= hidden_max:
            o[k] = i
            k += 1
    return out[:k]


def miss_look(object state, object age, object silent, double tentative_timeout,
              double first, double end_min):
    """``review``'s rows (indices) whose missed scans to count: tentative ones (state 0) not
    timed out (age at most ``tentative_timeout``) silent for at least ``first``; the others
    silent for at least ``end_min``.  Arrays as ``hide_look``'s (silent float64)."""
    cdef Array state_, age_, silent_
    _array(state, cnp.NPY_INT8, 1, 0, &state_, "miss_look: state")
    _array(age, cnp.NPY_FLOAT64, 1, 0, &age_, "miss_look: age")
    _array(silent, cnp.NPY_FLOAT64, 1, 0, &silent_, "miss_look: silent")
    cdef Py_ssize_t n = state_.shape[0], i, k = 0
    if age_.shape[0] != n or silent_.shape[0] != n:
        raise ValueError("miss_look: shapes differ")
    cdef cnp.npy_intp dim = n
    out = cnp.PyArray_EMPTY(1, &dim, cnp.NPY_INT64, 0)
    cdef int64_t* o = <int64_t*>cnp.PyArray_DATA(<cnp.ndarray>out)
    for i in range(n):
        if _b(&state_, i) == 0:
            if not (_f(&age_, i) > tentative_timeout) and _f(&silent_, i) >= first:
                o[k] = i
                k += 1
        elif _f(&silent_, i) >= end_min:
            o[k] = i
            k += 1
    return out[:k]


def verdicts(object rows, object state, object age, object silent, object look, object k,
             object covered, object need, double tentative_timeout, double coast_after,
             double end_after, double end_max):
    """(coast, end, drop rows, ended by misses): ``review``'s last step.  A tentative row
    (state 0) older than ``tentative_timeout`` drops; another silent for more than
    ``end_after`` ends; of the rows ``look`` (indices) whose ``k`` missed scans were
    counted, those that radars see (``covered``) end instead once k reaches ``need`` or
    silent for more than ``end_max`` (tentative ones drop once k reaches need); confirmed
    rows (state 1) older than ``coast_after`` that do not end coast.  The count is of the
    rows not tentative that reached ``need`` silent for at most ``end_after``.  Arrays
    (int64 rows and look, int8 state, bool covered, float64 the others) read by pointer
    (arrays.pxi), the results made by numpy's C API."""
    cdef Array rows_, state_, age_, silent_, look_, k_, covered_, need_
    _array(rows, cnp.NPY_INT64, 1, 0, &rows_, "verdicts: rows")
    _array(state, cnp.NPY_INT8, 1, 0, &state_, "verdicts: state")
    _array(age, cnp.NPY_FLOAT64, 1, 0, &age_, "verdicts: age")
    _array(silent, cnp.NPY_FLOAT64, 1, 0, &silent_, "verdicts: silent")
    _array(look, cnp.NPY_INT64, 1, 0, &look_, "verdicts: look")
    _array(k, cnp.NPY_FLOAT64, 1, 0, &k_, "verdicts: k")
    _array(covered, cnp.NPY_BOOL, 1, 0, &covered_, "verdicts: covered")
    _array(need, cnp.NPY_FLOAT64, 1, 0, &need_, "verdicts: need")
    cdef Py_ssize_t n = rows_.shape[0], m = look_.shape[0], i, j, nc = 0, ne = 0, nd = 0
    cdef Py_ssize_t ended = 0
    cdef bint tent, gone
    if state_.shape[0] != n or age_.shape[0] != n or silent_.shape[0] != n:
        raise ValueError("verdicts: shapes differ")
    if k_.shape[0] != m or covered_.shape[0] != m or need_.shape[0] != m:
        raise ValueError("verdicts: look's shapes differ")
    cdef cnp.npy_intp dim = n
    coast = cnp.PyArray_EMPTY(1, &dim, cnp.NPY_INT64, 0)
    end = cnp.PyArray_EMPTY(1, &dim, cnp.NPY_INT64, 0)
    dropped = cnp.PyArray_EMPTY(1, &dim, cnp.NPY_INT64, 0)
    cdef flag* ov = <flag*>malloc(2 * max(n, 1) * sizeof(flag))  # freed below, once
    if ov == NULL:
        raise MemoryError()
    cdef flag* dr = ov + max(n, 1)
    cdef int64_t* co = <int64_t*>cnp.PyArray_DATA(<cnp.ndarray>coast)
    cdef int64_t* eo = <int64_t*>cnp.PyArray_DATA(<cnp.ndarray>end)
    cdef int64_t* do = <int64_t*>cnp.PyArray_DATA(<cnp.ndarray>dropped)
    try:
        for i in range(n):
            tent = _b(&state_, i) == 0
            dr[i] = tent and _f(&age_, i) > tentative_timeout
            ov[i] = (not tent) and _f(&silent_, i) > end_after
        for j in range(m):
            i = _i(&look_, j)
            if not 0 <= i < n:
                raise IndexError("verdicts: look out of range")
            tent = _b(&state_, i) == 0
            gone = _f(&k_, j) >= _f(&need_, j)
            if gone and not tent and _f(&silent_, i) <= end_after:
                ended += 1
            if _b(&covered_, j) != 0:
                ov[i] = (not tent) and (gone or _f(&silent_, i) > end_max)
            if tent and gone:
                dr[i] = 1
        for i in range(n):
            if ov[i]:
                eo[ne] = _i(&rows_, i)
                ne += 1
            elif _b(&state_, i) == 1 and _f(&age_, i) > coast_after:
                co[nc] = _i(&rows_, i)
                nc += 1
            if dr[i]:
                do[nd] = _i(&rows_, i)
                nd += 1
    finally:
        free(ov)
    return coast[:nc], end[:ne], dropped[:nd], ended


def misses_needed(const int64_t[:, :] ident, const signed char[:] state,
                  const int64_t[:] rows, Py_ssize_t address, Py_ssize_t mode3a,
                  const double[:] by_kind):
    """``misses_to_end`` of each row: ``by_kind`` read at 2 x tentative (state 0) +
    transponder (a Mode S address, column ``address`` of ``ident``, or a Mode-3/A code,
    column ``mode3a``, not -1)."""
    cdef Py_ssize_t n = rows.shape[0], cap = state.shape[0], i, r
    if ident.shape[0] != cap or by_kind.shape[0] != 4:
        raise ValueError("misses_needed: shapes differ")
    if not (0 <= address < ident.shape[1] and 0 <= mode3a < ident.shape[1]):
        raise IndexError("misses_needed: column out of range")
    out = np.empty(n, dtype=np.float64)
    cdef double[:] o = out
    for i in range(n):
        r = rows[i]
        if not 0 <= r < cap:
            raise IndexError("misses_needed: row out of range")
        o[i] = _needed(ident, state, r, address, mode3a, by_kind)
    return out


cdef inline double _needed(const int64_t[:, :] ident, const signed char[:] state,
                           Py_ssize_t r, Py_ssize_t address, Py_ssize_t mode3a,
                           const double[:] by_kind) noexcept:
    """``misses_needed`` of row r (checked by the caller)."""
    return by_kind[(state[r] == 0) * 2 + (ident[r, address] >= 0 or ident[r, mode3a] >= 0)]


def may_end(const int64_t[:] look, const int64_t[:] rows, const double[:] silent,
            const int64_t[:, :] ident, const signed char[:] state, Py_ssize_t address,
            Py_ssize_t mode3a, const double[:] by_kind, const double[:] period,
            double end_by):
    """(look kept, need): of ``review``'s rows ``look`` (indices into ``rows`` and
    ``silent``) whose missed scans it counts, those whose count could change their
    verdict, and ``misses_needed`` of each.  A count is ``missed_scans``'s sum over the
    radars that see the track, each radar's term max(floor(silent / period - 0.5), 0)
    (finite ones); the sum over every radar bounds it (the same terms, none negative,
    added in the same order: a rounded sum never falls as a term grows), so a row whose
    bound is below its need cannot reach it; and then whether a radar sees it changes its
    verdict only past ``end_by`` (the lesser of end_after and end_max) of silence.  The
    others are the rows most reviews look at (tracks silent between two scans of a slow
    radar), whose coverage (the costly part) is then not asked."""
    cdef Py_ssize_t n = look.shape[0], nr = rows.shape[0], cap = state.shape[0]
    cdef Py_ssize_t m = period.shape[0], i, j, r, k = 0
    cdef double s, bound, need
    if silent.shape[0] != nr or ident.shape[0] != cap or by_kind.shape[0] != 4:
        raise ValueError("may_end: shapes differ")
    if not (0 <= address < ident.shape[1] and 0 <= mode3a < ident.shape[1]):
        raise IndexError("may_end: column out of range")
    kept = np.empty(n, dtype=np.int64)
    needs = np.empty(n, dtype=np.float64)
    cdef int64_t[:] ko = kept
    cdef double[:] no = needs
    for i in range(n):
        if not 0 <= look[i] < nr:
            raise IndexError("may_end: look out of range")
        r = rows[look[i]]
        if not 0 <= r < cap:
            raise IndexError("may_end: row out of range")
        need = _needed(ident, state, r, address, mode3a, by_kind)
        bound = 0.0
        for j in range(m):
            s = floor(silent[look[i]] / period[j] - 0.5)
            if isfinite(s):
                bound += fmax(s, 0.0)
        if bound >= need or not (silent[look[i]] <= end_by):
            ko[k] = look[i]
            no[k] = need
            k += 1
    return kept[:k], needs[:k]


# -- the initiator's clutter map (``ClutterMap``): a track starts from one or two plots of a
# batch and is dropped alone, so each call was a dozen numpy calls on one element; numpy's
# arctan2, exp and expm1 are still called (on the arrays numpy's code called them on: their
# SIMD loops are not libm's to the bit), the rest is here.

cdef double _RAD2DEG = 180.0 / 3.141592653589793  # numpy's degrees: x * (180 / pi)


cdef inline double _divmod(double a, double b, double *modulus) noexcept:
    """numpy's float floor division and remainder (npy_divmod), to the bit."""
    cdef double mod = fmod(a, b), div, floordiv
    if not b:
        modulus[0] = mod
        return a / b
    div = (a - mod) / b
    if mod:
        if (b < 0) != (mod < 0):
            mod += b
            div -= 1.0
    else:
        mod = copysign(0.0, b)
    if div:
        floordiv = floor(div)
        if div - floordiv > 0.5:
            floordiv += 1.0
    else:
        floordiv = copysign(0.0, a / b)
    modulus[0] = mod
    return floordiv


cdef inline double _floor_divide(double a, double b) noexcept:
    cdef double mod
    return _divmod(a, b, &mod)


cdef inline double _remainder(double a, double b) noexcept:
    cdef double mod
    _divmod(a, b, &mod)
    return mod


cdef inline double _minimum(double a, double b) noexcept:
    """np.minimum of two numbers, nan propagated."""
    if a != a:
        return a
    return b if b < a else a


def clutter_cells(const double[:] ground, const double[:] los_x, const double[:] los_y,
                  double cell_range, double cell_azimuth, int64_t n_range, int64_t n_azimuth):
    """``ClutterMap.cells``: each measurement's cell, ring x ``n_azimuth`` + sector, -1 where
    its ground range or line of sight is not finite."""
    cdef Py_ssize_t n = ground.shape[0], i
    if los_x.shape[0] != n or los_y.shape[0] != n:
        raise ValueError("clutter_cells: ground, los_x and los_y differ in length")
    cdef double ring, sector, az
    cdef const double[::1] turn
    x_, y_, out = np.empty(n), np.empty(n), np.empty(n, dtype=np.int64)
    cdef double[::1] x = x_, y = y_
    cdef int64_t[::1] cell = out
    cdef flag *ok = <flag *>malloc(max(n, 1))
    if ok == NULL:
        raise MemoryError()
    try:
        for i in range(n):  # where not ok: zeros (numpy's code computed on them too)
            ok[i] = isfinite(ground[i]) and isfinite(los_x[i]) and isfinite(los_y[i])
            x[i] = los_x[i] if ok[i] else 0.0
            y[i] = los_y[i] if ok[i] else 0.0
        turn = np.arctan2(x_, y_)
        for i in range(n):
            if not ok[i]:
                cell[i] = -1
                continue
            ring = _minimum(_floor_divide(ground[i], cell_range), <double>(n_range - 1))
            az = _remainder(turn[i] * _RAD2DEG, 360.0)
            sector = _minimum(_floor_divide(az, cell_azimuth), <double>(n_azimuth - 1))
            cell[i] = <int64_t>ring * n_azimuth + <int64_t>sector
    finally:
        free(ok)
    return out


cdef inline Py_ssize_t _source_row(int64_t s, Py_ssize_t rows) except -1:
    """Row ``s`` of a map of ``rows`` sources, counted from the end if negative (numpy's
    indexing); IndexError past either end."""
    if s < 0:
        s += rows
    if not 0 <= s < rows:
        raise IndexError("clutter: source out of range")
    return s


def clutter_density(const int64_t[:] source, const int64_t[:] cell, const double[:] t,
                    const double[:, ::1] density, const double[:, ::1] last,
                    const double[:] start, double tau, double warm):
    """``ClutterMap.at``: the density of each (source, cell) at times ``t``, 0 where the
    cell is -1 or the source has no map yet: density x exp(-age / tau) / -expm1(-since /
    tau), age = fmax(t - last, 0), since = fmax(t - start, warm)."""
    cdef Py_ssize_t n = cell.shape[0], i, j, k = 0, s
    if source.shape[0] != n or t.shape[0] != n:
        raise ValueError("clutter_density: source, cell and t differ in length")
    if last.shape[0] != density.shape[0] or last.shape[1] != density.shape[1] \
            or start.shape[0] != density.shape[0]:
        raise ValueError("clutter_density: density, last and start differ in shape")
    out = np.zeros(n)
    cdef double[::1] o = out
    for i in range(n):
        if cell[i] >= 0 and source[i] < density.shape[0]:
            k += 1
    if k == 0:
        return out
    d_, age_, since_ = np.empty(k), np.empty(k), np.empty(k)
    cdef double[::1] d = d_, age = age_, since = since_
    cdef Py_ssize_t *where = <Py_ssize_t *>malloc(k * sizeof(Py_ssize_t))
    cdef const double[::1] decay, grown
    if where == NULL:
        raise MemoryError()
    try:
        j = 0
        for i in range(n):
            if not (cell[i] >= 0 and source[i] < density.shape[0]):
                continue
            s = _source_row(source[i], density.shape[0])
            if cell[i] >= density.shape[1]:
                raise IndexError("clutter_density: cell out of range")
            where[j] = i
            d[j] = density[s, cell[i]]
            age[j] = -fmax(t[i] - last[s, cell[i]], 0.0) / tau
            since[j] = -fmax(t[i] - start[s], warm) / tau
            j += 1
        decay, grown = np.exp(age_), np.expm1(since_)
        for j in range(k):
            o[where[j]] = d[j] * decay[j] / -grown[j]
    finally:
        free(where)
    return out


def clutter_top(const int64_t[:] source, const int64_t[:] cell) -> int:
    """The largest source with a cell (-1: none): the map's rows ``clutter_learn`` needs."""
    cdef Py_ssize_t n = cell.shape[0], i
    cdef int64_t top = -1
    if source.shape[0] != n:
        raise ValueError("clutter_top: source and cell differ in length")
    for i in range(n):
        if cell[i] >= 0 and source[i] >= 0 and source[i] > top:
            top = source[i]
    return top


def clutter_learn(const int64_t[:] source, const int64_t[:] cell, const double[:] t,
                  const double[:] plots, double[:, ::1] density, double[:, ::1] last,
                  double[:] start, double tau):
    """``ClutterMap.learn`` on maps with a row for every source with a cell
    (``clutter_top``): of the measurements with a cell and a source, each source's start
    is the earliest of its times (np.fmin.at), every cell touched decays to the latest of
    them, ``now`` (read before any is written, as numpy's fancy indexing does), and gains
    its plots decayed from their time to ``now``, in order (np.add.at)."""
    cdef Py_ssize_t n = cell.shape[0], i, j, k = 0
    if source.shape[0] != n or t.shape[0] != n or plots.shape[0] != n:
        raise ValueError("clutter_learn: source, cell, t and plots differ in length")
    if last.shape[0] != density.shape[0] or last.shape[1] != density.shape[1] \
            or start.shape[0] != density.shape[0]:
        raise ValueError("clutter_learn: density, last and start differ in shape")
    cdef double now = 0.0
    for i in range(n):
        if cell[i] >= 0 and source[i] >= 0:
            if source[i] >= density.shape[0] or cell[i] >= density.shape[1]:
                raise IndexError("clutter_learn: source or cell out of range")
            if k == 0 or isnan(t[i]):  # t.max(): nan propagates
                now = t[i] if k == 0 or not isnan(now) else now
            elif t[i] > now:
                now = t[i]
            k += 1
    if k == 0:
        return
    d_, kept_, gained_ = np.empty(k), np.empty(k), np.empty(k)
    cdef double[::1] d = d_, kept = kept_, gained = gained_
    cdef const double[::1] decay, fresh
    j = 0
    for i in range(n):
        if cell[i] >= 0 and source[i] >= 0:
            start[source[i]] = fmin(start[source[i]], t[i])
            d[j] = density[source[i], cell[i]]
            kept[j] = -fmax(now - last[source[i], cell[i]], 0.0) / tau
            gained[j] = -fmax(now - t[i], 0.0) / tau
            j += 1
    decay, fresh = np.exp(kept_), np.exp(gained_)
    j = 0
    for i in range(n):  # the decay (a cell repeated: the same value written again)
        if cell[i] >= 0 and source[i] >= 0:
            density[source[i], cell[i]] = d[j] * decay[j]
            last[source[i], cell[i]] = now
            j += 1
    j = 0
    for i in range(n):  # the plots, one at a time
        if cell[i] >= 0 and source[i] >= 0:
            density[source[i], cell[i]] += plots[i] * fresh[j]
            j += 1


def confirm_rule(object rows, object ident, Py_ssize_t address, Py_ssize_t code,
                 object sdps, object tracked, object extra, object clash, object n_updates,
                 object t_update, object hit_t, int64_t modes, int64_t identity_need,
                 int64_t position, int64_t tracked_need, double window_s):
    """``MofNInitiator.confirm``'s M-of-N rule for tentative ``rows``: (ok, identity), bool
    each.  identity: a Mode S address, a discrete code (columns ``address``, ``code`` of
    ``ident``) or an SDPS; keyed: an SDPS, or an address no confirmed track has (``clash``
    per row, or empty: none has); need: ``modes`` if keyed, ``identity_need`` with an
    identity, else ``tracked_need`` for a tracked row in a clean cell, ``position`` +
    its cell's ``extra`` otherwise; ok: n_updates >= need and the need-th latest hit within
    window_s (x max(need / position, 1) without identity) of the latest update.  Arrays
    (int64 rows, ident, extra, n_updates; bool sdps, tracked, clash; float64 t_update,
    hit_t) are read by pointer (arrays.pxi: eleven typed memoryviews cost more than the
    few rows of a batch), the results made by numpy's C API."""
    cdef Array rows_, ident_, sdps_, tracked_, extra_, clash_, n_updates_, t_update_, hit_t_
    _array(rows, cnp.NPY_INT64, 1, 0, &rows_, "confirm_rule: rows")
    _array(ident, cnp.NPY_INT64, 2, 0, &ident_, "confirm_rule: ident")
    _array(sdps, cnp.NPY_BOOL, 1, 0, &sdps_, "confirm_rule: sdps")
    _array(tracked, cnp.NPY_BOOL, 1, 0, &tracked_, "confirm_rule: tracked")
    _array(extra, cnp.NPY_INT64, 1, 0, &extra_, "confirm_rule: extra")
    _array(clash, cnp.NPY_BOOL, 1, 0, &clash_, "confirm_rule: clash")
    _array(n_updates, cnp.NPY_INT64, 1, 0, &n_updates_, "confirm_rule: n_updates")
    _array(t_update, cnp.NPY_FLOAT64, 1, 0, &t_update_, "confirm_rule: t_update")
    _array(hit_t, cnp.NPY_FLOAT64, 2, 0, &hit_t_, "confirm_rule: hit_t")
    cdef Py_ssize_t n = rows_.shape[0], cap = ident_.shape[0], hits = hit_t_.shape[1]
    cdef Py_ssize_t n_clash = clash_.shape[0], i, r, col
    cdef int64_t need, more
    cdef bint ident_i, keyed, sdps_r, address_r
    cdef double window, ratio
    if (sdps_.shape[0] != cap or tracked_.shape[0] != cap or extra_.shape[0] < cap
            or n_updates_.shape[0] != cap or t_update_.shape[0] != cap
            or hit_t_.shape[0] != cap or (n_clash != 0 and n_clash != n)):
        raise ValueError("confirm_rule: shapes differ")
    if not (0 <= address < ident_.shape[1] and 0 <= code < ident_.shape[1]):
        raise IndexError("confirm_rule: column out of range")
    cdef cnp.npy_intp dim = n
    ok_ = cnp.PyArray_EMPTY(1, &dim, cnp.NPY_BOOL, 0)
    identity_ = cnp.PyArray_EMPTY(1, &dim, cnp.NPY_BOOL, 0)
    cdef flag* ok = <flag*>cnp.PyArray_DATA(<cnp.ndarray>ok_)
    cdef flag* identity = <flag*>cnp.PyArray_DATA(<cnp.ndarray>identity_)
    for i in range(n):
        r = _i(&rows_, i)
        if not 0 <= r < cap:
            raise IndexError("confirm_rule: row out of range")
        sdps_r = _b(&sdps_, r) != 0
        address_r = _i(&ident_, r, address) >= 0
        ident_i = address_r or _i(&ident_, r, code) >= 0 or sdps_r
        more = 0 if ident_i else _i(&extra_, r)
        keyed = sdps_r or (address_r and not (n_clash != 0 and _b(&clash_, i) != 0))
        if keyed:
            need = modes
        elif ident_i:
            need = identity_need
        elif _b(&tracked_, r) != 0 and more == 0:
            need = tracked_need
        else:
            need = position + more
        if ident_i:
            ratio = 1.0
        else:
            ratio = fmax(<double>need / <double>position, 1.0)
        window = window_s * ratio
        col = hits - need
        if col < 0:  # numpy's index from the end
            col += hits
        if not 0 <= col < hits:
            raise IndexError("confirm_rule: need beyond the hits kept")
        identity[i] = ident_i
        ok[i] = (_i(&n_updates_, r) >= need
                 and _f(&t_update_, r) - _f(&hit_t_, r, col) <= window)
    return ok_, identity_


def start_rows(object rows, object z, object R, object v, object v_var, double speed_var,
               object t, object cell, object density, int64_t source, double per_extra,
               double max_extra, object x, object P, object t_state, object t_first,
               object state, signed char tentative, object x0, object r0, object source_of,
               object cell_of, object extra_of) -> int:
    """``MofNInitiator.initiate``'s writes of its new ``rows`` in one pass (a track starts
    from one plot or two: the numpy code made some twenty calls on them): the filter's
    initial state (``ConstantVelocity.initiate``: the position z, the source's velocity v
    where its variance is finite, else at rest with variance ``speed_var``; P's position
    block R), the state's and first times t, the tentative state; the initiator's start
    point z, its larger position variance (``max_eigen2`` of R, numpy's arithmetic in its
    order), source, clutter cell and extra hits min(density // per_extra, max_extra).
    Returns how many rows got extra hits.  Arrays (int64 rows, cell, source_of, cell_of,
    extra_of; int8 state; float64 the others) are read and written by pointer
    (arrays.pxi: its twenty typed memoryviews cost more than the row or two it writes)."""
    cdef Array rows_, z_, R_, v_, v_var_, t_, cell_, density_, x_, P_, t_state_, t_first_
    cdef Array state_, x0_, r0_, source_of_, cell_of_, extra_of_
    _array(rows, cnp.NPY_INT64, 1, 0, &rows_, "start_rows: rows")
    _array(z, cnp.NPY_FLOAT64, 2, 0, &z_, "start_rows: z")
    _array(R, cnp.NPY_FLOAT64, 3, 0, &R_, "start_rows: R")
    _array(v, cnp.NPY_FLOAT64, 2, 0, &v_, "start_rows: v")
    _array(v_var, cnp.NPY_FLOAT64, 1, 0, &v_var_, "start_rows: v_var")
    _array(t, cnp.NPY_FLOAT64, 1, 0, &t_, "start_rows: t")
    _array(cell, cnp.NPY_INT64, 1, 0, &cell_, "start_rows: cell")
    _array(density, cnp.NPY_FLOAT64, 1, 0, &density_, "start_rows: density")
    _array(x, cnp.NPY_FLOAT64, 2, WRITABLE, &x_, "start_rows: x")
    _array(P, cnp.NPY_FLOAT64, 3, WRITABLE, &P_, "start_rows: P")
    _array(t_state, cnp.NPY_FLOAT64, 1, WRITABLE, &t_state_, "start_rows: t_state")
    _array(t_first, cnp.NPY_FLOAT64, 1, WRITABLE, &t_first_, "start_rows: t_first")
    _array(state, cnp.NPY_INT8, 1, WRITABLE, &state_, "start_rows: state")
    _array(x0, cnp.NPY_FLOAT64, 2, WRITABLE, &x0_, "start_rows: x0")
    _array(r0, cnp.NPY_FLOAT64, 1, WRITABLE, &r0_, "start_rows: r0")
    _array(source_of, cnp.NPY_INT64, 1, WRITABLE, &source_of_, "start_rows: source_of")
    _array(cell_of, cnp.NPY_INT64, 1, WRITABLE, &cell_of_, "start_rows: cell_of")
    _array(extra_of, cnp.NPY_INT64, 1, WRITABLE, &extra_of_, "start_rows: extra_of")
    cdef Py_ssize_t n = rows_.shape[0], i, j, k, r
    cdef Py_ssize_t cap = x_.shape[0], kept = x0_.shape[0]
    cdef double a, b, d, q, var, e, vv
    cdef int64_t count = 0, ex
    if z_.shape[0] != n or R_.shape[0] != n or v_.shape[0] != n or v_var_.shape[0] != n \
            or t_.shape[0] != n or cell_.shape[0] != n or density_.shape[0] != n:
        raise ValueError("start_rows: the measurements' columns differ in length")
    if z_.shape[1] != 2 or R_.shape[1] != 2 or R_.shape[2] != 2 or v_.shape[1] != 2 \
            or x_.shape[1] != 4 or P_.shape[1] != 4 or P_.shape[2] != 4 or x0_.shape[1] != 2:
        raise ValueError("start_rows: a state or measurement of the wrong shape")
    if P_.shape[0] != cap or t_state_.shape[0] != cap or t_first_.shape[0] != cap \
            or state_.shape[0] != cap:
        raise ValueError("start_rows: the table's columns differ in length")
    if r0_.shape[0] != kept or source_of_.shape[0] != kept \
            or cell_of_.shape[0] != kept or extra_of_.shape[0] != kept:
        raise ValueError("start_rows: the initiator's columns differ in length")
    for i in range(n):
        r = _i(&rows_, i)
        if not 0 <= r < cap or r >= kept:
            raise IndexError("start_rows: row out of range")
    for i in range(n):
        r = _i(&rows_, i)
        _fw(&x_, r, 0)[0] = _f(&z_, i, 0)
        _fw(&x_, r, 1)[0] = _f(&z_, i, 1)
        vv = _f(&v_var_, i)
        if isfinite(vv):
            _fw(&x_, r, 2)[0] = _f(&v_, i, 0)
            _fw(&x_, r, 3)[0] = _f(&v_, i, 1)
            var = vv
        else:
            _fw(&x_, r, 2)[0] = 0.0
            _fw(&x_, r, 3)[0] = 0.0
            var = speed_var
        for j in range(4):
            for k in range(4):
                _fw(&P_, r, j, k)[0] = 0.0
        _fw(&P_, r, 0, 0)[0] = _f(&R_, i, 0, 0)
        _fw(&P_, r, 0, 1)[0] = _f(&R_, i, 0, 1)
        _fw(&P_, r, 1, 0)[0] = _f(&R_, i, 1, 0)
        _fw(&P_, r, 1, 1)[0] = _f(&R_, i, 1, 1)
        _fw(&P_, r, 2, 2)[0] = var
        _fw(&P_, r, 3, 3)[0] = var
        _fw(&t_state_, r)[0] = _f(&t_, i)
        _fw(&t_first_, r)[0] = _f(&t_, i)
        _bw(&state_, r)[0] = tentative
        _fw(&x0_, r, 0)[0] = _f(&z_, i, 0)
        _fw(&x0_, r, 1)[0] = _f(&z_, i, 1)
        a, b, d = _f(&R_, i, 0, 0), _f(&R_, i, 0, 1), _f(&R_, i, 1, 1)
        e = a - d
        q = 0.25 * (e * e) + b * b
        if not (q >= 0.0 or q != q):  # np.maximum(q, 0.0): nan and -0.0 kept
            q = 0.0
        _fw(&r0_, r)[0] = 0.5 * (a + d) + sqrt(q)
        _iw(&source_of_, r)[0] = source
        _iw(&cell_of_, r)[0] = _i(&cell_, i)
        ex = <int64_t>_minimum(_floor_divide(_f(&density_, i), per_extra), max_extra)
        _iw(&extra_of_, r)[0] = ex
        if ex != 0:
            count += 1
    return count


cdef class RowFill:
    """The fresh-row values of some columns (each a C-contiguous array, one row per index of
    its first axis), written to given rows in one call: ``TrackTable.new`` resets a new
    row's twenty columns, where one numpy assignment per column (a track starts from one
    plot) cost more than the bytes it wrote.  Each column's fill is one row's bytes (numpy's
    own, made by np.full, so a nan is numpy's nan); the arrays are held, so a column the
    table has since replaced is never written freed: the table makes a new RowFill whenever
    it makes new columns (``TrackTable._grow``, ``ensure_sources``)."""

    cdef list arrays, fills  # held: the pointers below are theirs
    cdef Py_ssize_t n, cap
    cdef char **data
    cdef const char **fill
    cdef Py_ssize_t *width

    def __cinit__(self, list arrays, list fills):
        cdef Py_ssize_t i, n = len(arrays)
        cdef cnp.ndarray a
        if len(fills) != n:
            raise ValueError("RowFill: one fill per column")
        self.arrays, self.fills, self.n = list(arrays), list(fills), n
        self.cap = arrays[0].shape[0] if n else 0
        self.data = <char **>malloc(max(n, 1) * sizeof(char *))
        self.fill = <const char **>malloc(max(n, 1) * sizeof(char *))
        self.width = <Py_ssize_t *>malloc(max(n, 1) * sizeof(Py_ssize_t))
        if self.data == NULL or self.fill == NULL or self.width == NULL:
            raise MemoryError()
        for i in range(n):
            a = arrays[i]
            f = fills[i]
            if not isinstance(f, bytes):
                raise TypeError("RowFill: a fill is one row's bytes")
            if (a.ndim < 1 or a.shape[0] != self.cap or not a.flags.c_contiguous
                    or not a.flags.writeable or len(f) * self.cap != a.nbytes):
                raise ValueError("RowFill: columns differ in rows, are not C-contiguous and "
                                 "writeable, or a fill is not one row")
            self.data[i] = <char *>cnp.PyArray_DATA(a)
            self.fill[i] = <const char *>(<bytes>f)
            self.width[i] = len(f)

    def __dealloc__(self):
        free(self.data)
        free(<void *>self.fill)
        free(self.width)

    def reset(self, const int64_t[:] rows):
        """Writes each column's fill to ``rows``."""
        cdef Py_ssize_t i, j, r, w
        for i in range(rows.shape[0]):
            if not 0 <= rows[i] < self.cap:
                raise IndexError("RowFill: row out of range")
        for i in range(rows.shape[0]):
            r = rows[i]
            for j in range(self.n):
                w = self.width[j]
                memcpy(self.data[j] + r * w, self.fill[j], w)


def plain_rows(const int64_t[:] rows, const int64_t[:, :] ident, Py_ssize_t address,
               Py_ssize_t code, const flag[:] sdps, const flag[:] tracked):
    """The ``rows`` of position-only tracks, in their order: no Mode S address and no
    discrete code (columns ``address``, ``code`` of ``ident`` < 0), never reported by an
    SDPS nor by a report with its source's track number (``MofNInitiator.dropped``: one
    call where its numpy masks made a dozen on a few rows)."""
    cdef Py_ssize_t n = rows.shape[0], cap = ident.shape[0], i, r, k = 0
    if sdps.shape[0] != cap or tracked.shape[0] != cap:
        raise ValueError("plain_rows: columns differ in length")
    if not (0 <= address < ident.shape[1] and 0 <= code < ident.shape[1]):
        raise IndexError("plain_rows: column out of range")
    out = np.empty(n, dtype=np.int64)
    cdef int64_t[:] o = out
    for i in range(n):
        r = rows[i]
        if not 0 <= r < cap:
            raise IndexError("plain_rows: row out of range")
        if ident[r, address] < 0 and ident[r, code] < 0 and not sdps[r] and not tracked[r]:
            o[k] = r
            k += 1
    return out[:k]
