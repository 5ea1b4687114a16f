"""One flight traced through the gateway: its truth, each radar's plots of it and the fused
track(s) that held it, as data and as a picture.

The figures of ``evaluate`` say how good the picture is on average; an integration engineer
who wants to know what happened to *one* flight (a track that coasted through a cone of
silence, an id change, a bad stretch) needs to see it.  ``trace`` gathers, sans-IO, what
the truth and the tracks file say about one flight; ``draw`` turns that into a two-panel
picture: the ground track (truth, plots by radar, fused track by id) and the horizontal
error against time, with the stretches where no radar reported the flight shaded.

Plots and fused updates are attributed to the flight the way ``evaluate`` scores them:
through the truth's track-map (which source track number stood for which flight when).
matplotlib is an optional dependency (``pip install 'asterix-gateway[plot]'``); only
``draw`` needs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gateway.evaluate import (
    EvaluationError,
    Params,
    TracksInput,
    Truth,
    _distance,
    _interp,
    _lookup,
    _pack,
    _read_lines,
    _source_name,
    parse_tracks,
    parse_truth,
)

__all__ = ["Samples", "Trace", "draw", "longest_gap_flight", "trace", "trace_files"]

# A silence shorter than this is an ordinary missed scan or two, not worth shading.
GAP_S = 20.0
_DEFAULT = Params()


@dataclass(frozen=True)
class Samples:
    """Positions at times (arrays [n]), with their horizontal error against truth, m."""

    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    error_m: np.ndarray


@dataclass(frozen=True)
class Trace:
    """What the files say about one flight."""

    flight: str
    transponder: str
    truth: Samples  # error_m is zero
    plots: dict[str, Samples] = field(default_factory=dict)  # by source name
    fused: dict[str, Samples] = field(default_factory=dict)  # by fused track id
    gaps: list[tuple[float, float]] = field(default_factory=list)  # no radar plot of it

    @property
    def id_changes(self) -> int:
        """Fused ids that held the flight, less one."""
        return max(len(self.fused) - 1, 0)


def _samples(truth: Truth, f: int, t: np.ndarray, lat: np.ndarray, lon: np.ndarray,
             tol: float) -> Samples:
    order = np.argsort(t, kind="stable")
    t, lat, lon = t[order], lat[order], lon[order]
    tla, tlo = _interp(truth, f, t, tol)
    return Samples(t, lat, lon, _distance(lat, lon, tla, tlo))


def _gaps(times: np.ndarray, start: float, end: float, min_s: float) -> list[tuple[float, float]]:
    """Intervals longer than ``min_s`` between consecutive times, inside [start, end]."""
    edges = np.concatenate([[start], np.sort(times), [end]])
    d = np.diff(edges)
    return [(float(edges[i]), float(edges[i + 1])) for i in np.flatnonzero(d > min_s)]


def _flight_of(truth: Truth, src: np.ndarray, number: np.ndarray, t: np.ndarray,
               tol: float) -> np.ndarray:
    """The flight (index) each (packed source, track number, time) stood for by the
    track-map, -1 where none."""
    span = _lookup(truth, src, number, t, tol)
    return np.where(span >= 0, truth.span_flight[np.maximum(span, 0)], -1)


def _source_flights(truth: Truth, src: tuple[int, int, int], t: np.ndarray,
                    number: np.ndarray, tol: float) -> np.ndarray:
    """``_flight_of`` for the updates of one source."""
    return _flight_of(truth, np.full(len(t), _pack(*src), dtype=np.int64), number, t, tol)


def _flight_plot_times(truth: Truth, tracks: TracksInput, f: int,
                       tol: float) -> dict[tuple[int, int, int], np.ndarray]:
    """Per source, the rows of its updates the track-map attributes to flight f."""
    out = {}
    for src, u in tracks.sources.items():
        rows = np.flatnonzero(_source_flights(truth, src, u.t, u.number, tol) == f)
        if len(rows):
            out[src] = rows
    return out


def trace(truth: Truth, tracks: TracksInput, flight: str, params: Params = _DEFAULT) -> Trace:
    """Gather one flight's truth, plots and fused tracks; KeyError for an unknown flight."""
    f = truth.index()[flight]
    tol = params.span_tolerance_s
    a, b = int(truth.offsets[f]), int(truth.offsets[f + 1])
    tt = truth.t[a:b]
    zero = np.zeros(b - a)
    out = Trace(flight, truth.transponder[f],
                Samples(tt, truth.lat[a:b], truth.lon[a:b], zero))
    plot_times = []
    for src, rows in _flight_plot_times(truth, tracks, f, tol).items():
        u = tracks.sources[src]
        if src[2] == 48:  # radar plots; SDPS tracks are drawn with them but not gap-breaking
            plot_times.append(u.t[rows])
        out.plots[_source_name(src)] = _samples(truth, f, u.t[rows], u.lat[rows],
                                                u.lon[rows], tol)
    fp = tracks.fused
    upd = fp.entry_update
    mine = _flight_of(truth, fp.entry_src, fp.entry_number, fp.t[upd], tol) == f
    held = np.unique(fp.track[upd[mine]])
    if len(tt):
        lo, hi = tt[0] - params.recent_s, tt[-1] + params.recent_s
        for k in held.tolist():
            rows = np.flatnonzero((fp.track == k) & (fp.t >= lo) & (fp.t <= hi))
            out.fused[fp.ids[k]] = _samples(truth, f, fp.t[rows], fp.lat[rows], fp.lon[rows],
                                            tol)
        times = np.sort(np.concatenate(plot_times)) if plot_times else np.zeros(0)
        if len(times) > 1:  # between its first and last plot: entering coverage is no gap
            out.gaps.extend(_gaps(times, float(times[0]), float(times[-1]), GAP_S))
    return out


