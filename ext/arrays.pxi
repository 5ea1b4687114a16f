# numpy arrays by numpy's C API, shared by the kernels: the one check of an array a kernel
# reads raw (``_array``), and small result arrays (``_int64s``).  Needs ``cimport numpy as
# cnp`` (and numpy's import_array), libc's memcpy and int64_t.


cdef struct Array:  # a numpy array's data, shape and strides (bytes), up to 3-d
    char* data
    Py_ssize_t shape[3]
    Py_ssize_t strides[3]


cdef enum:  # what ``_array`` asks of an array besides its type and dimensions
    WRITABLE = 1
    CONTIGUOUS = 2  # C-contiguous


cdef inline int _array(object a, int typenum, int ndim, int need, Array* out, str name) except -1:
    """``out`` from the numpy array ``a`` of type ``typenum`` and ``ndim`` (1 to 3)
    dimensions, which a kernel reads raw: so aligned and in native byte order, and
    writable or C-contiguous if ``need`` says so; dimensions past ``ndim`` read as one
    row of stride 0.  A few pointer reads where a typed memoryview costs ~0.1-0.2 us to
    take (a batch's call takes a dozen arrays).  The caller's reference keeps the array
    alive."""
    cdef cnp.ndarray arr
    cdef int d
    if not cnp.PyArray_Check(a):
        raise TypeError(f"{name} is not a numpy array")
    arr = <cnp.ndarray>a
    if (cnp.PyArray_TYPE(arr) != typenum or cnp.PyArray_NDIM(arr) != ndim
            or not cnp.PyArray_ISALIGNED(arr) or not cnp.PyArray_ISNOTSWAPPED(arr)
            or (need & WRITABLE and not cnp.PyArray_ISWRITEABLE(arr))
            or (need & CONTIGUOUS and not cnp.PyArray_IS_C_CONTIGUOUS(arr))):
        raise ValueError(
            f"{name} is not an aligned{' writable' if need & WRITABLE else ''}"
            f"{' C-contiguous' if need & CONTIGUOUS else ''} {ndim}-d"
            f" {cnp.PyArray_DescrFromType(typenum)} array in native byte order")
    out.data = cnp.PyArray_BYTES(arr)
    for d in range(3):
        out.shape[d] = cnp.PyArray_DIM(arr, d) if d < ndim else 1
        out.strides[d] = cnp.PyArray_STRIDE(arr, d) if d < ndim else 0
    return 0


cdef inline cnp.ndarray _int64s(const int64_t* a, Py_ssize_t n):
    """A new int64 array [n] of a[:n], by numpy's C API (``np.empty`` and a slice, at the
    Python level, cost more than the copy)."""
    cdef cnp.npy_intp d = n
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(1, &d, cnp.NPY_INT64, 0)
    if n:
        memcpy(cnp.PyArray_DATA(out), a, n * sizeof(int64_t))
    return out


cdef inline const char* _column(object a, int typenum, int need, Py_ssize_t* n, Py_ssize_t* stride,
                         str name) except NULL:
    """The data of the 1-d array ``a`` (``_array``'s checks), its length into ``n`` and,
    unless NULL, its stride (bytes) into ``stride``."""
    cdef Array arr
    _array(a, typenum, 1, need, &arr, name)
    n[0] = arr.shape[0]
    if stride != NULL:
        stride[0] = arr.strides[0]
    return arr.data
