# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The tracker's input side in C: Plot/Track messages to columns, the frame's projection,
and a plot's noise in the plane.

A radar sector brings ~18 plots.  Read field by field into Python tuples, turned into
arrays by numpy and projected by pyproj, the columns cost more per batch than the
association itself: a dozen calls whose cost is per call, not per plot.  Here the list of
messages is walked once, each field read straight into its column (None -> nan, -1 for
identities), and the plane position and covariance computed in the same pass of C.

The numbers are the same, bit for bit, as the numpy/pyproj code they replace (the module
is compiled with ``-ffp-contract=off``: no fused multiply-add, each operation rounded as
numpy and PROJ round it, with the same libm):

- ``Conic`` is PROJ's ellipsoidal Lambert conformal conic (src/projections/lcc.cpp,
  pj_tsfn, pj_msfn, and the pipeline's unit conversion and central meridian as pj_fwd
  applies them), constants derived the way PROJ derives them from the same text
  parameters; and its inverse (lcc_e_inverse, pj_phi2 by pj_sinhpsi2tanphi's Newton
  steps, as pj_inv and the unit conversion apply them; nan in gives nan, PROJ's error
  value inf gives inf, as pyproj does); tests/test_frame.py checks both against pyproj.
- ``_noise`` is gateway/associate/measurements.py's polar noise rotated to the line of
  sight from a known antenna, in the same order of operations (tests/test_plot_measurements.py
  holds ``plot_measurements`` to that numpy).

