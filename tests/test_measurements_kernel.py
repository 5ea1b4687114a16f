"""Measurements.take and Measurements.velocity, held to the numpy code they replaced, to
the bit.

``take`` indexed each array column with numpy (``value[rows]``) and built the dataclass by
keywords; ``velocity`` was a dozen numpy calls around numpy's sin and cos.  Both now call
gateway._columns (``gather``; ``velocity_terms`` and ``velocity_fill``); ``_take`` and
``_velocity`` below are the old code, kept as it was.
"""

from __future__ import annotations

import numpy as np
import pytest

from gateway._columns import gather
from gateway.associate import ConformalFrame
from gateway.associate.measurements import PRIMARY, Measurements
from gateway.units import KT

FRAME = ConformalFrame()


def _take(self: Measurements, rows: np.ndarray) -> Measurements:
    """Measurements.take as numpy did it."""
    out = Measurements(**{
        name: (value[rows] if isinstance(value, np.ndarray) else value)
        for name, value in self.__dict__.items() if name not in ("callsign_text", "fpl")},
        callsign_text=[self.callsign_text[i] for i in np.asarray(rows).tolist()],
        fpl=None if self.fpl is None else [self.fpl[i] for i in np.asarray(rows).tolist()])
    out.primaries = self.primaries and bool((out.kind == PRIMARY).any())
    out.sdps = self.sdps and len(out) > 0
    return out


def _velocity(self: Measurements, frame: ConformalFrame) -> tuple[np.ndarray, np.ndarray]:
    """Measurements.velocity as numpy did it."""
    known = np.isfinite(self.speed) & np.isfinite(self.course)
    v = np.zeros((len(self), 2))
    s = self.speed[known] * KT * self.k[known]
    c = np.radians(self.course[known]) + frame.north(self.lon[known])
    v[known, 0], v[known, 1] = s * np.sin(c), s * np.cos(c)
    return v, np.where(known, self.velocity_var, np.nan)


def _floats(rng: np.random.Generator, n: int, lo: float, hi: float,
            holes: float = 0.2) -> np.ndarray:
    """Uniform floats with nan, inf and -inf here and there."""
    a = rng.uniform(lo, hi, n)
    bad = rng.random(n) < holes
    a[bad] = rng.choice([np.nan, np.inf, -np.inf], int(bad.sum()))
    return a


def _measurements(rng: np.random.Generator, n: int, strided: bool) -> Measurements:
    """Random columns; ``strided``: the 1-d float columns are views of a table's columns
    (as an SDPS batch's are)."""
    num = _floats(rng, 7 * n, -1e3, 1e3).reshape(n, 7)

    def col(j: int, lo: float, hi: float) -> np.ndarray:
        if strided:
            num[:, j] = _floats(rng, n, lo, hi)
            return num[:, j]
        return _floats(rng, n, lo, hi)

    ident = rng.integers(-1, 1 << 24, (n, 4))
    return Measurements(
        source=int(rng.integers(0, 9)), index=rng.permutation(n).astype(np.int64),
        t=col(0, 0, 1e5), xy=rng.normal(0, 1e5, (n, 2)), lat=col(1, 24, 35),
        lon=col(2, -120, -93), k=rng.uniform(0.998, 1.003, n),
        R=rng.normal(0, 1e4, (n, 2, 2)), fl=col(3, 0, 450), roc=col(4, -3e3, 3e3),
        speed=col(5, 0, 600), course=col(6, -720, 720), ident=ident,
        callsign_text=[None if rng.random() < 0.3 else f"C{i}" for i in range(n)],
        track_number=rng.integers(-1, 4096, n), kind=rng.integers(0, 4, n),
        los_x=_floats(rng, n, -1, 1), los_y=_floats(rng, n, -1, 1),
        slant_m=_floats(rng, n, 0, 4e5), ground_m=_floats(rng, n, 0, 4e5),
        antenna_m=float(rng.uniform(0, 2e3)), primaries=bool(rng.random() < 0.7),
        velocity_var=float(rng.choice([np.nan, 225.0, 100.0])),
        fpl=None if rng.random() < 0.5 else [None] * n, sdps=bool(rng.random() < 0.5))


