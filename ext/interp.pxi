# numpy's interp of one value, shared by the kernels that look up the conformal frame's
# scale table (ext/columns.pyx: plots to measurements; ext/fused.pyx: fused messages), so
# the two read the same bits as numpy.interp and as each other.  Included, not cimported:
# each extension compiles it with its own flags (both -ffp-contract=off).

cdef inline double _interp(double x, const double* xp, const double* fp, Py_ssize_t n
                           ) noexcept nogil:
    """numpy's ``interp(x, xp, fp)`` of one value (xp strictly increasing, len >= 2):
    nan stays nan, the end values outside, fp[j] on a knot (and at the last one), else
    ``slope * (x - xp[j]) + fp[j]`` with numpy's slope, and its way round a nan."""
    cdef Py_ssize_t lo = 0, hi = n, mid, j
    cdef double slope, r
    if x != x:
        return x
    if x > xp[n - 1]:
        return fp[n - 1]
    if x < xp[0]:
        return fp[0]
    # The knot where x would be if the knots were evenly spaced (the frame's table is:
    # 17,801 of them, so the search took 15 steps a lookup, twice per plot and message):
    # it narrows the search's bracket, whose invariant and answer stay the same.
    cdef double guess = (x - xp[0]) / (xp[n - 1] - xp[0]) * <double>(n - 1)
    mid = <Py_ssize_t>guess if 0.0 <= guess < <double>n else 0  # (nan: 0)
    if mid > n - 1:
        mid = n - 1
    if x >= xp[mid]:
        lo = mid
        if mid + 1 < n and x < xp[mid + 1]:
            hi = mid + 1
    else:
        hi = mid
    while hi - lo > 1:  # xp[lo] <= x < xp[hi] (xp[n]: beyond the end)
        mid = lo + (hi - lo) // 2
        if x >= xp[mid]:
            lo = mid
        else:
            hi = mid
    j = lo
    if j == n - 1 or xp[j] == x:
        return fp[j]
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    r = slope * (x - xp[j]) + fp[j]
    if r != r:
        r = slope * (x - xp[j + 1]) + fp[j + 1]
        if r != r and fp[j] == fp[j + 1]:
            r = fp[j]
    return r