Identities are parsed by the caller's tables (dicts, filled on a miss by their
``__missing__``), so an address, code or callsign hash is the same number either way.
"""

from libc.math cimport atan, atan2, atanh, cos, exp, fabs, floor, fmax, hypot, isfinite, log
from libc.math cimport pow, sin, sinh
from libc.math cimport sqrt, HUGE_VAL, M_PI, M_PI_2, M_PI_4, NAN
from libc.float cimport DBL_MAX
from libc.stdint cimport int64_t
from libc.string cimport memcpy
from cpython.ref cimport PyObject

import types

import numpy as np
cimport numpy as cnp

cnp.import_array()

include "arrays.pxi"  # the one check of an array read raw

cdef double DEG_TO_RAD = .017453292519943296  # PROJ's (proj_internal.h, units.cpp)
cdef double EPS10 = 1.e-10
cdef double PJ_EPS_LAT = 1e-12
cdef double M_TWOPI = 6.28318530717958647693
# the pipeline's unitconvert from radians to degrees: xy_factor = 1 (rad) / DEG_TO_RAD,
# one multiplication per coordinate (src/conversions/unitconvert.cpp)
cdef double RAD_TO_DEG_FACTOR = 1.0 / .017453292519943296
cdef double ROOTEPS = 1.490116119384765625e-8  # sqrt(DBL_EPSILON): pj_sinhpsi2tanphi


# -- PROJ's Lambert conformal conic ---------------------------------------------------------

cdef inline double _tsfn(double phi, double sinphi, double e) noexcept nogil:
    """pj_tsfn: exp(-isometric latitude)."""
    cdef double cosphi = cos(phi)
    return exp(e * atanh(e * sinphi)) * (
        cosphi / (1 + sinphi) if sinphi > 0 else (1 - sinphi) / cosphi)


cdef inline double _msfn(double sinphi, double cosphi, double es) noexcept nogil:
    """pj_msfn."""
    return cosphi / sqrt(1. - es * sinphi * sinphi)


cdef inline double _adjlon(double lon) noexcept nogil:
    """adjlon: longitude into -pi..pi (slight overshoot allowed)."""
    if fabs(lon) < M_PI + 1e-12:
        return lon
    lon += M_PI
    lon -= M_TWOPI * floor(lon / M_TWOPI)
    lon -= M_PI
    return lon


cdef inline double _sinhpsi2tanphi(double taup, double e) noexcept nogil:
    """pj_sinhpsi2tanphi (src/phi2.cpp): tan(phi) from sinh(isometric latitude), Newton's
    method as PROJ runs it (at most 5 steps, the same tolerance and first guess)."""
    cdef double tol = ROOTEPS / 10, tmax = 2 / ROOTEPS
    cdef double e2m = 1 - e * e
    cdef double stol = tol * fmax(1.0, fabs(taup))
    cdef double tau = taup * exp(e * atanh(e)) if fabs(taup) > 70 else taup / e2m
    cdef double tau1, sig, taupa, dtau
    cdef int i = 5
    if not (fabs(tau) < tmax):  # +-inf, nan
        return tau
    while i:
        tau1 = sqrt(1 + tau * tau)
        sig = sinh(e * atanh(e * tau / tau1))
        taupa = sqrt(1 + sig * sig) * tau - sig * tau1
        dtau = ((taup - taupa) * (1 + e2m * (tau * tau))
                / (e2m * tau1 * sqrt(1 + taupa * taupa)))
        tau += dtau
        if not (fabs(dtau) >= stol):
            break
        i -= 1
    return tau


cdef class Conic:
    """The ellipsoidal Lambert conformal conic of ``+proj=lcc +lat_1 +lat_2 +lat_0 +lon_0
    +x_0=0 +y_0=0`` on an ellipsoid of semi-major axis ``a`` and inverse flattening ``rf``
    (degrees in, metres out), as PROJ computes it."""

    cdef double a, ra, e, es, n, c, rho0, lam0, x0, y0

    def __init__(self, double lat_1, double lat_2, double lat_0, double lon_0,
                 double a=6378137.0, double rf=298.257223563) -> None:
        cdef double f = 1 / rf
        cdef double phi1, phi2, phi0, sinphi, cosphi, m1, ml1, ml2
        # PROJ's dmstor reads "-106.5" as -(106.5 * DEG_TO_RAD): the same double as below
        phi1 = lat_1 * DEG_TO_RAD
        phi2 = lat_2 * DEG_TO_RAD
        phi0 = lat_0 * DEG_TO_RAD
        self.lam0 = lon_0 * DEG_TO_RAD
        self.a = a
        self.ra = 1. / a
        self.x0 = self.y0 = 0.0  # false easting and northing: PROJ adds them (-0 -> +0)
        self.es = 2 * f - f * f
        self.e = sqrt(self.es)
        if fabs(phi1 + phi2) < EPS10 or fabs(cos(phi1)) < EPS10 or fabs(cos(phi2)) < EPS10:
            raise ValueError("lat_1 and lat_2 must be within (-90, 90) and not opposite")
        sinphi = sin(phi1)
        cosphi = cos(phi1)
        self.n = sinphi
        m1 = _msfn(sinphi, cosphi, self.es)
        ml1 = _tsfn(phi1, sinphi, self.e)
        if fabs(phi1 - phi2) >= EPS10:  # secant cone
            sinphi = sin(phi2)
            self.n = log(m1 / _msfn(sinphi, cos(phi2), self.es))
            ml2 = _tsfn(phi2, sinphi, self.e)
            self.n /= log(ml1 / ml2)
        self.rho0 = m1 * pow(ml1, -self.n) / self.n
        self.c = self.rho0
        self.rho0 *= 0. if fabs(fabs(phi0) - M_PI_2) < EPS10 else pow(
            _tsfn(phi0, sin(phi0), self.e), self.n)

    cdef inline void point(self, double lat, double lon, double* x, double* y) noexcept nogil:
        """One position (degrees) to the plane (m); inf where PROJ refuses it (latitude
        beyond 90, longitude beyond 10 radians, the pole the cone opens to), nan in, nan
        out."""
        cdef double phi = lat * DEG_TO_RAD, lam = lon * DEG_TO_RAD, rho
        if (fabs(phi) - M_PI_2 > PJ_EPS_LAT) or lam > 10 or lam < -10:
            x[0] = HUGE_VAL
            y[0] = HUGE_VAL
            return
        if phi > M_PI_2:
            phi = M_PI_2
        if phi < -M_PI_2:
            phi = -M_PI_2
        lam = _adjlon(_adjlon(lam) - self.lam0)
        if fabs(fabs(phi) - M_PI_2) < EPS10:
            if phi * self.n <= 0.:
                x[0] = HUGE_VAL
                y[0] = HUGE_VAL
                return
            rho = 0.
        else:
            rho = self.c * pow(_tsfn(phi, sin(phi), self.e), self.n)
        lam *= self.n
        x[0] = (rho * sin(lam)) * self.a + self.x0
        y[0] = (self.rho0 - rho * cos(lam)) * self.a + self.y0

    cdef inline void unpoint(self, double x, double y, double* lat,
                             double* lon) noexcept nogil:
        """One plane position (m) back to degrees, as pj_inv runs lcc_e_inverse: offsets
        and 1/a, the inverse, the central meridian and adjlon, then the unit conversion."""
        cdef double rho, ts, phi, lam
        if x != x or y != y:  # nan in, nan out (before the inf test: as pyproj gives)
            lat[0] = NAN
            lon[0] = NAN
            return
        if x == HUGE_VAL or y == HUGE_VAL:  # PROJ's error value in: error out (inf)
            lat[0] = HUGE_VAL
            lon[0] = HUGE_VAL
            return
        x = (x - self.x0) * self.ra
        y = (y - self.y0) * self.ra
        y = self.rho0 - y
        rho = hypot(x, y)
        if rho != 0.:
            if self.n < 0.:
                rho = -rho
                x = -x
                y = -y
            ts = pow(rho / self.c, 1. / self.n)
            phi = atan(_sinhpsi2tanphi((1 / ts - ts) / 2, self.e))
            lam = atan2(x, y) / self.n
        else:
            lam = 0.
            phi = M_PI_2 if self.n > 0. else -M_PI_2
        lam = _adjlon(lam + 0. + self.lam0)
        lat[0] = phi * RAD_TO_DEG_FACTOR
        lon[0] = lam * RAD_TO_DEG_FACTOR

    cdef tuple _map(self, object a, object b, bint inverse, str names):
        """Every pair (a, b) of the same shape through ``point``, or ``unpoint`` when
        ``inverse``: the one loop both directions share."""
        cdef double[::1] av = np.ascontiguousarray(a, dtype=np.float64).ravel()
        cdef double[::1] bv = np.ascontiguousarray(b, dtype=np.float64).ravel()
        cdef Py_ssize_t i, n = av.shape[0]
        if bv.shape[0] != n:
            raise ValueError(f"{names} differ in length")
        first = np.empty(n)
        second = np.empty(n)
        cdef double[::1] fv = first, sv = second
        with nogil:
            if inverse:
                for i in range(n):
                    self.unpoint(av[i], bv[i], &fv[i], &sv[i])
            else:
                for i in range(n):
                    self.point(av[i], bv[i], &fv[i], &sv[i])
        shape = np.shape(a)
        return first.reshape(shape), second.reshape(shape)

    def inverse(self, x: object, y: object) -> tuple[object, object]:
        """Latitudes and longitudes (degrees) of plane x, y (m; any shape, the same)."""
        return self._map(x, y, True, "x and y")

    def unplane(self, object xy) -> tuple[object, object]:
        """Latitudes and longitudes (degrees) of the plane positions (m) in the first two
        columns of ``xy`` [n, >=2] (a float64 numpy array, any strides): a track table's
        states, read where they are (strided) rather than sliced and copied into two
        arrays first (``inverse``'s way, whose overhead was a third of a small batch's
        inverse); read and made by numpy's C API (a typed memoryview costs ~0.2 us to
        take, three of them a fifth of a radar batch's call)."""
        cdef Array a
        _array(xy, cnp.NPY_FLOAT64, 2, 0, &a, "unplane: xy")
        cdef cnp.npy_intp n = a.shape[0]
        if n and a.shape[1] < 2:
            raise ValueError("unplane: xy needs two columns")
        cdef const char* data = a.data
        cdef Py_ssize_t s0 = a.strides[0], s1 = a.strides[1], i
        lat = cnp.PyArray_EMPTY(1, &n, cnp.NPY_FLOAT64, 0)
        lon = cnp.PyArray_EMPTY(1, &n, cnp.NPY_FLOAT64, 0)
        cdef double* la = <double*>cnp.PyArray_DATA(<cnp.ndarray>lat)
        cdef double* lo = <double*>cnp.PyArray_DATA(<cnp.ndarray>lon)
        with nogil:
            for i in range(n):
                self.unpoint((<const double*>(data + i * s0))[0],
                             (<const double*>(data + i * s0 + s1))[0], &la[i], &lo[i])
        return lat, lon

    def forward(self, lat: object, lon: object) -> tuple[object, object]:
        """Plane x, y (m) of latitudes and longitudes (degrees, any shape)."""
        return self._map(lat, lon, False, "lat and lon")

    def plane(self, double[:] lat, double[:] lon) -> object:
        """Plane positions [n, 2] (x, y: m) of latitudes and longitudes [n] (degrees)."""
        cdef Py_ssize_t i, n = lat.shape[0]
        if lon.shape[0] != n:
            raise ValueError("lat and lon differ in length")
        xy = np.empty((n, 2))
        cdef double[:, ::1] v = xy
        with nogil:
            for i in range(n):
                self.point(lat[i], lon[i], &v[i, 0], &v[i, 1])
        return xy


