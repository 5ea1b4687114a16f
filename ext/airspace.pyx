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

The crossing's bisection (``Units.bisect``) runs here too, ten steps in one call: its
sums and products are numpy's to the bit (IEEE operations, in the same order, no fused
multiply-add), its transcendental functions numpy's own, its float64 inner loops called
on the step's arrays (numpy's SIMD arcsin and arctan2 differ from libm's in the last bit;
the loops called directly skip numpy's per-call dispatch, as ``_loop`` says).
"""

from fractions import Fraction

cimport cython

from libc.math cimport M_PI, asin, atan2, copysign, cos, fabs, fmod, isfinite, isinf, sin, sqrt
from libc.stdint cimport int64_t

cimport numpy as cnp

import numpy as np

cdef extern from "<stdlib.h>":
    void *aligned_alloc(size_t alignment, size_t size)
    void free(void *ptr)

cdef extern from "<fenv.h>":
    int feclearexcept(int)
    int FE_ALL_EXCEPT

cdef double EARTH_M = 6_371_008.8  # gateway/handoff/airspace.py's


cdef struct _Loop:
    # a numpy ufunc's inner loop for float64 arguments, and its data (``_loop``)
    cnp.PyUFuncGenericFunction function
    void *data


cdef _Loop _loop(object ufunc) except *:
    """The inner loop ``ufunc`` runs on float64 arrays: the very function numpy calls for a
    contiguous float64 array (no buffering, one call over the whole array), so its results
    are numpy's to the bit without numpy's per-call dispatch (a microsecond a call: the
    bisection makes 55 of them)."""
    cdef cnp.ufunc u = ufunc
    cdef int i, j, nargs = u.nin + u.nout
    cdef _Loop loop
    for i in range(u.ntypes):
        for j in range(nargs):
            if u.types[i * nargs + j] != cnp.NPY_DOUBLE:
                break
        else:
            loop.function, loop.data = u.functions[i], u.data[i]
            return loop
    raise TypeError(f"{ufunc} has no float64 loop")


# numpy's loops, looked up once (``_Along`` calls them five times a step)
cdef _Loop _COS = _loop(np.cos), _SIN = _loop(np.sin)
cdef _Loop _ARCSIN = _loop(np.arcsin), _ARCTAN2 = _loop(np.arctan2)


cdef inline void _unary(_Loop loop, double *x, double *out, Py_ssize_t n) noexcept:
    """``out = ufunc(x)`` over ``n`` contiguous doubles, numpy's loop."""
    cdef char *args[2]
    cdef cnp.npy_intp dims[1]
    cdef cnp.npy_intp steps[2]
    args[0], args[1] = <char *>x, <char *>out
    dims[0] = n
    steps[0], steps[1] = sizeof(double), sizeof(double)
    loop.function(args, dims, steps, loop.data)


cdef inline void _binary(_Loop loop, double *x, double *y, double *out,
                         Py_ssize_t n) noexcept:
    """``out = ufunc(x, y)`` over ``n`` contiguous doubles, numpy's loop."""
    cdef char *args[3]
    cdef cnp.npy_intp dims[1]
    cdef cnp.npy_intp steps[3]
    args[0], args[1], args[2] = <char *>x, <char *>y, <char *>out
    dims[0] = n
    steps[0], steps[1], steps[2] = sizeof(double), sizeof(double), sizeof(double)
    loop.function(args, dims, steps, loop.data)


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


cdef inline bint _beside(double ax, double ay, double bx, double by,
                         double x0, double y0, double x1, double y1) noexcept:
    """Are the box's four corners all clearly on one side of the line through a and b
    (the segment, whose envelope meets the box, then misses it)?  "Clearly": by more than
    1e-9 degree per degree of the segment and 1e-10 besides, well past the sign's
    rounding (the differences' and products' of coordinates within the globe's)."""
    cdef double dx = bx - ax, dy = by - ay
    cdef double eps = 1e-9 * (fabs(dx) + fabs(dy)) + 1e-10
    cdef double f00 = dx * (y0 - ay) - dy * (x0 - ax)
    cdef double f01 = dx * (y1 - ay) - dy * (x0 - ax)
    cdef double f10 = dx * (y0 - ay) - dy * (x1 - ax)
    cdef double f11 = dx * (y1 - ay) - dy * (x1 - ax)
    return ((f00 > eps and f01 > eps and f10 > eps and f11 > eps)
            or (f00 < -eps and f01 < -eps and f10 < -eps and f11 < -eps))


