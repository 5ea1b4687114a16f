# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The gate's per-batch bookkeeping in C: which (track, measurement) pairs to test, the
verdict of the identity rules on each, and the first step of the assignment.

A radar sector brings ~18 plots: the vectorised gate made a hundred numpy calls per batch,
each costing more than its elements.  Here each step is one call per batch with plain
loops; the rules themselves are gateway/associate/gating.py's (its docstrings say why),
and the filter's prediction and innovation stay with the filter (ext/tracking.pyx), but
for ``continuing_imm``, the continuing reports' whole step, which includes the IMM's code
(ext/imm.pxi, the same as ext/tracking.pyx's).
tests/test_gating_kernel.py checks every function against the previous numpy code.

Floats are computed in numpy's order, one operation at a time (built with
``-ffp-contract=off``: no fused multiply-add), so every distance, gate and cost is the same
to the bit.  Bool arrays are read and written as bytes.  Every function checks the shapes
it is given (ValueError) and the indices it follows (IndexError): nothing is read out of
bounds, whatever the values.
"""

cimport numpy as cnp
from libc.math cimport cos, exp, fabs, sin
from libc.stdint cimport int8_t, int64_t
from libc.stdlib cimport free, malloc, qsort
from libc.string cimport memcpy, memset

import numpy as np

cnp.import_array()

include "imm.pxi"
include "arrays.pxi"

ctypedef unsigned char flag

# identity columns (gateway/associate/tracks.py)
cdef enum:
    ADDRESS = 0
    CODE = 1
    CALLSIGN = 2

# ``continuing_verdict``'s parameters (``IdentityGater`` packs them in this order)
cdef enum:
    C_GATE = 0  # identity_gate_chi2
    C_GATE_MODES = 1  # modes_gate_chi2 - identity_gate_chi2 (added for an address)
    C_CAP2 = 2  # cap_m ** 2
    C_CAP2_MODES = 3  # modes_cap_m ** 2 - cap_m ** 2
    C_LATE = 4  # late_window_s
    C_BONUS = 5  # continuity_bonus + code_bonus
    C_BONUS_MODES = 6  # modes_bonus - code_bonus
    C_N = 7

# ``search_verdict``'s parameters
cdef enum:
    S_GATE = 0  # gate_chi2
    S_GATE_VOUCHED = 1  # identity_gate_chi2 - gate_chi2
    S_GATE_MODES = 2  # modes_gate_chi2 - identity_gate_chi2
    S_CAP2 = 3
    S_CAP2_MODES = 4
    S_LATE = 5
    S_EQUAL = 6  # -modes_bonus, -code_bonus, -callsign_bonus (6, 7, 8)
    S_DIFFER = 9  # code_mismatch_penalty, callsign_mismatch_penalty (9, 10)
    S_CONTINUITY = 11  # continuity_bonus
    S_ANONYMOUS = 12  # anonymous_track_penalty
    S_TENTATIVE = 13  # the tentative state's number
    S_N = 14


cdef inline void _need(bint ok, str what) except *:
    if not ok:
        raise ValueError(what)


cdef inline double _f(flag b) noexcept nogil:
    """A bool as numpy multiplies it into a float."""
    return 1.0 if b else 0.0


cdef inline cnp.ndarray _empty(Py_ssize_t n, int typenum):
    """``np.empty(n, dtype)`` by numpy's C API: the kernels allocate a dozen small arrays
    per batch, and the Python-level call costs more than the allocation."""
    cdef cnp.npy_intp d = n
    return cnp.PyArray_EMPTY(1, &d, typenum, 0)


cdef cnp.ndarray _float64s(const double* a, Py_ssize_t n):
    """A new float64 array [n] of a[:n] (arrays.pxi's ``_int64s`` for floats)."""
    cdef cnp.npy_intp d = n
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(1, &d, cnp.NPY_FLOAT64, 0)
    if n:
        memcpy(cnp.PyArray_DATA(out), a, n * sizeof(double))
    return out


cdef inline cnp.ndarray _zeros(Py_ssize_t n, int typenum):
    """``np.zeros(n, dtype)`` by numpy's C API."""
    cdef cnp.npy_intp d = n
    return cnp.PyArray_ZEROS(1, &d, typenum, 0)


# -- continuing tracks ------------------------------------------------------------------------

cdef Py_ssize_t _continuing_pairs(const int64_t[:] owner, const int64_t[:] number,
                                  const int64_t[:, :] mident, const int64_t[:, :] tident,
                                  int64_t* cand, int64_t* row, flag* adr) except -1:
    """``continuing``'s pairs into cand, row, adr (room for every measurement); returns
    how many."""
    cdef Py_ssize_t n = number.shape[0], T = tident.shape[0], i, c = 0
    cdef int64_t trn, r
    cdef bint a
    for i in range(n):
        trn = number[i]
        if trn < 0 or trn >= owner.shape[0]:
            continue
        r = owner[trn]
        if r < 0:
            continue
        if r >= T:
            raise IndexError(f"continuing: track row {r} outside the table")
        a = mident[i, ADDRESS] == tident[r, ADDRESS] and mident[i, ADDRESS] >= 0
        if a or (mident[i, CODE] == tident[r, CODE] and mident[i, CODE] >= 0
                 and mident[i, ADDRESS] < 0 and tident[r, ADDRESS] < 0):
            cand[c] = i
            row[c] = r
            adr[c] = a
            c += 1
    return c


def continuing(const int64_t[:] owner, const int64_t[:] number, const int64_t[:, :] mident,
               const int64_t[:, :] tident, const double[:] mt, const double[:] tt,
               const double[:, :] mxy, const double[:, :, :] mR):
    """The measurements whose source number feeds a track (``owner[number]``, -1: none)
    with an agreeing identity: the same address, or no address on either and the same
    code.  Returns (measurement index, track row, same address [bool]) of each,
    measurements ascending, and what the filter needs of each pair (``_measured``).  A
    number outside ``owner`` feeds no track."""
    cdef Py_ssize_t n = number.shape[0], T = tident.shape[0], c
    _need(mident.shape[0] == n and mident.shape[1] >= 2 and tident.shape[1] >= 2
          and mt.shape[0] == n and tt.shape[0] == T, "continuing: shapes do not match")
    cand_out = _empty(n, cnp.NPY_INT64)
    row_out = _empty(n, cnp.NPY_INT64)
    adr_out = _empty(n, cnp.NPY_BOOL)
    c = _continuing_pairs(owner, number, mident, tident, <int64_t*> cnp.PyArray_DATA(cand_out),
                          <int64_t*> cnp.PyArray_DATA(row_out),
                          <flag*> cnp.PyArray_DATA(adr_out))
    cand_out, row_out = cand_out[:c], row_out[:c]
    return (cand_out, row_out, adr_out[:c], *_measured(cand_out, row_out, mt, tt, mxy, mR))


cdef tuple _measured(const int64_t[:] meas, const int64_t[:] track, const double[:] mt,
                     const double[:] tt, const double[:, :] mxy, const double[:, :, :] mR):
    """What the filter needs of each pair (measurement ``meas``, track row ``track``, both
    within range): (dt = measurement time - track time, z [k, 2], R [k, 2, 2])."""
    cdef Py_ssize_t k = meas.shape[0], n = mt.shape[0], i, m
    cdef int64_t r
    _need(mxy.shape[0] == n and mR.shape[0] == n and mxy.shape[1] == 2
          and mR.shape[1] == 2 and mR.shape[2] == 2, "measured: shapes do not match")
    dt_out = _empty(k, cnp.NPY_FLOAT64)
    cdef cnp.npy_intp dims[3]
    dims[0], dims[1], dims[2] = k, 2, 2
    z_out = cnp.PyArray_EMPTY(2, dims, cnp.NPY_FLOAT64, 0)
    R_out = cnp.PyArray_EMPTY(3, dims, cnp.NPY_FLOAT64, 0)
    cdef double[::1] dt = dt_out
    cdef double[:, ::1] z = z_out
    cdef double[:, :, ::1] R = R_out
    for i in range(k):
        m, r = meas[i], track[i]
        dt[i] = mt[m] - tt[r]
        z[i, 0] = mxy[m, 0]
        z[i, 1] = mxy[m, 1]
        R[i, 0, 0] = mR[m, 0, 0]
        R[i, 0, 1] = mR[m, 0, 1]
        R[i, 1, 0] = mR[m, 1, 0]
        R[i, 1, 1] = mR[m, 1, 1]
    return dt_out, z_out, R_out


cdef Py_ssize_t _verdict(Py_ssize_t c, const int64_t* cand, const flag* adr, const double* d2,
                        const double* nu, Py_ssize_t nu_stride, const double* dt,
                        Py_ssize_t n, bint sdps, const double* p, int64_t* keep,
                        double* cost, flag* late, flag* diverged, flag* done) except -1:
    """``continuing_verdict``'s rule on c pairs (nu [c, 2] at nu_stride doubles a row):
    the kept pairs into keep and their costs into cost (returns how many), late,
    diverged and done [n] marked."""
    cdef Py_ssize_t i, nk = 0
    cdef double gate, cap2, n0, n1
    cdef bint ok
    for i in range(c):
        if cand[i] < 0 or cand[i] >= n:
            raise IndexError(f"continuing_verdict: measurement {cand[i]} outside [0, {n})")
        gate = p[C_GATE] + p[C_GATE_MODES] * _f(adr[i])
        cap2 = p[C_CAP2] + p[C_CAP2_MODES] * _f(adr[i])
        n0 = nu[i * nu_stride]
        n1 = nu[i * nu_stride + 1]
        ok = d2[i] <= gate and n0 * n0 + n1 * n1 <= cap2
        if ok:
            done[cand[i]] = 1
            if dt[i] < -p[C_LATE]:
                late[cand[i]] = 1
            else:
                keep[nk] = i
                cost[nk] = d2[i] - (p[C_BONUS] + p[C_BONUS_MODES] * _f(adr[i]))
                nk += 1
        elif sdps and not adr[i]:
            diverged[cand[i]] = 1
    return nk


cdef Py_ssize_t _unsettled(Py_ssize_t n, const flag* done, int64_t* slow) noexcept:
    """The measurements not done, ascending, into slow; returns how many."""
    cdef Py_ssize_t i, ns = 0
    for i in range(n):
        if not done[i]:
            slow[ns] = i
            ns += 1
    return ns


def continuing_verdict(const int64_t[::1] cand, const flag[::1] adr, const double[::1] d2,
                       const double[:, ::1] nu, const double[::1] dt, Py_ssize_t n, bint sdps,
                       const double[::1] p):
    """Which continuing pairs (``continuing``'s, predicted and measured by the filter)
    gate: within the identity gate (the Mode S gate for an address) and the cap.  Returns
    (the pairs kept, their costs = d2 - the continuity and identity bonuses, the
    measurements still to search for [ascending], late [n], diverged [n]).  A gating pair
    too old (dt < -late_window_s) is not kept but marks its measurement late; a pair that
    does not gate without an address marks it diverged when ``sdps`` (a system track that
    no longer fits its own track)."""
    cdef Py_ssize_t c = cand.shape[0], nk, ns
    _need(adr.shape[0] == c and d2.shape[0] == c and nu.shape[0] == c and dt.shape[0] == c
          and nu.shape[1] == 2 and p.shape[0] == C_N and n >= 0,
          "continuing_verdict: shapes do not match")
    keep_out = _empty(c, cnp.NPY_INT64)
    cost_out = _empty(c, cnp.NPY_FLOAT64)
    late_out = _zeros(n, cnp.NPY_BOOL)
    diverged_out = _zeros(n, cnp.NPY_BOOL)
    settled = _zeros(n, cnp.NPY_BOOL)
    slow_out = _empty(n, cnp.NPY_INT64)
    nk = _verdict(c, &cand[0] if c else NULL, &adr[0] if c else NULL,
                  &d2[0] if c else NULL, &nu[0, 0] if c else NULL, 2,
                  &dt[0] if c else NULL, n, sdps, &p[0],
                  <int64_t*> cnp.PyArray_DATA(keep_out), <double*> cnp.PyArray_DATA(cost_out),
                  <flag*> cnp.PyArray_DATA(late_out), <flag*> cnp.PyArray_DATA(diverged_out),
                  <flag*> cnp.PyArray_DATA(settled))
    ns = _unsettled(n, <flag*> cnp.PyArray_DATA(settled), <int64_t*> cnp.PyArray_DATA(slow_out))
    return keep_out[:nk], cost_out[:nk], slow_out[:ns], late_out, diverged_out


cdef inline cnp.ndarray _empty_shaped(Py_ssize_t k, Py_ssize_t a, Py_ssize_t b):
    """An empty float64 array [k, a] (b = 0) or [k, a, b]."""
    cdef cnp.npy_intp d[3]
    d[0], d[1], d[2] = k, a, b
    return cnp.PyArray_EMPTY(2 if b == 0 else 3, d, cnp.NPY_FLOAT64, 0)


cdef class ImmTable:
    """Views of the track table's IMM columns (x, P, per-model xm, Pm, mu, the state
    times and identities) and of the filter's constants (``imm_kernel``: mu0, w, q,
    limit, ev, V, Vi), taken once: a typed argument costs a buffer request and a
    memoryview object at every call (about half a microsecond each, a dozen per batch).
    The table makes new arrays when it grows: ``views`` says whether these are still its
    arrays (the caller then makes a new one)."""

    cdef readonly object x, P, xm, Pm, mu, t, ident, imm
    cdef const double[:, ::1] tx
    cdef const double[:, :, ::1] tP
    cdef const double[:, :, ::1] txm
    cdef const double[:, :, :, ::1] tPm
    cdef const double[:, ::1] tmu
    cdef const double[::1] tt
    cdef const int64_t[:, :] tident
    cdef const double[::1] mu0, w, q, limit, ev
    cdef const double[:, ::1] V, Vi

    def __init__(self, x, P, xm, Pm, mu, t, ident, tuple imm):
        self.x, self.P, self.xm, self.Pm, self.mu, self.t, self.ident, self.imm = (
            x, P, xm, Pm, mu, t, ident, imm)
        self.tx, self.tP, self.txm, self.tPm, self.tmu, self.tt, self.tident = (
            x, P, xm, Pm, mu, t, ident)
        self.mu0, self.w, self.q, self.limit, self.ev, self.V, self.Vi = imm

    def views(self, x, P, xm, Pm, mu, t, ident, tuple imm) -> bool:
        """Whether these are the arrays (the same objects) this was made of."""
        return (x is self.x and P is self.P and xm is self.xm and Pm is self.Pm
                and mu is self.mu and t is self.t and ident is self.ident
                and imm is self.imm)


def continuing_imm(const int64_t[:] owner, const int64_t[:] number,
                   const int64_t[:, :] mident, const int64_t[:, :] tident,
                   const double[:] mt, const double[::1] tt, const double[:, :] mxy,
                   const double[:, :, :] mR, const double[:, ::1] tx,
                   const double[:, :, ::1] tP, const double[:, :, ::1] txm,
                   const double[:, :, :, ::1] tPm, const double[:, ::1] tmu,
                   tuple imm, bint sdps, const double[::1] p):
    """``continuing``, the IMM's prediction and innovation of every pair
    (``_tracking.imm_predict`` and ``innovation``, the same code: ext/imm.pxi) and
    ``continuing_verdict`` in one call, the kept pairs' columns gathered: what
    IdentityGater._continuing makes of them by three kernels and the filter's two.

    ``imm``: the filter's (mu0, w, q, limit, ev, V, Vi).  Returns None when no
    measurement continues a track, else (track rows, measurement indices, d2, cost, dt,
    x [k, 4], P [k, 4, 4], nu [k, 2], S^-1 [k, 2, 2], the models packed [k, M * 21], the
    measurements still to search for, late [n], diverged [n])."""
    return _continuing_imm(owner, number, mident, tident, mt, tt, mxy, mR, tx, tP, txm, tPm,
                           tmu, imm[0], imm[1], imm[2], imm[3], imm[4], imm[5], imm[6], sdps,
                           p)


def continuing_imm_view(ImmTable table, const int64_t[:] owner, const int64_t[:] number,
                        const int64_t[:, :] mident, const double[:] mt,
                        const double[:, :] mxy, const double[:, :, :] mR, bint sdps,
                        const double[::1] p):
    """``continuing_imm`` on the table and filter ``table`` views (its arrays' buffers
    taken once, not at every call)."""
    return _continuing_imm(owner, number, mident, table.tident, mt, table.tt, mxy, mR,
                           table.tx, table.tP, table.txm, table.tPm, table.tmu, table.mu0,
                           table.w, table.q, table.limit, table.ev, table.V, table.Vi, sdps,
                           p)


cdef tuple _continuing_imm(const int64_t[:] owner, const int64_t[:] number,
                           const int64_t[:, :] mident, const int64_t[:, :] tident,
                           const double[:] mt, const double[::1] tt, const double[:, :] mxy,
                           const double[:, :, :] mR, const double[:, ::1] tx,
                           const double[:, :, ::1] tP, const double[:, :, ::1] txm,
                           const double[:, :, :, ::1] tPm, const double[:, ::1] tmu,
                           const double[::1] mu0, const double[::1] w, const double[::1] q,
                           const double[::1] limit, const double[::1] ev,
                           const double[:, ::1] V, const double[:, ::1] Vi, bint sdps,
                           const double[::1] p):
    """``continuing_imm``'s work."""
    cdef Py_ssize_t n = number.shape[0], T = tident.shape[0], N = tx.shape[0], c, i, m, nk
    cdef Py_ssize_t ns, j
    cdef int64_t r
    cdef int M = w.shape[0]
    _need(mident.shape[0] == n and mident.shape[1] >= 2 and tident.shape[1] >= 2
          and mt.shape[0] == n and tt.shape[0] == T and mxy.shape[0] == n
          and mxy.shape[1] == 2 and mR.shape[0] == n and mR.shape[1] == 2
          and mR.shape[2] == 2 and p.shape[0] == C_N and M >= 1 and q.shape[0] == M
          and limit.shape[0] == M and mu0.shape[0] == M and ev.shape[0] == M
          and V.shape[0] == M and V.shape[1] == M and Vi.shape[0] == M
          and Vi.shape[1] == M and N == T and tx.shape[1] == 4 and tP.shape[0] == N
          and tP.shape[1] == 4 and tP.shape[2] == 4 and txm.shape[0] == N
          and txm.shape[1] == M and txm.shape[2] == 4 and tPm.shape[0] == N
          and tPm.shape[1] == M and tPm.shape[2] == 4 and tPm.shape[3] == 4
          and tmu.shape[0] == N and tmu.shape[1] == M,
          "continuing_imm: shapes do not match")
    # the pairs' measurements and rows, and the measurements settled and left, in C
    # arrays: the results are made at their exact lengths at the end (a slice of a
    # numpy array costs more than copying a batch's indices)
    cdef flag* adr = <flag*> malloc(2 * (n + 1))
    cdef flag* done = adr + n + 1
    cdef int64_t* meas = <int64_t*> malloc(sizeof(int64_t) * 3 * (n + 1))
    cdef int64_t* track = meas + n + 1
    cdef int64_t* slow = track + n + 1
    if adr == NULL or meas == NULL:
        free(adr)
        free(meas)
        raise MemoryError()
    try:
        c = _continuing_pairs(owner, number, mident, tident, meas, track, adr)
    except BaseException:
        free(adr)
        free(meas)
        raise
    if c == 0:
        free(adr)
        free(meas)
        return None
    d2_out, cost_out, dt_out = (_empty(c, cnp.NPY_FLOAT64), _empty(c, cnp.NPY_FLOAT64),
                                _empty(c, cnp.NPY_FLOAT64))
    x_out, P_out = _empty_shaped(c, 4, 0), _empty_shaped(c, 4, 4)
    nu_out, si_out = _empty_shaped(c, 2, 0), _empty_shaped(c, 2, 2)
    pk_out = _empty_shaped(c, M * 21, 0)
    late_out = _zeros(n, cnp.NPY_BOOL)
    diverged_out = _zeros(n, cnp.NPY_BOOL)
    cdef double* d2 = <double*> cnp.PyArray_DATA(d2_out)
    cdef double* cost = <double*> cnp.PyArray_DATA(cost_out)
    cdef double* dt = <double*> cnp.PyArray_DATA(dt_out)
    cdef double* x = <double*> cnp.PyArray_DATA(x_out)
    cdef double* P = <double*> cnp.PyArray_DATA(P_out)
    cdef double* nu = <double*> cnp.PyArray_DATA(nu_out)
    cdef double* si = <double*> cnp.PyArray_DATA(si_out)
    cdef double* pk = <double*> cnp.PyArray_DATA(pk_out)
    cdef int64_t* keep = <int64_t*> malloc(sizeof(int64_t) * c)
    cdef double* scratch = <double*> malloc(sizeof(double) * IMM_SCRATCH(M))
    cdef double z[2]
    cdef double R[4]
    try:
        if keep == NULL or scratch == NULL:
            raise MemoryError()
        with nogil:
            for i in range(c):
                m, r = meas[i], track[i]
                dt[i] = mt[m] - tt[r]
                _imm_predict_row(M, &tx[r, 0], &tP[r, 0, 0], &txm[r, 0, 0],
                                 &tPm[r, 0, 0, 0], &tmu[r, 0], dt[i], &mu0[0], &w[0], &q[0],
                                 &limit[0], &ev[0], &V[0, 0], &Vi[0, 0], scratch,
                                 pk + i * M * 21, x + 4 * i, P + 16 * i)
                z[0], z[1] = mxy[m, 0], mxy[m, 1]
                R[0], R[1], R[2], R[3] = mR[m, 0, 0], mR[m, 0, 1], mR[m, 1, 0], mR[m, 1, 1]
                d2[i] = _innovate(x + 4 * i, P + 16 * i, z, R, nu + 2 * i, si + 4 * i)
        memset(done, 0, n)
        nk = _verdict(c, meas, adr, d2, nu, 2, dt, n, sdps, &p[0], keep, cost,
                      <flag*> cnp.PyArray_DATA(late_out),
                      <flag*> cnp.PyArray_DATA(diverged_out), done)
        ns = _unsettled(n, done, slow)
        # the kept pairs to the front (keep is ascending: no row is overwritten unread)
        if nk < c:
            for j in range(nk):
                i = keep[j]
                if i == j:
                    continue
                track[j], meas[j], d2[j], dt[j] = track[i], meas[i], d2[i], dt[i]
                memcpy(x + 4 * j, x + 4 * i, 4 * sizeof(double))
                memcpy(P + 16 * j, P + 16 * i, 16 * sizeof(double))
                memcpy(nu + 2 * j, nu + 2 * i, 2 * sizeof(double))
                memcpy(si + 4 * j, si + 4 * i, 4 * sizeof(double))
                memcpy(pk + M * 21 * j, pk + M * 21 * i, M * 21 * sizeof(double))
        track_out, meas_out, slow_out = _int64s(track, nk), _int64s(meas, nk), _int64s(slow, ns)
    finally:
        free(adr)
        free(meas)
        free(keep)
        free(scratch)
    if nk < c:
        d2_out, cost_out, dt_out = d2_out[:nk], cost_out[:nk], dt_out[:nk]
        x_out, P_out, nu_out, si_out, pk_out = (x_out[:nk], P_out[:nk], nu_out[:nk],
                                                si_out[:nk], pk_out[:nk])
    return (track_out, meas_out, d2_out, cost_out, dt_out, x_out, P_out, nu_out, si_out,
            pk_out, slow_out, late_out, diverged_out)


def search_imm(const int64_t[::1] rows, const double[::1] dt, const double[:, :] z,
               const double[:, :, :] R, const double[:, ::1] tx, const double[:, :, ::1] tP,
               const double[:, :, ::1] txm, const double[:, :, :, ::1] tPm,
               const double[:, ::1] tmu, tuple imm):
    """The IMM's prediction of the table's ``rows`` by dt and the innovation of each by
    its measurement z, R (``_tracking.imm_predict`` then ``innovation``, the same code:
    ext/imm.pxi) in one call: what IdentityGater._search made of them by the filter's two
    calls, each with its argument checks and arrays between them.

    ``imm``: the filter's (mu0, w, q, limit, ev, V, Vi).  Returns (x [k, 4], P [k, 4, 4],
    the models packed [k, M * 21], nu [k, 2], S^-1 [k, 2, 2], d2 [k])."""
    return _search_imm(rows, dt, z, R, NULL, NULL, tx, tP, txm, tPm, tmu, imm[0], imm[1],
                       imm[2], imm[3], imm[4], imm[5], imm[6])


def search_imm_view(ImmTable table, const int64_t[::1] rows, const double[::1] dt,
                    const double[:, :] z, const double[:, :, :] R):
    """``search_imm`` on the table and filter ``table`` views."""
    return _search_imm(rows, dt, z, R, NULL, NULL, table.tx, table.tP, table.txm, table.tPm,
                       table.tmu, table.mu0, table.w, table.q, table.limit, table.ev, table.V,
                       table.Vi)


def search_view(ImmTable table, object ti, object j, object dt, const double[:, :] z,
                const double[:, :, :] R, object hx, object hy, const int64_t[:, :] mident,
                const int64_t[:] number,
                const int64_t[:] tnumber, const int8_t[:] state, const flag[:] tracked,
                const flag[:] alive, const int64_t[:] which, flag[:] late,
                const double[::1] p):
    """IdentityGater._search's steps after ``candidates`` with the IMM, in one call:
    each z shifted by (hx, hy) (the primary plots re-placed at the track's level; None:
    no shift), the IMM's prediction and innovation (``_search_imm``, which
    ``search_imm_view`` also calls), ``search_verdict`` (``tident``: the table view's),
    and the kept pairs' columns gathered as ``take`` gathers them (the arrays themselves
    when all are kept).  Returns (track rows, measurement indices, d2, cost, dt,
    x [k, 4], P [k, 4, 4], nu [k, 2], S^-1 [k, 2, 2], the models packed [k, M * 21],
    conflict [n], duplicate [n]) and marks ``late`` as ``search_verdict`` does."""
    cdef const int64_t[::1] tiv = ti
    cdef const int64_t[::1] jv = j
    cdef const double[::1] dtv = dt
    cdef Py_ssize_t k = tiv.shape[0]
    cdef const double[::1] sx
    cdef const double[::1] sy
    cdef const double* px = NULL
    cdef const double* py = NULL
    if hx is not None or hy is not None:
        sx, sy = hx, hy
        _need(sx.shape[0] == k and sy.shape[0] == k, "search_view: shapes do not match")
        if k:
            px, py = &sx[0], &sy[0]
    x, P, pk, nu, si, d2 = _search_imm(tiv, dtv, z, R, px, py, table.tx, table.tP, table.txm,
                                       table.tPm, table.tmu, table.mu0, table.w, table.q,
                                       table.limit, table.ev, table.V, table.Vi)
    (cost, conflict, duplicate, track, meas, d2, dt_out, x, P, nu, si,
     pk) = _search_verdict(tiv, jv, d2, nu, dtv, mident, number, table.tident, tnumber,
                           state, tracked, alive, which, late, p,
                           (ti, j, d2, dt, x, P, nu, si, pk))
    return track, meas, d2, cost, dt_out, x, P, nu, si, pk, conflict, duplicate


cdef tuple _search_imm(const int64_t[::1] rows, const double[::1] dt, const double[:, :] z,
                       const double[:, :, :] R, const double* hx, const double* hy,
                       const double[:, ::1] tx,
                       const double[:, :, ::1] tP, const double[:, :, ::1] txm,
                       const double[:, :, :, ::1] tPm, const double[:, ::1] tmu,
                       const double[::1] mu0, const double[::1] w, const double[::1] q,
                       const double[::1] limit, const double[::1] ev,
                       const double[:, ::1] V, const double[:, ::1] Vi):
    """``search_imm``'s work; with ``hx``, ``hy`` (NULL: none; else [k] each) each z
    shifted by them first, as ``z[:, 0] += hx; z[:, 1] += hy`` would (z itself unchanged)."""
    cdef Py_ssize_t k = rows.shape[0], N = tx.shape[0], i
    cdef int64_t r
    cdef int M = w.shape[0]
    _need(dt.shape[0] == k and z.shape[0] == k and z.shape[1] == 2 and R.shape[0] == k
          and R.shape[1] == 2 and R.shape[2] == 2 and M >= 1 and q.shape[0] == M
          and limit.shape[0] == M and mu0.shape[0] == M and ev.shape[0] == M
          and V.shape[0] == M and V.shape[1] == M and Vi.shape[0] == M
          and Vi.shape[1] == M and tx.shape[1] == 4 and tP.shape[0] == N
          and tP.shape[1] == 4 and tP.shape[2] == 4 and txm.shape[0] == N
          and txm.shape[1] == M and txm.shape[2] == 4 and tPm.shape[0] == N
          and tPm.shape[1] == M and tPm.shape[2] == 4 and tPm.shape[3] == 4
          and tmu.shape[0] == N and tmu.shape[1] == M,
          "search_imm: shapes do not match")
    for i in range(k):
        if rows[i] < 0 or rows[i] >= N:
            raise ValueError("search_imm: row out of the table")
    x_out, P_out = _empty_shaped(k, 4, 0), _empty_shaped(k, 4, 4)
    nu_out, si_out = _empty_shaped(k, 2, 0), _empty_shaped(k, 2, 2)
    pk_out = _empty_shaped(k, M * 21, 0)
    d2_out = _empty(k, cnp.NPY_FLOAT64)
    cdef double* d2 = <double*> cnp.PyArray_DATA(d2_out)
    cdef double* x = <double*> cnp.PyArray_DATA(x_out)
    cdef double* P = <double*> cnp.PyArray_DATA(P_out)
    cdef double* nu = <double*> cnp.PyArray_DATA(nu_out)
    cdef double* si = <double*> cnp.PyArray_DATA(si_out)
    cdef double* pk = <double*> cnp.PyArray_DATA(pk_out)
    cdef double* scratch = <double*> malloc(sizeof(double) * IMM_SCRATCH(M))
    cdef double zi[2]
    cdef double Ri[4]
    if scratch == NULL:
        raise MemoryError()
    try:
        with nogil:
            for i in range(k):
                r = rows[i]
                _imm_predict_row(M, &tx[r, 0], &tP[r, 0, 0], &txm[r, 0, 0],
                                 &tPm[r, 0, 0, 0], &tmu[r, 0], dt[i], &mu0[0], &w[0], &q[0],
                                 &limit[0], &ev[0], &V[0, 0], &Vi[0, 0], scratch,
                                 pk + i * M * 21, x + 4 * i, P + 16 * i)
                zi[0], zi[1] = z[i, 0], z[i, 1]
                if hx != NULL:
                    zi[0] = zi[0] + hx[i]
                    zi[1] = zi[1] + hy[i]
                Ri[0], Ri[1], Ri[2], Ri[3] = R[i, 0, 0], R[i, 0, 1], R[i, 1, 0], R[i, 1, 1]
                d2[i] = _innovate(x + 4 * i, P + 16 * i, zi, Ri, nu + 2 * i, si + 4 * i)
    finally:
        free(scratch)
    return x_out, P_out, pk_out, nu_out, si_out, d2_out


# -- the search over all tracks ----------------------------------------------------------------

cdef void _merge_sort(int64_t* idx, int64_t* tmp, const double* key, Py_ssize_t n) noexcept nogil:
    """Sort idx by key, equal keys in their order (numpy's stable argsort); no NaN keys."""
    cdef Py_ssize_t width = 1, lo, mid, hi, a, b, o
    cdef int64_t* src = idx
    cdef int64_t* dst = tmp
    cdef int64_t* swap
    while width < n:
        lo = 0
        while lo < n:
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            a, b, o = lo, mid, lo
            while a < mid and b < hi:
                if key[src[b]] < key[src[a]]:
                    dst[o] = src[b]
                    b += 1
                else:
                    dst[o] = src[a]
                    a += 1
                o += 1
            while a < mid:
                dst[o] = src[a]
                a += 1
                o += 1
            while b < hi:
                dst[o] = src[b]
                b += 1
                o += 1
            lo = hi
        swap = src
        src = dst
        dst = swap
        width *= 2
    if src != idx:
        memcpy(idx, src, n * sizeof(int64_t))


def candidates(const double[:, :] x, const double[:] t, const flag[:] alive,
               const double[:] mt, const double[:, :] mxy, const double[:, :, :] mR,
               const int64_t[:] which, double reach, double max_speed, Py_ssize_t dense):
    """(track rows, measurement indices, and ``_measured``'s dt, z, R) of the pairs near
    enough to test: the live
    tracks (states ``x`` at times ``t``) predicted to the latest time of the measurements
    ``which``, inside the box around them grown by ``reach`` + max_speed * their time
    span, then within that radius of the measurement in x and y.  Up to ``dense`` pairs in
    the box are tested all against all (pairs by track row, then measurement); more are
    swept in x order (by measurement, then the tracks' x), as gating.py always did."""
    cdef Py_ssize_t N = x.shape[0], w = which.shape[0], i, j, nb = 0
    cdef double t_max, t_min, radius, lead, x_lo, x_hi, y_lo, y_hi, cx, cy, hx, hy, v
    cdef bint nan = False
    _need(t.shape[0] == N and alive.shape[0] == N and x.shape[1] >= 4 and mt.shape[0]
          == mxy.shape[0] and mxy.shape[1] == 2, "candidates: shapes do not match")
    z = _zeros(0, cnp.NPY_INT64)
    if w == 0 or N == 0:
        return z, z, *_measured(z, z, mt, t, mxy, mR)
    for j in range(w):
        if which[j] < 0 or which[j] >= mt.shape[0]:
            raise IndexError(f"candidates: measurement {which[j]} outside the batch")
    t_max = t_min = mt[which[0]]
    x_lo = x_hi = mxy[which[0], 0]
    y_lo = y_hi = mxy[which[0], 1]
    for j in range(w):  # numpy's min and max: any NaN makes them NaN
        v = mt[which[j]]
        nan = nan or v != v
        t_max = v if v > t_max else t_max
        t_min = v if v < t_min else t_min
        v = mxy[which[j], 0]
        nan = nan or v != v
        x_lo = v if v < x_lo else x_lo
        x_hi = v if v > x_hi else x_hi
        v = mxy[which[j], 1]
        nan = nan or v != v
        y_lo = v if v < y_lo else y_lo
        y_hi = v if v > y_hi else y_hi
    if nan:  # a NaN box holds no track
        return z, z, *_measured(z, z, mt, t, mxy, mR)
    radius = reach + max_speed * (t_max - t_min)
    cx = 0.5 * (x_lo + x_hi)
    hx = 0.5 * (x_hi - x_lo) + radius
    cy = 0.5 * (y_lo + y_hi)
    hy = 0.5 * (y_hi - y_lo) + radius
    # the tracks in the box, compacted (row, predicted x and y): most of the table is
    # outside a sector's box, and C buffers cost no array or view per batch
    cdef int64_t* box = <int64_t*> malloc((N + 1) * (sizeof(int64_t) + 2 * sizeof(double)))
    if box == NULL:
        raise MemoryError()
    cdef double* bx = <double*> (box + N + 1)
    cdef double* by = bx + N + 1
    cdef double px, py
    try:
        for i in range(N):
            if not alive[i]:
                continue
            lead = t_max - t[i]
            px = x[i, 0] + x[i, 2] * lead
            py = x[i, 1] + x[i, 3] * lead
            if fabs(px - cx) <= hx and fabs(py - cy) <= hy:
                box[nb] = i
                bx[nb] = px
                by[nb] = py
                nb += 1
        if nb == 0:
            return z, z, *_measured(z, z, mt, t, mxy, mR)
        if nb * w <= dense:
            ti_out, j_out = _dense_pairs(box, bx, by, nb, mxy, which, radius)
        else:
            ti_out, j_out = _strip_pairs(box, bx, by, nb, mxy, which, radius)
    finally:
        free(box)
    return ti_out, j_out, *_measured(j_out, ti_out, mt, t, mxy, mR)


cdef tuple _dense_pairs(const int64_t* box, const double* bx, const double* by,
                        Py_ssize_t nb, const double[:, :] mxy, const int64_t[:] which,
                        double radius):
    """``candidates``' pairs all against all: (track rows, measurement indices), by the
    box's order (track row), then measurement."""
    cdef Py_ssize_t w = which.shape[0], i, j, np_ = 0
    cdef int64_t* buf = <int64_t*> malloc((2 * nb * w + 1) * sizeof(int64_t))
    if buf == NULL:
        raise MemoryError()
    cdef int64_t* pi = buf
    cdef int64_t* pj = buf + nb * w
    for i in range(nb):
        for j in range(w):
            if (fabs(bx[i] - mxy[which[j], 0]) <= radius
                    and fabs(by[i] - mxy[which[j], 1]) <= radius):
                pi[np_] = box[i]
                pj[np_] = which[j]
                np_ += 1
    try:
        return _int64s(pi, np_), _int64s(pj, np_)
    finally:
        free(buf)


cdef tuple _strip_pairs(const int64_t* box, const double* bx, const double* by,
                        Py_ssize_t nb, const double[:, :] mxy, const int64_t[:] which,
                        double radius):
    """``candidates``' pairs swept in x order: the box sorted by x (stably: equal x by
    row), each measurement's window by binary search; (track rows, measurement indices)
    by measurement, then the tracks' x."""
    cdef Py_ssize_t w = which.shape[0], i, j, lo, hi, mid, cap = 0, np_ = 0
    cdef double v
    cdef int64_t* order = <int64_t*> malloc((2 * nb + 2 * w + 1) * sizeof(int64_t))
    if order == NULL:
        raise MemoryError()
    cdef int64_t* tmp = order + nb
    cdef int64_t* lo_ = tmp + nb
    cdef int64_t* hi_ = lo_ + w
    cdef int64_t* pi = NULL
    cdef int64_t* pj
    try:
        for i in range(nb):  # positions in the box: ascending, as its rows are
            order[i] = i
        _merge_sort(order, tmp, bx, nb)
        for j in range(w):
            v = mxy[which[j], 0] - radius  # first x >= v (searchsorted, left)
            lo, hi = 0, nb
            while lo < hi:
                mid = (lo + hi) // 2
                if bx[order[mid]] < v:
                    lo = mid + 1
                else:
                    hi = mid
            lo_[j] = lo
            v = mxy[which[j], 0] + radius  # first x > v (searchsorted, right)
            hi = nb
            while lo < hi:
                mid = (lo + hi) // 2
                if bx[order[mid]] <= v:
                    lo = mid + 1
                else:
                    hi = mid
            hi_[j] = lo
            cap += hi_[j] - lo_[j]
        pi = <int64_t*> malloc((2 * cap + 1) * sizeof(int64_t))
        if pi == NULL:
            raise MemoryError()
        pj = pi + cap
        for j in range(w):
            for i in range(lo_[j], hi_[j]):
                if fabs(by[order[i]] - mxy[which[j], 1]) <= radius:
                    pi[np_] = box[order[i]]
                    pj[np_] = which[j]
                    np_ += 1
        return _int64s(pi, np_), _int64s(pj, np_)
    finally:
        free(order)
        free(pi)


cdef int _compare(const void* a, const void* b) noexcept nogil:
    cdef int64_t x = (<const int64_t*> a)[0], y = (<const int64_t*> b)[0]
    return (x > y) - (x < y)


def search_verdict(const int64_t[:] ti, const int64_t[:] j, const double[:] d2,
                   const double[:, :] nu, const double[:] dt, const int64_t[:, :] mident,
                   const int64_t[:] number, const int64_t[:, :] tident,
                   const int64_t[:] tnumber, const int8_t[:] state, const flag[:] tracked,
                   const flag[:] alive, const int64_t[:] which, flag[:] late,
                   const double[::1] p):
    """The identity rules (gating.py's module docstring) on the candidate pairs (track
    rows ``ti``, measurement indices ``j``, d2, nu and dt from the filter): returns (the
    pairs that may be chosen, their costs, conflict [n], duplicate [n]) and marks ``late``
    [n] the measurements too old for a track they gate.  ``number`` is each measurement's
    source track number, ``tnumber`` each track's number from that source; a measurement
    (among ``which``) whose address gates no track of that address, although a live track
    has it, is a conflict and pairs with nothing."""
    return _search_verdict(ti, j, d2, nu, dt, mident, number, tident, tnumber, state, tracked,
                           alive, which, late, p, None)


cdef tuple _search_verdict(const int64_t[:] ti, const int64_t[:] j, const double[:] d2,
                           const double[:, :] nu, const double[:] dt,
                           const int64_t[:, :] mident, const int64_t[:] number,
                           const int64_t[:, :] tident, const int64_t[:] tnumber,
                           const int8_t[:] state, const flag[:] tracked, const flag[:] alive,
                           const int64_t[:] which, flag[:] late, const double[::1] p,
                           tuple columns):
    """``search_verdict``'s work: its answer when ``columns`` is None, else (costs,
    conflict, duplicate) and the kept rows of each of ``columns`` (as ``take`` gives
    them; the arrays themselves when every pair is kept)."""
    cdef Py_ssize_t k = ti.shape[0], n = mident.shape[0], T = tident.shape[0], i, nk
    _need(j.shape[0] == k and d2.shape[0] == k and nu.shape[0] == k and dt.shape[0] == k
          and nu.shape[1] == 2 and mident.shape[1] >= 3 and tident.shape[1] >= 3
          and number.shape[0] == n and late.shape[0] == n and tnumber.shape[0] == T
          and state.shape[0] == T and tracked.shape[0] == T and alive.shape[0] == T
          and p.shape[0] == S_N, "search_verdict: shapes do not match")
    for i in range(k):
        if ti[i] < 0 or ti[i] >= T or j[i] < 0 or j[i] >= n:
            raise IndexError("search_verdict: a pair outside the tracks or the batch")
    for i in range(which.shape[0]):
        if which[i] < 0 or which[i] >= n:
            raise IndexError("search_verdict: a measurement outside the batch")
    # the per-pair work in one C buffer (the kept pairs and their costs are made at their
    # exact lengths at the end): arrays, views and slices cost more than a batch's work
    conflict_out = _zeros(n, cnp.NPY_BOOL)
    duplicate_out = _zeros(n, cnp.NPY_BOOL)
    cdef flag* conflict = <flag*> cnp.PyArray_DATA(conflict_out)
    cdef flag* duplicate = <flag*> cnp.PyArray_DATA(duplicate_out)
    cdef char* work = <char*> malloc((k + 1) * (sizeof(int64_t) + sizeof(double) + 3) + n + 1)
    if work == NULL:
        raise MemoryError()
    cdef int64_t* keep = <int64_t*> work
    cdef double* cost = <double*> (keep + k + 1)
    cdef flag* good = <flag*> (cost + k + 1)
    cdef flag* adr = good + k + 1
    cdef flag* dup = adr + k + 1
    cdef flag* owned = dup + k + 1
    memset(owned, 0, n)
    try:
        nk = _search_rules(k, n, T, ti, j, d2, nu, dt, mident, number, tident, tnumber, state,
                           tracked, alive, which, late, &p[0], good, adr, dup, owned, keep,
                           cost, conflict, duplicate)
        if columns is None:
            return _int64s(keep, nk), _float64s(cost, nk), conflict_out, duplicate_out
        return (_float64s(cost, nk), conflict_out, duplicate_out,
                *(columns if nk == k else _take(keep, 1, nk, columns)))
    finally:
        free(work)


cdef Py_ssize_t _search_rules(Py_ssize_t k, Py_ssize_t n, Py_ssize_t T, const int64_t[:] ti,
                              const int64_t[:] j, const double[:] d2, const double[:, :] nu,
                              const double[:] dt, const int64_t[:, :] mident,
                              const int64_t[:] number, const int64_t[:, :] tident,
                              const int64_t[:] tnumber, const int8_t[:] state,
                              const flag[:] tracked, const flag[:] alive,
                              const int64_t[:] which, flag[:] late, const double* p,
                              flag* good, flag* adr, flag* dup, flag* owned, int64_t* keep,
                              double* cost, flag* conflict, flag* duplicate) except -1:
    """``search_verdict``'s rules (its arguments checked) with its work buffers: good,
    adr, dup [k] and owned [n] (zeroed); the kept pairs into keep and their costs to the
    front of cost; returns how many."""
    cdef Py_ssize_t i, m, nk = 0, nlive = 0
    cdef int64_t r, a
    cdef bint e0, e1, e2, d0, d1, d2_, cont, anon, adr_eq, ok, clutter
    cdef double gate, cap2, c
    for i in range(k):  # the kinematic gate and the identity relations of each pair
        r, m = ti[i], j[i]
        e0 = mident[m, ADDRESS] >= 0 and mident[m, ADDRESS] == tident[r, ADDRESS]
        e1 = mident[m, CODE] >= 0 and mident[m, CODE] == tident[r, CODE]
        e2 = mident[m, CALLSIGN] >= 0 and mident[m, CALLSIGN] == tident[r, CALLSIGN]
        d0 = mident[m, ADDRESS] >= 0 and tident[r, ADDRESS] >= 0 and not e0
        d1 = mident[m, CODE] >= 0 and tident[r, CODE] >= 0 and not e1
        d2_ = mident[m, CALLSIGN] >= 0 and tident[r, CALLSIGN] >= 0 and not e2
        cont = number[m] >= 0 and tnumber[r] == number[m]
        anon = (tident[r, ADDRESS] < 0 and tident[r, CODE] < 0
                and (mident[m, ADDRESS] >= 0 or mident[m, CODE] >= 0))
        adr_eq = e0
        gate = (p[S_GATE] + p[S_GATE_VOUCHED] * _f(e0 or e1 or e2 or cont)
                + p[S_GATE_MODES] * _f(adr_eq))
        cap2 = p[S_CAP2] + p[S_CAP2_MODES] * _f(adr_eq)
        # a tentative track fed only by untracked primary plots looks like clutter
        clutter = state[r] == <int8_t> p[S_TENTATIVE] and not tracked[r]
        ok = (d2[i] <= gate and nu[i, 0] * nu[i, 0] + nu[i, 1] * nu[i, 1] <= cap2
              and not d0 and not (d1 and not (adr_eq or cont))
              and not (clutter and (anon or number[m] >= 0)))
        good[i] = ok
        adr[i] = adr_eq
        dup[i] = adr_eq or e1
        if ok and adr_eq:
            owned[m] = 1
        c = d2[i] + p[S_EQUAL] * _f(e0)
        c = c + p[S_EQUAL + 1] * _f(e1)
        c = c + p[S_EQUAL + 2] * _f(e2)
        c = c + p[S_DIFFER] * _f(d1)
        c = c + p[S_DIFFER + 1] * _f(d2_)
        c = c - p[S_CONTINUITY] * _f(cont)
        cost[i] = c + p[S_ANONYMOUS] * _f(anon)
    # rule 1: an address that gates its own track goes nowhere else; one whose tracks all
    # fail to gate is on another target (a conflict): it goes nowhere at all
    cdef int64_t* addresses = NULL
    cdef int64_t* found
    for i in range(which.shape[0]):
        m = which[i]
        if owned[m] or mident[m, ADDRESS] < 0:
            continue
        if addresses == NULL:
            addresses = <int64_t*> malloc((T + 1) * sizeof(int64_t))
            if addresses == NULL:
                raise MemoryError()
            for r in range(T):
                if alive[r]:
                    addresses[nlive] = tident[r, ADDRESS]
                    nlive += 1
            qsort(addresses, nlive, sizeof(int64_t), _compare)
        a = mident[m, ADDRESS]
        found = <int64_t*> bsearch_(&a, addresses, nlive)
        conflict[m] = found != NULL
    free(addresses)
    for i in range(k):  # too old for a track it gates: used within the window, else dropped
        m = j[i]
        good[i] = good[i] and (adr[i] or not owned[m]) and not conflict[m]
        if good[i] and dt[i] < -p[S_LATE]:
            late[m] = 1
    for i in range(k):
        m = j[i]
        if good[i] and not late[m]:
            keep[nk] = i
            cost[nk] = cost[i]
            nk += 1
            if dup[i]:
                duplicate[m] = 1
    return nk


cdef inline const int64_t* bsearch_(const int64_t* key, const int64_t* a,
                                    Py_ssize_t n) noexcept nogil:
    """The element equal to *key in the ascending a[n], or NULL."""
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < key[0]:
            lo = mid + 1
        else:
            hi = mid
    return a + lo if lo < n and a[lo] == key[0] else NULL


# -- hypotheses: gathering and joining pairs -----------------------------------------------------

cdef cnp.ndarray _rows(object a, str name):
    """a as a C-contiguous array of at least one dimension (rows are memcpy'd); an array
    that already is one without numpy's Python-level call."""
    cdef cnp.ndarray out
    if type(a) is np.ndarray and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray> a):
        out = <cnp.ndarray> a
    else:
        out = np.ascontiguousarray(a)
    if cnp.PyArray_NDIM(out) == 0:
        raise ValueError(f"{name}: an array without rows")
    return out


