# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The tracker's output side in C: ``Fused`` message structs from the track table's
columns, one per published row.

An SDPS cycle publishes ~1,000 tracks.  Built in Python, each message cost a zip of eleven
lists, a dozen None tests and a keyword call of the Struct type (its keyword names parsed
again every time); the sources of each message were grouped into lists by a comprehension
beforehand.  Here one pass of C reads the columns (already computed by numpy, so the
numbers are the same objects' values), turns nan into None as the Python path did, makes
each message's list of SourceRefs from the flat list of the batch, and calls the Struct
type once per message through vectorcall with a tuple of keyword names made once.

Every index the caller gives (row, state, source span) is checked before it is read: a bad
one is a ValueError, never a read out of bounds.
"""

from cpython.ref cimport PyObject
from libc.math cimport NAN, fmax, hypot, sqrt
from libc.stdint cimport int8_t, int64_t, uint8_t

import numpy as np


cdef extern from "Python.h":
    object PyObject_Vectorcall(object callable, PyObject** args, size_t nargsf,
                               object kwnames)
    object PyFloat_FromDouble(double v)

# the keyword names, in the order of ``argv`` below: made once
cdef tuple _NAMES = ("t", "id", "state", "lat", "lon", "fl", "gs_kt", "trk_deg", "roc_fpm",
                     "mode3a", "icao24", "callsign", "pos_sigma_m", "sources", "fpl")
cdef tuple _NAMES_FLAGGED = _NAMES + ("extrapolated", "hidden")
cdef Py_ssize_t _N = 15


cdef inline object _float_or_none(double v):
    return None if v != v else PyFloat_FromDouble(v)


def track_figures(const double[:, :] x, const double[:, :, :] P, const double[::1] k,
                  const double[:, :] level, const double[:] roc_sdps,
                  const int64_t[::1] rows, double kt, double velocity_sigma,
                  double fpm_per_fl_s, double roc_var_limit) -> tuple:
    """What a message reports of each row's state (x [n, >=4], P [n, >=4, >=4] in the
    plane, k the point scale at each): ground speed (knots, nan while the velocity's
    variance, the trace, is at or above ``velocity_sigma`` m/s squared), the position's
    one-sigma (the 2x2 covariance's larger eigenvalue, rooted), the rate of climb (fpm;
    the row's SDPS rate where the level filter's rate is vague: its variance at or above
    ``roc_var_limit`` fpm^2, or no level yet) and the latest level, of the track table's
    ``level`` and ``roc_sdps`` at ``rows``.

    These were a dozen numpy calls per message batch (gateway/associate/tracker.py's
    ``_messages``); each figure here is computed in numpy's order of operations, one
    rounding each (compiled without fused multiply-add), so the numbers are the same to
    the bit (tests/test_fused_kernel.py).  A row outside the table is a ValueError."""
    cdef Py_ssize_t n = rows.shape[0], i
    cdef Py_ssize_t capacity = level.shape[0]
    cdef int64_t r
    cdef double a, b, d, q, half, v_var, s, fpm2 = fpm_per_fl_s * fpm_per_fl_s
    if x.shape[0] != n or P.shape[0] != n or k.shape[0] != n:
        raise ValueError("track_figures: x, P, k and rows differ in length")
    if n and (x.shape[1] < 4 or P.shape[1] < 4 or P.shape[2] < 4 or level.shape[1] < 8):
        raise ValueError("track_figures: x, P or level too narrow")
    if roc_sdps.shape[0] != capacity:
        raise ValueError("track_figures: level and roc_sdps differ in length")
    for i in range(n):
        if rows[i] < 0 or rows[i] >= capacity:
            raise ValueError(f"track_figures: row {rows[i]} outside the table ({capacity})")
    gs = np.empty(n)
    sigma = np.empty(n)
    roc = np.empty(n)
    fl = np.empty(n)
    cdef double[::1] gs_ = gs, sigma_ = sigma, roc_ = roc, fl_ = fl
    with nogil:
        for i in range(n):
            r = rows[i]
            # ground speed: hypot / (k * KT); nan where the trace >= (sigma * k) ** 2
            v_var = P[i, 2, 2] + P[i, 3, 3]
            s = velocity_sigma * k[i]
            if v_var >= s * s:
                gs_[i] = NAN
            else:
                gs_[i] = hypot(x[i, 2], x[i, 3]) / (k[i] * kt)
            # filter.max_eigen2, rooted, over k
            a = P[i, 0, 0]
            b = P[i, 0, 1]
            d = P[i, 1, 1]
            half = 0.5 * (a + d)
            q = 0.25 * ((a - d) * (a - d)) + b * b
            if not (q >= 0.0 or q != q):  # np.maximum(q, 0.0): nan stays nan
                q = 0.0
            sigma_[i] = sqrt(half + sqrt(q)) / k[i]
            # rate of climb: the filter's, else the SDPS's
            if level[r, 5] * fpm2 >= roc_var_limit or level[r, 0] != level[r, 0]:
                roc_[i] = roc_sdps[r]
            else:
                roc_[i] = level[r, 1] * fpm_per_fl_s
            fl_[i] = level[r, 7]
    return gs, sigma, roc, fl


def row_columns(const int64_t[::1] rows, const double[:] t, double[::1] t_out,
                const int64_t[:, ::1] ident, const int8_t[::1] state,
                const double[::1] t_hidden, const double[::1] t_update, Py_ssize_t mode3a,
                Py_ssize_t address, int64_t coasting, int64_t ended) -> tuple:
    """The table's side of a message batch (gateway/associate/tracker.py's ``_messages``,
    where it was eight numpy calls): each row's time of its latest message moved on to
    ``t`` (t_out := fmax(t_out, t)), its ``mode3a`` and ``address`` columns of ``ident``,
    its state (``ended`` >= 0: that index for every row, and no hidden flags: None) and
    whether it is hidden: coasting, and held by the coverage model since its latest
    update (t_hidden >= t_update), as uint8.  Every t_out is computed before any is
    written (numpy's fancy indexing: of repeated rows the last one stands).  A row outside
    the table or a column outside ``ident`` is an IndexError."""
    cdef Py_ssize_t n = rows.shape[0], cap = t_out.shape[0], i
    cdef int64_t r
    if t.shape[0] != n:
        raise ValueError("row_columns: rows and t differ in length")
    if (ident.shape[0] != cap or state.shape[0] != cap or t_hidden.shape[0] != cap
            or t_update.shape[0] != cap):
        raise ValueError("row_columns: the table's columns differ in length")
    if not (0 <= mode3a < ident.shape[1] and 0 <= address < ident.shape[1]):
        raise IndexError("row_columns: no such identity column")
    for i in range(n):
        if rows[i] < 0 or rows[i] >= cap:
            raise IndexError(f"row_columns: row {rows[i]} outside the table ({cap})")
    m3a = np.empty(n, dtype=np.int64)
    adr = np.empty(n, dtype=np.int64)
    st = np.empty(n, dtype=np.int64)
    new = np.empty(n)
    hidden = None if ended >= 0 else np.empty(n, dtype=np.uint8)
    cdef int64_t[::1] m3a_ = m3a, adr_ = adr, st_ = st
    cdef double[::1] new_ = new
    cdef uint8_t[::1] h_
    if hidden is not None:
        h_ = hidden
    with nogil:
        for i in range(n):
            r = rows[i]
            new_[i] = fmax(t_out[r], t[i])
            m3a_[i] = ident[r, mode3a]
            adr_[i] = ident[r, address]
            if ended >= 0:
                st_[i] = ended
            else:
                st_[i] = state[r]
                h_[i] = st_[i] == coasting and t_hidden[r] >= t_update[r]
        for i in range(n):
            t_out[rows[i]] = new_[i]
    return m3a, adr, st, hidden


def fused_messages(object cls, const double[::1] t, const double[::1] lat,
                   const double[::1] lon, const double[::1] fl, const double[::1] gs,
                   const double[::1] trk, const double[::1] roc, const double[::1] pos_sigma,
                   const int64_t[::1] mode3a, const int64_t[::1] address,
                   const int64_t[::1] rows, const int64_t[::1] state, tuple state_names,
                   list labels, list callsigns, list plans, object octal, object hexes,
                   list refs, object order, object starts, object ends,
                   bint extrapolated=False, object hidden=None) -> list:
    """One ``cls`` (gateway.messages.Fused) per row: columns of length n (``rows``: the
    track rows, indexes into ``labels``/``callsigns``/``plans``; ``state``: indexes into
    ``state_names``; identities -1 -> None, else ``octal``/``hexes``[value]).  Sources:
    ``refs`` None gives each message an empty list; else message i has
    ``refs[order[k]]`` for k in ``starts[i]:ends[i]`` (``order`` None: k itself, ``starts``
    None: k = i alone).  ``hidden`` (uint8 per row, or None) and ``extrapolated`` set the
    flags of those names (a row with neither is made without them: their defaults)."""
    cdef Py_ssize_t n = rows.shape[0], i, k, a, b
    cdef Py_ssize_t n_labels = len(labels), n_names = len(state_names)
    cdef Py_ssize_t n_refs = 0 if refs is None else len(refs)
    cdef const int64_t[::1] o_, s_, e_
    cdef const uint8_t[::1] h_
    cdef bint has_order = order is not None, has_span = starts is not None
    cdef bint has_hidden = hidden is not None
    cdef int64_t r, s
    cdef double g, tk
    cdef PyObject* argv[17]
    cdef list out, group
    cdef object value, o_t, o_lat, o_lon, o_fl, o_gs, o_trk, o_roc, o_m3a, o_adr, o_sig
    cdef object o_src, o_hidden, o_id, o_state, o_call, o_plan, o_extra
    if not (t.shape[0] == lat.shape[0] == lon.shape[0] == fl.shape[0] == gs.shape[0]
            == trk.shape[0] == roc.shape[0] == pos_sigma.shape[0] == mode3a.shape[0]
            == address.shape[0] == state.shape[0] == n):
        raise ValueError("fused_messages: columns of different lengths")
    if len(callsigns) != n_labels or len(plans) != n_labels:
        raise ValueError("fused_messages: labels, callsigns and plans differ in length")
    for i in range(n):
        if rows[i] < 0 or rows[i] >= n_labels:
            raise ValueError(f"fused_messages: row {rows[i]} outside the table ({n_labels})")
        if state[i] < 0 or state[i] >= n_names:
            raise ValueError(f"fused_messages: state index {state[i]} outside 0..{n_names - 1}")
    if has_order:
        o_ = order
        for k in range(o_.shape[0]):
            if o_[k] < 0 or o_[k] >= n_refs:
                raise ValueError(f"fused_messages: source index {o_[k]} outside 0..{n_refs - 1}")
    if refs is not None:
        if has_span:
            s_ = starts
            e_ = ends
            if s_.shape[0] != n or e_.shape[0] != n:
                raise ValueError("fused_messages: starts and ends are not one per row")
            for i in range(n):
                if not 0 <= s_[i] <= e_[i] <= (o_.shape[0] if has_order else n_refs):
                    raise ValueError(f"fused_messages: source span {s_[i]}:{e_[i]} is bad")
        elif (o_.shape[0] if has_order else n_refs) != n:
            raise ValueError("fused_messages: not one source per row")
    if has_hidden:
        h_ = hidden
        if h_.shape[0] != n:
            raise ValueError("fused_messages: hidden is not one per row")
    o_hidden = False
    out = [None] * n
    for i in range(n):
        r = rows[i]
        o_t = PyFloat_FromDouble(t[i])
        o_lat = PyFloat_FromDouble(lat[i])
        o_lon = PyFloat_FromDouble(lon[i])
        o_fl = _float_or_none(fl[i])
        g = gs[i]
        tk = trk[i]
        if g != g:
            o_gs = None
            o_trk = None
        else:
            o_gs = PyFloat_FromDouble(g)
            o_trk = PyFloat_FromDouble(tk if tk < 360.0 else 0.0)
        o_roc = _float_or_none(roc[i])
        o_m3a = None if mode3a[i] < 0 else octal[mode3a[i]]
        o_adr = None if address[i] < 0 else hexes[address[i]]
        o_sig = PyFloat_FromDouble(pos_sigma[i])
        if refs is None:
            o_src = []
        else:
            if has_span:
                a, b = s_[i], e_[i]
            else:
                a, b = i, i + 1
            group = [None] * (b - a)
            for k in range(a, b):
                group[k - a] = refs[o_[k] if has_order else k]
            o_src = group
        o_id = labels[r]
        o_state = state_names[state[i]]
        o_call = callsigns[r]
        o_plan = plans[r]
        argv[0] = <PyObject*>o_t
        argv[1] = <PyObject*>o_id
        argv[2] = <PyObject*>o_state
        argv[3] = <PyObject*>o_lat
        argv[4] = <PyObject*>o_lon
        argv[5] = <PyObject*>o_fl
        argv[6] = <PyObject*>o_gs
        argv[7] = <PyObject*>o_trk
        argv[8] = <PyObject*>o_roc
        argv[9] = <PyObject*>o_m3a
        argv[10] = <PyObject*>o_adr
        argv[11] = <PyObject*>o_call
        argv[12] = <PyObject*>o_sig
        argv[13] = <PyObject*>o_src
        argv[14] = <PyObject*>o_plan
        if extrapolated or (has_hidden and h_[i]):
            o_hidden = True if has_hidden and h_[i] else False
            o_extra = True if extrapolated else False
            argv[15] = <PyObject*>o_extra
            argv[16] = <PyObject*>o_hidden
            value = PyObject_Vectorcall(cls, argv, 0, _NAMES_FLAGGED)
        else:
            value = PyObject_Vectorcall(cls, argv, 0, _NAMES)
        out[i] = value
    return out
