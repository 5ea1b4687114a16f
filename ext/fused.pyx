# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The tracker's output side in C: ``Fused`` message structs from the track table's
columns and the batch's states, one per published row, in one call (``messages``).

An SDPS cycle publishes ~1,000 tracks, a radar's sector ~7.  Built in Python, each message
cost a zip of eleven lists, a dozen None tests and a keyword call of the Struct type (its
keyword names parsed again every time); then three kernels and a dozen numpy calls per
batch made the columns first (the table's side, the frame's scale, the figures, the track
angle), which for a batch of 7 cost more than the messages.  Here one pass of C computes
each figure in numpy's order of operations (compiled without fused multiply-add, so the
numbers are numpy's to the bit), turns nan into None as the Python path did, makes each
message's list of SourceRefs from the flat list of the batch, and calls the Struct type
once per message through vectorcall with a tuple of keyword names made once.  The
projection and arctan2 stay outside (frame.py's Conic, numpy: whose SIMD arctan2 is not
libm's to the bit).

Every index the caller gives (row, state, source span) is checked before it is read: a bad
one is a ValueError, never a read out of bounds.
"""

from cpython.dict cimport PyDict_Check, PyDict_GetItem
from cpython.ref cimport PyObject
from libc.math cimport NAN, copysign, fmax, fmod, hypot, sqrt
from libc.stdlib cimport free, malloc
from libc.stdint cimport int8_t, int64_t
from libc.string cimport memcpy

cimport numpy as cnp

cnp.import_array()


cdef extern from "Python.h":
    object PyObject_Vectorcall(object callable, PyObject** args, size_t nargsf,
                               object kwnames)
    object PyFloat_FromDouble(double v)

# the keyword names, in the order of ``argv`` below: made once
cdef tuple _NAMES = ("t", "id", "state", "lat", "lon", "fl", "gs_kt", "trk_deg", "roc_fpm",
                     "mode3a", "icao24", "callsign", "pos_sigma_m", "sources", "fpl")
cdef tuple _NAMES_FLAGGED = _NAMES + ("extrapolated", "hidden")


cdef inline object _float_or_none(double v):
    return None if v != v else PyFloat_FromDouble(v)


cdef inline double _speed(double vx, double vy, double pxx, double pyy, double k, double kt,
                          double velocity_sigma) noexcept nogil:
    """Ground speed (knots): hypot / (k * KT); nan where the velocity's variance (the
    trace) >= (sigma * k) ** 2."""
    cdef double s = velocity_sigma * k
    if pxx + pyy >= s * s:
        return NAN
    return hypot(vx, vy) / (k * kt)


cdef inline double _sigma(double a, double b, double d, double k) noexcept nogil:
    """The position's one-sigma on the ground: filter.max_eigen2 of [[a, b], [b, d]],
    rooted, over k."""
    cdef double half = 0.5 * (a + d)
    cdef double q = 0.25 * ((a - d) * (a - d)) + b * b
    if not (q >= 0.0 or q != q):  # np.maximum(q, 0.0): nan stays nan
        q = 0.0
    return sqrt(half + sqrt(q)) / k


cdef inline double _roc(double rate_var, double level, double rate, double roc_sdps,
                        double fpm_per_fl_s, double fpm2, double roc_var_limit) noexcept nogil:
    """Rate of climb (fpm): the level filter's (its ``rate`` in FL/s, of variance
    ``rate_var``), else (vague, or no ``level`` yet) the SDPS's."""
    if rate_var * fpm2 >= roc_var_limit or level != level:
        return roc_sdps
    return rate * fpm_per_fl_s

cdef inline object _message(object cls, PyObject** argv, object t, object label,
                            object state, object lat, object lon, object fl, object gs,
                            object trk, object roc, object mode3a, object icao24,
                            object callsign, object sigma, object sources, object plan,
                            bint extrapolated, bint hidden):
    """One ``cls`` by vectorcall with the keyword names made once (``argv``: room for 17);
    the two flags only when one is set (else their defaults)."""
    argv[0] = <PyObject*>t
    argv[1] = <PyObject*>label
    argv[2] = <PyObject*>state
    argv[3] = <PyObject*>lat
    argv[4] = <PyObject*>lon
    argv[5] = <PyObject*>fl
    argv[6] = <PyObject*>gs
    argv[7] = <PyObject*>trk
    argv[8] = <PyObject*>roc
    argv[9] = <PyObject*>mode3a
    argv[10] = <PyObject*>icao24
    argv[11] = <PyObject*>callsign
    argv[12] = <PyObject*>sigma
    argv[13] = <PyObject*>sources
    argv[14] = <PyObject*>plan
    cdef object flag_extrapolated, flag_hidden  # objects: a bint cast to PyObject* is no bool
    if extrapolated or hidden:
        flag_extrapolated = True if extrapolated else False
        flag_hidden = True if hidden else False
        argv[15] = <PyObject*>flag_extrapolated
        argv[16] = <PyObject*>flag_hidden
        return PyObject_Vectorcall(cls, argv, 0, _NAMES_FLAGGED)
    return PyObject_Vectorcall(cls, argv, 0, _NAMES)