cdef cnp.ndarray _like_rows(cnp.ndarray a, Py_ssize_t rows):
    """``np.empty((rows,) + a.shape[1:], dtype=a.dtype)`` by numpy's C API where a's
    dtype is a plain native one (the Python-level call costs more than the copy; so do
    attribute look-ups: a dozen arrays per batch, every dimension and flag is read by
    the C API)."""
    cdef cnp.npy_intp dims[32]
    cdef int d, nd = cnp.PyArray_NDIM(a)
    cdef cnp.npy_intp* shape = cnp.PyArray_DIMS(a)
    if (nd > 32 or not cnp.PyArray_ISNOTSWAPPED(a)
            or cnp.PyDataType_HASFIELDS(a.descr)):
        return np.empty((rows,) + (<object> a).shape[1:], dtype=a.dtype)
    dims[0] = rows
    for d in range(1, nd):
        dims[d] = shape[d]
    return cnp.PyArray_EMPTY(nd, dims, cnp.PyArray_TYPE(a), 0)


cdef bint _same_rows(cnp.ndarray x, cnp.ndarray y) except -1:
    """The same dtype and the same shape but the first dimension."""
    cdef int d, nd = cnp.PyArray_NDIM(x)
    cdef cnp.npy_intp* xs = cnp.PyArray_DIMS(x)
    cdef cnp.npy_intp* ys = cnp.PyArray_DIMS(y)
    if nd != cnp.PyArray_NDIM(y) or not (
            x.descr is y.descr or x.dtype == y.dtype):
        return False
    for d in range(1, nd):
        if xs[d] != ys[d]:
            return False
    return True