cdef double RAD2DEG = 180.0 / M_PI  # numpy's degrees: a product by this constant


cdef inline double _remainder(double a, double b) noexcept:
    """numpy's float remainder (npy_divmod's modulus): the sign of the divisor."""
    cdef double mod = fmod(a, b)
    if not b:
        return mod
    if mod:
        if (b < 0) != (mod < 0):
            mod += b
    else:
        mod = copysign(0.0, b)
    return mod


cdef class _Along:
    """``Paths.at``'s arithmetic for the points at distances ``d`` (radians of arc,
    row-major: ``k`` for each path) along the paths (their start latitude's sine and
    cosine, longitude in radians ``l1``, heading's sine and cosine), into ``lat`` and
    ``lon`` (degrees): the same operations in the same order, its transcendental functions
    numpy's own loops (``_loop``), run over contiguous float64 arrays as ``Paths.at``'s
    ufuncs run them.  Its arrays are one block made once for ``m`` points, each part
    aligned to 64 bytes (as well as any numpy array), and written again at each ``run``:
    the bisection runs it ten times on the same few paths, and nine numpy arrays and
    their memoryviews cost more than the arithmetic of a few dozen points.  ``lat`` and
    ``lon`` are two more parts, for callers that keep only the units of the points, and
    ``mid`` one more, the bisection's."""

    cdef double *block
    cdef double *d
    cdef double *cos_d
    cdef double *sin_d
    cdef double *arg
    cdef double *p2
    cdef double *sin_p2
    cdef double *y
    cdef double *x
    cdef double *turn
    cdef double *lat
    cdef double *lon
    cdef double *mid

    def __cinit__(self, Py_ssize_t m):
        cdef Py_ssize_t part = (m + 7) // 8 * 8 if m > 0 else 8  # doubles: 64 bytes each
        self.block = <double *>aligned_alloc(64, 12 * part * sizeof(double))
        if self.block == NULL:
            raise MemoryError()
        self.d, self.cos_d, self.sin_d = self.block, self.block + part, self.block + 2 * part
        self.arg, self.p2 = self.block + 3 * part, self.block + 4 * part
        self.sin_p2, self.y = self.block + 5 * part, self.block + 6 * part
        self.x, self.turn = self.block + 7 * part, self.block + 8 * part
        self.lat, self.lon = self.block + 9 * part, self.block + 10 * part
        self.mid = self.block + 11 * part

    def __dealloc__(self):
        free(self.block)

    cdef int run(self, const double[::1] sin_p1, const double[::1] cos_p1,
                 const double[::1] sin_th, const double[::1] cos_th, const double[::1] l1,
                 Py_ssize_t k, Py_ssize_t m, double *lat, double *lon) except -1:
        """The first ``m`` points at ``self.d`` (written by the caller) into ``lat`` and
        ``lon``."""
        cdef Py_ssize_t i
        if m == 0:
            return 0
        _unary(_COS, self.d, self.cos_d, m)
        _unary(_SIN, self.d, self.sin_d, m)
        for i in range(m):
            self.arg[i] = (sin_p1[i // k] * self.cos_d[i]
                           + cos_p1[i // k] * self.sin_d[i] * cos_th[i // k])
        _unary(_ARCSIN, self.arg, self.p2, m)
        _unary(_SIN, self.p2, self.sin_p2, m)
        for i in range(m):
            self.y[i] = sin_th[i // k] * self.sin_d[i] * cos_p1[i // k]
            self.x[i] = self.cos_d[i] - sin_p1[i // k] * self.sin_p2[i]
        _binary(_ARCTAN2, self.y, self.x, self.turn, m)
        # numpy would have checked the floating-point flags its loops raised (an arcsin
        # past 1 by rounding: nan, with a warning); left set, they would be the next
        # ufunc's to report
        feclearexcept(FE_ALL_EXCEPT)
        for i in range(m):
            lat[i] = self.p2[i] * RAD2DEG
            lon[i] = _remainder((l1[i // k] + self.turn[i]) * RAD2DEG + 540.0, 360.0) - 180.0
        return 0


cdef class Units:
    """The control units' polygons, for which of them points are in.

    Polygon ``u``'s segments (every ring's, as x1, y1, x2, y2 = lon, lat) are rows
    ``start[u]`` to ``start[u + 1]`` of ``seg``; ``box[u]`` is its envelope (min x, min
    y, max x, max y): a point outside it is outside the polygon (its ray crosses the
    boundary an even number of times), and most points are outside most units.  Held
    once, so that each call takes only its points (a memoryview costs a microsecond)."""

    cdef const double[:, ::1] seg
    cdef const int64_t[::1] start
    cdef const double[:, ::1] box
    cdef Py_ssize_t units

    def __init__(self, const double[:, ::1] seg, const int64_t[::1] start,
                 const double[:, ::1] box) -> None:
        if seg.shape[1] != 4 or box.shape[1] != 4:
            raise ValueError("seg and box must have 4 columns")
        if start.shape[0] < 1 or box.shape[0] != start.shape[0] - 1:
            raise ValueError("start must have a row per polygon and one more, box one per polygon")
        cdef Py_ssize_t u
        for u in range(start.shape[0] - 1):
            if not 0 <= start[u] <= start[u + 1] <= seg.shape[0]:
                raise IndexError("start must rise within seg's rows")
        self.seg, self.start, self.box, self.units = seg, start, box, start.shape[0] - 1

    cdef int64_t _code(self, double x, double y) except -2:
        cdef Py_ssize_t u
        if not (isfinite(x) and isfinite(y)):
            return -1
        for u in range(self.units):
            if (x < self.box[u, 0] or y < self.box[u, 1] or x > self.box[u, 2]
                    or y > self.box[u, 3]):
                continue
            if _inside(self.seg, self.start[u], self.start[u + 1], x, y):
                return u
        return -1

    cdef bint _far(self, double lat, double lon, double reach_m) noexcept:
        """Is every point within ``reach_m`` (great-circle metres) of (lat, lon) clear of
        every boundary (``near``'s bound for one circle; False where it cannot tell)?"""
        cdef Py_ssize_t s, segs = self.seg.shape[0]
        cdef double d, dlat, dlon, x0, x1, y0, y1, a
        if not (isfinite(lat) and isfinite(lon) and isfinite(reach_m)):
            return False
        d = fabs(reach_m) / EARTH_M * (1.0 + 1e-6)
        if d > 0.6:
            return False
        dlat = d * RAD2DEG
        if fabs(lat) + dlat >= 89.0:
            return False
        a = sin(d) / cos(fabs(lat) / RAD2DEG + d)
        if a >= 1.0:
            return False
        dlon = asin(a) * RAD2DEG * (1.0 + 1e-6) + 1e-7
        dlat = dlat * (1.0 + 1e-6) + 1e-7
        x0, x1, y0, y1 = lon - dlon, lon + dlon, lat - dlat, lat + dlat
        if x0 <= -180.0 or x1 >= 180.0:
            return False
        for s in range(segs):
            if ((self.seg[s, 0] < x0 and self.seg[s, 2] < x0)
                    or (self.seg[s, 0] > x1 and self.seg[s, 2] > x1)
                    or (self.seg[s, 1] < y0 and self.seg[s, 3] < y0)
                    or (self.seg[s, 1] > y1 and self.seg[s, 3] > y1)):
                continue
            if _beside(self.seg[s, 0], self.seg[s, 1], self.seg[s, 2], self.seg[s, 3],
                       x0, y0, x1, y1):
                continue
            return False
        return True

    def near(self, const double[::1] lat, const double[::1] lon,
             const double[::1] reach_m) -> np.ndarray:
        """1 where a flight at (lat, lon) may come within ``reach_m`` (great-circle metres)
        of a unit's boundary, else 0: then every point that close is in the unit the flight
        is in (or in none, as it is), and ``sample`` would find no other unit ahead.

        A bound, not a verdict, and generous where in doubt: the points within the reach
        lie in a box of latitude +- the reach's angle ``d`` and longitude +- asin(sin d /
        cos(|lat| + d)) (the widest a circle of radius ``d`` spans); widened by a relative
        1e-6 and 1e-7 degree (far beyond ``sample``'s rounding), it is tested against
        every segment (its envelope, then the side of its line each corner is on): a box
        that meets none is in one piece of the plane the boundaries cut, where every
        unit's verdict is the same.  A non-finite input, a
        reach past a tenth of the globe, a box reaching within a degree of a pole or past
        the antimeridian: 1."""
        if not (lat.shape[0] == lon.shape[0] == reach_m.shape[0]):
            raise ValueError("lat, lon and reach_m must have the same length")
        cdef Py_ssize_t i, n = lat.shape[0]
        out = np.empty(n, dtype=np.uint8)
        cdef unsigned char[::1] flag = out
        for i in range(n):
            flag[i] = not self._far(lat[i], lon[i], reach_m[i])
        return out

    def near_path(self, const double[::1] lat, const double[::1] lon,
                  const double[::1] trk_deg, const double[::1] reach_m,
                  int pieces) -> np.ndarray:
        """``near`` for a flight's path ahead, not every heading: 1 where the great circle
        from (lat, lon) on ``trk_deg`` may come near a boundary within ``reach_m``, else 0
        (every point of it is in the unit the flight is in, or in none, as it is).  Most
        flights a circle of the whole reach finds near fly along or away from the
        boundary: the path is cut into ``pieces`` arcs, each within half its length of its
        middle (a great-circle distance is at most the arc's), and each such circle is
        ``near``'s (``_far``); consecutive circles share their arcs' ends, so circles that
        each meet no boundary make one piece of the plane with the start.  The middles
        are libm's (within 1e-15 of numpy's path; the circles' margins are 1e-7 degree).
        A flight ``near`` would find far is found far (the whole reach first, as
        ``near``); a non-finite heading: 1."""
        if not (lat.shape[0] == lon.shape[0] == trk_deg.shape[0] == reach_m.shape[0]):
            raise ValueError("lat, lon, trk_deg and reach_m must have the same length")
        if pieces < 1:
            raise ValueError("pieces must be at least 1")
        cdef Py_ssize_t i, n = lat.shape[0]
        out = np.empty(n, dtype=np.uint8)
        cdef unsigned char[::1] flag = out
        for i in range(n):
            flag[i] = self._near_path(lat[i], lon[i], trk_deg[i], reach_m[i], pieces)
        return out

    def near_paths_of(self, list points, list rows, double kt, double horizon_s,
                      int pieces) -> list:
        """``near_path`` of the objects ``points[r]`` for ``r`` in ``rows`` (float
        attributes ``lat``, ``lon``, ``trk_deg`` and ``gs_kt``, taken as ``np.array`` of
        them would take them), the reach ``(gs_kt * kt) * horizon_s`` as
        ``Airspace.crossings`` works it out: the positions in ``rows`` of those near a
        boundary.  The handoff asks it for its predicted flights every cycle, and most are
        far: no array is made for them."""
        if pieces < 1:
            raise ValueError("pieces must be at least 1")
        cdef Py_ssize_t j = 0, r
        cdef double lat, lon, trk, gs
        near = []
        for item in rows:  # (iterated, and points' length read at each: an attribute
            r = item       # read below runs Python, which may change either list)
            if not 0 <= r < len(points):  # (bounds checks are off in this module)
                raise IndexError("near_paths_of: row out of range")
            p = points[r]
            lat, lon, trk, gs = p.lat, p.lon, p.trk_deg, p.gs_kt
            if self._near_path(lat, lon, trk, (gs * kt) * horizon_s, pieces):
                near.append(j)
            j += 1
        return near

    cdef bint _near_path(self, double lat, double lon, double trk_deg, double reach_m,
                         int pieces) noexcept:
        """``near_path``'s verdict for one flight (True: near)."""
        cdef Py_ssize_t p
        cdef double p1, th, dm, r, p2, l2
        if self._far(lat, lon, reach_m):
            return False
        if not (isfinite(trk_deg) and isfinite(reach_m)):
            return True
        p1, th = lat / RAD2DEG, trk_deg / RAD2DEG
        r = fabs(reach_m) / (2.0 * pieces)
        for p in range(pieces):
            dm = (2 * p + 1) * r / EARTH_M
            p2 = asin(sin(p1) * cos(dm) + cos(p1) * sin(dm) * cos(th))
            l2 = lon / RAD2DEG + atan2(sin(th) * sin(dm) * cos(p1),
                                       cos(dm) - sin(p1) * sin(p2))
            l2 = _remainder(l2 * RAD2DEG + 540.0, 360.0) - 180.0
            if not self._far(p2 * RAD2DEG, l2, r):
                return True
        return False

    def locate(self, const double[::1] lat, const double[::1] lon) -> np.ndarray:
        """The index of the first polygon each point (lat, lon) is inside, -1 if none."""
        if lat.shape[0] != lon.shape[0]:
            raise ValueError("lat and lon must have the same length")
        cdef Py_ssize_t i, n = lat.shape[0]
        out = np.empty(n, dtype=np.int64)
        cdef int64_t[::1] code = out
        for i in range(n):
            code[i] = self._code(lon[i], lat[i])
        return out

    def name_at(self, list points, list names) -> tuple[np.ndarray, list]:
        """``locate`` of objects' ``lat`` and ``lon`` attributes (floats, each taken as
        ``np.array`` of them would take it), and the name of each point's unit:
        ``names[code]`` for a code of 0 or more, the last of ``names`` for -1 (outside
        every unit).  The handoff wants both for every fused update of every cycle: two
        lists, two arrays and their checks, then ``tolist`` and a comprehension over it,
        cost more than the geometry of a dozen points."""
        cdef Py_ssize_t i, n = len(points), last = len(names) - 1
        cdef int64_t c
        cdef double lat, lon
        if last < self.units:
            raise ValueError("names must have one per polygon and one more (outside every one)")
        out = np.empty(n, dtype=np.int64)
        named = [None] * n
        cdef int64_t[::1] code = out
        for i in range(n):
            p = points[i]
            lat, lon = p.lat, p.lon
            c = self._code(lon, lat)
            code[i] = c
            named[i] = names[c if c >= 0 else last]
        return out, named

    def sample(self, const double[::1] sin_p1, const double[::1] cos_p1,
               const double[::1] sin_th, const double[::1] cos_th, const double[::1] l1,
               const double[::1] v, const double[::1] times) -> np.ndarray:
        """The unit each flight is in at each of ``times`` (seconds) on: an (n, k) array,
        -1 outside every unit.  The flights fly great circles from their start on their
        heading (as ``bisect``'s) at ``v`` m/s: ``Paths.at``'s arithmetic, to the bit."""
        cdef Py_ssize_t i, j, n = sin_p1.shape[0], k = times.shape[0]
        if not (cos_p1.shape[0] == sin_th.shape[0] == cos_th.shape[0] == l1.shape[0]
                == v.shape[0] == n):
            raise ValueError("every array must have a row per flight")
        out = np.empty((n, k), dtype=np.int64)
        if n == 0 or k == 0:
            return out
        cdef _Along along = _Along(n * k)
        cdef double *d = along.d
        cdef double *lat = along.lat
        cdef double *lon = along.lon
        cdef int64_t[:, ::1] code = out
        for i in range(n):
            for j in range(k):
                d[i * k + j] = (v[i] * times[j]) / EARTH_M
        along.run(sin_p1, cos_p1, sin_th, cos_th, l1, k, n * k, lat, lon)
        for i in range(n):
            for j in range(k):
                code[i, j] = self._code(lon[i * k + j], lat[i * k + j])
        return out

    def leave(self, const double[::1] sin_p1, const double[::1] cos_p1,
              const double[::1] sin_th, const double[::1] cos_th, const double[::1] l1,
              const double[::1] v, const double[::1] times,
              const int64_t[::1] here) -> tuple[np.ndarray, np.ndarray]:
        """``sample``, then where each flight first is in another unit than ``here``: the
        index in ``times`` (-1: it stays, or ``here`` is -1, or ``v`` is not above 0) and
        the unit it is in there (-1 outside every unit).  The same points as ``sample``'s,
        each tested only until the first in another unit: the first column where
        ``(there != here) & (here >= 0) & (v > 0)``, as ``Airspace.crossings`` had it."""
        cdef Py_ssize_t i, j, n = sin_p1.shape[0], k = times.shape[0]
        if not (cos_p1.shape[0] == sin_th.shape[0] == cos_th.shape[0] == l1.shape[0]
                == v.shape[0] == here.shape[0] == n):
            raise ValueError("every array must have a row per flight")
        first_, unit_ = np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)
        if n == 0 or k == 0:
            return first_, unit_
        cdef int64_t[::1] first = first_, unit = unit_
        cdef int64_t code
        cdef _Along along = _Along(n * k)
        cdef double *d = along.d
        cdef double *lat = along.lat
        cdef double *lon = along.lon
        for i in range(n):
            for j in range(k):
                d[i * k + j] = (v[i] * times[j]) / EARTH_M
        along.run(sin_p1, cos_p1, sin_th, cos_th, l1, k, n * k, lat, lon)
        for i in range(n):
            if here[i] < 0 or not v[i] > 0:
                continue
            for j in range(k):
                code = self._code(lon[i * k + j], lat[i * k + j])
                if code != here[i]:
                    first[i], unit[i] = j, code
                    break
        return first_, unit_

    def bisect(self, const double[::1] sin_p1, const double[::1] cos_p1,
               const double[::1] sin_th, const double[::1] cos_th, const double[::1] l1,
               const double[::1] v, const int64_t[::1] src, double[::1] lo, double[::1] hi,
               int steps) -> tuple[np.ndarray, np.ndarray]:
        """Narrow each flight's (lo, hi] (seconds) ``steps`` times to the half where it
        leaves unit ``src``: at the middle still in ``src``, lo moves up to it, else hi
        down; returns the points at the final hi (lat, lon: ``Paths.at(v * hi)``).  The flights fly great circles from their start (its latitude's sine and
        cosine, longitude in radians ``l1``) on their heading (its sine and cosine) at
        ``v`` m/s: ``Paths.at``'s arithmetic, the same operations in the same order, its
        transcendental functions numpy's own (numpy's arcsin and arctan2 are not libm's to
        the bit); lo and hi are updated in place."""
        cdef Py_ssize_t i, n = sin_p1.shape[0]
        if not (cos_p1.shape[0] == sin_th.shape[0] == cos_th.shape[0] == l1.shape[0]
                == v.shape[0] == src.shape[0] == lo.shape[0] == hi.shape[0] == n):
            raise ValueError("every array must have a row per flight")
        lat_, lon_ = np.empty(n), np.empty(n)
        if n == 0:
            return lat_, lon_
        cdef _Along along = _Along(n)
        cdef double *d = along.d
        cdef double *lat = along.lat
        cdef double *lon = along.lon
        cdef double *mid = along.mid
        for _ in range(steps):
            for i in range(n):
                mid[i] = (lo[i] + hi[i]) / 2
                d[i] = (v[i] * mid[i]) / EARTH_M
            along.run(sin_p1, cos_p1, sin_th, cos_th, l1, 1, n, lat, lon)
            for i in range(n):
                if self._code(lon[i], lat[i]) == src[i]:
                    lo[i] = mid[i]
                else:
                    hi[i] = mid[i]
        for i in range(n):  # the crossing: the point at hi
            d[i] = (v[i] * hi[i]) / EARTH_M
        cdef double[::1] out_lat = lat_, out_lon = lon_
        along.run(sin_p1, cos_p1, sin_th, cos_th, l1, 1, n, &out_lat[0], &out_lon[0])
        return lat_, lon_


cdef extern from *:
    """
    #include <math.h>
    /* libm's pow reached through a pointer the compiler cannot see through: CPython's
       float ** float calls pow(x, y), and gcc would make pow(x, 2.0) x * x (libm's pow is
       within 0.52 ulp, not always the correctly rounded product) */
    static double (*volatile gateway_libm_pow)(double, double) = pow;
    """
    double gateway_libm_pow(double, double) noexcept


cdef double DEG2RAD = M_PI / 180.0  # CPython's math.radians: a product by pi / 180


cdef class Cops:
    """The coordination points on one boundary, for the one nearest a crossing
    (``Airspace.nearest_cop``): each latitude's radians and cosine worked out once.  The
    distance is ``airspace.distance_m``'s, CPython's float arithmetic to the bit: the
    same libm functions (math.sin, cos, asin, sqrt, and ``** 2`` as ``pow``), the same
    IEEE operations in the same order, no fused multiply-add; the choice ``min``'s (the
    first of equals; a NaN distance never replaces)."""

    cdef double[::1] p2
    cdef double[::1] cos_p2
    cdef double[::1] lon
    cdef Py_ssize_t n

    def __init__(self, const double[::1] lat, const double[::1] lon) -> None:
        if lat.shape[0] != lon.shape[0]:
            raise ValueError("lat and lon must have the same length")
        cdef Py_ssize_t i, n = lat.shape[0]
        self.p2, self.cos_p2, self.lon = np.empty(n), np.empty(n), np.empty(n)
        for i in range(n):
            self.p2[i] = lat[i] * DEG2RAD
            self.cos_p2[i] = cos(self.p2[i])
            self.lon[i] = lon[i]
        self.n = n

    def nearest(self, double lat, double lon) -> int:
        """The index of the COP nearest (lat, lon) (great-circle), -1 with none."""
        cdef Py_ssize_t i, best = -1
        cdef double p1 = lat * DEG2RAD, cos_p1, h, r, m, best_m = 0.0
        cos_p1 = cos(p1)
        if self.n and (isinf(lat) or isinf(lon)):
            raise ValueError("math domain error")  # math.sin of an infinity, as CPython's
        for i in range(self.n):
            h = (gateway_libm_pow(sin((self.p2[i] - p1) / 2), 2.0)
                 + cos_p1 * self.cos_p2[i]
                 * gateway_libm_pow(sin((self.lon[i] - lon) * DEG2RAD / 2), 2.0))
            if h < 0:
                raise ValueError("math domain error")  # math.sqrt's, past a pole
            r = sqrt(h)
            m = 2.0 * EARTH_M * asin(r if r < 1.0 else 1.0)
            if best < 0 or m < best_m:
                best, best_m = i, m
        return best


@cython.cdivision(False)
def time_to(double v, double fl, double roc_fpm, double distance_kt_s) -> float:
    """``Handoff._time_to``'s climb or descent (gateway/handoff/engine.py): the seconds to
    fly ``distance_kt_s`` (knot-seconds) at ``v`` kt from flight level ``fl`` climbing or
    descending at ``roc_fpm``, in 5 s steps, the true airspeed scaled 2 % per 1,000 ft and
    capped by the approach schedule below FL100 when descending.  Python's arithmetic to
    the bit: the same IEEE operations in the same order (no fused multiply-add), its
    ``min`` and ``max`` as they choose (the second only when strictly past the first), a
    division by zero raising as Python's.  tests/test_handoff_time_to.py holds it to the
    Python loop it replaces; it runs for every flight near a boundary that is climbing or
    descending, every prediction, and the loop takes up to 1,440 steps."""
    cdef double tas0, climb, t, left, speed, step, cap, x
    cdef bint descending = roc_fpm < 0
    x = 0.0 if 0.0 > fl else fl
    tas0 = 1.0 + 0.02 * x / 10.0
    climb = roc_fpm / 100 / 60 * 5.0
    t, left = 0.0, distance_kt_s
    while t < 7200:
        x = 0.0 if 0.0 > fl else fl
        speed = v * (1.0 + 0.02 * x / 10.0) / tas0
        if descending and fl < 100.0:
            x = (fl - 25.0) / 45.0
            x = 0.0 if 0.0 > x else x
            x = 1.0 if 1.0 < x else x
            cap = 150.0 + 100.0 * x
            if cap < speed:
                speed = cap
        step = speed * 5.0
        if left <= step:
            return t + left / speed
        left -= step
        t += 5.0
        x = fl + climb
        fl = 0.0 if 0.0 > x else x
    return t