cdef inline object _text(object table, int64_t code):
    """``table[code]`` of a code's text table (a dict; a subclass's ``__missing__`` makes
    what it lacks, by subscription as before): a hit read without the subclass's slot
    lookup, which cost as much as the rest of the lookup."""
    cdef object key = code
    cdef PyObject* hit = PyDict_GetItem(table, key)
    if hit != NULL:
        return <object>hit
    return table[key]


cdef double RAD_TO_DEG = 180.0 / 3.141592653589793  # numpy's degrees: x * (180 / NPY_PI)


include "interp.pxi"
include "arrays.pxi"  # the one check of an array read raw


cdef inline double _track(double bearing, double lon, double cone, double lon_0
                          ) noexcept nogil:
    """``np.degrees(bearing - cone * (lon - lon_0)) % 360.0`` of one value, numpy's
    roundings in its order (the remainder is npy_remainder's: fmod, then the divisor's
    sign, +0.0 for an exact multiple)."""
    cdef double d = (bearing - cone * (lon - lon_0)) * RAD_TO_DEG
    cdef double mod = fmod(d, 360.0)
    if mod != 0.0:  # nan too
        if mod < 0.0:
            mod += 360.0
    else:
        mod = copysign(0.0, 360.0)
    return mod


cdef class Output:
    """What a tracker's messages take that does not change with the batch: the message
    type and state names, the code and address texts, the frame's scale table and cone,
    the identity columns, the reporting limits (``messages`` reads them)."""

    cdef object cls, octal, hexes
    cdef tuple state_names
    cdef const double[::1] scale_lat
    cdef const double[::1] scale
    cdef double cone, lon_0, kt, velocity_sigma, fpm_per_fl_s, roc_var_limit
    cdef Py_ssize_t mode3a, address
    cdef int64_t coasting, ended

    def __init__(self, object cls, tuple state_names, object octal, object hexes,
                 const double[::1] scale_lat, const double[::1] scale, double cone,
                 double lon_0, Py_ssize_t mode3a, Py_ssize_t address, int64_t coasting,
                 int64_t ended, double kt, double velocity_sigma, double fpm_per_fl_s,
                 double roc_var_limit) -> None:
        cdef Py_ssize_t i
        if scale_lat.shape[0] < 2 or scale.shape[0] != scale_lat.shape[0]:
            raise ValueError("Output: the scale table needs two knots or more, one value each")
        for i in range(1, scale_lat.shape[0]):
            if not scale_lat[i] > scale_lat[i - 1]:
                raise ValueError("Output: the scale table's latitudes do not increase")
        if not 0 <= ended < len(state_names) or not 0 <= coasting < len(state_names):
            raise ValueError("Output: no such state")
        if not (PyDict_Check(octal) and PyDict_Check(hexes)):
            raise TypeError("Output: the code and address texts are not dicts")
        self.cls, self.state_names, self.octal, self.hexes = cls, state_names, octal, hexes
        self.scale_lat, self.scale = scale_lat, scale
        self.cone, self.lon_0 = cone, lon_0
        self.mode3a, self.address = mode3a, address
        self.coasting, self.ended = coasting, ended
        self.kt, self.velocity_sigma = kt, velocity_sigma
        self.fpm_per_fl_s, self.roc_var_limit = fpm_per_fl_s, roc_var_limit


include "views.pxi"  # the accessors of an Array


