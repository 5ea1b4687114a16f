"""CAT048 columns of one radar to plot fields: placed on the earth, on UTC, in the units of
the shared format.  Vectorised; message objects are made later, at the edge.

The fields themselves are read in one pass of a kernel (ext/normalize.pyx's plot_fields):
as numpy calls they were ~60 on the few plots of a live datagram (issue 16);
tests/test_normalize_fast.py holds it to the numpy version."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gateway import _normalize
from gateway.decoder import Batch
from gateway.messages import Detection
from gateway.normalize.clock import absolute_time, in_window
from gateway.normalize.geometry import RadarGeometry
from gateway.units import FT, NM

NM_S_TO_KT = 3600.0
DETECTION: dict[int, Detection] = {  # I048/020 TYP; 0 (no detection) has no name
    1: "psr", 2: "ssr", 3: "ssr+psr", 4: "modes", 5: "modes", 6: "modes+psr", 7: "modes+psr"}
EMERGENCY_CODES = (0o7500, 0o7600, 0o7700)


@dataclass(frozen=True)
class HeightRules:
    """How a plot's height is known: Mode C, else the 3D radar's height, else a fallback."""

    offset_m: float  # added to pressure altitude (and 3D height) for the ellipsoidal height
    fallback_m: float


@dataclass(frozen=True)
class PlotColumns:
    """Normalised plots of one radar (arrays [n]; ``rows`` index the batch)."""

    rows: np.ndarray
    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    rho_nm: np.ndarray
    theta_deg: np.ndarray
    fl: np.ndarray  # nan: unknown
    mode3a: np.ndarray  # -1: unknown
    icao24: np.ndarray  # -1: unknown
    callsign: np.ndarray  # bytes, b"": unknown
    track_number: np.ndarray  # -1: unknown
    gs_kt: np.ndarray
    hdg_deg: np.ndarray
    typ: np.ndarray  # -1: unknown
    flags: np.ndarray  # bitmask of FLAG_NAMES


FLAG_NAMES = ("spi", "sim", "test", "emergency", "military-emergency", "military-id",
              "fixed-transponder")


def normalise_plots(batch: Batch, rows: np.ndarray, site: RadarGeometry, heights: HeightRules,
                    reference: np.ndarray, window: tuple[float, float],
                    ) -> tuple[PlotColumns, dict[str, int]]:
    """Plots of one radar; records without time or position, or out of the time window,
    are left out and counted."""
    dropped: dict[str, int] = {}
    usable = batch.present["140"][rows] & batch.present["040/RHO"][rows] & np.isfinite(reference)
    dropped["plot-without-time-or-position"] = int((~usable).sum())
    rows, reference = rows[usable], reference[usable]
    t = absolute_time(batch.columns["140"][rows], reference)
    fresh = in_window(t, reference, *window)
    dropped["plot-out-of-time-window"] = int((~fresh).sum())
    rows, t = rows[fresh], t[fresh]

    (fl, height, rho, theta, mode3a, icao24, track_number, gs_kt, hdg_deg, typ,
     flags) = _normalize.plot_fields(batch.columns, batch.present, rows.astype(np.int64),
                                     FT, NM_S_TO_KT, heights.offset_m, heights.fallback_m,
                                     EMERGENCY_CODES)
    lat, lon, _elev = site.place(rho * NM, theta, height)
    columns = PlotColumns(
        rows=rows, t=t, lat=lat, lon=lon, rho_nm=rho, theta_deg=theta, fl=fl, mode3a=mode3a,
        icao24=icao24, callsign=batch.columns["240"][rows], track_number=track_number,
        gs_kt=gs_kt, hdg_deg=hdg_deg, typ=typ, flags=flags,
    )
    return columns, dropped
