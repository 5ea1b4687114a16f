# The state's time after an update, shared by ext/cycle.pyx (``advance``: the numpy filter
# path) and ext/tracking.pyx (``imm_absorb``: the IMM's update in one call), so that both
# move a track's time the same way.


cdef Py_ssize_t _advance_times(double[::1] t, const int64_t[:] rows, const double[:] dt,
                               double* later) noexcept nogil:
    """t[rows] = fmax(t[rows], t[rows] + dt): a late measurement's update leaves the time
    where it was.  All read before any is written (``later``: room for len(rows)), as
    numpy's ``t[rows] = ...``; returns how many dt < 0 (updates in the past)."""
    cdef Py_ssize_t i, n = rows.shape[0], back = 0
    for i in range(n):
        later[i] = fmax(t[rows[i]], t[rows[i]] + dt[i])
        if dt[i] < 0:
            back += 1
    for i in range(n):
        t[rows[i]] = later[i]
    return back
