# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Which radar sees each point (gateway/associate/coverage.py's ``Coverage.seen_by``) in C.

The deleter asks on every review, for every track it looks at (about a hundred: tentative
clutter tracks waiting to be dropped, coasting ones) and for 13 points along each coasting
track's line: numpy's dozen operations on arrays of a few hundred elements cost more than
their elements.

The decisions are numpy's, not merely close: numpy's hypot, sin and cos are not libm's to
the last bit (SIMD code of at most a few ulp), so this kernel computes the same quantities
with libm, in numpy's order (built with ``-ffp-contract=off``), and marks a point *unsure*
whenever one of its three comparisons (below the cone, within range, above the horizon) is
within ``tol`` of its boundary, relative to the magnitudes involved, while the others do not
already decide it; and whenever an input is not finite.  ``tol`` (1e-9) is six orders of
magnitude above what a few ulp of hypot, sin and cos can move these quantities (the
cancellation in ``vert`` included: its error is a few ulp of the earth radius), so outside
that band numpy cannot decide otherwise; the caller recomputes the unsure rows with numpy
(elementwise: a point's result does not depend on the others).  ``hidden`` follows each
track's line in C the same way, stopping at the first point that decides; a track with an
unsure point the others do not overrule goes to numpy whole.  tests/test_coverage_kernel.py
holds both to the numpy on random points and lines, on points a few ulp either side of each
boundary, and on every point and line a replay of the shipped capture asks (slow).
"""

from libc.float cimport DBL_MAX
from libc.math cimport copysign, cos, fabs, fmax, hypot, isfinite, isnan, sin, sqrt
from libc.stdint cimport int64_t

import numpy as np

ctypedef unsigned char flag


cdef struct Radars:
    const double *sx
    const double *sy
    const double *k
    const double *tan_cone
    const double *antenna_r
    const double *range2
    const double *horizon_antenna
    Py_ssize_t m
    double earth_r
    double horizon_k
    double tol


cdef inline int _radar(const Radars *r, Py_ssize_t j, double xi, double yi, double rt,
                       double hk) noexcept nogil:
    """Whether radar j sees the point: 1 clearly, 0 clearly not, 2 near a boundary (the
    point is finite; rt = earth_r + h, hk = the target's horizon distance)."""
    cdef double g, a, horiz, vert, slant2, c, reach, tol = r.tol
    cdef bint no = False, b_below, b_range, b_reach
    g = hypot(xi - r.sx[j], yi - r.sy[j]) / r.k[j]
    reach = r.horizon_antenna[j] + hk
    b_reach = g <= reach
    if fabs(g - reach) > tol * (g + reach):
        if not b_reach:
            return 0  # clearly beyond the horizon: no sine nor cosine
    else:
        b_reach = False
    a = g / r.earth_r
    horiz = rt * sin(a)
    vert = rt * cos(a) - r.antenna_r[j]
    slant2 = horiz * horiz + vert * vert
    c = horiz * r.tan_cone[j]
    b_below = vert < c
    b_range = slant2 <= r.range2[j]
    # a test far from its boundary decides as numpy's would; one near it may not
    if fabs(vert - c) > tol * (fabs(rt) + fabs(c)):
        no = not b_below
    else:
        b_below = False
    if fabs(slant2 - r.range2[j]) > tol * (slant2 + r.range2[j]
                                          + fabs(rt) * (fabs(horiz) + fabs(vert))):
        no = no or not b_range
    else:
        b_range = False
    if no:
        return 0
    if b_below and b_range and b_reach:
        return 1
    return 2  # none clearly false, one near its boundary


cdef inline int _any(const Radars *r, double xi, double yi, double hi) noexcept nogil:
    """Whether some radar sees the point: 1 clearly, 0 clearly none, 2 not sure (near a
    boundary, or not finite)."""
    cdef Py_ssize_t j
    cdef int v, out = 0
    if not (isfinite(xi) and isfinite(yi) and isfinite(hi)):
        return 2
    cdef double rt = r.earth_r + hi
    cdef double hk = sqrt(r.horizon_k * (hi if hi > 1.0 else 1.0))
    for j in range(r.m):
        v = _radar(r, j, xi, yi, rt, hk)
        if v == 1:
            return 1
        if v == 2:
            out = 2
    return out


cdef Radars _radars(const double[:] sx, const double[:] sy, const double[:] k,
                    const double[:] tan_cone, const double[:] antenna_r,
                    const double[:] range2, const double[:] horizon_antenna,
                    double earth_r, double horizon_k, double tol) except *:
    cdef Radars r
    cdef Py_ssize_t m = sx.shape[0]
    if (sy.shape[0] != m or k.shape[0] != m or tan_cone.shape[0] != m
            or antenna_r.shape[0] != m or range2.shape[0] != m
            or horizon_antenna.shape[0] != m):
        raise ValueError("coverage: radar shapes differ")
    if m == 0:
        raise ValueError("coverage: no radar")
    r.sx, r.sy, r.k, r.tan_cone = &sx[0], &sy[0], &k[0], &tan_cone[0]
    r.antenna_r, r.range2, r.horizon_antenna = &antenna_r[0], &range2[0], &horizon_antenna[0]
    r.m, r.earth_r, r.horizon_k, r.tol = m, earth_r, horizon_k, tol
    return r


def seen_by(const double[:] x, const double[:] y, const double[:] h,
            const double[:] sx, const double[:] sy, const double[:] k,
            const double[:] tan_cone, const double[:] antenna_r, const double[:] range2,
            const double[:] horizon_antenna, double earth_r, double horizon_k, double tol):
    """(seen bool [n, radars], unsure int64 rows): coverage.py's rule for each point
    (plane x, y; height h) and radar (antenna sx, sy; scale k; the tangent of its cone;
    earth_r + its height; its range squared; its horizon distance), and the rows (points)
    whose decision by numpy's functions could differ from this one (see the module)."""
    cdef Radars r = _radars(sx, sy, k, tan_cone, antenna_r, range2, horizon_antenna,
                            earth_r, horizon_k, tol)
    return _seen_by(&r, x, y, h)


cdef class RadarViews:
    """The radars' constants (``seen_by``'s and ``hidden``'s sx ... tol), taken once: each
    typed argument costs a buffer request and a memoryview object at every call (about
    half a microsecond each, seven per call), and the deleter asks on every review.  The
    arrays are kept (read only, contiguous) as long as this is."""

    cdef Radars r
    cdef const double[::1] vsx, vsy, vk, vtan_cone, vantenna_r, vrange2, vhorizon_antenna

    def __init__(self, const double[::1] sx, const double[::1] sy, const double[::1] k,
                 const double[::1] tan_cone, const double[::1] antenna_r,
                 const double[::1] range2, const double[::1] horizon_antenna,
                 double earth_r, double horizon_k, double tol):
        self.vsx, self.vsy, self.vk, self.vtan_cone = sx, sy, k, tan_cone
        self.vantenna_r, self.vrange2, self.vhorizon_antenna = (antenna_r, range2,
                                                                horizon_antenna)
        self.r = _radars(sx, sy, k, tan_cone, antenna_r, range2, horizon_antenna, earth_r,
                         horizon_k, tol)

    def __reduce__(self):
        """Copied and pickled (a Coverage is) by its arrays and numbers."""
        return RadarViews, (np.asarray(self.vsx), np.asarray(self.vsy), np.asarray(self.vk),
                            np.asarray(self.vtan_cone), np.asarray(self.vantenna_r),
                            np.asarray(self.vrange2), np.asarray(self.vhorizon_antenna),
                            self.r.earth_r, self.r.horizon_k, self.r.tol)


def seen_by_view(RadarViews radars not None, const double[:] x, const double[:] y,
                 const double[:] h):
    """``seen_by`` with the radars of ``radars``."""
    return _seen_by(&radars.r, x, y, h)


cdef tuple _seen_by(const Radars *rp, const double[:] x, const double[:] y,
                    const double[:] h):
    """``seen_by``'s work."""
    cdef Py_ssize_t n = x.shape[0], m = rp.m, i, j, nu = 0
    cdef double earth_r = rp.earth_r, horizon_k = rp.horizon_k
    if y.shape[0] != n or h.shape[0] != n:
        raise ValueError("seen_by: point shapes differ")
    seen = np.zeros((n, m), dtype=np.bool_)
    unsure = np.empty(n, dtype=np.int64)
    cdef flag[:, :] so = seen.view(np.uint8)
    cdef int64_t[:] uo = unsure
    cdef double xi, yi, hi, rt, hk
    cdef bint doubt
    cdef int v
    for i in range(n):
        xi = x[i]
        yi = y[i]
        hi = h[i]
        if not (isfinite(xi) and isfinite(yi) and isfinite(hi)):
            uo[nu] = i
            nu += 1
            continue
        rt = earth_r + hi
        hk = sqrt(horizon_k * (hi if hi > 1.0 else 1.0))
        doubt = False
        for j in range(m):
            v = _radar(rp, j, xi, yi, rt, hk)
            if v == 1:
                so[i, j] = 1
            elif v == 2:
                doubt = True
        if doubt:
            uo[nu] = i
            nu += 1
    return seen, unsure[:nu]


def hidden(const double[:] x, const double[:] y, const double[:] vx, const double[:] vy,
           const double[:] h, const double[:] rate, const double[:] ahead, int steps,
           const double[:] sx, const double[:] sy, const double[:] k,
           const double[:] tan_cone, const double[:] antenna_r, const double[:] range2,
           const double[:] horizon_antenna, double earth_r, double horizon_k, double tol):
    """(hidden bool [n], unsure int64 rows): coverage.py's ``hidden`` for each track (seen
    by no radar now, by some at one of ``steps`` points of its line within ``ahead``
    seconds: x + vx dt, y + vy dt, max(h + rate dt, 0) at dt = max(ahead, 0) s / steps,
    computed as numpy does, with ``rate`` as np.nan_to_num makes it), and the rows whose verdict
    numpy's functions could give otherwise (a point near a boundary or not finite, that
    the other points do not overrule).  The line is followed only as far as it must be."""
    cdef Radars r = _radars(sx, sy, k, tan_cone, antenna_r, range2, horizon_antenna,
                            earth_r, horizon_k, tol)
    return _hidden(&r, x, y, vx, vy, h, rate, ahead, steps)


def hidden_view(RadarViews radars not None, const double[:] x, const double[:] y,
                const double[:] vx, const double[:] vy, const double[:] h,
                const double[:] rate, const double[:] ahead, int steps):
    """``hidden`` with the radars of ``radars``."""
    return _hidden(&radars.r, x, y, vx, vy, h, rate, ahead, steps)


cdef tuple _hidden(const Radars *rp, const double[:] x, const double[:] y,
                   const double[:] vx, const double[:] vy, const double[:] h,
                   const double[:] rate, const double[:] ahead, int steps):
    """``hidden``'s work."""
    cdef Py_ssize_t n = x.shape[0], i, s, nu = 0
    if (y.shape[0] != n or vx.shape[0] != n or vy.shape[0] != n or h.shape[0] != n
            or rate.shape[0] != n or ahead.shape[0] != n):
        raise ValueError("hidden: shapes differ")
    if steps < 1:
        raise ValueError("hidden: steps < 1")
    out = np.zeros(n, dtype=np.bool_)
    unsure = np.empty(n, dtype=np.int64)
    cdef flag[:] ho = out.view(np.uint8)
    cdef int64_t[:] uo = unsure
    cdef double a, dt, rt
    cdef int v, v_s, later
    for i in range(n):
        if not (ahead[i] > 0.0):
            continue  # nothing ahead: not hidden (nan too)
        a = fmax(ahead[i], 0.0)
        rt = rate[i]  # np.nan_to_num's: nan 0, an infinity the largest float of its sign
        if isnan(rt):
            rt = 0.0
        elif not isfinite(rt):
            rt = copysign(DBL_MAX, rt)
        v = _any(rp, x[i] + vx[i] * (a * 0.0), y[i] + vy[i] * (a * 0.0),
                 fmax(h[i] + rt * (a * 0.0), 0.0))
        if v == 1:
            continue  # seen now
        later = 0
        for s in range(1, steps + 1):
            dt = a * (<double>s / <double>steps)
            v_s = _any(rp, x[i] + vx[i] * dt, y[i] + vy[i] * dt,
                       fmax(h[i] + rt * dt, 0.0))
            if v_s == 1:  # clearly seen: whatever the doubtful points before
                later = 1
                break
            if v_s == 2:
                later = 2
        if later == 1 and v == 0:
            ho[i] = 1
        elif later != 0:  # seen later, or maybe: numpy tells (v 2, or a doubtful point)
            uo[nu] = i
            nu += 1
    return out, unsure[:nu]
