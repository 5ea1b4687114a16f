# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The normaliser's output side in C: ``Plot`` and ``Track`` message structs from the
normalised columns, one per record.

A replay normalises ~120,000 plots and tracks.  Built in Python, each message cost a zip of
fourteen lists, a None test per field, a call to decode its callsign, a comprehension for
its flags and a keyword call of the Struct type (its keyword names parsed again each time).
Here one pass of C reads the columns (computed by numpy beforehand, so the numbers are the
same), turns nan into None as the Python path did, and calls the Struct type through
vectorcall with a tuple of keyword names made once.  The Python path it replaces is held
to this one, message for message, by tests/test_normalize_fast.py.
"""

from cpython.ref cimport PyObject
from libc.math cimport NAN, isfinite
from libc.string cimport memcpy
from libc.stdint cimport int32_t, int64_t, uint8_t

import numpy as np


cdef extern from "Python.h":
    object PyObject_Vectorcall(object callable, PyObject** args, size_t nargsf,
                               object kwnames)
    object PyFloat_FromDouble(double v)
    object PyUnicode_DecodeLatin1(const char* s, Py_ssize_t size, const char* errors)


cdef tuple _PLOT = ("t", "src", "lat", "lon", "rho_nm", "theta_deg", "fl", "mode3a", "icao24",
                    "callsign", "track_number", "gs_kt", "hdg_deg", "detection", "flags")
cdef tuple _TRACK = ("t", "src", "track_number", "lat", "lon", "fl", "gs_kt", "trk_deg",
                     "roc_fpm", "mode3a", "icao24", "callsign", "fpl", "flags")
cdef tuple _PLAN = ("callsign", "dep", "dst", "cfl", "type", "wtc")


cdef inline object _num(double v):
    return None if v != v else PyFloat_FromDouble(v)


cdef inline object _text(bytes raw):
    """bytes.decode("latin-1") or None."""
    if len(raw) == 0:
        return None
    return PyUnicode_DecodeLatin1(<const char*>raw, len(raw), NULL)


cdef inline list _flags(int64_t bits, tuple names):
    cdef list out = []
    cdef Py_ssize_t i
    if bits:
        for i in range(len(names)):
            if bits >> i & 1:
                out.append(names[i])
    return out


def plot_messages(object cls, object src, const double[::1] t, const double[::1] lat,
                  const double[::1] lon, const double[::1] rho, const double[::1] theta,
                  const double[::1] fl, const int64_t[::1] mode3a, const int64_t[::1] icao24,
                  list callsigns, const int64_t[::1] track_number, const double[::1] gs,
                  const double[::1] hdg, const int64_t[::1] typ, const int64_t[::1] flags,
                  object octal, object hexes, dict detection, tuple flag_names) -> list:
    """One ``cls`` (gateway.messages.Plot) per row, all of source ``src``: floats as they
    are (``fl``, ``gs``, ``hdg``: nan -> None), codes through ``octal``/``hexes`` (their
    -1 gives None), callsigns (bytes) decoded as latin-1 (b"" -> None), a track number
    below 0 -> None, ``typ`` through ``detection`` (absent: None), ``flags`` a bitmask of
    ``flag_names``.  Columns of different lengths are a ValueError."""
    cdef Py_ssize_t n = t.shape[0], i
    cdef int64_t trn
    cdef PyObject* argv[15]
    cdef list out
    cdef object o_t, o_lat, o_lon, o_rho, o_theta, o_fl, o_m3a, o_adr, o_cs, o_trn
    cdef object o_gs, o_hdg, o_det, o_flags
    if not (lat.shape[0] == lon.shape[0] == rho.shape[0] == theta.shape[0] == fl.shape[0]
            == mode3a.shape[0] == icao24.shape[0] == track_number.shape[0] == gs.shape[0]
            == hdg.shape[0] == typ.shape[0] == flags.shape[0] == n and len(callsigns) == n):
        raise ValueError("plot_messages: columns of different lengths")
    out = [None] * n
    for i in range(n):
        o_t = PyFloat_FromDouble(t[i])
        o_lat = PyFloat_FromDouble(lat[i])
        o_lon = PyFloat_FromDouble(lon[i])
        o_rho = PyFloat_FromDouble(rho[i])
        o_theta = PyFloat_FromDouble(theta[i])
        o_fl = _num(fl[i])
        o_m3a = octal[mode3a[i]]
        o_adr = hexes[icao24[i]]
        o_cs = _text(callsigns[i])
        trn = track_number[i]
        o_trn = None if trn < 0 else trn
        o_gs = _num(gs[i])
        o_hdg = _num(hdg[i])
        o_det = detection.get(typ[i])
        o_flags = _flags(flags[i], flag_names)
        argv[0] = <PyObject*>o_t
        argv[1] = <PyObject*>src
        argv[2] = <PyObject*>o_lat
        argv[3] = <PyObject*>o_lon
        argv[4] = <PyObject*>o_rho
        argv[5] = <PyObject*>o_theta
        argv[6] = <PyObject*>o_fl
        argv[7] = <PyObject*>o_m3a
        argv[8] = <PyObject*>o_adr
        argv[9] = <PyObject*>o_cs
        argv[10] = <PyObject*>o_trn
        argv[11] = <PyObject*>o_gs
        argv[12] = <PyObject*>o_hdg
        argv[13] = <PyObject*>o_det
        argv[14] = <PyObject*>o_flags
        out[i] = PyObject_Vectorcall(cls, argv, 0, _PLOT)
    return out


def track_messages(object cls, object plan_cls, object src, const double[::1] t,
                   const int64_t[::1] track_number, const double[::1] lat,
                   const double[::1] lon, const double[::1] fl, const double[::1] gs,
                   const double[::1] trk, const double[::1] roc, const int64_t[::1] mode3a,
                   const int64_t[::1] icao24, list callsigns, const int64_t[::1] flags,
                   const uint8_t[::1] has_fpl, list fpl_cs, list fpl_dep, list fpl_dst,
                   const double[::1] fpl_cfl, list fpl_tac, list fpl_wtc, dict wakes,
                   object octal, object hexes, tuple flag_names, dict plans) -> list:
    """One ``cls`` (gateway.messages.Track) per row, all of source ``src``, as
    plot_messages makes plots; a row whose ``has_fpl`` is set carries a ``plan_cls``
    (FlightPlan) of the ``fpl_`` columns (texts as callsigns, ``fpl_cfl`` nan -> None, the
    wake category's text through ``wakes``, absent: None).

    ``plans`` keeps the plans made, by their raw columns (the texts' bytes, the cleared
    level's bits): an SDPS sends a flight's plan unchanged with every track update, and a
    plan is frozen, so one object serves them all.  Making it anew was half of a track's
    cost here (five texts decoded and a 16-field struct, each update: issue 16).  The
    caller bounds the dict (it grows by the distinct plans seen)."""
    cdef Py_ssize_t n = t.shape[0], i
    cdef PyObject* argv[14]
    cdef PyObject* pargv[6]
    cdef list out
    cdef object o_t, o_trn, o_lat, o_lon, o_fl, o_gs, o_trk, o_roc, o_m3a, o_adr, o_cs
    cdef object o_plan, o_flags, p_cs, p_dep, p_dst, p_cfl, p_tac, p_wtc, key
    cdef double cfl
    cdef int64_t cfl_bits
    if not (track_number.shape[0] == lat.shape[0] == lon.shape[0] == fl.shape[0]
            == gs.shape[0] == trk.shape[0] == roc.shape[0] == mode3a.shape[0]
            == icao24.shape[0] == flags.shape[0] == has_fpl.shape[0] == fpl_cfl.shape[0] == n
            and len(callsigns) == len(fpl_cs) == len(fpl_dep) == len(fpl_dst)
            == len(fpl_tac) == len(fpl_wtc) == n):
        raise ValueError("track_messages: columns of different lengths")
    out = [None] * n
    for i in range(n):
        o_plan = None
        if has_fpl[i]:
            cfl = fpl_cfl[i]
            memcpy(&cfl_bits, &cfl, sizeof(double))  # the bits: nan is no key, -0.0 not 0.0
            key = (fpl_cs[i], fpl_dep[i], fpl_dst[i], cfl_bits, fpl_tac[i], fpl_wtc[i])
            o_plan = plans.get(key)
            if o_plan is None:
                p_cs = _text(fpl_cs[i])
                p_dep = _text(fpl_dep[i])
                p_dst = _text(fpl_dst[i])
                p_cfl = _num(cfl)
                p_tac = _text(fpl_tac[i])
                p_wtc = wakes.get(_text(fpl_wtc[i]))
                pargv[0] = <PyObject*>p_cs
                pargv[1] = <PyObject*>p_dep
                pargv[2] = <PyObject*>p_dst
                pargv[3] = <PyObject*>p_cfl
                pargv[4] = <PyObject*>p_tac
                pargv[5] = <PyObject*>p_wtc
                o_plan = plans[key] = PyObject_Vectorcall(plan_cls, pargv, 0, _PLAN)
        o_t = PyFloat_FromDouble(t[i])
        o_trn = track_number[i]
        o_lat = PyFloat_FromDouble(lat[i])
        o_lon = PyFloat_FromDouble(lon[i])
        o_fl = _num(fl[i])
        o_gs = _num(gs[i])
        o_trk = _num(trk[i])
        o_roc = _num(roc[i])
        o_m3a = octal[mode3a[i]]
        o_adr = hexes[icao24[i]]
        o_cs = _text(callsigns[i])
        o_flags = _flags(flags[i], flag_names)
        argv[0] = <PyObject*>o_t
        argv[1] = <PyObject*>src
        argv[2] = <PyObject*>o_trn
        argv[3] = <PyObject*>o_lat
        argv[4] = <PyObject*>o_lon
        argv[5] = <PyObject*>o_fl
        argv[6] = <PyObject*>o_gs
        argv[7] = <PyObject*>o_trk
        argv[8] = <PyObject*>o_roc
        argv[9] = <PyObject*>o_m3a
        argv[10] = <PyObject*>o_adr
        argv[11] = <PyObject*>o_cs
        argv[12] = <PyObject*>o_plan
        argv[13] = <PyObject*>o_flags
        out[i] = PyObject_Vectorcall(cls, argv, 0, _TRACK)
    return out


# -- plot placement's arithmetic (gateway/normalize/geometry.py) ----------------------------
# RadarGeometry.place runs per datagram live; its Newton steps were ~20 numpy calls each on
# arrays of a few plots.  Here is only the arithmetic between numpy's trigonometry and PROJ:
# products and sums in numpy's order, each rounded once (compiled without fused
# multiply-add), so the same numbers to the bit (tests/test_normalize_fast.py holds place to
# its numpy version).  sin, cos and arcsin stay numpy's, the geodetic conversion PROJ's.

def first_sine(const double[::1] rho, const double[::1] height, double radius, double r0):
    """The sine of the first elevation on the sphere: ((radius + height)^2 - r0^2 - rho^2)
    / (2 rho r0), nan -> 0, clipped to [-1, 1]."""
    cdef Py_ssize_t n = rho.shape[0], i
    cdef double rt, v
    if height.shape[0] != n:
        raise ValueError("first_sine: rho and height differ in length")
    out = np.empty(n)
    cdef double[::1] o = out
    for i in range(n):
        rt = radius + height[i]
        v = (rt * rt - r0 * r0 - rho[i] * rho[i]) / (2 * rho[i] * r0)
        if v != v:  # np.nan_to_num's nan; an infinity clips as its largest float would
            v = 0.0
        o[i] = _clipped(v, -1.0, 1.0)
    return out


def to_ecef(const double[::1] rho, const double[::1] st, const double[::1] ct,
            const double[::1] cos_e, const double[::1] sin_e, tuple frame):
    """ECEF x, y, z of points at slant range ``rho``, azimuth (sine, cosine) and elevation
    (cosine, sine) from a site: ``frame`` is its origin and the rotation's terms
    (ox, oy, oz, r00, r01, r02, r10, r11, r12, r21, r22)."""
    cdef Py_ssize_t n = rho.shape[0], i
    cdef double ox, oy, oz, r00, r01, r02, r10, r11, r12, r21, r22
    cdef double horizontal, east, north, up
    if not (st.shape[0] == ct.shape[0] == cos_e.shape[0] == sin_e.shape[0] == n):
        raise ValueError("to_ecef: columns of different lengths")
    ox, oy, oz, r00, r01, r02, r10, r11, r12, r21, r22 = frame
    x, y, z = np.empty(n), np.empty(n), np.empty(n)
    cdef double[::1] x_ = x, y_ = y, z_ = z
    for i in range(n):
        horizontal = rho[i] * cos_e[i]
        east = horizontal * st[i]
        north = horizontal * ct[i]
        up = rho[i] * sin_e[i]
        x_[i] = ox + r00 * east + r01 * north + r02 * up
        y_[i] = oy + r10 * east + r11 * north + r12 * up
        z_[i] = oz + r21 * north + r22 * up
    return x, y, z


def newton_step(const double[::1] elev, const double[::1] height, const double[::1] h,
                const double[::1] rho, const double[::1] cos_e, double half_pi):
    """The next elevation: elev + (height - h) / (rho cos_e), the step's nan -> 0,
    clipped to [-half_pi, half_pi]."""
    cdef Py_ssize_t n = elev.shape[0], i
    cdef double step
    if not (height.shape[0] == h.shape[0] == rho.shape[0] == cos_e.shape[0] == n):
        raise ValueError("newton_step: columns of different lengths")
    out = np.empty(n)
    cdef double[::1] o = out
    for i in range(n):
        step = (height[i] - h[i]) / (rho[i] * cos_e[i])
        if step != step:
            step = 0.0
        o[i] = _clipped(elev[i] + step, -half_pi, half_pi)
    return out


cdef inline double _clipped(double v, double lo, double hi) noexcept nogil:
    """np.minimum(np.maximum(v, lo), hi): nan stays nan."""
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


# -- a radar's plot fields (gateway/normalize/plots.py) -------------------------------------
# normalise_plots gathered some twenty columns at the kept rows, each with its presence
# mask, through ~60 numpy calls: on the few plots of a live datagram, most of its cost.
# Here one pass reads them; the few products are numpy's, each rounded once.

cdef inline bint _has(const uint8_t[:] present, Py_ssize_t r) noexcept nogil:
    return present[r] != 0


def plot_fields(dict columns, dict present, const int64_t[::1] rows, double ft,
                double nm_s_to_kt, double offset_m, double fallback_m, tuple emergency):
    """CAT048 columns (gateway.decoder.Batch's ``columns`` and ``present``) at ``rows`` to
    (fl, height, rho, theta, mode3a, icao24, track_number, gs_kt, hdg, typ, flags), as
    gateway.normalize.plots.normalise_plots computes them: fl nan unless I090 is valid,
    the height from it (or the 3D height, else ``fallback_m``) plus ``offset_m``, codes -1
    when absent (a garbled Mode 3/A too), flags the bitmask of plots.FLAG_NAMES, a code in
    ``emergency`` setting its bit 3.  A row outside the columns is a ValueError."""
    cdef Py_ssize_t n = rows.shape[0], i, r
    cdef const double[:] c_fl = columns["090/FL"], c_3dh = columns["110/3DH"]
    cdef const double[:] c_rho = columns["040/RHO"], c_theta = columns["040/THETA"]
    cdef const double[:] c_gsp = columns["200/GSP"], c_hdg = columns["200/HDG"]
    cdef const int32_t[:] c_v = columns["090/V"], c_g = columns["090/G"]
    cdef const int32_t[:] c_garbled = columns["070/G"], c_m3a = columns["070/MODE3A"]
    cdef const int32_t[:] c_adr = columns["220"], c_trn = columns["161/TRN"]
    cdef const int32_t[:] c_typ = columns["020/TYP"]
    cdef const int32_t[:] c_spi = columns["020/SPI"], c_sim = columns["020/SIM"]
    cdef const int32_t[:] c_tst = columns["020/TST"], c_me = columns["020/ME"]
    cdef const int32_t[:] c_mi = columns["020/MI"], c_rab = columns["020/RAB"]
    cdef const uint8_t[:] p_fl = _bytes(present, "090/FL"), p_3dh = _bytes(present, "110/3DH")
    cdef const uint8_t[:] p_gsp = _bytes(present, "200/GSP"), p_hdg = _bytes(present, "200/HDG")
    cdef const uint8_t[:] p_garbled = _bytes(present, "070/G")
    cdef const uint8_t[:] p_m3a = _bytes(present, "070/MODE3A")
    cdef const uint8_t[:] p_adr = _bytes(present, "220"), p_trn = _bytes(present, "161/TRN")
    cdef const uint8_t[:] p_typ = _bytes(present, "020/TYP")
    cdef const uint8_t[:] p_spi = _bytes(present, "020/SPI"), p_sim = _bytes(present, "020/SIM")
    cdef const uint8_t[:] p_tst = _bytes(present, "020/TST"), p_me = _bytes(present, "020/ME")
    cdef const uint8_t[:] p_mi = _bytes(present, "020/MI"), p_rab = _bytes(present, "020/RAB")
    cdef Py_ssize_t size = c_fl.shape[0]
    cdef int64_t e0 = emergency[0], e1 = emergency[1], e2 = emergency[2], m3a, bits
    cdef double fl, h3d, height
    if len(emergency) != 3:
        raise ValueError("plot_fields: three emergency codes")
    if not (c_3dh.shape[0] == c_rho.shape[0] == c_theta.shape[0] == c_gsp.shape[0]
            == c_hdg.shape[0] == c_v.shape[0] == c_g.shape[0] == c_garbled.shape[0]
            == c_m3a.shape[0] == c_adr.shape[0] == c_trn.shape[0] == c_typ.shape[0]
            == c_spi.shape[0] == c_sim.shape[0] == c_tst.shape[0] == c_me.shape[0]
            == c_mi.shape[0] == c_rab.shape[0] == p_fl.shape[0] == p_3dh.shape[0]
            == p_gsp.shape[0] == p_hdg.shape[0] == p_garbled.shape[0] == p_m3a.shape[0]
            == p_adr.shape[0] == p_trn.shape[0] == p_typ.shape[0] == p_spi.shape[0]
            == p_sim.shape[0] == p_tst.shape[0] == p_me.shape[0] == p_mi.shape[0]
            == p_rab.shape[0] == size):
        raise ValueError("plot_fields: columns of different lengths")
    for i in range(n):
        if rows[i] < 0 or rows[i] >= size:
            raise ValueError(f"plot_fields: row {rows[i]} outside the columns ({size})")
    fl_, height_, rho_, theta_ = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    gs_, hdg_ = np.empty(n), np.empty(n)
    mode3a_, icao24_ = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    trn_, typ_ = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    flags_ = np.empty(n, dtype=np.int64)
    cdef double[::1] o_fl = fl_, o_height = height_, o_rho = rho_, o_theta = theta_
    cdef double[::1] o_gs = gs_, o_hdg = hdg_
    cdef int64_t[::1] o_m3a = mode3a_, o_adr = icao24_, o_trn = trn_, o_typ = typ_
    cdef int64_t[::1] o_flags = flags_
    with nogil:
        for i in range(n):
            r = rows[i]
            if _has(p_fl, r) and c_v[r] == 0 and c_g[r] == 0:  # a valid flight level
                fl = c_fl[r]
                height = fl * 100 * ft
            else:
                fl = NAN
                h3d = (c_3dh[r] if _has(p_3dh, r) else NAN) * ft
                height = h3d if isfinite(h3d) else NAN
            height = height + offset_m
            o_fl[i] = fl
            o_height[i] = height if isfinite(height) else fallback_m
            o_rho[i] = c_rho[r]
            o_theta[i] = c_theta[r]
            if _has(p_garbled, r) and c_garbled[r] != 0:
                m3a = -1
            else:
                m3a = c_m3a[r] if _has(p_m3a, r) else -1
            o_m3a[i] = m3a
            bits = ((_has(p_spi, r) and c_spi[r] != 0)
                    | (_has(p_sim, r) and c_sim[r] != 0) << 1
                    | (_has(p_tst, r) and c_tst[r] != 0) << 2
                    | (m3a == e0 or m3a == e1 or m3a == e2) << 3
                    | (_has(p_me, r) and c_me[r] != 0) << 4
                    | (_has(p_mi, r) and c_mi[r] != 0) << 5
                    | (_has(p_rab, r) and c_rab[r] != 0) << 6)
            o_flags[i] = bits
            o_adr[i] = c_adr[r] if _has(p_adr, r) else -1
            o_trn[i] = c_trn[r] if _has(p_trn, r) else -1
            o_gs[i] = (c_gsp[r] if _has(p_gsp, r) else NAN) * nm_s_to_kt
            o_hdg[i] = c_hdg[r] if _has(p_hdg, r) else NAN
            o_typ[i] = c_typ[r] if _has(p_typ, r) else -1
    return fl_, height_, rho_, theta_, mode3a_, icao24_, trn_, gs_, hdg_, typ_, flags_


cdef object _bytes(dict present, str path):
    """A presence mask (bool) as bytes, for a typed view."""
    return present[path].view(np.uint8)


def track_fields(dict columns, dict present, const int64_t[::1] rows, tuple flag_paths,
                 tuple plan_paths):
    """CAT062 columns at ``rows`` to (vx, vy, fl, roc, mode3a, icao24, track_number, flags,
    has_fpl), as gateway.normalize.tracks.normalise_tracks computes them: nan or -1 when
    absent, the level I136 else I135, a garbled Mode 3/A -1, ``flags`` the bitmask of the
    (set) columns ``flag_paths``, ``has_fpl`` whether any of ``plan_paths`` is present.  A
    row outside the columns is a ValueError."""
    cdef Py_ssize_t n = rows.shape[0], i, r, k
    cdef const double[:] c_vx = columns["185/VX"], c_vy = columns["185/VY"]
    cdef const double[:] c_fl = columns["136"], c_ctb = columns["135/CTB"]
    cdef const double[:] c_roc = columns["220"]
    cdef const int32_t[:] c_garbled = columns["060/G"], c_m3a = columns["060/MODE3A"]
    cdef const int32_t[:] c_adr = columns["380/ADR"], c_trn = columns["040"]
    cdef const uint8_t[:] p_vx = _bytes(present, "185/VX"), p_vy = _bytes(present, "185/VY")
    cdef const uint8_t[:] p_fl = _bytes(present, "136"), p_ctb = _bytes(present, "135/CTB")
    cdef const uint8_t[:] p_roc = _bytes(present, "220"), p_garbled = _bytes(present, "060/G")
    cdef const uint8_t[:] p_m3a = _bytes(present, "060/MODE3A")
    cdef const uint8_t[:] p_adr = _bytes(present, "380/ADR"), p_trn = _bytes(present, "040")
    cdef const int32_t[:] c_flag
    cdef const uint8_t[:] p_flag
    cdef Py_ssize_t size = c_vx.shape[0]
    cdef double fl
    if not (c_vy.shape[0] == c_fl.shape[0] == c_ctb.shape[0] == c_roc.shape[0]
            == c_garbled.shape[0] == c_m3a.shape[0] == c_adr.shape[0] == c_trn.shape[0]
            == p_vx.shape[0] == p_vy.shape[0] == p_fl.shape[0] == p_ctb.shape[0]
            == p_roc.shape[0] == p_garbled.shape[0] == p_m3a.shape[0] == p_adr.shape[0]
            == p_trn.shape[0] == size):
        raise ValueError("track_fields: columns of different lengths")
    for i in range(n):
        if rows[i] < 0 or rows[i] >= size:
            raise ValueError(f"track_fields: row {rows[i]} outside the columns ({size})")
    vx_, vy_, fl_, roc_ = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    mode3a_, icao24_ = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    trn_, flags_ = np.empty(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    has_fpl_ = np.zeros(n, dtype=np.bool_)
    cdef double[::1] o_vx = vx_, o_vy = vy_, o_fl = fl_, o_roc = roc_
    cdef int64_t[::1] o_m3a = mode3a_, o_adr = icao24_, o_trn = trn_, o_flags = flags_
    cdef uint8_t[::1] o_fpl = has_fpl_.view(np.uint8)
    for i in range(n):
        r = rows[i]
        o_vx[i] = c_vx[r] if _has(p_vx, r) else NAN
        o_vy[i] = c_vy[r] if _has(p_vy, r) else NAN
        fl = c_fl[r] if _has(p_fl, r) else NAN
        if not isfinite(fl):
            fl = c_ctb[r] if _has(p_ctb, r) else NAN
        o_fl[i] = fl
        o_roc[i] = c_roc[r] if _has(p_roc, r) else NAN
        if _has(p_garbled, r) and c_garbled[r] != 0:
            o_m3a[i] = -1
        else:
            o_m3a[i] = c_m3a[r] if _has(p_m3a, r) else -1
        o_adr[i] = c_adr[r] if _has(p_adr, r) else -1
        o_trn[i] = c_trn[r] if _has(p_trn, r) else -1
    for k in range(len(flag_paths)):
        c_flag = columns[flag_paths[k]]
        p_flag = _bytes(present, flag_paths[k])
        if c_flag.shape[0] != size or p_flag.shape[0] != size:
            raise ValueError("track_fields: columns of different lengths")
        for i in range(n):
            r = rows[i]
            if _has(p_flag, r) and c_flag[r] != 0:
                o_flags[i] |= (<int64_t>1) << k
    for k in range(len(plan_paths)):
        p_flag = _bytes(present, plan_paths[k])
        if p_flag.shape[0] != size:
            raise ValueError("track_fields: columns of different lengths")
        for i in range(n):
            if _has(p_flag, rows[i]):
                o_fpl[i] = 1
    return vx_, vy_, fl_, roc_, mode3a_, icao24_, trn_, flags_, has_fpl_