def longest_gap_flight(truth: Truth, tracks: TracksInput, params: Params = _DEFAULT,
                       ) -> str | None:
    """The flight with the longest silence of every radar in the middle of its life (the
    first and last plots bound it: coming into and leaving coverage are not gaps): the
    cone-of-silence overflight, when there is one."""
    tol = params.span_tolerance_s
    times: dict[int, list[np.ndarray]] = {}
    for src, u in tracks.sources.items():
        if src[2] != 48:
            continue
        fl = _source_flights(truth, src, u.t, u.number, tol)
        for g in np.unique(fl[fl >= 0]).tolist():
            times.setdefault(g, []).append(u.t[fl == g])
    best, best_gap = None, GAP_S
    for g, parts in times.items():
        t = np.sort(np.concatenate(parts))
        if len(t) > 1 and float(np.diff(t).max()) > best_gap:
            best, best_gap = truth.flights[g], float(np.diff(t).max())
    return best


def trace_files(truth_path: str | Path, tracks_path: str | Path, flight: str | None = None,
                params: Params = _DEFAULT) -> Trace:
    """``trace`` of a truth file and a tracks file; without ``flight``, the flight of the
    longest silence (``longest_gap_flight``).  EvaluationError when there is none or the
    flight is not in the truth; OSError when a file is unreadable."""
    truth, _ = parse_truth(_read_lines(truth_path))
    tracks = parse_tracks(_read_lines(tracks_path))
    if flight is None:
        flight = longest_gap_flight(truth, tracks, params)
        if flight is None:
            raise EvaluationError("no flight has a silence of every radar to trace; "
                                  "name one with --flight")
    if flight not in truth.index():
        raise EvaluationError(f"flight {flight!r} is not in {truth_path}")
    return trace(truth, tracks, flight, params)


def _local_km(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float,
              ) -> tuple[np.ndarray, np.ndarray]:
    """East and north of (lat0, lon0), km, equirectangular: for drawing a few hundred km."""
    k = np.pi / 180.0 * 6371.0
    return (lon - lon0) * k * np.cos(np.radians(lat0)), (lat - lat0) * k


def draw(tr: Trace, path: str | Path) -> None:
    """Write the two-panel picture of a trace (PNG, SVG or PDF by the file's suffix).
    ImportError with the install hint when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the picture needs matplotlib: "
                          "pip install 'asterix-gateway[plot]'") from exc
    lat0 = float(np.nanmean(tr.truth.lat)) if len(tr.truth.t) else 0.0
    lon0 = float(np.nanmean(tr.truth.lon)) if len(tr.truth.t) else 0.0
    t0 = float(tr.truth.t[0]) if len(tr.truth.t) else 0.0
    fig, (ax_map, ax_err) = plt.subplots(1, 2, figsize=(13, 5.5),
                                         gridspec_kw={"width_ratios": [1.1, 1]})
    x, y = _local_km(tr.truth.lat, tr.truth.lon, lat0, lon0)
    ax_map.plot(x, y, color="black", lw=1.2, label="truth", zorder=3)
    for (g0, g1) in tr.gaps:
        sel = (tr.truth.t >= g0) & (tr.truth.t <= g1)
        ax_map.plot(x[sel], y[sel], color="orange", lw=6, alpha=0.35, zorder=1)
        ax_err.axvspan(g0 - t0, g1 - t0, color="orange", alpha=0.25, lw=0)
    for name, s in tr.plots.items():
        px, py = _local_km(s.lat, s.lon, lat0, lon0)
        ax_map.scatter(px, py, s=7, alpha=0.7, label=f"plots {name}", zorder=2)
        ax_err.scatter(s.t - t0, s.error_m, s=5, alpha=0.5, label=f"plots {name}")
    for name, s in tr.fused.items():
        fx, fy = _local_km(s.lat, s.lon, lat0, lon0)
        ax_map.plot(fx, fy, lw=1.0, marker=".", ms=3, label=f"fused {name}", zorder=4)
        ax_err.plot(s.t - t0, s.error_m, lw=1.2, label=f"fused {name}")
    ax_map.set_xlabel("east, km")
    ax_map.set_ylabel("north, km")
    ax_map.set_aspect("equal", adjustable="datalim")
    ax_map.grid(alpha=0.3)
    ax_map.legend(fontsize=7, loc="best")
    ax_err.set_xlabel(f"seconds since the flight's first truth sample (t={t0:.0f})")
    ax_err.set_ylabel("horizontal error against truth, m")
    ax_err.set_yscale("symlog", linthresh=100.0)
    ax_err.grid(alpha=0.3)
    ax_err.legend(fontsize=7, loc="upper right")
    silent = sum(g1 - g0 for g0, g1 in tr.gaps)
    fig.suptitle(f"flight {tr.flight} ({tr.transponder or 'unknown'}): "
                 f"{len(tr.fused)} fused id(s), {silent:.0f} s without a radar plot (shaded)")
    fig.tight_layout()
    fig.savefig(str(path), dpi=110)
    plt.close(fig)
