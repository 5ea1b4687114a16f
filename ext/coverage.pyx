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
(elementwise: a point's result does not depend on the others).  tests/test_coverage_kernel.py
holds it to the numpy on random points, on points a few ulp either side of each boundary,
and on every point a replay of the shipped capture asks (slow).
"""

from libc.math cimport cos, fabs, hypot, isfinite, sin, sqrt
from libc.stdint cimport int64_t

import numpy as np

ctypedef unsigned char flag


def seen_by(const double[:] x, const double[:] y, const double[:] h,
            const double[:] sx, const double[:] sy, const double[:] k,
            const double[:] tan_cone, const double[:] antenna_r, const double[:] range2,
            const double[:] horizon_antenna, double earth_r, double horizon_k, double tol):
    """(seen bool [n, radars], unsure int64 rows): coverage.py's rule for each point
    (plane x, y; height h) and radar (antenna sx, sy; scale k; the tangent of its cone;
    earth_r + its height; its range squared; its horizon distance), and the rows (points)
    whose decision by numpy's functions could differ from this one (see the module)."""
    cdef Py_ssize_t n = x.shape[0], m = sx.shape[0], i, j, nu = 0
    if y.shape[0] != n or h.shape[0] != n:
        raise ValueError("seen_by: point shapes differ")
    if (sy.shape[0] != m or k.shape[0] != m or tan_cone.shape[0] != m
            or antenna_r.shape[0] != m or range2.shape[0] != m
            or horizon_antenna.shape[0] != m):
        raise ValueError("seen_by: radar shapes differ")
    seen = np.zeros((n, m), dtype=np.bool_)
    unsure = np.empty(n, dtype=np.int64)
    cdef flag[:, :] so = seen.view(np.uint8)
    cdef int64_t[:] uo = unsure
    cdef double xi, yi, hi, g, a, rt, horiz, vert, slant2, c, reach, hk
    cdef bint doubt, no, b_below, b_range, b_reach
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
            g = hypot(xi - sx[j], yi - sy[j]) / k[j]
            reach = horizon_antenna[j] + hk
            if g > reach and fabs(g - reach) > tol * (g + reach):
                continue  # clearly beyond the horizon: no sine nor cosine
            a = g / earth_r
            horiz = rt * sin(a)
            vert = rt * cos(a) - antenna_r[j]
            slant2 = horiz * horiz + vert * vert
            c = horiz * tan_cone[j]
            b_below = vert < c
            b_range = slant2 <= range2[j]
            b_reach = g <= reach
            # a test far from its boundary decides as numpy's would; one near it may not
            no = False
            if fabs(vert - c) > tol * (fabs(rt) + fabs(c)):
                no = not b_below
            else:
                b_below = False
            if fabs(slant2 - range2[j]) > tol * (slant2 + range2[j]
                                                 + fabs(rt) * (fabs(horiz) + fabs(vert))):
                no = no or not b_range
            else:
                b_range = False
            if fabs(g - reach) > tol * (g + reach):
                no = no or not b_reach
            else:
                b_reach = False
            if no:
                continue
            if b_below and b_range and b_reach:
                so[i, j] = 1
            else:  # none clearly false, one near its boundary
                doubt = True
        if doubt:
            uo[nu] = i
            nu += 1
    return seen, unsure[:nu]
