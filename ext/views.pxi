# The accessors of an array read by pointer (arrays.pxi's ``Array``, taken by ``_array``),
# shared by the kernels whose calls take many small arrays (ext/fused.pyx,
# ext/lifecycle.pyx).  Needs arrays.pxi included first, and int8_t/int64_t.


cdef inline double _f(const Array* v, Py_ssize_t i, Py_ssize_t j=0, Py_ssize_t k=0
                      ) noexcept nogil:
    return (<const double*>(v.data + i * v.strides[0] + j * v.strides[1]
                            + k * v.strides[2]))[0]


cdef inline int64_t _i(const Array* v, Py_ssize_t i, Py_ssize_t j=0) noexcept nogil:
    return (<const int64_t*>(v.data + i * v.strides[0] + j * v.strides[1]))[0]


cdef inline int8_t _b(const Array* v, Py_ssize_t i) noexcept nogil:
    return (<const int8_t*>(v.data + i * v.strides[0]))[0]


cdef inline double* _fw(const Array* v, Py_ssize_t i, Py_ssize_t j=0, Py_ssize_t k=0
                        ) noexcept nogil:
    """A writable float64 element of an array taken ``WRITABLE``."""
    return <double*>(v.data + i * v.strides[0] + j * v.strides[1] + k * v.strides[2])


cdef inline int64_t* _iw(const Array* v, Py_ssize_t i) noexcept nogil:
    """A writable int64 element of a 1-d array taken ``WRITABLE``."""
    return <int64_t*>(v.data + i * v.strides[0])


cdef inline int8_t* _bw(const Array* v, Py_ssize_t i) noexcept nogil:
    """A writable int8 element of a 1-d array taken ``WRITABLE``."""
    return <int8_t*>(v.data + i * v.strides[0])