# -- messages to columns --------------------------------------------------------------------

cdef enum:  # Kind (gateway/associate/measurements.py)
    PRIMARY = 0
    SSR = 1
    MODES = 2

# -- a message's fields, read where they are ------------------------------------------------

cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
        int flags
    int T_OBJECT
    int T_OBJECT_EX
    int READ_RESTRICTED

cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member


cdef enum:  # the fields the readers below take, in the order of _FIELDS
    F_T, F_LAT, F_LON, F_FL, F_GS, F_NUMBER, F_HDG, F_RHO, F_THETA, F_CALLSIGN, F_ICAO24, \
        F_MODE3A, F_DETECTION, F_TRK, F_ROC, F_FPL, F_SRC, F_COUNT

cdef tuple _FIELDS = ("t", "lat", "lon", "fl", "gs_kt", "track_number", "hdg_deg", "rho_nm",
                      "theta_deg", "callsign", "icao24", "mode3a", "detection", "trk_deg",
                      "roc_fpm", "fpl", "src")


cdef class _Layout:
    """Where a message type keeps each field: a msgspec Struct keeps its fields in slots at
    fixed offsets (member descriptors, as ``__slots__``), so a field is one pointer read,
    not getattr's type lookup, descriptor call and member read (13 a plot: half of a
    plot's reading, issue 16).  Offset -1: read by getattr (not a plain object slot of
    this type, or the type has its own ``__getattribute__``).  Used only for messages of
    exactly ``cls``; an empty slot is read by getattr too, which raises as it would."""

    cdef object cls
    cdef Py_ssize_t offset[F_COUNT]

    def __init__(self, object cls) -> None:
        cdef Py_ssize_t f
        cdef PyMemberDef* member
        self.cls = cls
        generic = cls is None or cls.__getattribute__ is not object.__getattribute__
        for f in range(F_COUNT):
            self.offset[f] = -1
            if generic:
                continue
            for base in cls.__mro__:  # the descriptor getattr would find
                descr = base.__dict__.get(_FIELDS[f])
                if descr is None:
                    continue
                if type(descr) is types.MemberDescriptorType:
                    member = (<PyMemberDescrObject*><PyObject*>descr).d_member
                    if ((member.type == T_OBJECT_EX or member.type == T_OBJECT)
                            and not member.flags & READ_RESTRICTED):
                        self.offset[f] = member.offset
                break


cdef dict _LAYOUTS = {}  # message type -> its _Layout, made on first sight
cdef _Layout _GENERIC = _Layout(None)  # every field by getattr


cdef inline _Layout _layout_of(list messages):
    """The layout of the batch's first message's type (a batch is one type), for
    ``_get``, which checks each message's type against it."""
    if not messages:
        return _GENERIC
    cls = type(messages[0])
    lay = _LAYOUTS.get(cls)
    if lay is None:
        if len(_LAYOUTS) > 64:  # a caller cycling through types: bounded
            _LAYOUTS.clear()
        lay = _LAYOUTS[cls] = _Layout(cls)
    return <_Layout>lay


cdef inline object _get(object m, _Layout lay, int f):
    """Field ``f`` of message ``m``: from its slot if ``m`` is of the layout's type, else
    (and for an empty slot) by getattr."""
    cdef Py_ssize_t off = lay.offset[f]
    cdef PyObject* v
    if off >= 0 and type(m) is lay.cls:
        v = (<PyObject**>((<char*><PyObject*>m) + off))[0]
        if v is not NULL:
            return <object>v
    return getattr(m, <str>_FIELDS[f])


def batch_source(list messages) -> tuple[object, object]:
    """What every message of a batch shares: (its ``src``, its type); the source None
    where two differ (equal, not only the same object, counts as the same), the type
    None where two differ; (None, None) for no message.  One pass over the batch's slots
    where MeasurementModel.convert made a list of sources, a set of them and a set of
    types (a sector's batch is one source and one type)."""
    cdef Py_ssize_t i, n = len(messages)
    if n == 0:
        return None, None
    cdef _Layout lay = _layout_of(messages)
    cdef object m = messages[0], s
    cdef object cls = type(m), src = _get(m, lay, F_SRC)
    for i in range(1, n):
        m = messages[i]
        if cls is not None and type(m) is not cls:
            cls = None
        if src is not None:
            s = _get(m, lay, F_SRC)
            if s is not src and not (s == src):
                src = None
        if src is None and cls is None:
            break
    return src, cls


cdef inline double _number(object value) except? -1.0:
    """A field as a double: None -> nan; a float as it is; anything else as float() reads it
    (numpy's float64 conversion reads the same)."""
    if value is None:
        return NAN
    if type(value) is float:
        return <double>value
    return float(value)


cdef inline int64_t _track_number(object value) except? -2:
    """A track number: -1 unknown (None, nan, inf), else its integer part."""
    cdef double v
    if value is None:
        return -1
    if type(value) is int:
        return <int64_t>value
    v = _number(value)
    return <int64_t>v if isfinite(v) else -1


cdef inline void _identity(int64_t* iv, object addresses, object codes, object callsigns,
                           object icao24, object mode3a, object callsign) except *:
    """One row of the ident columns (``iv``: its four entries)."""
    iv[0] = addresses[icao24]
    iv[1] = iv[3] = codes[mode3a]
    iv[2] = callsigns[callsign]


cdef inline void _discrete(int64_t* iv, Py_ssize_t n, const unsigned char* table
                           ) noexcept nogil:
    """Column 1 of the ident rows ``iv`` [n, 4] keeps a code only where it identifies an
    aircraft (``table``: which of the 4096 codes do not)."""
    cdef Py_ssize_t i
    for i in range(n):
        if table[iv[4 * i + 3] & 0o7777]:
            iv[4 * i + 1] = -1


cdef inline bint _located(double* nv, int64_t* tv, object m, _Layout lay) except -1:
    """The fields plots and SDPS tracks share (columns 0-4 of the numbers, the row ``nv``:
    t, lat, lon, fl, gs_kt; the track number into ``tv``), read once for both; whether the
    message has a position."""
    nv[0] = _number(_get(m, lay, F_T))
    nv[1] = _number(_get(m, lay, F_LAT))
    nv[2] = _number(_get(m, lay, F_LON))
    nv[3] = _number(_get(m, lay, F_FL))
    nv[4] = _number(_get(m, lay, F_GS))
    tv[0] = _track_number(_get(m, lay, F_NUMBER))
    return isfinite(nv[1]) and isfinite(nv[2])


