"""CAT062 columns of one SDPS to track fields, on WGS-84 and UTC, in shared-format units.

Position is I105 when present; otherwise, if configured, I100 taken back from the SDPS
system plane (stereographic at its system reference point) to WGS-84.

The fields are read in one pass of a kernel (ext/normalize.pyx's track_fields), not ~40
numpy calls on a live datagram's few tracks (issue 16); tests/test_normalize_fast.py holds
it to the numpy version.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyproj import CRS, Transformer

from gateway import _normalize
from gateway.decoder import Batch
from gateway.normalize.clock import absolute_time, in_window
from gateway.units import KT

TRACK_FLAG_COLUMNS = (("spi", "080/SPI"), ("sim", "080/SIM"), ("end", "080/TSE"),
                      ("coasting", "080/CST"), ("mono-sensor", "080/MON"),
                      ("tentative", "080/CNF"))
FPL_FIELDS = ("390/CS", "390/DEP", "390/DST", "390/CFL", "390/TAC", "390/WTC")
_FLAG_PATHS = tuple(path for _name, path in TRACK_FLAG_COLUMNS)


def system_plane_crs(srp_lat: float, srp_lon: float) -> CRS:
    """The SDPS system plane of I062/100: stereographic at the system reference point.
    One definition for whoever writes I100 (the simulator) and whoever reads it."""
    return CRS.from_proj4(f"+proj=sterea +lat_0={srp_lat} +lon_0={srp_lon} +k=1 +x_0=0 "
                          "+y_0=0 +ellps=WGS84 +units=m")


def system_plane(srp_lat: float, srp_lon: float) -> Transformer:
    """The system plane to WGS-84 lon/lat."""
    return Transformer.from_crs(system_plane_crs(srp_lat, srp_lon), "EPSG:4326",
                                always_xy=True)


@dataclass(frozen=True)
class TrackColumns:
    rows: np.ndarray
    t: np.ndarray
    track_number: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    fl: np.ndarray
    gs_kt: np.ndarray
    trk_deg: np.ndarray
    roc_fpm: np.ndarray
    mode3a: np.ndarray
    icao24: np.ndarray
    callsign: np.ndarray  # bytes
    has_fpl: np.ndarray
    fpl: dict[str, np.ndarray]  # FPL_FIELDS -> values (masked by has_fpl)
    flags: np.ndarray  # bitmask over TRACK_FLAG_COLUMNS


def normalise_tracks(batch: Batch, rows: np.ndarray, plane: Transformer | None,
                     reference: np.ndarray, window: tuple[float, float],
                     ) -> tuple[TrackColumns, dict[str, int]]:
    dropped: dict[str, int] = {}
    has_105 = batch.present["105/LAT"][rows]
    has_100 = batch.present["100/X"][rows] & (plane is not None)
    usable = (batch.present["070"][rows] & batch.present["040"][rows] & (has_105 | has_100)
              & np.isfinite(reference))
    dropped["track-without-number-time-or-position"] = int((~usable).sum())
    rows, reference, has_105 = rows[usable], reference[usable], has_105[usable]
    t = absolute_time(batch.columns["070"][rows], reference)
    fresh = in_window(t, reference, *window)
    dropped["track-out-of-time-window"] = int((~fresh).sum())
    rows, t, has_105 = rows[fresh], t[fresh], has_105[fresh]

    lat = batch.columns["105/LAT"][rows].copy()
    lon = batch.columns["105/LON"][rows].copy()
    if plane is not None and not has_105.all():
        need = ~has_105
        lon[need], lat[need] = plane.transform(batch.columns["100/X"][rows][need],
                                               batch.columns["100/Y"][rows][need])
    (vx, vy, fl, roc, mode3a, icao24, track_number, flags,
     has_fpl) = _normalize.track_fields(batch.columns, batch.present, rows.astype(np.int64),
                                        _FLAG_PATHS, FPL_FIELDS)
    callsign = np.where(batch.present["380/ID"][rows], batch.columns["380/ID"][rows],
                        batch.columns["245/CHR"][rows])
    columns = TrackColumns(
        rows=rows, t=t, track_number=track_number, lat=lat, lon=lon, fl=fl,
        gs_kt=np.hypot(vx, vy) / KT, trk_deg=np.degrees(np.arctan2(vx, vy)) % 360.0,
        roc_fpm=roc, mode3a=mode3a, icao24=icao24, callsign=callsign, has_fpl=has_fpl,
        fpl={p: np.where(batch.present[p][rows], batch.columns[p][rows],
                         np.nan if batch.columns[p].dtype.kind == "f" else b"")
             for p in FPL_FIELDS},
        flags=flags,
    )
    return columns, dropped