def _same(a: object, b: object) -> None:
    """Equal to the bit: arrays of the same type, shape and bytes."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()
    elif isinstance(a, float) and a != a:
        assert isinstance(b, float) and b != b
    else:
        assert a == b


@pytest.mark.parametrize("seed", range(40))
def test_take_is_numpy_indexing(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 40))
    m = _measurements(rng, n, strided=bool(seed % 2))
    k = int(rng.integers(0, 2 * n + 1))
    rows = rng.integers(-n, n, k).astype(np.int64) if n else np.zeros(0, dtype=np.int64)
    got, want = m.take(rows), _take(m, rows)
    assert list(got.__dict__) == list(want.__dict__)
    for name, value in want.__dict__.items():
        _same(value, got.__dict__[name])


def test_take_other_rows() -> None:
    """Rows not an int64 array: numpy indexes them, as before."""
    m = _measurements(np.random.default_rng(7), 9, strided=True)
    for rows in ([3, 1, 1], np.array([2, 0], dtype=np.int32), np.arange(9)[::-2]):
        got, want = m.take(rows), _take(m, np.asarray(rows))
        for name, value in want.__dict__.items():
            _same(value, got.__dict__[name])


def test_take_out_of_bounds() -> None:
    m = _measurements(np.random.default_rng(8), 5, strided=False)
    for bad in (5, -6):
        with pytest.raises(IndexError):
            m.take(np.array([0, bad], dtype=np.int64))


def test_gather_layouts() -> None:
    """Arrays of any stride along the first axis, rest contiguous or not, any number
    type, and objects: numpy's indexing, to the bit."""
    rng = np.random.default_rng(3)
    base = rng.normal(size=(12, 3, 4))
    arrays = (base, base[::2], base[:, 1], base[:, :, 2], base.transpose(0, 2, 1),
              base[:, 0, 0].astype(np.float32), rng.integers(0, 9, 12).astype(bool),
              rng.integers(-9, 9, (12, 1, 5)).astype(np.int8)[:, :, ::2],
              np.array([object()] * 12), base[:, :1, :])
    rows = np.array([0, 5, 5, -1, 3], dtype=np.int64)
    for a, got in zip(arrays, gather(arrays, rows), strict=True):
        _same(a[rows], got)
    rows = rows[::2]  # a strided index
    for a, got in zip(arrays, gather(arrays, rows), strict=True):
        _same(a[rows], got)


@pytest.mark.filterwarnings("ignore:invalid value encountered")
@pytest.mark.parametrize("seed", range(40))
def test_velocity_is_numpy(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    m = _measurements(rng, int(rng.integers(0, 60)), strided=bool(seed % 2))
    got, want = m.velocity(FRAME), _velocity(m, FRAME)
    for a, b in zip(want, got, strict=True):
        _same(a, b)


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_velocity_edges() -> None:
    """Courses at and beyond the circle, longitudes far out, zero and huge speeds."""
    rng = np.random.default_rng(9)
    m = _measurements(rng, 12, strided=False)
    m.speed = np.array([0.0, -0.0, 1e308, 5e-324, 450.0, np.nan, 450.0, 1.0, 2.0, 3.0,
                        np.inf, 7.0])
    m.course = np.array([0.0, 360.0, 90.0, -90.0, 1e300, 10.0, np.nan, 180.0, 270.0,
                         -0.0, 5.0, 359.9999999])
    m.lon = np.array([-106.5, -180.0, 180.0, 0.0, -93.0, np.nan, -120.0, np.inf, -1e10,
                      -106.5, -100.0, -110.0])
    got, want = m.velocity(FRAME), _velocity(m, FRAME)
    for a, b in zip(want, got, strict=True):
        _same(a, b)


def test_take_gathers_every_array_field() -> None:
    """``take`` gathers the fields annotated exactly ``np.ndarray`` and copies the others
    as they are: a new column annotated otherwise (``np.ndarray | None``) would be shared
    whole by every take, where numpy's take indexed it."""
    from dataclasses import fields

    from gateway.associate.measurements import _ARRAY_FIELDS
    arrays = {f.name for f in fields(Measurements) if "ndarray" in str(f.type)}
    assert arrays == set(_ARRAY_FIELDS)
    m = _measurements(np.random.default_rng(9), 6, strided=False)
    held = {name for name, value in m.__dict__.items() if isinstance(value, np.ndarray)}
    assert held == set(_ARRAY_FIELDS)


def test_kernels_and_byte_order() -> None:
    """Byte-swapped columns: ``gather`` leaves swapped rows to numpy's indexing (the same
    result), ``velocity_terms`` refuses them (its bytes would not be float64's)."""
    from gateway._columns import velocity_terms
    m = _measurements(np.random.default_rng(10), 7, strided=False)
    rows = np.array([4, 0, 6], dtype=np.int64)
    want = gather((m.t, m.xy), rows)
    got = gather((m.t, m.xy), rows.astype(">i8"))
    for a, b in zip(want, got, strict=True):
        _same(a, b)
    with pytest.raises(ValueError, match="byte order"):
        velocity_terms(m.speed.astype(">f8"), m.course, m.k, m.lon, KT, FRAME.cone,
                       FRAME.parameters.lon_0)