def messages(Output o, object rows, object x, object P, object t, bint at_rows, object lat,
             object lon, object bearing, object t_out, object ident, object state,
             object t_hidden, object t_update, object level, object roc_sdps, list labels,
             list callsigns, list plans, list refs, object order, object starts,
             object ends, bint ended=False, bint extrapolated=False) -> list:
    """The Fused messages of track ``rows`` (gateway/associate/tracker.py's ``_messages``)
    in one call: the identity columns and states, the frame's ``scale`` (numpy's interp),
    speed, position sigma, rate of climb and level, the track angle (numpy's degrees and
    remainder of the bearing ``arctan2(vx, vy)`` less the frame's north) and the
    structs, with no arrays made in between.  x [n, >=4], lat, lon and bearing (numpy's
    arctan2: its SIMD one is not libm's to the bit) are one per row; P and t too, or
    (``at_rows``) the table's, read at the rows.  t_out of each row moves on to
    fmax(t_out, t), every one computed before any is written.  ``ended``: every message
    in state "ended", none hidden.  Sources: ``refs`` None gives each message an empty
    list; else message i has ``refs[order[k]]`` for k in ``starts[i]:ends[i]`` (``order``
    None: k itself, ``starts`` None: k = i alone).  Arrays are numpy's, aligned, any
    strides: float64, rows/ident/order/starts/ends int64, state int8.  Each figure is
    computed in numpy's order of operations (compiled without fused multiply-add), so the
    messages are those of the numpy path to the bit (tests/test_fused_kernel.py).  A bad
    row, state or source index is a ValueError, never a read out of bounds."""
    cdef Array rows_, x_, P_, t_, lat_, lon_, bearing_, t_out_, ident_, state_, t_hidden_
    cdef Array t_update_, level_, roc_sdps_, o_, s_, e_
    cdef Py_ssize_t n, cap, i, k, a, b, at, n_order = 0
    cdef Py_ssize_t n_refs = 0 if refs is None else len(refs)
    cdef Py_ssize_t n_names = len(o.state_names)
    cdef bint has_order = order is not None, has_span = starts is not None
    cdef int64_t r, st, m3a, adr
    cdef double kk, g, fpm2 = o.fpm_per_fl_s * o.fpm_per_fl_s
    cdef bint hidden
    cdef PyObject* argv[17]
    cdef list out, group
    cdef object o_gs, o_trk, o_src
    cdef double* new_t
    cdef const double* xp = &o.scale_lat[0]
    cdef const double* fp = &o.scale[0]
    cdef Py_ssize_t n_knots = o.scale_lat.shape[0]
    _array(rows, cnp.NPY_INT64, 1, 0, &rows_, "messages: rows")
    _array(x, cnp.NPY_FLOAT64, 2, 0, &x_, "messages: x")
    _array(P, cnp.NPY_FLOAT64, 3, 0, &P_, "messages: P")
    _array(t, cnp.NPY_FLOAT64, 1, 0, &t_, "messages: t")
    _array(lat, cnp.NPY_FLOAT64, 1, 0, &lat_, "messages: lat")
    _array(lon, cnp.NPY_FLOAT64, 1, 0, &lon_, "messages: lon")
    _array(bearing, cnp.NPY_FLOAT64, 1, 0, &bearing_, "messages: bearing")
    _array(t_out, cnp.NPY_FLOAT64, 1, WRITABLE, &t_out_, "messages: t_out")
    _array(ident, cnp.NPY_INT64, 2, 0, &ident_, "messages: ident")
    _array(state, cnp.NPY_INT8, 1, 0, &state_, "messages: state")
    _array(t_hidden, cnp.NPY_FLOAT64, 1, 0, &t_hidden_, "messages: t_hidden")
    _array(t_update, cnp.NPY_FLOAT64, 1, 0, &t_update_, "messages: t_update")
    _array(level, cnp.NPY_FLOAT64, 2, 0, &level_, "messages: level")
    _array(roc_sdps, cnp.NPY_FLOAT64, 1, 0, &roc_sdps_, "messages: roc_sdps")
    n, cap = rows_.shape[0], t_out_.shape[0]
    if (x_.shape[0] != n or lat_.shape[0] != n or lon_.shape[0] != n
            or bearing_.shape[0] != n or P_.shape[0] != (cap if at_rows else n)
            or t_.shape[0] != (cap if at_rows else n)):
        raise ValueError("messages: x, P, t, lat, lon, bearing and rows differ in length")
    if n and (x_.shape[1] < 4 or P_.shape[1] < 4 or P_.shape[2] < 4 or level_.shape[1] < 8):
        raise ValueError("messages: x, P or level too narrow")
    if (ident_.shape[0] != cap or state_.shape[0] != cap or t_hidden_.shape[0] != cap
            or t_update_.shape[0] != cap or level_.shape[0] != cap
            or roc_sdps_.shape[0] != cap or len(labels) != cap or len(callsigns) != cap
            or len(plans) != cap):
        raise ValueError("messages: the table's columns differ in length")
    if not (0 <= o.mode3a < ident_.shape[1] and 0 <= o.address < ident_.shape[1]):
        raise ValueError("messages: no such identity column")
    for i in range(n):
        r = _i(&rows_, i)
        if r < 0 or r >= cap:
            raise ValueError(f"messages: row {r} outside the table ({cap})")
        if not ended and not 0 <= _b(&state_, r) < n_names:
            raise ValueError(f"messages: state {_b(&state_, r)} outside 0..{n_names - 1}")
    if has_order:
        _array(order, cnp.NPY_INT64, 1, 0, &o_, "messages: order")
        n_order = o_.shape[0]
        for k in range(n_order):
            if _i(&o_, k) < 0 or _i(&o_, k) >= n_refs:
                raise ValueError(f"messages: source index {_i(&o_, k)} outside "
                                 f"0..{n_refs - 1}")
    if refs is not None:
        if has_span:
            _array(starts, cnp.NPY_INT64, 1, 0, &s_, "messages: starts")
            _array(ends, cnp.NPY_INT64, 1, 0, &e_, "messages: ends")
            if s_.shape[0] != n or e_.shape[0] != n:
                raise ValueError("messages: starts and ends are not one per row")
            for i in range(n):
                if not 0 <= _i(&s_, i) <= _i(&e_, i) <= (n_order if has_order else n_refs):
                    raise ValueError(f"messages: source span {_i(&s_, i)}:{_i(&e_, i)} "
                                     "is bad")
        elif (n_order if has_order else n_refs) != n:
            raise ValueError("messages: not one source per row")
    new_t = <double*>malloc(max(n, 1) * sizeof(double))
    if new_t == NULL:
        raise MemoryError()
    out = [None] * n
    try:
        for i in range(n):
            r = _i(&rows_, i)
            at = r if at_rows else i
            new_t[i] = fmax(_f(&t_out_, r), _f(&t_, at))
            m3a = _i(&ident_, r, o.mode3a)
            adr = _i(&ident_, r, o.address)
            if ended:
                st = o.ended
                hidden = False
            else:
                st = _b(&state_, r)
                hidden = st == o.coasting and _f(&t_hidden_, r) >= _f(&t_update_, r)
            kk = _interp(_f(&lat_, i), xp, fp, n_knots)
            g = _speed(_f(&x_, i, 2), _f(&x_, i, 3), _f(&P_, at, 2, 2), _f(&P_, at, 3, 3),
                       kk, o.kt, o.velocity_sigma)
            if g != g:
                o_gs = None
                o_trk = None
            else:
                o_gs = PyFloat_FromDouble(g)
                g = _track(_f(&bearing_, i), _f(&lon_, i), o.cone, o.lon_0)
                o_trk = PyFloat_FromDouble(g if g < 360.0 else 0.0)
            if refs is None:
                o_src = []
            else:
                if has_span:
                    a, b = _i(&s_, i), _i(&e_, i)
                else:
                    a, b = i, i + 1
                group = [None] * (b - a)
                for k in range(a, b):
                    group[k - a] = refs[_i(&o_, k) if has_order else k]
                o_src = group
            out[i] = _message(
                o.cls, argv, PyFloat_FromDouble(_f(&t_, at)), labels[r], o.state_names[st],
                PyFloat_FromDouble(_f(&lat_, i)), PyFloat_FromDouble(_f(&lon_, i)),
                _float_or_none(_f(&level_, r, 7)), o_gs, o_trk,
                _float_or_none(_roc(_f(&level_, r, 5), _f(&level_, r, 0), _f(&level_, r, 1),
                                    _f(&roc_sdps_, r), o.fpm_per_fl_s, fpm2,
                                    o.roc_var_limit)),
                None if m3a < 0 else _text(o.octal, m3a),
                None if adr < 0 else _text(o.hexes, adr),
                callsigns[r],
                PyFloat_FromDouble(_sigma(_f(&P_, at, 0, 0), _f(&P_, at, 0, 1),
                                          _f(&P_, at, 1, 1), kk)),
                o_src, plans[r], extrapolated, hidden)
        for i in range(n):
            _fw(&t_out_, _i(&rows_, i))[0] = new_t[i]
    finally:
        free(new_t)
    return out
