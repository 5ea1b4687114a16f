# Small result arrays by numpy's C API, shared by the kernels that make them (ext/cycle.pyx,
# ext/gating.pyx).  Needs ``cimport numpy as cnp`` (and numpy's import_array), libc's
# memcpy and int64_t.


cdef cnp.ndarray _int64s(const int64_t* a, Py_ssize_t n):
    """A new int64 array [n] of a[:n], by numpy's C API (``np.empty`` and a slice, at the
    Python level, cost more than the copy)."""
    cdef cnp.npy_intp d = n
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(1, &d, cnp.NPY_INT64, 0)
    if n:
        memcpy(cnp.PyArray_DATA(out), a, n * sizeof(int64_t))
    return out
