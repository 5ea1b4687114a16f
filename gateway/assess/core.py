"""The assessment, sans-IO: datagrams in (with their capture times), a report out.

The same decode -> normalise -> associate chain as ``replay`` (``gateway.pipeline``'s
parts, built from the same configuration), with each part's output also handed to the
assessment: the decoded columns to timing and content, each plot and the fused track the
tracker put it on (``Tracker.last_association``) to detection and accuracy, the fused
updates to the reference, and the tracker's registration at the end.  One pass, bounded
memory (``stats``, ``reference``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gateway.assess.accuracy import Accuracy, RadarAccuracy
from gateway.assess.content import Content
from gateway.assess.detection import KINDS, RANGE_BAND_NM, SECTORS, Detection, RadarDetection
from gateway.assess.reference import Key, Reference, Site
from gateway.assess.stats import rounded
from gateway.assess.timing import Timing
from gateway.assess.verdict import SOURCES, Thresholds, overall, verdict
from gateway.associate.build import tracker_from_config
from gateway.config import Config
from gateway.decoder import Decoder
from gateway.messages import Plot
from gateway.normalize.normalizer import Normalizer

REPORT_VERSION = 1
LAG_S = 30.0  # a scan is judged this long after it ends: the others have reported by then
BRACKET_S = 25.0  # the others' updates around a moment, at most this far apart
MARGINS = (3.0, 2.0, 10_000.0)  # coverage margins: range NM, elevation deg, horizon m
FALSE_AFTER_S = 90.0  # a tentative track not published within this is clutter


class Assessor:
    """Feed it every capture's datagrams in order (``feed``), then ``report``."""

    def __init__(self, config: Config, thresholds: Thresholds | None = None,
                 radars: Sequence[Key] | None = None) -> None:
        known = {(r.sac, r.sic): r for r in config.radars}
        wanted = list(radars) if radars else list(known)
        unknown = [k for k in wanted if k not in known]
        if unknown:
            raise ValueError("no [[radar]] for " + ", ".join(f"{a}/{b}" for a, b in unknown))
        self.config = config
        self.th = thresholds or config.assess
        self.sites = {k: Site(k, known[k].name, known[k].lat, known[k].lon, known[k].alt_m,
                              known[k].cone_deg, known[k].range_nm) for k in wanted}
        self.wanted = set(wanted)
        self.decoder = Decoder([34, 48, 62, 65])
        self.normalizer = Normalizer(config)
        self.tracker = tracker_from_config(config)
        self.reference = Reference()
        self.timing = Timing(self.th.time_jump_s)
        self.content = Content()
        self.detection = Detection(self.sites, self.reference, lag_s=LAG_S,
                                   bracket_s=BRACKET_S, margins=MARGINS,
                                   false_after_s=FALSE_AFTER_S)
        self.accuracy = Accuracy(self.sites, self.reference, bracket_s=BRACKET_S,
                                 level_tolerance_ft=self.th.level_tolerance_ft)
        self.datagrams = 0
        self.plots = 0
        self.t_first = math.inf
        self.t_last = -math.inf

    def feed(self, payloads: Sequence[bytes], t_capture: Sequence[float | None]) -> None:
        self.datagrams += len(payloads)
        batches, problems = self.decoder.decode(payloads, t_capture)
        self.content.observe(batches, problems, self.wanted)
        self.timing.observe(batches, self.wanted)
        for key, t in self.timing.norths:
            self.detection.north(key, t)
        self.timing.norths.clear()
        for sb in self.normalizer.feed(batches):
            self._batch(sb.kind, sb.source, sb.messages)
        self._settle()

    def finish(self) -> None:
        for sb in self.normalizer.flush():
            self._batch(sb.kind, sb.source, sb.messages)
        self.detection.finish()
        self.accuracy.advance(math.inf)

    def _batch(self, kind: str, source: Key, messages: list[Plot]) -> None:
        fused = self.tracker.update(messages)
        for m in fused:
            self.reference.update(m)
        if kind != "plots" or not messages:
            return
        self.t_first = min(self.t_first, messages[0].t)
        self.t_last = max(self.t_last, messages[-1].t)
        if source not in self.wanted:
            return
        a = self.tracker.last_association
        period = self.timing.radar(source).period()
        labels: dict[int, tuple[str | None, int]] = {
            i: (lab, u) for i, u, lab in zip(a.index.tolist(), a.uid.tolist(), a.label,
                                             strict=True)}
        for i, p in enumerate(messages):
            self.plots += 1
            label, uid = labels.get(i, (None, -1))
            slant = p.rho_nm * 1852.0 if p.rho_nm is not None else math.nan
            az = p.theta_deg if p.theta_deg is not None else math.nan
            self.detection.plot(source, label, uid, p.t, p.detection, slant, az)
            self.accuracy.plot(source, label, p, period)

    def _settle(self) -> None:
        now = self.reference.now
        if math.isfinite(now):
            self.detection.advance(now)
            self.accuracy.advance(now)
            self.reference.prune()
            self.accuracy.prune()

    # -- the report ----------------------------------------------------------------------

    def report(self) -> dict[str, object]:
        """Every figure, as report.json holds it (docs/assess.md)."""
        estimates = {(e.sac, e.sic): e for e in (
            self.tracker.registration.estimates() if self.tracker.registration else [])}
        radars = []
        for key, site in sorted(self.sites.items()):
            radars.append(self._radar(key, site, estimates.get(key)))
        return {
            "version": REPORT_VERSION,
            "capture": {"datagrams": self.datagrams, "plots_assessed": self.plots,
                        "start": rounded(self.t_first, 3), "end": rounded(self.t_last, 3),
                        "duration_s": rounded(self.t_last - self.t_first, 1)},
            "decode_problems": dict(sorted(self.content.problems.counts.items())),
            "pipeline_counters": dict(sorted(
                (self.normalizer.counters + self.tracker.counters).items())),
            "assess_counters": dict(sorted((
                self.reference.counters + self.accuracy.counters + self.detection.counters
                + self.content.unknown_sources).items())),
            "thresholds": {k: getattr(self.th, k) for k in SOURCES},
            "threshold_sources": SOURCES,
            "radars": radars,
        }

    def _radar(self, key: Key, site: Site, e: object) -> dict[str, object]:
        tim = self.timing.radar(key)
        det = self.detection.radars[key]
        acc = self.accuracy.radars[key]
        pd: dict[str, float | None] = {}
        n: dict[str, int] = {}
        for kind in KINDS:
            value, count = det.pd(kind, self.th.psr_range_nm if kind == "psr" else None)
            pd[kind], n[kind] = rounded(value, 4), count
        range_noise, az_noise = acc.noise()
        scans = max(det.scans_seen, 1)
        reg: dict[str, object] = {}
        for name, attr, digits in (("range_bias_m", "range_bias_m", 2),
                                   ("range_gain", "range_gain", 7),
                                   ("azimuth_bias_deg", "azimuth_bias_deg", 5),
                                   ("time_offset_s", "time_offset_s", 4)):
            sigma_attr = {"range_bias_m": "range_bias_sigma_m",
                          "range_gain": "range_gain_sigma",
                          "azimuth_bias_deg": "azimuth_bias_sigma_deg",
                          "time_offset_s": "time_offset_sigma_s"}[attr]
            reg[name] = rounded(getattr(e, attr), digits) if e is not None else None
            reg[f"{name}_sigma"] = rounded(getattr(e, sigma_attr), digits) if e else None
        radar: dict[str, object] = {
            "sac": key[0], "sic": key[1], "name": site.name,
            "rotation_period_s": tim.figures()["rotation_period_s"],
            **reg,
            "registration_pairs": getattr(e, "pairs", 0) if e is not None else 0,
            "registration_established": bool(getattr(e, "established", False)),
            "pd": pd, "pd_opportunities": n,
            "range_noise_m": rounded(range_noise, 2),
            "azimuth_noise_deg": rounded(az_noise, 5),
            "false_plots_per_scan": rounded(det.false_plots / scans, 2) if det.scans_seen
            else None,
            "timing": tim.figures(),
            "detection": self._detection(det),
            "accuracy": self._accuracy(acc),
            "content": self.content.figures(key),
        }
        v = verdict(radar, self.th)
        radar["verdict"] = v
        radar["overall"] = overall(v)
        return radar

    def _detection(self, det: RadarDetection) -> dict[str, object]:
        return {
            "range_band_nm": RANGE_BAND_NM, "sectors": SECTORS,
            "opportunities": {k: det.opportunities[k].tolist() for k in KINDS},
            "detections": {k: det.detections[k].tolist() for k in KINDS},
            "scans": det.scans_seen, "scans_evaluated": det.scans_evaluated,
            "skipped_without_level": det.no_level, "plots": det.plots,
            "false_plots": det.false_plots, "false_plot_cells": det.false_cells.tolist(),
        }

    def _accuracy(self, acc: RadarAccuracy) -> dict[str, object]:
        with_n = acc.res_n > 0
        mean_r = (acc.res_range / acc.res_n.clip(1)).round(1)
        mean_a = (acc.res_az / acc.res_n.clip(1)).round(4)
        return {
            "noise_samples": acc.range_d2.n,
            "noise_by_range": acc.noise_by_range(),
            "residual_count": acc.res_n.astype(int).tolist(),
            "residual_range_mean_m": [[float(x) if w else None for x, w in zip(row, wr,
                                       strict=True)] for row, wr in zip(mean_r, with_n,
                                                                       strict=True)],
            "residual_azimuth_mean_deg": [[float(x) if w else None for x, w in zip(
                row, wr, strict=True)] for row, wr in zip(mean_a, with_n, strict=True)],
            "level_vs_reference_ft": {"modes": acc.level_modes.figures(1),
                                      "modeac": acc.level_modeac.figures(1)},
            "levels_checked": acc.level_checked, "level_mismatches": acc.level_off,
            "codes_checked": acc.code_checked, "code_mismatches": acc.code_mismatch,
            "code_changes": acc.code_changes,
            "identifications_checked": acc.ident_checked,
            "identification_mismatches": acc.ident_mismatch,
            "modes_plots": acc.modes_plots, "duplicate_addresses": acc.duplicate_addresses,
            "max_elevation_deg": rounded(acc.max_elevation_deg, 2),
            "min_range_nm": rounded(acc.min_range_nm, 2),
        }
