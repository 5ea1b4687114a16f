# Arrays read by pointer (a View: data, shape, strides), shared by the kernels whose calls
# take many small arrays (ext/fused.pyx, ext/lifecycle.pyx): a typed memoryview costs
# ~0.2 us to take (a buffer request, its format string parsed, a memoryview object), more
# than a call's elements.  Needs ``cimport numpy as cnp`` and int8_t/int64_t.


cdef struct View:
    # an array's data, shape and strides (bytes), read by _f/_i/_b below
    char* data
    Py_ssize_t shape[3]
    Py_ssize_t strides[3]


cdef int _view(object a, int typenum, int ndim, bint writable, View* v,
               str name) except -1:
    """v: the numpy array ``a``, which must be aligned, of that type and number of
    dimensions (writable if asked).  A typed memoryview costs ~0.2 us to take, most of an
    empty call when a batch has 16 arrays; this is a few pointer reads.  The caller's
    arguments keep the arrays alive for the call."""
    cdef cnp.ndarray arr
    cdef int d
    if not cnp.PyArray_Check(a):
        raise TypeError(f"{name} is not a numpy array")
    arr = <cnp.ndarray>a
    if (cnp.PyArray_TYPE(arr) != typenum or cnp.PyArray_NDIM(arr) != ndim
            or not cnp.PyArray_ISALIGNED(arr) or not cnp.PyArray_ISNOTSWAPPED(arr)
            or (writable and not cnp.PyArray_ISWRITEABLE(arr))):
        raise ValueError(f"{name} is not an aligned{' writable' if writable else ''}"
                         f" {ndim}-d array of its type in native byte order")
    v.data = cnp.PyArray_BYTES(arr)
    for d in range(ndim):
        v.shape[d] = cnp.PyArray_DIM(arr, d)
        v.strides[d] = cnp.PyArray_STRIDE(arr, d)
    return 0


cdef inline double _f(const View* v, Py_ssize_t i, Py_ssize_t j=0, Py_ssize_t k=0
                      ) noexcept nogil:
    return (<const double*>(v.data + i * v.strides[0] + j * v.strides[1]
                            + k * v.strides[2]))[0]


cdef inline int64_t _i(const View* v, Py_ssize_t i, Py_ssize_t j=0) noexcept nogil:
    return (<const int64_t*>(v.data + i * v.strides[0] + j * v.strides[1]))[0]


cdef inline int8_t _b(const View* v, Py_ssize_t i) noexcept nogil:
    return (<const int8_t*>(v.data + i * v.strides[0]))[0]


cdef inline double* _fw(const View* v, Py_ssize_t i, Py_ssize_t j=0, Py_ssize_t k=0
                        ) noexcept nogil:
    """A writable float64 element of a view taken ``writable``."""
    return <double*>(v.data + i * v.strides[0] + j * v.strides[1] + k * v.strides[2])


cdef inline int64_t* _iw(const View* v, Py_ssize_t i) noexcept nogil:
    """A writable int64 element of a 1-d view taken ``writable``."""
    return <int64_t*>(v.data + i * v.strides[0])


cdef inline int8_t* _bw(const View* v, Py_ssize_t i) noexcept nogil:
    """A writable int8 element of a 1-d view taken ``writable``."""
    return <int8_t*>(v.data + i * v.strides[0])