cdef inline bint _plot(double* nv, int64_t* iv, int64_t* kv, int64_t* tv, list text,
                       Py_ssize_t i, object m, _Layout lay, object addresses, object codes,
                       object callsigns, dict detections) except -1:
    """One plot read into row ``i`` of ``plot_columns``' columns (``nv``: the row of the
    numbers [n, 8]: t, lat, lon, fl, gs_kt, hdg_deg, rho_nm, theta_deg; ``iv``: of ident
    [n, 4]; ``kv``, ``tv``: the kind's and track number's entries; ``text[i]``), the reader
    ``plot_columns`` and ``plot_measurements`` share; whether it has a position."""
    cdef object cs, det
    cdef int64_t k
    cdef bint located = _located(nv, tv, m, lay)
    nv[5] = _number(_get(m, lay, F_HDG))
    nv[6] = _number(_get(m, lay, F_RHO))
    nv[7] = _number(_get(m, lay, F_THETA))
    cs = _get(m, lay, F_CALLSIGN)
    text[i] = cs
    _identity(iv, addresses, codes, callsigns, _get(m, lay, F_ICAO24),
              _get(m, lay, F_MODE3A), cs)
    det = detections.get(_get(m, lay, F_DETECTION))
    if det is None:
        k = MODES if iv[0] >= 0 else (SSR if iv[1] >= 0 else PRIMARY)
    else:
        k = det
    if k == MODES and iv[0] < 0:
        k = SSR
    kv[0] = k
    return located


def plot_columns(list messages, object addresses, object codes, object callsigns,
                 dict detections, const unsigned char[::1] non_discrete,
                 ) -> tuple[object, object, object, object, list, bint]:
    """Plots to columns: numbers [n, 8] (t, lat, lon, fl, gs_kt, hdg_deg, rho_nm,
    theta_deg; nan unknown), ident [n, 4] (address, discrete code, callsign hash, code: the
    tables' values, -1 unknown), kind [n], track numbers [n] (-1 unknown), the callsigns'
    text, and whether every plot has a position.

    The kind is ``detections``' value of the plot's detection; without one (or one not
    listed), what its contents say: Mode S with an address, else SSR with a code, else
    primary.  Mode S without an address counts as SSR."""
    cdef Py_ssize_t i, n = len(messages)
    if non_discrete.shape[0] != 0o10000:
        raise ValueError("non_discrete: one flag per Mode-3/A code (4096)")
    num = np.empty((n, 8))
    ident = np.empty((n, 4), dtype=np.int64)
    kind = np.empty(n, dtype=np.int64)
    number = np.empty(n, dtype=np.int64)
    cdef double[:, ::1] nv = num
    cdef int64_t[:, ::1] iv = ident
    cdef int64_t[::1] kv = kind, tv = number
    cdef list text = [None] * n
    cdef bint complete = True
    cdef _Layout lay = _layout_of(messages)
    for i in range(n):
        complete = _plot(&nv[i, 0], &iv[i, 0], &kv[i], &tv[i], text, i, messages[i], lay,
                         addresses, codes, callsigns, detections) and complete
    if n:
        _discrete(&iv[0, 0], n, &non_discrete[0])
    return num, ident, kind, number, text, complete


def track_columns(list messages, object addresses, object codes, object callsigns,
                  const unsigned char[::1] non_discrete,
                  ) -> tuple[object, object, object, list, object, bint]:
    """SDPS tracks to columns: numbers [n, 7] (t, lat, lon, fl, gs_kt, trk_deg,
    roc_fpm), ident [n, 4] and track numbers [n] as ``plot_columns``, the callsigns' text
    (the flight plan's where the track gives none), the flight plans (None where no
    track has one: the caller's test of every one, a generator over an SDPS cycle of
    hundreds, is made here on the way), and whether every track has a position."""
    cdef Py_ssize_t i, n = len(messages)
    if non_discrete.shape[0] != 0o10000:
        raise ValueError("non_discrete: one flag per Mode-3/A code (4096)")
    num = np.empty((n, 7))
    ident = np.empty((n, 4), dtype=np.int64)
    number = np.empty(n, dtype=np.int64)
    cdef double[:, ::1] nv = num
    cdef int64_t[:, ::1] iv = ident
    cdef int64_t[::1] tv = number
    cdef list text = [None] * n
    cdef list plans = [None] * n
    cdef object m, cs, fpl
    cdef bint complete = True, planned = False
    cdef _Layout lay = _layout_of(messages)
    for i in range(n):
        m = messages[i]
        complete = _located(&nv[i, 0], &tv[i], m, lay) and complete
        nv[i, 5] = _number(_get(m, lay, F_TRK))
        nv[i, 6] = _number(_get(m, lay, F_ROC))
        cs = _get(m, lay, F_CALLSIGN)
        fpl = _get(m, lay, F_FPL)
        plans[i] = fpl
        planned = planned or fpl is not None
        if cs is None and fpl is not None:
            cs = fpl.callsign
        text[i] = cs
        _identity(&iv[i, 0], addresses, codes, callsigns, _get(m, lay, F_ICAO24),
                  _get(m, lay, F_MODE3A), cs)
    if n:
        _discrete(&iv[0, 0], n, &non_discrete[0])
    return num, ident, number, text, plans if planned else None, complete


# -- a plot's noise -------------------------------------------------------------------------

cdef inline void _noise(double px, double py, double slant, double k, double xr, double yr,
                        double var_r, double var_az, double k2, double* R, double* ground_m,
                        double* los_x, double* los_y) noexcept nogil:
    """One plot's noise: the polar noise (range variance ``var_r`` m^2, azimuth ``var_az``
    rad^2) of a plot at (px, py) seen from the antenna at (xr, yr), rotated to the line of
    sight, times the plane's scale squared ``k2``, into ``R`` (its four entries, row by
    row); its ground distance from the antenna (m on the ground: the plane's divided by
    the scale ``k``) and the line of sight (unit vector in the plane).  The range in the
    noise is the slant range (m), where unknown (nan) the ground distance."""
    cdef double dx = px - xr, dy = py - yr, ground, s, c, rho, cross, ss, cc, sc
    ground = hypot(dx, dy)
    s = dx / ground
    c = dy / ground
    ground_m[0] = ground / k
    los_x[0] = s
    los_y[0] = c
    rho = fmax(slant, 0.0) if isfinite(slant) else ground
    cross = rho * rho * var_az
    ss = s * s * k2
    cc = c * c * k2
    sc = s * c * k2
    R[0] = var_r * ss + cross * cc
    R[3] = var_r * cc + cross * ss
    R[1] = (var_r - cross) * sc
    R[2] = R[1]


