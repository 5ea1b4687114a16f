# The IMM's per-track prediction and innovation, shared by the kernels that need them
# (``include``d: ext/tracking.pyx, the filter's, and ext/gating.pyx, the gate's fused
# continuing step), so that both compute them with the same code, to the bit.  Needs
# libc.math's cos, exp, fabs, sin.

cdef extern from *:
    """
    #define IMM_SCRATCH(M) ((M) * (M) + (M) * 3 + (M) * 4 * 2 + (M) * 16 * 2 + 4)
    """
    int IMM_SCRATCH(int M) nogil


cdef inline void _predict(const double* x0, const double* P0, double dt, double w, double q,
                          double limit, double* x, double* P) noexcept nogil:
    """x = F x0, P = F P0 F' + Q(|dt|): a turn for tau = dt clipped to +-limit after a
    straight flight for dt - tau (w = 0: constant velocity)."""
    cdef double tau = dt, a, b, c, s, ad, qa, third, cross
    cdef double F[16]
    cdef double FP[16]
    cdef int i, j, k
    if tau > limit:
        tau = limit
    elif tau < -limit:
        tau = -limit
    if w != 0.0:
        s = sin(w * tau)
        c = cos(w * tau)
        a = s / w + (dt - tau)
        b = (1.0 - c) / w
    else:
        s = 0.0
        c = 1.0
        a = dt
        b = 0.0
    F[0] = 1.0; F[1] = 0.0; F[2] = a; F[3] = -b
    F[4] = 0.0; F[5] = 1.0; F[6] = b; F[7] = a
    F[8] = 0.0; F[9] = 0.0; F[10] = c; F[11] = -s
    F[12] = 0.0; F[13] = 0.0; F[14] = s; F[15] = c
    for i in range(4):
        x[i] = F[4 * i] * x0[0] + F[4 * i + 1] * x0[1] + F[4 * i + 2] * x0[2] \
            + F[4 * i + 3] * x0[3]
        for j in range(4):
            FP[4 * i + j] = (F[4 * i] * P0[j] + F[4 * i + 1] * P0[4 + j]
                             + F[4 * i + 2] * P0[8 + j] + F[4 * i + 3] * P0[12 + j])
    for i in range(4):
        for j in range(4):
            P[4 * i + j] = (FP[4 * i] * F[4 * j] + FP[4 * i + 1] * F[4 * j + 1]
                            + FP[4 * i + 2] * F[4 * j + 2] + FP[4 * i + 3] * F[4 * j + 3])
    ad = fabs(dt)
    qa = q * ad
    third = qa * ad * ad / 3.0
    cross = qa * dt / 2.0
    P[0] += third
    P[5] += third
    P[2] += cross
    P[7] += cross
    P[8] += cross
    P[13] += cross
    P[10] += qa
    P[15] += qa


cdef inline double _innovate(const double* x, const double* P, const double* z,
                             const double* R, double* nu, double* si) noexcept nogil:
    """Innovation nu = z - H x, S^-1 (by the adjugate of S = H P H' + R), returns the
    Mahalanobis distance nu' S^-1 nu."""
    cdef double s00 = P[0] + R[0], s01 = P[1] + R[1], s10 = P[4] + R[2], s11 = P[5] + R[3]
    cdef double det = s00 * s11 - s01 * s10
    si[0] = s11 / det
    si[1] = -s10 / det
    si[2] = -s01 / det
    si[3] = s00 / det
    nu[0] = z[0] - x[0]
    nu[1] = z[1] - x[1]
    return (nu[0] * (si[0] * nu[0] + si[1] * nu[1])
            + nu[1] * (si[2] * nu[0] + si[3] * nu[1]))