def take(const int64_t[:] k, tuple arrays):
    """Rows ``k`` of each array (None stays None), as numpy's ``a[k]`` gives them: the
    pairs a hypothesis keeps, all its columns in one call."""
    cdef Py_ssize_t nk = k.shape[0], i
    cdef int64_t* copy
    if k.strides[0] % <Py_ssize_t> sizeof(int64_t) == 0:
        return _take(&k[0] if nk else NULL, k.strides[0] // <Py_ssize_t> sizeof(int64_t),
                     nk, arrays)
    copy = <int64_t*> malloc((nk + 1) * sizeof(int64_t))  # a stride between int64s
    if copy == NULL:
        raise MemoryError()
    try:
        for i in range(nk):
            copy[i] = k[i]
        return _take(copy, 1, nk, arrays)
    finally:
        free(copy)


cdef tuple _take(const int64_t* k, Py_ssize_t step, Py_ssize_t nk, tuple arrays):
    """``take``'s work: the rows k[0], k[step], ... (nk of them)."""
    cdef Py_ssize_t i, size, rows
    cdef cnp.ndarray a, out
    cdef char* src
    cdef char* dst
    result = []
    for item in arrays:
        if item is None:
            result.append(None)
            continue
        a = _rows(item, "take")
        rows = cnp.PyArray_DIMS(a)[0]
        size = cnp.PyArray_ITEMSIZE(a) * (cnp.PyArray_SIZE(a) // rows) if rows > 0 else 0
        for i in range(nk):
            if k[i * step] < 0 or k[i * step] >= rows:
                raise IndexError(f"take: row {k[i * step]} outside [0, {rows})")
        out = _like_rows(a, nk)
        src = <char*> cnp.PyArray_DATA(a)
        dst = <char*> cnp.PyArray_DATA(out)
        for i in range(nk):
            memcpy(dst + i * size, src + k[i * step] * size, size)
        result.append(out)
    return tuple(result)


def join(tuple a, tuple b):
    """Each array of ``a`` followed by its row of ``b`` (numpy's concatenate) for the
    pairs of two hypotheses; where one side has None, the other side's array if the None
    side has no rows (its first array's length), else None."""
    cdef Py_ssize_t na, nb, sa, sb
    cdef cnp.ndarray x, y, out
    _need(len(a) == len(b) and len(a) > 0 and a[0] is not None and b[0] is not None,
          "join: the two sides differ")
    na, nb = len(a[0]), len(b[0])
    result = []
    for u, v in zip(a, b):
        if u is None or v is None:
            result.append(v if u is None and v is not None and na == 0
                          else u if v is None and u is not None and nb == 0 else None)
            continue
        x, y = _rows(u, "join"), _rows(v, "join")
        _need(_same_rows(x, y) and (x is u or x.ndim == u.ndim)
              and cnp.PyArray_DIMS(x)[0] == na and cnp.PyArray_DIMS(y)[0] == nb,
              "join: the two sides' arrays differ")
        out = _like_rows(x, na + nb)
        sa = cnp.PyArray_NBYTES(x)
        sb = cnp.PyArray_NBYTES(y)
        memcpy(<char*> cnp.PyArray_DATA(out), <char*> cnp.PyArray_DATA(x), sa)
        memcpy(<char*> cnp.PyArray_DATA(out) + sa, <char*> cnp.PyArray_DATA(y), sb)
        result.append(out)
    return tuple(result)


# -- the assignment's first step ---------------------------------------------------------------

def alone(const int64_t[:] track, const int64_t[:] meas, const double[:] cost,
          double miss_cost):
    """Split candidate pairs: (the lone pairs worth taking, the entangled rest), indices
    ascending.  A pair is alone when its track and its measurement are in no other pair:
    it is taken when it costs less than a miss; the rest go to the solver."""
    cdef Py_ssize_t k = track.shape[0], i, nt = 0, nm = 0, ntake = 0, nrest = 0
    _need(meas.shape[0] == k and cost.shape[0] == k, "alone: shapes do not match")
    for i in range(k):
        if track[i] < 0 or meas[i] < 0:
            raise ValueError("alone: negative track or measurement")
        nt = max(nt, track[i] + 1)
        nm = max(nm, meas[i] + 1)
    cdef int64_t* count = <int64_t*> malloc((nt + nm + 1) * sizeof(int64_t))
    if count == NULL:
        raise MemoryError()
    cdef int64_t* mcount = count + nt
    for i in range(nt + nm):
        count[i] = 0
    for i in range(k):
        count[track[i]] += 1
        mcount[meas[i]] += 1
    for i in range(k):  # how many of each, to allocate them exactly (no slicing after)
        if count[track[i]] == 1 and mcount[meas[i]] == 1:
            ntake += cost[i] < miss_cost
        else:
            nrest += 1
    take_out = _empty(ntake, cnp.NPY_INT64)
    rest_out = _empty(nrest, cnp.NPY_INT64)
    cdef int64_t* took = <int64_t*> cnp.PyArray_DATA(take_out)
    cdef int64_t* rest = <int64_t*> cnp.PyArray_DATA(rest_out)
    ntake = nrest = 0
    for i in range(k):
        if count[track[i]] == 1 and mcount[meas[i]] == 1:
            if cost[i] < miss_cost:
                took[ntake] = i
                ntake += 1
        else:
            rest[nrest] = i
            nrest += 1
    free(count)
    return take_out, rest_out


# -- what the assignment leaves ------------------------------------------------------------------

def leftover(Py_ssize_t n, const int64_t[:] chosen, const flag[:] late,
             const flag[:] duplicate, const flag[:] conflict, object diverged):
    """The measurements of a batch of n that start tracks: neither chosen (``chosen``,
    their indices) nor late, nor a duplicate of a gating track of their identity, nor
    (``diverged``, or None) a report that no longer fits the track its number feeds; an
    address conflict does start one.  Returns (their indices ascending, and None when no
    measurement was late, duplicate, conflict or diverged, else the counts (late,
    conflict, duplicate left, diverged left): each drop counted once, in that order)."""
    cdef const flag[:] div
    cdef bint has_div = diverged is not None
    cdef Py_ssize_t i, nl = 0, nc = 0, nd = 0, nv = 0, nn = 0
    cdef bint any_drop = False
    _need(late.shape[0] == n and duplicate.shape[0] == n and conflict.shape[0] == n,
          "leftover: shapes do not match")
    if has_div:
        div = diverged
        _need(div.shape[0] == n, "leftover: shapes do not match")
    cdef flag* left = <flag*> malloc(n + 1)  # all True but the chosen
    if left == NULL:
        raise MemoryError()
    memset(left, 1, n)
    for i in range(chosen.shape[0]):
        if chosen[i] < 0 or chosen[i] >= n:
            free(left)
            raise IndexError(f"leftover: measurement {chosen[i]} outside [0, {n})")
        left[chosen[i]] = 0
    for i in range(n):
        if late[i] or duplicate[i] or conflict[i] or (has_div and div[i]):
            any_drop = True
        if late[i]:
            nl += 1
            left[i] = 0
        nc += conflict[i] != 0
        if left[i] and duplicate[i]:
            nd += 1
            left[i] = 0
        if has_div and left[i] and div[i]:
            nv += 1
            left[i] = 0
        nn += left[i]
    new_out = _empty(nn, cnp.NPY_INT64)  # exactly: no slicing after
    cdef int64_t* new = <int64_t*> cnp.PyArray_DATA(new_out)
    nn = 0
    for i in range(n):
        if left[i]:
            new[nn] = i
            nn += 1
    free(left)
    return new_out, (nl, nc, nd, nv) if any_drop else None