# -- a batch of plots, whole -----------------------------------------------------------------

include "interp.pxi"


cdef enum:  # the rows of ``plot_measurements``' numbers
    C_T, C_LAT, C_LON, C_FL, C_SPEED, C_COURSE, C_SLANT, C_THETA, C_K, C_GROUND, C_LOS_X, \
        C_LOS_Y, C_NAN, C_ROWS


def plot_measurements(list messages, object addresses, object codes, object callsigns,
                      dict detections, object non_discrete, Conic conic, object scale_lat,
                      object scale, double nm, double xr, double yr, double var_r,
                      double var_az):
    """One source's plots to the tracker's columns in one call: each plot read as
    ``plot_columns`` reads it, the plots without a position left out, the plane position
    (``Conic.plane``), the plane's scale at each (numpy's ``interp`` in the table
    ``scale_lat`` -> ``scale``), and, from an antenna at (xr, yr) (nan: unknown, left to
    the caller), the polar noise rotated to the line of sight (``_noise``) with the first
    plot's scale squared as Python squares it.

    Returns (the positions kept [m]; how many were left out; numbers [13, m]: t, lat,
    lon, fl, gs_kt, hdg_deg, slant range (rho_nm * nm), theta_deg, scale, ground
    distance, line of sight x, y (nan without the antenna), and a row of nan (what plots
    do not have); xy [m, 2]; R [m, 2, 2] (uninitialised without the antenna); ident [m,
    4]; kind [m]; track numbers [m]; the callsigns' text; whether a plot is primary).
    Each plot is read straight into the row it keeps (no columns of every plot first,
    then the kept ones taken: the caller had to gather, count and number them; issue
    16).  A batch's dozen numpy calls were most of its cost: here they are one; and its
    arrays are made and read by numpy's C API, not np.empty and typed memoryviews, whose
    dozen acquisitions cost a third of a sector's call.  ``non_discrete`` (uint8 [4096]),
    ``scale_lat`` and ``scale`` (float64) are C-contiguous numpy arrays."""
    cdef Py_ssize_t i, m = 0, n = len(messages), nt, ns, nd
    cdef const double* xp = <const double*>_column(scale_lat, cnp.NPY_FLOAT64, CONTIGUOUS,
                                                   &nt, NULL, "scale_lat")
    cdef const double* fp = <const double*>_column(scale, cnp.NPY_FLOAT64, CONTIGUOUS, &ns,
                                                   NULL, "scale")
    cdef const unsigned char* table = <const unsigned char*>_column(
        non_discrete, cnp.NPY_UINT8, CONTIGUOUS, &nd, NULL, "non_discrete")
    if ns != nt or nt < 2:
        raise ValueError("plot_measurements: the scale table's columns differ in length")
    if nd != 0o10000:
        raise ValueError("non_discrete: one flag per Mode-3/A code (4096)")
    cdef cnp.npy_intp dims[3]
    dims[0] = n
    dims[1] = 8
    num = cnp.PyArray_EMPTY(2, dims, cnp.NPY_FLOAT64, 0)  # each plot's fields, in its row
    dims[1] = 4
    ident = cnp.PyArray_EMPTY(2, dims, cnp.NPY_INT64, 0)
    kind = cnp.PyArray_EMPTY(1, dims, cnp.NPY_INT64, 0)
    number = cnp.PyArray_EMPTY(1, dims, cnp.NPY_INT64, 0)
    kept = cnp.PyArray_EMPTY(1, dims, cnp.NPY_INT64, 0)
    # their data, which the slices below keep (views of the same)
    cdef double* nv = <double*>cnp.PyArray_DATA(<cnp.ndarray>num)
    cdef int64_t* iv = <int64_t*>cnp.PyArray_DATA(<cnp.ndarray>ident)
    cdef int64_t* kindv = <int64_t*>cnp.PyArray_DATA(<cnp.ndarray>kind)
    cdef int64_t* tv = <int64_t*>cnp.PyArray_DATA(<cnp.ndarray>number)
    cdef int64_t* keep = <int64_t*>cnp.PyArray_DATA(<cnp.ndarray>kept)
    cdef list text = [None] * n
    cdef _Layout lay = _layout_of(messages)
    for i in range(n):  # a plot without a position is read (and checked) but not kept
        if _plot(nv + 8 * m, iv + 4 * m, kindv + m, tv + m, text, m, messages[i], lay,
                 addresses, codes, callsigns, detections):
            keep[m] = i
            m += 1
    if m < n:
        kept, ident, kind, number = kept[:m], ident[:m], kind[:m], number[:m]
        del text[m:]
    _discrete(iv, m, table)
    dims[0] = C_ROWS
    dims[1] = m
    cols = cnp.PyArray_EMPTY(2, dims, cnp.NPY_FLOAT64, 0)
    dims[0] = m
    dims[1] = 2
    dims[2] = 2
    xy = cnp.PyArray_EMPTY(2, dims, cnp.NPY_FLOAT64, 0)
    R = cnp.PyArray_EMPTY(3, dims, cnp.NPY_FLOAT64, 0)
    cdef double* cv = <double*>cnp.PyArray_DATA(<cnp.ndarray>cols)
    cdef double* pv = <double*>cnp.PyArray_DATA(<cnp.ndarray>xy)
    cdef double* Rv = <double*>cnp.PyArray_DATA(<cnp.ndarray>R)
    cdef double k2 = 0.0
    cdef bint antenna = xr == xr, primaries = False  # as the caller tests it
    for i in range(m):  # row r of cols: cv[r * m + i]
        cv[C_T * m + i] = nv[8 * i]
        cv[C_LAT * m + i] = nv[8 * i + 1]
        cv[C_LON * m + i] = nv[8 * i + 2]
        cv[C_FL * m + i] = nv[8 * i + 3]
        cv[C_SPEED * m + i] = nv[8 * i + 4]
        cv[C_COURSE * m + i] = nv[8 * i + 5]
        cv[C_SLANT * m + i] = nv[8 * i + 6] * nm
        cv[C_THETA * m + i] = nv[8 * i + 7]
        cv[C_NAN * m + i] = NAN
        conic.point(nv[8 * i + 1], nv[8 * i + 2], &pv[2 * i], &pv[2 * i + 1])
        cv[C_K * m + i] = _interp(nv[8 * i + 1], xp, fp, nt)
    if m:
        k2 = (<object> cv[C_K * m]) ** 2  # Python's float pow, as the numpy code squared it
    for i in range(m):
        if antenna:
            _noise(pv[2 * i], pv[2 * i + 1], cv[C_SLANT * m + i], cv[C_K * m + i], xr, yr,
                   var_r, var_az, k2, &Rv[4 * i], &cv[C_GROUND * m + i],
                   &cv[C_LOS_X * m + i], &cv[C_LOS_Y * m + i])
            primaries = primaries or kindv[i] == PRIMARY
        else:
            cv[C_GROUND * m + i] = NAN
            cv[C_LOS_X * m + i] = NAN
            cv[C_LOS_Y * m + i] = NAN
    return kept, n - m, cols, xy, R, ident, kind, number, text, primaries