cdef inline void _combine(int M, const double* mu, const double* xs, int xstride,
                          const double* Ps, int Pstride, bint symmetric,
                          double* x, double* P) noexcept nogil:
    """Moment matching of M models (state b at xs + b xstride, covariance at Ps + b
    Pstride): x = sum mu_b x_b, P = sum mu_b (P_b + e e'), e = x_b - x."""
    cdef int b, i, j
    cdef double e[4]
    cdef double m, t
    for i in range(4):
        x[i] = 0.0
    for i in range(16):
        P[i] = 0.0
    for b in range(M):
        m = mu[b]
        for i in range(4):
            x[i] += m * xs[b * xstride + i]
    for b in range(M):
        m = mu[b]
        for i in range(4):
            e[i] = xs[b * xstride + i] - x[i]
        for i in range(4):
            for j in range(4):
                P[4 * i + j] += m * (e[i] * e[j] + Ps[b * Pstride + 4 * i + j])
    if symmetric:
        for i in range(4):
            for j in range(i + 1, 4):
                t = 0.5 * (P[4 * i + j] + P[4 * j + i])
                P[4 * i + j] = t
                P[4 * j + i] = t


cdef inline void _imm_predict_row(int M, const double* tx, const double* tP,
                                  const double* txm, const double* tPm, const double* tmu,
                                  double dt, const double* mu0, const double* w,
                                  const double* q, const double* limit, const double* ev,
                                  const double* V, const double* Vi, double* scratch,
                                  double* pk, double* xo, double* Po) noexcept nogil:
    """One table row's IMM mixing and prediction by dt (``imm_predict`` says how): the
    models' predictions packed into pk [M * 21], the combined x [4], P [16].  The row:
    x [4], P [16], xm [M * 4], Pm [M * 16], mu [M]; V, Vi [M * M]; scratch holds
    ``IMM_SCRATCH(M)`` doubles."""
    cdef double* T = scratch
    cdef double* mu = T + M * M
    cdef double* c = mu + M
    cdef double* y = c + M
    cdef double* y0 = y + 4 * M
    cdef double* second = y0 + 4 * M
    cdef double* P0 = second + 16 * M
    cdef double* mean = P0 + 16 * M
    cdef double* e = mean + 4
    cdef double ad, tot, wab, cb
    cdef const double* xa
    cdef const double* Pa
    cdef double* slot
    cdef bint fresh
    cdef int a, b, l, j
    ad = fabs(dt)
    # transition over |dt|, rows from, columns to
    for l in range(M):
        e[l] = exp(ad * ev[l])
    for a in range(M):
        tot = 0.0
        for b in range(M):
            wab = 0.0
            for l in range(M):
                wab = wab + V[a * M + l] * e[l] * Vi[l * M + b]
            if wab < 0.0:
                wab = 0.0
            T[a * M + b] = wab
            tot = tot + wab
        for b in range(M):
            T[a * M + b] = T[a * M + b] / tot
    fresh = tmu[0] != tmu[0]
    for a in range(M):
        mu[a] = mu0[a] if fresh else tmu[a]
    for b in range(M):
        cb = 0.0
        for a in range(M):
            cb = cb + T[a * M + b] * mu[a]
        c[b] = cb
    # states less their mean, their second moments
    for j in range(4):
        mean[j] = 0.0
        for a in range(M):
            mean[j] += tx[j] if fresh else txm[4 * a + j]
        mean[j] = mean[j] / M
    for a in range(M):
        xa = tx if fresh else txm + 4 * a
        Pa = tP if fresh else tPm + 16 * a
        for j in range(4):
            y[4 * a + j] = xa[j] - mean[j]
        for j in range(16):
            second[16 * a + j] = y[4 * a + j // 4] * y[4 * a + j % 4] + Pa[j]
    # each model restarts from the mix, then is predicted
    for b in range(M):
        cb = c[b] if c[b] > 0.0 else 1.0
        for j in range(4):
            y0[4 * b + j] = 0.0
        for j in range(16):
            P0[16 * b + j] = 0.0
        for a in range(M):
            wab = T[a * M + b] * mu[a] / cb
            for j in range(4):
                y0[4 * b + j] += wab * y[4 * a + j]
            for j in range(16):
                P0[16 * b + j] += wab * second[16 * a + j]
        for j in range(16):
            P0[16 * b + j] -= y0[4 * b + j // 4] * y0[4 * b + j % 4]
        for j in range(4):
            y0[4 * b + j] += mean[j]
        slot = pk + 21 * b
        slot[0] = c[b]
        _predict(&y0[4 * b], &P0[16 * b], dt, w[b], q[b], limit[b], slot + 1, slot + 5)
    _combine(M, c, pk + 1, 21, pk + 5, 21, False, xo, Po)
