"""``DIR/index.html``: the report as one self-contained page for people.

No network and no other file: styles inline, pictures inline SVG drawn with matplotlib
(the ``[plot]`` extra).  Without matplotlib the page still has every table and says in
one line how to get the pictures; report.json is complete either way.
"""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import Any

import numpy as np

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ccc}
h3{font-size:1.05em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.pass{background:#d9f2d9}.fail{background:#f7d4d4;font-weight:bold}.na{background:#eee;color:#777}
.cols{display:flex;flex-wrap:wrap;gap:0 2em;align-items:flex-start}
.note{color:#555;font-size:.9em}figure{margin:.5em 0}svg{max-width:100%;height:auto}
"""

FIGURES = ("pd_modes", "pd_modeac", "pd_psr", "range_bias_m", "azimuth_bias_deg",
           "time_offset_s", "range_noise_m", "azimuth_noise_deg", "false_plots_per_scan",
           "rotation_jitter_s", "delay_p95_s", "missing_sectors", "out_of_order_datagrams",
           "time_jumps", "code_mismatch_share", "level_mismatch_share",
           "duplicate_address_share")


def _e(x: object) -> str:
    return html.escape(str(x))


def _fmt(x: object) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.4g}"
    return _e(x)


def _cls(v: str) -> str:
    return {"pass": "pass", "fail": "fail"}.get(v, "na")  # n/a, incomplete


def _table(rows: list[tuple[str, object]]) -> str:
    body = "".join(f"<tr><th class=l>{_e(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _svg(fig: Any) -> str:
    """The figure as SVG markup, its text as text (the page's font) and the polar cells as
    an embedded image (a data: URI, still inside the page): drawn as curved vector paths
    they took most of 9 s for eight radars and 2 MB."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, dpi=100)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _pictures(r: dict[str, Any]) -> str:
    """The radar's pictures as inline SVG: Pd and false plots in polar cells, residuals
    and noise by range and azimuth."""
    from matplotlib.figure import Figure

    det, acc = r["detection"], r["accuracy"]
    band = float(det["range_band_nm"])
    sectors = int(det["sectors"])
    opp = {k: np.array(v, dtype=float) for k, v in det["opportunities"].items()}
    hit = {k: np.array(v, dtype=float) for k, v in det["detections"].items()}
    bands = opp["modes"].shape[0]
    theta = np.radians(np.linspace(0, 360, sectors + 1))
    radius = np.arange(bands + 1) * band
    fig = Figure(figsize=(13, 4.4))
    fig.subplots_adjust(left=0.03, right=0.97, top=0.88, bottom=0.06, wspace=0.35)
    panels = [("Pd, Mode S replies", "modes"), ("Pd, primary", "psr"), ("false plots", None)]
    for n, (title, kind) in enumerate(panels):
        ax: Any = fig.add_subplot(1, 3, n + 1, projection="polar")  # a PolarAxes
        ax.set_theta_zero_location("N")
        ax.set_theta_direction(-1)
        if kind is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                pd = np.where(opp[kind] >= 5, hit[kind] / opp[kind], np.nan)
            mesh = ax.pcolormesh(theta, radius, pd, vmin=0.5, vmax=1.0, cmap="RdYlGn",
                                 shading="flat", rasterized=True)
        else:
            cells = np.array(det["false_plot_cells"], dtype=float)
            mesh = ax.pcolormesh(theta, radius, np.where(cells > 0, cells, np.nan),
                                 cmap="magma_r", shading="flat", rasterized=True)
        fig.colorbar(mesh, ax=ax, shrink=0.7, pad=0.1)
        ax.set_title(title, fontsize=10)
        ax.set_rlabel_position(135)
        ax.tick_params(labelsize=7)
    out = [f"<figure>{_svg(fig)}<figcaption class=note>Cells of {band:g} NM by "
           f"{360 / sectors:g} deg, north up, clockwise; Pd shown where the other radars "
           f"gave at least 5 opportunities; range rings in NM.</figcaption></figure>"]

    fig = Figure(figsize=(13, 3.6))
    fig.subplots_adjust(left=0.06, right=0.94, top=0.9, bottom=0.16, wspace=0.45)
    n_res = np.array(acc["residual_count"], dtype=float)
    mean_r = np.array([[np.nan if x is None else x for x in row]
                       for row in acc["residual_range_mean_m"]], dtype=float)
    mean_a = np.array([[np.nan if x is None else x for x in row]
                       for row in acc["residual_azimuth_mean_deg"]], dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        by_band_r = np.nansum(np.nan_to_num(mean_r) * n_res, axis=1) / n_res.sum(axis=1)
        by_sector_a = np.nansum(np.nan_to_num(mean_a) * n_res, axis=0) / n_res.sum(axis=0)
    ax = fig.add_subplot(1, 3, 1)
    centres = (np.arange(bands) + 0.5) * band
    ax.bar(centres, by_band_r, width=band * 0.8, color="#4a7fb5")
    ax.axhline(0, color="#444", lw=0.8)
    ax.set_xlabel("slant range, NM")
    ax.set_ylabel("range residual, m")
    ax.set_title("range minus the others' picture", fontsize=10)
    ax = fig.add_subplot(1, 3, 2)
    ax.bar((np.arange(sectors) + 0.5) * 360 / sectors, by_sector_a, width=360 / sectors * 0.8,
           color="#b5804a")
    ax.axhline(0, color="#444", lw=0.8)
    ax.set_xlabel("azimuth, deg")
    ax.set_ylabel("azimuth residual, deg")
    ax.set_title("azimuth minus the others' picture", fontsize=10)
    ax = fig.add_subplot(1, 3, 3)
    rows = acc["noise_by_range"]
    xs = [0.5 * (b["from_nm"] + (b["to_nm"] if b["to_nm"] is not None else b["from_nm"] + 50))
          for b in rows]
    ax.plot(xs, [np.nan if b["range_noise_m"] is None else b["range_noise_m"] for b in rows],
            "o-", color="#4a7fb5", label="range, m")
    ax.set_xlabel("slant range, NM")
    ax.set_ylabel("range noise (1 sigma), m")
    ax2 = ax.twinx()
    ax2.plot(xs, [np.nan if b["azimuth_noise_deg"] is None else b["azimuth_noise_deg"]
                  for b in rows], "s--", color="#b5804a", label="azimuth, deg")
    ax2.set_ylabel("azimuth noise (1 sigma), deg")
    ax.set_title("noise after bias, by range", fontsize=10)
    for a in fig.axes:
        a.tick_params(labelsize=8)
    out.append(f"<figure>{_svg(fig)}<figcaption class=note>Residuals: each plot against the "
               "other radars' fused position at its time (mean; the radar's bias relative "
               "to the network, before registration). Noise: from second differences over "
               "three scans, the bias cancelled.</figcaption></figure>")
    return "".join(out)


def _radar(r: dict[str, Any], pictures: bool) -> str:
    v = r["verdict"]
    t = r["timing"]
    acc = r["accuracy"]
    parts = [f"<h2 id='r{r['sac']}-{r['sic']}'>{_e(r['name'])} ({r['sac']}/{r['sic']}): "
             f"<span class={_cls(r['overall'])}>{_e(r['overall'])}</span></h2>"]
    figs = "".join(f"<tr><th class=l>{_e(k)}</th><td class={_cls(v[k])}>{_e(v[k])}</td></tr>"
                   for k in FIGURES if k in v)
    parts.append(f"<div class=cols><div><h3>Verdict</h3><table>{figs}</table></div>")
    parts.append("<div><h3>Registration (against the other radars; one sigma)</h3>" + _table([
        ("range bias, m", r["range_bias_m"]), ("± sigma", r["range_bias_m_sigma"]),
        ("range gain", r["range_gain"]), ("± sigma", r["range_gain_sigma"]),
        ("azimuth bias, deg", r["azimuth_bias_deg"]), ("± sigma", r["azimuth_bias_deg_sigma"]),
        ("time offset, s (relative)", r["time_offset_s"]), ("± sigma", r["time_offset_s_sigma"]),
        ("pairs", r["registration_pairs"])]) + "</div>")
    pd, n = r["pd"], r["pd_opportunities"]
    parts.append("<div><h3>Detection</h3>" + _table([
        ("Pd Mode S", pd["modes"]), ("opportunities", n["modes"]),
        ("Pd Mode A/C", pd["modeac"]), ("opportunities", n["modeac"]),
        ("Pd primary (within psr_range_nm)", pd["psr"]), ("opportunities", n["psr"]),
        ("false plots per scan", r["false_plots_per_scan"]),
        ("highest elevation of a plot, deg", acc["max_elevation_deg"]),
        ("shortest range of a plot, NM", acc["min_range_nm"])]) + "</div>")
    parts.append("<div><h3>Accuracy and consistency</h3>" + _table([
        ("range noise, m", r["range_noise_m"]), ("azimuth noise, deg", r["azimuth_noise_deg"]),
        ("second differences", acc["noise_samples"]),
        ("Mode S level - picture, mean ft", acc["level_vs_reference_ft"]["modes"]["mean"]),
        ("Mode C level - picture, mean ft", acc["level_vs_reference_ft"]["modeac"]["mean"]),
        ("levels off by more than the tolerance", acc["level_mismatches"]),
        ("codes checked / differing", f"{acc['codes_checked']} / {acc['code_mismatches']}"),
        ("code changes on one track", acc["code_changes"]),
        ("identifications checked / differing",
         f"{acc['identifications_checked']} / {acc['identification_mismatches']}"),
        ("Mode S address twice in a scan", acc["duplicate_addresses"])]) + "</div>")
    d = t["delay_s"]
    parts.append("<div><h3>Timing</h3>" + _table([
        ("rotation period, s", t["rotation_period_s"]), ("its jitter, s", t["rotation_jitter_s"]),
        ("measured from", t["rotation_from"]), ("north markers", t["north_markers"]),
        ("sector messages", t["sector_messages"]), ("missing sectors", t["missing_sectors"]),
        ("delay detection to arrival, median s", d["median"]), ("p95 s", d["p95"]),
        ("max s", d["max"]), ("datagrams", t["datagrams"]),
        ("out of order", t["out_of_order_datagrams"]), ("time jumps", t["time_jumps"])])
        + "</div></div>")
    rows = []
    for cat, c in r["content"].items():
        items = ", ".join(f"{k}: {n}" for k, n in c["items"].items())
        rows.append((f"{cat} (edition {c['edition']}), {c['records']} records", items))
    parts.append("<h3>Content</h3>" + "".join(
        f"<p class=note><b>{_e(k)}</b>: {_e(v)}</p>" for k, v in rows))
    if pictures:
        parts.append(_pictures(r))
    return "".join(parts)


def render(report: dict[str, Any]) -> str:
    try:
        import matplotlib  # noqa: F401
        pictures = True
    except ImportError:
        pictures = False
    radars = report["radars"]
    cap = report["capture"]
    head = "".join(f"<th>{_e(k)}</th>" for k in FIGURES)
    rows = "".join(
        f"<tr><th class=l><a href='#r{r['sac']}-{r['sic']}'>{_e(r['name'])}</a></th>"
        f"<td class={_cls(r['overall'])}>{_e(r['overall'])}</td>"
        + "".join(f"<td class={_cls(r['verdict'].get(k, 'n/a'))}>"
                  f"{_e(r['verdict'].get(k, 'n/a'))}</td>" for k in FIGURES) + "</tr>"
        for r in radars)
    th = report["thresholds"]
    src = report["threshold_sources"]
    thr = "".join(f"<tr><th class=l>{_e(k)}</th><td>{_fmt(th[k])}</td>"
                  f"<td class=l>{_e(src[k])}</td></tr>" for k in th)
    problems = ", ".join(f"{k}: {v}" for k, v in report["decode_problems"].items()) or "none"
    duration = cap.get("duration_s")
    note = "" if pictures else ("<p class=note>No pictures: matplotlib is not installed "
                                "(<code>pip install 'asterix-gateway[plot]'</code>).</p>")
    body = (
        f"<h1>Feed assessment</h1><p class=note>{_e(cap.get('datagrams'))} datagrams, "
        f"{_e(cap.get('plots_assessed'))} plots assessed, "
        f"{_fmt(duration)} s of data; decode problems: {_e(problems)}. Every figure is in "
        f"report.json; definitions in docs/assess.md.</p>{note}"
        f"<h2>Verdict</h2><div style='overflow-x:auto'><table><tr><th class=l>radar</th>"
        f"<th>overall</th>{head}</tr>{rows}</table></div>"
        + "".join(_radar(r, pictures) for r in radars)
        + f"<h2>Thresholds</h2><table><tr><th class=l>threshold</th><th>value</th>"
        f"<th class=l>source</th></tr>{thr}</table>")
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<title>Feed assessment</title><style>{STYLE}</style></head>"
            f"<body>{body}</body></html>\n")


def write_html(report: dict[str, Any], path: Path) -> None:
    path.write_text(render(report), encoding="utf-8")