# -- a radar's registration applied ---------------------------------------------------------

cdef inline double _finite(double v) noexcept nogil:
    """numpy's nan_to_num of one value: nan 0, infinities the largest finite."""
    if v != v:
        return 0.0
    if v == HUGE_VAL:
        return DBL_MAX
    if v == -HUGE_VAL:
        return -DBL_MAX
    return v


def correct_plots(object xy, object t, object slant, object ground, object k, object los_x,
                  object los_y, double range_bias, double gain, double azimuth,
                  double delay) -> tuple[object, object, object, object]:
    """Move plots by their radar's registration (gateway/associate/registration.py
    ``Registration.correct`` says what the terms are): returns the corrected positions
    ``xy`` [n, 2], times ``t``, slant and ground ranges, all new arrays (the given ones,
    the raw plots, are left as they are, which the caller keeps to learn from).
    ``gain`` and ``azimuth`` are per metre of range (the unknowns divided by their
    reference range), ``delay`` in seconds.  ``xy``: C-contiguous float64 [n, 2]; the
    others float64 [n], aligned, any stride, native byte order, read without typed
    memoryviews (seven of them cost more than the plots of a sector).

    Where a plot's geometry is unknown (nan) its shift is nan: if any is, every nan shift
    is none and an infinite one the largest finite (numpy's nan_to_num, as the numpy code
    did), so a plot of unknown geometry stays where it is."""
    cdef Py_ssize_t i, n, nt, ns, ng, nk, nx, ny, st, ss, sg, sk, sx, sy
    cdef Array xa
    _array(xy, cnp.NPY_FLOAT64, 2, CONTIGUOUS, &xa, "correct_plots: xy")
    if xa.shape[1] != 2:
        raise ValueError("correct_plots: xy is not [n, 2]")
    n = xa.shape[0]
    cdef const double* xp = <const double*>xa.data
    cdef const char* tp = _column(t, cnp.NPY_FLOAT64, 0, &nt, &st, "correct_plots: t")
    cdef const char* sp = _column(slant, cnp.NPY_FLOAT64, 0, &ns, &ss, "correct_plots: slant")
    cdef const char* gp = _column(ground, cnp.NPY_FLOAT64, 0, &ng, &sg, "correct_plots: ground")
    cdef const char* kp = _column(k, cnp.NPY_FLOAT64, 0, &nk, &sk, "correct_plots: k")
    cdef const char* lxp = _column(los_x, cnp.NPY_FLOAT64, 0, &nx, &sx, "correct_plots: los_x")
    cdef const char* lyp = _column(los_y, cnp.NPY_FLOAT64, 0, &ny, &sy, "correct_plots: los_y")
    if nt != n or ns != n or ng != n or nk != n or nx != n or ny != n:
        raise ValueError("correct_plots: arrays differ in shape")
    cdef cnp.npy_intp dims[2]
    dims[0], dims[1] = n, 2
    xy_a = cnp.PyArray_EMPTY(2, dims, cnp.NPY_FLOAT64, 0)
    t_a = cnp.PyArray_EMPTY(1, dims, cnp.NPY_FLOAT64, 0)
    slant_a = cnp.PyArray_EMPTY(1, dims, cnp.NPY_FLOAT64, 0)
    ground_a = cnp.PyArray_EMPTY(1, dims, cnp.NPY_FLOAT64, 0)
    cdef double* d = <double*>cnp.PyArray_DATA(<cnp.ndarray>xy_a)  # the shifts, then xy
    cdef double* t_out = <double*>cnp.PyArray_DATA(<cnp.ndarray>t_a)
    cdef double* slant_out = <double*>cnp.PyArray_DATA(<cnp.ndarray>slant_a)
    cdef double* ground_out = <double*>cnp.PyArray_DATA(<cnp.ndarray>ground_a)
    cdef double dslant, along, across, ka, kc, s_i, g_i, k_i, lx, ly
    cdef bint nan = False, plus = False, minus = False
    with nogil:
        for i in range(n):
            s_i = (<const double*>(sp + i * ss))[0]
            g_i = (<const double*>(gp + i * sg))[0]
            k_i = (<const double*>(kp + i * sk))[0]
            lx = (<const double*>(lxp + i * sx))[0]
            ly = (<const double*>(lyp + i * sy))[0]
            dslant = range_bias + gain * s_i
            along = fmax(s_i / g_i, 1.0) * dslant
            across = azimuth * g_i
            ka = along * k_i
            kc = across * k_i
            d[2 * i] = ka * lx + kc * ly
            d[2 * i + 1] = ka * ly - kc * lx
            slant_out[i] = s_i - dslant
            ground_out[i] = g_i - along
            nan = nan or d[2 * i] != d[2 * i] or d[2 * i + 1] != d[2 * i + 1]
            plus = plus or d[2 * i] == HUGE_VAL or d[2 * i + 1] == HUGE_VAL
            minus = minus or d[2 * i] == -HUGE_VAL or d[2 * i + 1] == -HUGE_VAL
        nan = nan or (plus and minus)  # the sum numpy tested was nan
        for i in range(n):
            d[2 * i] = xp[2 * i] - (_finite(d[2 * i]) if nan else d[2 * i])
            d[2 * i + 1] = xp[2 * i + 1] - (_finite(d[2 * i + 1]) if nan else d[2 * i + 1])
            t_out[i] = (<const double*>(tp + i * st))[0] - delay
    return xy_a, t_a, slant_a, ground_a



# -- the frame's convergence -----------------------------------------------------------------

def north(const double[:] lon, double cone, double lon_0) -> object:
    """``cone * (lon - lon_0)``, numpy's two roundings in its order: the grid bearing of
    true north (``ConformalFrame.north``) in one call."""
    cdef Py_ssize_t i, n = lon.shape[0]
    out = np.empty(n)
    cdef double[::1] ov = out
    with nogil:
        for i in range(n):
            ov[i] = cone * (lon[i] - lon_0)
    return out


