# The level filter's step on the track table's packed level rows, shared by ext/tracking.pyx
# (``level_rows``: LevelFilter.absorb) and ext/cycle.pyx (``absorb_view``, which steps the
# rows of a cycle in the same call as the rest of its bookkeeping), so that both compute
# it with the same code, to the bit.  Needs libc.math's fabs, fmax, libc.stdlib's malloc
# and free, libc.stdint's int64_t.

cdef inline void _level_predict(double* s, double* P, double dt, double q) noexcept nogil:
    """[level, rate] and its 2x2 covariance dt later (earlier, if negative), in place."""
    cdef double a = fabs(dt), qa
    s[0] += dt * s[1]
    P[0] += dt * P[2]
    P[1] += dt * P[3]
    P[0] += dt * P[1]
    P[2] += dt * P[3]
    qa = q * a
    P[0] += qa * a * a / 3.0
    P[1] += qa * dt / 2.0
    P[2] = P[1]
    P[3] += qa


cdef inline void _level_one(double* st, double* Pt, double dt, double z, double q,
                            double r2, double rate_sigma) noexcept nogil:
    """One track's LevelFilter.step on its [level, rate] st and 2x2 covariance Pt."""
    cdef double k0, k1, nu, p00, p01, m
    _level_predict(st, Pt, dt, q)
    k0 = Pt[0] / (Pt[0] + r2)
    k1 = Pt[2] / (Pt[0] + r2)
    nu = z - st[0]
    st[0] += k0 * nu
    st[1] += k1 * nu
    p00 = Pt[0]
    p01 = Pt[1]
    Pt[0] -= k0 * p00
    Pt[1] -= k0 * p01
    Pt[2] -= k1 * p00
    Pt[3] -= k1 * p01
    m = 0.5 * (Pt[1] + Pt[2])
    Pt[1] = m
    Pt[2] = m
    if dt < 0:
        _level_predict(st, Pt, -dt, q)
    if st[0] != st[0]:
        st[0] = z
        st[1] = 0.0
        Pt[0] = r2
        Pt[1] = 0.0
        Pt[2] = 0.0
        Pt[3] = rate_sigma * rate_sigma



cdef int _level_rows(double[:, ::1] level, const int64_t[::1] rows, const int64_t* idx,
                     const double[:] z, const double[:] t, double q, double sigma,
                     double rate_sigma, str name) except -1:
    """``level_rows``' work: the rows ``rows`` of ``level`` [cap, 8] take the reports
    z[j], t[j] with j = idx[i] (idx NULL: j = i; the caller has checked each j against z
    and t), where z[j] is not nan; every row computed from the table as it was, then
    written in the order of the rows (the last of a repeated row stands)."""
    cdef Py_ssize_t n = rows.shape[0], cap = level.shape[0], i, j, k, c = 0
    if level.shape[1] != 8:
        raise ValueError(f"{name}: shapes do not agree")
    for i in range(n):
        if not 0 <= rows[i] < cap:
            raise IndexError(f"{name}: row out of range")
    cdef double *L = <double *>malloc(max(n, 1) * 8 * sizeof(double))
    cdef int64_t *at = <int64_t *>malloc(max(n, 1) * sizeof(int64_t))
    cdef double dt, zj, tj
    cdef double r2 = sigma * sigma
    if L == NULL or at == NULL:
        free(L)
        free(at)
        raise MemoryError()
    with nogil:
        for i in range(n):
            j = i if idx == NULL else idx[i]
            zj = z[j]
            if zj != zj:
                continue
            tj = t[j]
            for k in range(8):
                L[c * 8 + k] = level[rows[i], k]
            dt = tj - L[c * 8 + 6]
            if dt != dt:
                dt = 0.0
            _level_one(&L[c * 8], &L[c * 8 + 2], dt, zj, q, r2, rate_sigma)
            L[c * 8 + 6] = fmax(L[c * 8 + 6], tj)
            if dt >= 0:
                L[c * 8 + 7] = zj
            at[c] = rows[i]
            c += 1
        for i in range(c):
            for k in range(8):
                level[at[i], k] = L[i * 8 + k]
    free(L)
    free(at)
    return 0
