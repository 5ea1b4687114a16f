# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Which control unit each point is in, in C: the handoff's point-in-polygon test.

The handoff asks it for every flight and for a dozen points along each predicted path,
every association cycle (~9,000 cycles of a few to a few dozen points): shapely's
``contains_xy`` over the units cost more in call overhead and array shuffling than in
geometry.  Here it is one call with plain loops over the units' few dozen edges.

The verdict is GEOS's (the prepared polygon's ``contains`` of a point, shapely's
``contains_xy``), to the point: GEOS's ray-crossing count (RayCrossingCounter) over every
ring's segments, a point on the boundary (a vertex, on an edge: a collinear orientation)
not contained, a non-finite coordinate outside.  The orientation is GEOS's fast filter;
where the filter cannot decide (the point within rounding of an edge's line) it is decided
exactly, with rationals (GEOS uses double-double arithmetic there: the same sign but for
cases beyond its own precision).  Built with ``-ffp-contract=off``: no fused multiply-add,
so the filter's products are rounded as GEOS's are.  tests/test_airspace_kernel.py holds
it to shapely, boundary points included.
"""

from fractions import Fraction

from libc.math cimport isfinite
from libc.stdint cimport int64_t

import numpy as np


cdef int _exact_orientation(double p1x, double p1y, double p2x, double p2y,
                            double qx, double qy):
    """The sign of the turn p1 -> p2 -> q, exactly (the filter could not tell)."""
    det = ((Fraction(p2x) - Fraction(p1x)) * (Fraction(qy) - Fraction(p2y))
           - (Fraction(p2y) - Fraction(p1y)) * (Fraction(qx) - Fraction(p2x)))
    return (det > 0) - (det < 0)


cdef inline int _signum(double x) noexcept:
    return (x > 0) - (x < 0)


cdef int _orientation(double pax, double pay, double pbx, double pby,
                      double pcx, double pcy) except? -2:
    """GEOS's Orientation::index(pa, pb, pc): 1 left, -1 right, 0 collinear
    (CGAlgorithmsDD::orientationIndexFilter, then an exact sign where it fails)."""
    cdef double detleft = (pax - pcx) * (pby - pcy)
    cdef double detright = (pay - pcy) * (pbx - pcx)
    cdef double det = detleft - detright
    cdef double detsum
    if detleft > 0.0:
        if detright <= 0.0:
            return _signum(det)
        detsum = detleft + detright
    elif detleft < 0.0:
        if detright >= 0.0:
            return _signum(det)
        detsum = -detleft - detright
    else:
        return _signum(det)
    cdef double errbound = 1e-15 * detsum
    if det >= errbound or -det >= errbound:
        return _signum(det)
    return _exact_orientation(pax, pay, pbx, pby, pcx, pcy)


cdef int _inside(const double[:, ::1] seg, Py_ssize_t first, Py_ssize_t last,
                 double x, double y) except -1:
    """1 if (x, y) is in the interior of the polygon whose segments are rows
    first..last-1 of ``seg`` (x1, y1, x2, y2), else 0: GEOS's RayCrossingCounter."""
    cdef Py_ssize_t s
    cdef double x1, y1, x2, y2, lo, hi
    cdef int crossings = 0, orient
    for s in range(first, last):
        x1, y1, x2, y2 = seg[s, 0], seg[s, 1], seg[s, 2], seg[s, 3]
        if x1 < x and x2 < x:
            continue  # strictly left of the point
        if x == x2 and y == y2:
            return 0  # on a vertex: the boundary
        if y1 == y and y2 == y:  # horizontal: only whether the point is on it
            lo, hi = (x1, x2) if x1 <= x2 else (x2, x1)
            if lo <= x <= hi:
                return 0
            continue
        if (y1 > y and y2 <= y) or (y2 > y and y1 <= y):
            orient = _orientation(x1, y1, x2, y2, x, y)
            if orient == 0:
                return 0  # on the edge: the boundary
            if y2 < y1:
                orient = -orient
            if orient == 1:
                crossings += 1
    return crossings & 1


def locate(const double[:, ::1] seg, const int64_t[::1] start, const double[:, ::1] box,
           const double[::1] lat, const double[::1] lon) -> np.ndarray:
    """The index of the first polygon each point (lat, lon) is inside, -1 if none.

    Polygon ``u``'s segments (every ring's, as x1, y1, x2, y2 = lon, lat) are rows
    ``start[u]`` to ``start[u + 1]`` of ``seg``; ``box[u]`` is its envelope (min x, min
    y, max x, max y): a point outside it is outside the polygon (its ray crosses the
    boundary an even number of times), and most points are outside most units."""
    if seg.shape[1] != 4 or box.shape[1] != 4:
        raise ValueError("seg and box must have 4 columns")
    if lat.shape[0] != lon.shape[0]:
        raise ValueError("lat and lon must have the same length")
    cdef Py_ssize_t n = lat.shape[0], units = start.shape[0] - 1, i, u
    if units >= 0:
        if box.shape[0] != units:
            raise ValueError("box must have a row per polygon")
        for u in range(units):
            if not 0 <= start[u] <= start[u + 1] <= seg.shape[0]:
                raise IndexError("start must rise within seg's rows")
    out = np.full(n, -1, dtype=np.int64)
    cdef int64_t[::1] code = out
    cdef double x, y
    for i in range(n):
        x, y = lon[i], lat[i]
        if not (isfinite(x) and isfinite(y)):
            continue
        for u in range(units):
            if x < box[u, 0] or y < box[u, 1] or x > box[u, 2] or y > box[u, 3]:
                continue
            if _inside(seg, start[u], start[u + 1], x, y):
                code[i] = u
                break
    return out