# -- a primary plot re-placed at a track's height -------------------------------------------

ctypedef unsigned char flag


def height_chord(const double[:] slant, const int64_t[:] kind, const int64_t[:] j,
                 const double[:] fl, double antenna_m, double earth_r, double ft,
                 ) -> tuple[object, object]:
    """The first half of ``height_correction`` (gateway/associate/measurements.py) for the
    plots ``j`` at flight levels ``fl``: ``sqrt(min(chord2, 1))`` of each, whose arcsin
    numpy takes (its SIMD arcsin is not libm's to the last bit), and which of them are
    re-placed (primary, slant range and level known).  numpy's operations in its order:
    ``h = fl * 100 * ft``, ``rt = earth_r + (h or 0)``,
    ``chord2 = max(slant^2 - (rt - ra)^2, 0) / (4 ra rt)`` with nan kept as
    ``np.clip``/``np.minimum`` keep it (the difference is never -0: no sign to lose)."""
    cdef Py_ssize_t i, n = j.shape[0], m = slant.shape[0]
    if fl.shape[0] != n or kind.shape[0] != m:
        raise ValueError("height_chord: arrays differ in shape")
    q_out = np.empty(n)
    ok_out = np.empty(n, dtype=bool)
    cdef double[::1] q = q_out
    cdef flag[::1] ok = ok_out
    cdef double ra = earth_r + antenna_m, s, h, rt, d, c
    cdef int64_t r
    cdef bint good
    for i in range(n):
        r = j[i]
        if r < 0 or r >= m:
            raise IndexError(f"height_chord: plot {r} outside [0, {m})")
        s = slant[r]
        h = fl[i] * 100.0 * ft
        good = kind[r] == PRIMARY and isfinite(s) and isfinite(h)
        ok[i] = good
        rt = earth_r + (h if good else 0.0)
        d = rt - ra
        c = s * s - d * d
        if c < 0.0:
            c = 0.0
        c = c / (4.0 * ra * rt)
        if c > 1.0:
            c = 1.0
        q[i] = sqrt(c)
    return q_out, ok_out


def height_shift(const double[:] arcsin, const flag[:] ok, const int64_t[:] j,
                 const double[:] ground_m, const double[:] los_x, const double[:] los_y,
                 double earth_r) -> tuple[object, object]:
    """The second half of ``height_correction``: the ground range ``2 earth_r arcsin``
    less the plot's ground distance where re-placed (else 0), numpy's ``nan_to_num`` of
    it, along the line of sight: (dx, dy)."""
    cdef Py_ssize_t i, n = j.shape[0], m = ground_m.shape[0]
    if arcsin.shape[0] != n or ok.shape[0] != n or los_x.shape[0] != m \
            or los_y.shape[0] != m:
        raise ValueError("height_shift: arrays differ in shape")
    dx_out = np.empty(n)
    dy_out = np.empty(n)
    cdef double[::1] dx = dx_out, dy = dy_out
    cdef double two_r = 2.0 * earth_r, shift
    cdef int64_t r
    for i in range(n):
        r = j[i]
        if r < 0 or r >= m:
            raise IndexError(f"height_shift: plot {r} outside [0, {m})")
        shift = _finite(two_r * arcsin[i] - ground_m[r]) if ok[i] else 0.0
        dx[i] = shift * los_x[r]
        dy[i] = shift * los_y[r]
    return dx_out, dy_out


# -- a batch's measurements at some rows ------------------------------------------------------

from libc.string cimport memcpy


def gather(tuple arrays, object rows) -> tuple:
    """``tuple(a[rows] for a in arrays)`` (``Measurements.take``), in one call: its
    eighteen fancy indexings of arrays of a few rows were most of a take's cost.  Each
    array's rows (its entries along the first axis, of any stride, the rest of each row
    C-contiguous) are copied into a new C-contiguous array of its type, as numpy's
    indexing copies them; ``rows`` an int64 array [n], negative counting from the end,
    outside: IndexError as numpy raises it.  Any other ``rows``, or an array of another
    layout or of objects, is indexed by numpy itself."""
    cdef cnp.ndarray r, a
    cdef Py_ssize_t i, d, n, nd, length, block, stride, rs, expect
    cdef int64_t j
    cdef const char* rdata
    cdef const char* src
    cdef char* dst
    cdef cnp.npy_intp dims[32]
    if not (cnp.PyArray_Check(rows) and cnp.PyArray_TYPE(<cnp.ndarray>rows) == cnp.NPY_INT64
            and cnp.PyArray_NDIM(<cnp.ndarray>rows) == 1
            and cnp.PyArray_ISALIGNED(<cnp.ndarray>rows)
            and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>rows)):
        return tuple([b[rows] for b in arrays])
    r = <cnp.ndarray>rows
    n = cnp.PyArray_DIM(r, 0)
    rs = cnp.PyArray_STRIDE(r, 0)
    rdata = <const char*>cnp.PyArray_DATA(r)
    out = []
    for b in arrays:
        if not cnp.PyArray_Check(b):
            out.append(b[rows])
            continue
        a = <cnp.ndarray>b
        nd = cnp.PyArray_NDIM(a)
        # the built-in number types (bool to complex): made from their type number alone
        if (nd < 1 or nd > 32 or cnp.PyArray_TYPE(a) >= cnp.NPY_OBJECT
                or not cnp.PyArray_ISALIGNED(a) or not cnp.PyArray_ISNOTSWAPPED(a)):
            out.append(b[rows])
            continue
        block = cnp.PyArray_ITEMSIZE(a)
        expect = block
        for d in range(nd - 1, 0, -1):  # the rest of a row C-contiguous
            if cnp.PyArray_DIM(a, d) > 1 and cnp.PyArray_STRIDE(a, d) != expect:
                break
            expect *= cnp.PyArray_DIM(a, d)
        else:
            d = 0
        if d:
            out.append(b[rows])
            continue
        block = expect
        length = cnp.PyArray_DIM(a, 0)
        stride = cnp.PyArray_STRIDE(a, 0)
        for d in range(nd):
            dims[d] = cnp.PyArray_DIM(a, d)
        dims[0] = n
        o = cnp.PyArray_EMPTY(nd, dims, cnp.PyArray_TYPE(a), 0)
        dst = <char*>cnp.PyArray_DATA(<cnp.ndarray>o)
        src = <const char*>cnp.PyArray_DATA(a)
        for i in range(n):
            j = (<const int64_t*>(rdata + i * rs))[0]
            if j < 0:
                j += length
            if j < 0 or j >= length:
                raise IndexError(f"index {(<const int64_t*>(rdata + i * rs))[0]} is out "
                                 f"of bounds for axis 0 with size {length}")
            memcpy(dst + i * block, src + j * stride, block)
        out.append(o)
    return tuple(out)


# -- a source's own velocity in the plane ---------------------------------------------------

def velocity_terms(object speed, object course, object k, object lon, double kt,
                   double cone, double lon_0) -> tuple[object, object, object]:
    """The first half of ``Measurements.velocity`` (gateway/associate/measurements.py):
    which rows know their velocity (speed and course finite), and of those rows, in
    order, the speed in plane metres a second ``speed * kt * k`` and the grid course
    ``radians(course) + cone * (lon - lon_0)`` (numpy's ``radians`` is one
    multiplication by pi/180), whose sine and cosine numpy takes (its SIMD sin and cos
    are not libm's to the last bit).  The arrays are float64 [n], any stride."""
    cdef Py_ssize_t i, m = 0, n, nk, nl, nc
    cdef Py_ssize_t ss_, sc_, sk_, sl_
    cdef const char* sp = _column(speed, cnp.NPY_FLOAT64, 0, &n, &ss_, "speed")
    cdef const char* cp = _column(course, cnp.NPY_FLOAT64, 0, &nc, &sc_, "course")
    cdef const char* kp = _column(k, cnp.NPY_FLOAT64, 0, &nk, &sk_, "k")
    cdef const char* lp = _column(lon, cnp.NPY_FLOAT64, 0, &nl, &sl_, "lon")
    if nc != n or nk != n or nl != n:
        raise ValueError("velocity_terms: arrays differ in length")
    cdef cnp.npy_intp dim = n
    known = cnp.PyArray_ZEROS(1, &dim, cnp.NPY_BOOL, 0)
    cdef flag* kn = <flag*>cnp.PyArray_DATA(<cnp.ndarray>known)
    cdef double v, c
    for i in range(n):
        v = (<const double*>(sp + i * ss_))[0]
        c = (<const double*>(cp + i * sc_))[0]
        if isfinite(v) and isfinite(c):
            kn[i] = 1
            m += 1
    dim = m
    s_out = cnp.PyArray_EMPTY(1, &dim, cnp.NPY_FLOAT64, 0)
    c_out = cnp.PyArray_EMPTY(1, &dim, cnp.NPY_FLOAT64, 0)
    cdef double* so = <double*>cnp.PyArray_DATA(<cnp.ndarray>s_out)
    cdef double* co = <double*>cnp.PyArray_DATA(<cnp.ndarray>c_out)
    cdef double deg = M_PI / 180.0
    m = 0
    for i in range(n):
        if kn[i]:
            so[m] = (<const double*>(sp + i * ss_))[0] * kt * (
                <const double*>(kp + i * sk_))[0]
            co[m] = (<const double*>(cp + i * sc_))[0] * deg + cone * (
                (<const double*>(lp + i * sl_))[0] - lon_0)
            m += 1
    return known, s_out, c_out


def velocity_fill(object known, object s, object sin_c, object cos_c, double var
                  ) -> tuple[object, object]:
    """The second half of ``Measurements.velocity``: the velocity [n, 2] (``s * sin``,
    ``s * cos`` of the known rows, in order; zeros elsewhere) and its variance [n]
    (``var`` where known, nan elsewhere)."""
    cdef Py_ssize_t i, m = 0, n, ns, nsn, ncs, ss_, ssn, scs
    cdef const char* kp = _column(known, cnp.NPY_BOOL, CONTIGUOUS, &n, NULL, "known")
    cdef const char* sp = _column(s, cnp.NPY_FLOAT64, 0, &ns, &ss_, "s")
    cdef const char* snp = _column(sin_c, cnp.NPY_FLOAT64, 0, &nsn, &ssn, "sin_c")
    cdef const char* csp = _column(cos_c, cnp.NPY_FLOAT64, 0, &ncs, &scs, "cos_c")
    if nsn != ns or ncs != ns:
        raise ValueError("velocity_fill: arrays differ in length")
    cdef cnp.npy_intp dims[2]
    dims[0] = n
    dims[1] = 2
    v = cnp.PyArray_ZEROS(2, dims, cnp.NPY_FLOAT64, 0)
    w = cnp.PyArray_EMPTY(1, dims, cnp.NPY_FLOAT64, 0)
    cdef double* vp = <double*>cnp.PyArray_DATA(<cnp.ndarray>v)
    cdef double* wp = <double*>cnp.PyArray_DATA(<cnp.ndarray>w)
    cdef double sv
    for i in range(n):
        if kp[i]:
            if m >= ns:
                raise ValueError("velocity_fill: fewer terms than known rows")
            sv = (<const double*>(sp + m * ss_))[0]
            vp[2 * i] = sv * (<const double*>(snp + m * ssn))[0]
            vp[2 * i + 1] = sv * (<const double*>(csp + m * scs))[0]
            wp[i] = var
            m += 1
        else:
            wp[i] = NAN
    if m != ns:
        raise ValueError("velocity_fill: more terms than known rows")
    return v, w


# -- the frame's scale ------------------------------------------------------------------------

def interp(object x, object xp, object fp) -> object:
    """numpy's ``interp(x, xp, fp)`` of a float64 array [n] (any stride) in a table
    (``xp`` strictly increasing, ``fp``: C-contiguous float64, at least two entries), by
    ``_interp`` (interp.pxi, which the plots' kernel shares): ``ConformalFrame.scale``, an
    SDPS cycle's hundreds of lookups guessed from the table's even spacing rather than
    searched for by numpy's bisection."""
    cdef Py_ssize_t i, n, nt, ns, stride
    cdef const char* xv = _column(x, cnp.NPY_FLOAT64, 0, &n, &stride, "x")
    cdef const double* tp = <const double*>_column(xp, cnp.NPY_FLOAT64, CONTIGUOUS, &nt, NULL,
                                                   "xp")
    cdef const double* vp = <const double*>_column(fp, cnp.NPY_FLOAT64, CONTIGUOUS, &ns, NULL,
                                                   "fp")
    if ns != nt or nt < 2:
        raise ValueError("interp: the table's columns differ in length or are too short")
    cdef cnp.npy_intp dim = n
    out = cnp.PyArray_EMPTY(1, &dim, cnp.NPY_FLOAT64, 0)
    cdef double* ov = <double*>cnp.PyArray_DATA(<cnp.ndarray>out)
    with nogil:
        for i in range(n):
            ov[i] = _interp((<const double*>(xv + i * stride))[0], tp, vp, nt)
    return out
