/* The gateway's live map (issue 17): the page side of docs/web.md's protocol.
 *
 * Plain JavaScript, no build step: the page ships inside the wheel as released files and
 * must run at a radar site with no internet.  Tracks, trails and plots are drawn on one
 * canvas above the map (not one DOM marker per track) so that 1,000 tracks updating
 * every second stay responsive; the time each update takes to apply (data, list, canvas)
 * is kept in window.gatewayMap.applyTimes for the browser test to read.
 */
"use strict";

(function () {
  // ---- constants -------------------------------------------------------------------
  const HANDOFF_COLOURS = {
    none: "#d8d8d8",
    notified: "#ffb000", offered: "#ffb000", negotiating: "#ffb000",
    coordinated: "#33cc55", transferring: "#33cc55",
    transferred: "#3b8cff",
    rejected: "#ff4040", cancelled: "#ff4040",
  };
  const LEGEND = [
    ["not concerned", "none"], ["notified / offered / negotiating", "offered"],
    ["coordinated / transferring", "coordinated"], ["transferred", "transferred"],
    ["rejected / cancelled", "rejected"],
  ];
  const SOURCE_COLOURS = ["#ff6f61", "#4dd0e1", "#ffd54f", "#ba68c8", "#81c784", "#f06292",
    "#90a4ae", "#ffb74d", "#7986cb", "#aed581"];
  const TRAIL_MAX = 20;          // positions kept per track from the stream (the protocol's)
  const PLOT_KEEP_S = 30;        // plots fade out over this much of the picture's time
  const PLOT_CAP = 5000;         // plots kept per radar at most (the stream caps per event too)
  const AIDC_CAP = 300;          // AIDC log entries kept
  const ALERT_CAP = 200;         // alerts kept
  const ALERT_FLASH_MS = 15000;  // an alert flashes this long, then stays listed
  const LIST_ROWS = 400;         // rows drawn in the track list at most (search narrows it)
  const APPLY_TIMES_CAP = 1000;  // applyTimes kept (ms, newest last)
  const LABEL_ALL_MAX = 150;     // tracks in view up to which every track is labelled
  const NM = 1852;

  // ---- state -----------------------------------------------------------------------
  const tracks = new Map();      // id -> Track (with .trail)
  const plots = new Map();       // radar id -> [[t, lat, lon, fl, mode3a], ...] oldest first
  const plotOn = new Map();      // radar id -> shown?
  const sourceColour = new Map();
  const alertTracks = new Map(); // track id -> wall ms until which its symbol flashes
  const applyTimes = [];
  const alertsKept = [];
  let layout = null;
  let picT = null;
  let selectedId = null;
  let es = null;
  let events = 0;

  // ---- helpers ---------------------------------------------------------------------
  const $ = (sel) => document.querySelector(sel);
  const esc = (v) => String(v ?? "").replace(/[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const colourOf = (handoff) => HANDOFF_COLOURS[handoff] || HANDOFF_COLOURS.none;
  const finite = (v) => typeof v === "number" && Number.isFinite(v);
  function hms(t) {
    if (!finite(t)) return "--:--:--";
    return new Date(t * 1000).toISOString().substring(11, 19);
  }
  function fmtFl(fl) { return finite(fl) ? String(Math.round(fl)).padStart(3, "0") : "---"; }
  // "border-gw-1-T000355" -> "T000355": the gateway's prefix is the same on every track
  function shortId(id) { const i = id.lastIndexOf("-"); return i >= 0 ? id.slice(i + 1) : id; }
  function climbArrow(roc) {
    if (!finite(roc)) return "";
    if (roc > 300) return "\u2191";
    if (roc < -300) return "\u2193";
    return "";
  }
  function colourForSource(id) {
    if (!sourceColour.has(id)) {
      sourceColour.set(id, SOURCE_COLOURS[sourceColour.size % SOURCE_COLOURS.length]);
    }
    return sourceColour.get(id);
  }
  function showError(text) {
    let box = $("#error");
    if (!box) {
      box = document.createElement("div");
      box.id = "error";
      document.body.appendChild(box);
    }
    box.textContent = text;
  }

  // ---- the map ---------------------------------------------------------------------
  const renderer = L.canvas({ padding: 0.3 });
  const map = L.map("map", { preferCanvas: true, renderer, zoomControl: true,
    attributionControl: true, worldCopyJump: false, zoomSnap: 0.25 }).setView([28, -102], 6);
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution(
    "Leaflet | Natural Earth (world-atlas, us-atlas)");
  map.createPane("basemap").style.zIndex = 200;
  map.createPane("airspace").style.zIndex = 300;

  async function loadBasemap() {
    const [world, states] = await Promise.all([
      fetch("/static/basemap/world-atlas/countries-50m.json").then((r) => r.json()),
      fetch("/static/basemap/us-atlas/states-10m.json").then((r) => r.json()),
    ]);
    const c = world.objects.countries;
    const opts = (colour, weight) => ({ pane: "basemap", renderer, interactive: false,
      style: { color: colour, weight, opacity: 0.9, fill: false } });
    L.geoJSON(topojson.feature(world, world.objects.land),
      { pane: "basemap", renderer, interactive: false,
        style: { stroke: false, fillColor: "#14283a", fillOpacity: 1 } }).addTo(map);
    L.geoJSON(topojson.mesh(states, states.objects.states, (a, b) => a !== b),
      opts("#2e4a60", 0.8)).addTo(map);
    L.geoJSON(topojson.mesh(world, c, (a, b) => a !== b), opts("#5d7f99", 1.4)).addTo(map);
    L.geoJSON(topojson.mesh(world, c, (a, b) => a === b), opts("#3f6a8a", 1)).addTo(map);
  }

  function drawLayout() {
    $("#gw-name").textContent = layout.gateway || "asterix-gateway";
    $("#gw-mode").textContent = layout.mode || "";
    const bounds = [];
    for (const r of layout.radars || []) {
      colourForSource(r.id);
      if (!finite(r.lat) || !finite(r.lon)) continue;
      bounds.push([r.lat, r.lon]);
      const col = colourForSource(r.id);
      L.circleMarker([r.lat, r.lon], { renderer, radius: 4, color: col, fillColor: col,
        fillOpacity: 1, weight: 1 })
        .bindTooltip(esc(r.name || r.id), { permanent: true, direction: "right",
          className: "site-label" }).addTo(map);
      if (finite(r.range_nm) && r.range_nm > 0) {
        for (const f of [0.5, 1]) {
          const ring = L.circle([r.lat, r.lon], { renderer, radius: r.range_nm * f * NM,
            color: col, weight: f === 1 ? 1 : 0.6, opacity: 0.45, fill: false,
            dashArray: f === 1 ? null : "4 6", interactive: false }).addTo(map);
          if (f === 1) bounds.push(...[ring.getBounds().getNorthWest(),
            ring.getBounds().getSouthEast()]);
        }
      }
    }
    for (const s of layout.sdps || []) colourForSource(s.id);
    if (layout.airspace && layout.airspace.type === "FeatureCollection") {
      const air = L.geoJSON(layout.airspace, {
        pane: "airspace", renderer,
        style: { color: "#b388ff", weight: 1.5, opacity: 0.8, fill: true,
          fillOpacity: 0.03, dashArray: "6 4" },
        pointToLayer: (f, latlng) => L.circleMarker(latlng, { pane: "airspace", renderer,
          radius: 3, color: "#b388ff", fillColor: "#b388ff", fillOpacity: 1, weight: 1 }),
        onEachFeature: (f, layer) => {
          const p = f.properties || {};
          const name = p.unit ?? p.cop ?? p.id ?? p.name;
          if (name != null) {
            layer.bindTooltip(esc(name), { permanent: f.geometry.type === "Point",
              direction: "right", className: "air-label" });
          }
        },
      }).addTo(map);
      // the airspace is the region the gateway works in: the view starts on it
      const b = air.getBounds();
      if (b.isValid()) bounds.splice(0, bounds.length, b.getNorthWest(), b.getSouthEast());
    }
    if (bounds.length) map.fitBounds(L.latLngBounds(bounds), { padding: [10, 10] });
    buildPlotToggles();
  }

  function buildPlotToggles() {
    const box = $("#plot-layers");
    const ids = [...(layout.radars || []).map((r) => [r.id, r.name]),
      ...(layout.sdps || []).map((s) => [s.id, s.name])];
    box.innerHTML = ids.map(([id, name]) =>
      `<label><input type="checkbox" data-src="${esc(id)}"> <span class="swatch" ` +
      `style="background:${colourForSource(id)}"></span>${esc(name || id)}</label>`).join("");
    box.querySelectorAll("input").forEach((el) => {
      plotOn.set(el.dataset.src, el.checked);
      el.addEventListener("change", () => { plotOn.set(el.dataset.src, el.checked); draw(); });
    });
  }

  function buildLegend() {
    $("#legend").innerHTML = LEGEND.map(([label, state]) =>
      `<span><span class="swatch" style="background:${colourOf(state)}"></span>` +
      `${esc(label)}</span>`).join("");
    $("#kinds").innerHTML = "<span>\u25B2 Mode S (heading)</span><span>\u25A0 Mode A/C</span>" +
      "<span>+ primary only</span>";
  }

  // ---- the canvas layer: plots, trails, symbols, labels ----------------------------
  // One canvas over the map panes, redrawn on every move and every update.
  const canvas = document.createElement("canvas");
  canvas.style.cssText = "position:absolute;top:0;left:0;pointer-events:none;z-index:450";
  map.getContainer().appendChild(canvas);
  const ctx = canvas.getContext("2d");
  let drawQueued = false;

  function sizeCanvas() {
    const size = map.getSize();
    const ratio = window.devicePixelRatio || 1;
    canvas.width = size.x * ratio;
    canvas.height = size.y * ratio;
    canvas.style.width = size.x + "px";
    canvas.style.height = size.y + "px";
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  }

  function queueDraw() {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(() => { drawQueued = false; draw(); });
  }

  function draw() {
    const size = map.getSize();
    ctx.clearRect(0, 0, size.x, size.y);
    const now = performance.now();
    // plots, each radar's own colour, fading with age in the picture's time
    for (const [src, list] of plots) {
      if (!plotOn.get(src) || !list.length) continue;
      ctx.fillStyle = colourForSource(src);
      for (const p of list) {
        const age = finite(picT) ? picT - p[0] : 0;
        if (age > PLOT_KEEP_S) continue;
        const pt = map.latLngToContainerPoint([p[1], p[2]]);
        if (pt.x < -5 || pt.y < -5 || pt.x > size.x + 5 || pt.y > size.y + 5) continue;
        ctx.globalAlpha = Math.max(0.08, 1 - Math.max(0, age) / PLOT_KEEP_S);
        ctx.fillRect(pt.x - 1.5, pt.y - 1.5, 3, 3);
      }
    }
    ctx.globalAlpha = 1;
    // trails
    ctx.lineWidth = 1;
    for (const tr of tracks.values()) {
      const trail = tr.trail;
      if (!trail || trail.length < 2) continue;
      ctx.strokeStyle = colourOf(tr.handoff);
      ctx.globalAlpha = 0.45;
      ctx.beginPath();
      for (let i = 0; i < trail.length; i++) {
        const pt = map.latLngToContainerPoint(trail[i]);
        if (i === 0) ctx.moveTo(pt.x, pt.y); else ctx.lineTo(pt.x, pt.y);
      }
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    // symbols and labels: every label while few tracks are in view; when many, only
    // those of tracks in a handoff, alerted or selected (the rest would be unreadable)
    ctx.font = "11px monospace";
    ctx.textBaseline = "top";
    const blink = Math.floor(now / 400) % 2 === 0;
    const inView = [];
    for (const tr of tracks.values()) {
      const pt = map.latLngToContainerPoint([tr.lat, tr.lon]);
      tr._x = pt.x; tr._y = pt.y;
      if (pt.x < -60 || pt.y < -40 || pt.x > size.x + 20 || pt.y > size.y + 20) continue;
      inView.push(tr);
    }
    const labelAll = inView.length <= LABEL_ALL_MAX;
    for (const tr of inView) {
      const x = tr._x; const y = tr._y;
      const col = colourOf(tr.handoff);
      ctx.globalAlpha = tr.state === "coasting" ? 0.55 : 1;
      symbol(tr, x, y, col);
      const flashUntil = alertTracks.get(tr.id);
      const flashing = flashUntil && flashUntil > now;
      if (flashing && blink) {
        ctx.strokeStyle = "#ff4040"; ctx.lineWidth = 2;
        ctx.beginPath(); ctx.arc(x, y, 11, 0, 2 * Math.PI); ctx.stroke();
      }
      if (tr.id === selectedId) {
        ctx.strokeStyle = "#ffffff"; ctx.lineWidth = 1;
        ctx.strokeRect(x - 9, y - 9, 18, 18);
      }
      if (!labelAll && !flashing && tr.id !== selectedId &&
        (!tr.handoff || tr.handoff === "none")) continue;
      ctx.fillStyle = col;
      const sid = shortId(tr.id);
      const l2 = `${fmtFl(tr.fl)}${climbArrow(tr.roc_fpm)} ${finite(tr.gs_kt) ?
        Math.round(tr.gs_kt) : ""}`;
      ctx.fillText(tr.callsign ? `${tr.callsign} ${sid}` : sid, x + 8, y - 12);
      ctx.fillText(l2, x + 8, y);
    }
    ctx.globalAlpha = 1;
    if (alertTracks.size) queueDrawWhileFlashing(now);
  }

  function queueDrawWhileFlashing(now) {
    for (const [id, until] of alertTracks) if (until <= now) alertTracks.delete(id);
    if (alertTracks.size) setTimeout(queueDraw, 400);
  }

  function symbol(tr, x, y, col) {
    ctx.fillStyle = col; ctx.strokeStyle = col; ctx.lineWidth = 1.5;
    if (tr.kind === "mode-s") {
      // a triangle pointing along the track (north when the track angle is unknown)
      const a = finite(tr.trk_deg) ? tr.trk_deg * Math.PI / 180 : 0;
      ctx.save(); ctx.translate(x, y); ctx.rotate(a);
      ctx.beginPath(); ctx.moveTo(0, -7); ctx.lineTo(5, 5); ctx.lineTo(0, 2.5);
      ctx.lineTo(-5, 5); ctx.closePath();
      if (finite(tr.trk_deg)) ctx.fill(); else ctx.stroke();
      ctx.restore();
    } else if (tr.kind === "mode-ac") {
      ctx.fillRect(x - 4, y - 4, 8, 8);
      if (finite(tr.trk_deg)) heading(x, y, tr.trk_deg);
    } else {
      ctx.beginPath(); ctx.moveTo(x - 5, y); ctx.lineTo(x + 5, y);
      ctx.moveTo(x, y - 5); ctx.lineTo(x, y + 5); ctx.stroke();
      if (finite(tr.trk_deg)) heading(x, y, tr.trk_deg);
    }
  }

  function heading(x, y, deg) {
    const a = deg * Math.PI / 180;
    ctx.beginPath(); ctx.moveTo(x, y);
    ctx.lineTo(x + 14 * Math.sin(a), y - 14 * Math.cos(a)); ctx.stroke();
  }

  map.on("move zoom viewreset", () => draw());
  map.on("resize", () => { sizeCanvas(); draw(); });
  map.on("click", (e) => {
    let best = null; let bestD = 12 * 12;
    for (const tr of tracks.values()) {
      const dx = tr._x - e.containerPoint.x; const dy = tr._y - e.containerPoint.y;
      const d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = tr; }
    }
    if (best) select(best.id);
  });

  // ---- applying the stream ---------------------------------------------------------
  function apply(msg, snapshot) {
    const t0 = performance.now();
    if (snapshot) tracks.clear();
    if (finite(msg.t)) picT = msg.t;
    for (const tr of msg.tracks || []) {
      if (!tr || typeof tr.id !== "string" || !finite(tr.lat) || !finite(tr.lon)) continue;
      const old = tracks.get(tr.id);
      let trail;
      if (Array.isArray(tr.trail)) {
        trail = tr.trail.filter((p) => Array.isArray(p) && finite(p[0]) && finite(p[1]))
          .slice(-TRAIL_MAX);
      } else {
        trail = old && old.trail ? old.trail : [];
        const last = trail[trail.length - 1];
        if (!last || last[0] !== tr.lat || last[1] !== tr.lon) {
          trail.push([tr.lat, tr.lon]);
          if (trail.length > TRAIL_MAX) trail.splice(0, trail.length - TRAIL_MAX);
        }
      }
      tr.trail = trail;
      tracks.set(tr.id, tr);
    }
    for (const id of msg.gone || []) tracks.delete(id);
    for (const [src, list] of Object.entries(msg.plots || {})) {
      if (!Array.isArray(list)) continue;
      if (!plots.has(src)) {
        plots.set(src, []);
        if (!plotOn.has(src)) addPlotToggle(src);
      }
      const kept = plots.get(src);
      for (const p of list) if (Array.isArray(p) && finite(p[1]) && finite(p[2])) kept.push(p);
      let drop = 0;
      while (drop < kept.length && (kept.length - drop > PLOT_CAP ||
        (finite(picT) && picT - kept[drop][0] > PLOT_KEEP_S))) drop++;
      if (drop) kept.splice(0, drop);
    }
    addAidc(msg.aidc || []);
    addAlerts(msg.alerts || []);
    showSources(msg.sources || {}, msg.inputs || {});
    showHeader(msg);
    renderList();
    draw();
    if (selectedId && !tracks.has(selectedId)) $("#details-id").textContent = `${selectedId} (gone)`;
    const dt = performance.now() - t0;
    applyTimes.push(dt);
    if (applyTimes.length > APPLY_TIMES_CAP) applyTimes.shift();
    events++;
  }

  function addPlotToggle(src) {
    const box = $("#plot-layers");
    const label = document.createElement("label");
    label.innerHTML = `<input type="checkbox" data-src="${esc(src)}"> <span class="swatch" ` +
      `style="background:${colourForSource(src)}"></span>${esc(src)}`;
    box.appendChild(label);
    const el = label.querySelector("input");
    plotOn.set(src, false);
    el.addEventListener("change", () => { plotOn.set(src, el.checked); draw(); });
  }

  function showHeader(msg) {
    $("#pic-time").textContent = finite(msg.t) ?
      new Date(msg.t * 1000).toISOString().substring(0, 19).replace("T", " ") + "Z" : "--";
    const mode = layout ? layout.mode : "";
    $("#pic-speed").textContent = finite(msg.speed) ? `replay \u00D7${msg.speed}` :
      (mode === "replay" ? "replay, max speed" : (mode || ""));
    const c = msg.counts || {};
    $("#counts").textContent = `${tracks.size} tracks` +
      (finite(c.plots_per_s) ? `, ${Math.round(c.plots_per_s)} plots/s` : "") +
      (finite(c.clients) ? `, ${c.clients} client(s)` : "");
  }

  function showSources(sources, inputs) {
    const names = new Map([...(layout?.radars || []), ...(layout?.sdps || [])]
      .map((r) => [r.id, r.name]));
    const row = (kind, id, name, age) => {
      const cls = age == null ? "never" : (age > 10 ? "stale" : "");
      const sw = kind === "source" ? `<span class="swatch" style="background:` +
        `${colourForSource(id)}"></span>` : "";
      return `<tr><td>${sw}${esc(id)}</td><td>${esc(name || "")}</td>` +
        `<td class="${cls}">${age == null ? "never" : finite(age) ? age.toFixed(1) : "?"}</td></tr>`;
    };
    const rows = [];
    for (const [id, age] of Object.entries(sources)) rows.push(row("source", id, names.get(id), age));
    for (const [id, age] of Object.entries(inputs)) rows.push(row("input", id, "input", age));
    $("#sources tbody").innerHTML = rows.join("");
  }

  function addAidc(list) {
    if (!list.length) return;
    const body = $("#aidc tbody");
    const html = list.slice().reverse().map((m) =>
      `<tr data-track="${esc(m.track_id)}"><td>${hms(m.t)}</td><td>${esc(m.msg)}</td>` +
      `<td>${esc(m.callsign)}</td><td>${esc(m.from)}\u2192${esc(m.to)}</td></tr>`).join("");
    body.insertAdjacentHTML("afterbegin", html);
    while (body.rows.length > AIDC_CAP) body.deleteRow(body.rows.length - 1);
  }

  function addAlerts(list) {
    if (!list.length) return;
    const box = $("#alerts");
    const now = performance.now();
    for (const a of list) {
      alertsKept.push(a);
      if (alertsKept.length > ALERT_CAP) alertsKept.shift();
      const li = document.createElement("li");
      li.className = "flash";
      li.dataset.type = String(a.type ?? "");
      li.dataset.track = String(a.track_id ?? "");
      li.textContent = `${hms(a.t)} ${a.type ?? "alert"} ${a.track_id ?? ""}: ${a.text ?? ""}`;
      li.addEventListener("click", () => { if (a.track_id) select(String(a.track_id)); });
      box.prepend(li);
      setTimeout(() => li.classList.remove("flash"), ALERT_FLASH_MS);
      if (a.track_id != null) alertTracks.set(String(a.track_id), now + ALERT_FLASH_MS);
    }
    while (box.children.length > ALERT_CAP) box.lastElementChild.remove();
    $("#alert-count").textContent = `(${alertsKept.length})`;
  }

  // ---- the track list --------------------------------------------------------------
  function matches(tr, q, f) {
    if (f === "handoff" && (!tr.handoff || tr.handoff === "none")) return false;
    if ((f === "mode-s" || f === "mode-ac" || f === "primary") && tr.kind !== f) return false;
    if (!q) return true;
    const hay = (`${tr.id} ${tr.callsign || ""} ${tr.mode3a || ""} ${tr.icao24 || ""} ` +
      `${(tr.sources || []).join(" ")} ${tr.handoff || ""}`).toLowerCase();
    return hay.includes(q);
  }

  function renderList() {
    const q = $("#search").value.trim().toLowerCase();
    const f = $("#filter").value;
    const shown = [];
    let total = 0;
    for (const tr of tracks.values()) {
      if (!matches(tr, q, f)) continue;
      total++;
      if (shown.length < LIST_ROWS) shown.push(tr);
    }
    // flights with a callsign first, by callsign; then the rest by id
    const key = (t) => (t.callsign ? "0" + t.callsign : "1" + t.id);
    shown.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    let html = "";
    for (const tr of shown) {
      html += `<tr data-id="${esc(tr.id)}" data-handoff="${esc(tr.handoff || "none")}"` +
        `${tr.id === selectedId ? ' class="selected"' : ""}>` +
        `<td>${esc(tr.id)}</td><td>${esc(tr.callsign || "")}</td><td>${esc(tr.mode3a || "")}</td>` +
        `<td>${esc(tr.icao24 || "")}</td><td>${fmtFl(tr.fl)}${climbArrow(tr.roc_fpm)}</td>` +
        `<td>${finite(tr.gs_kt) ? Math.round(tr.gs_kt) : ""}</td>` +
        `<td>${esc((tr.sources || []).join(" "))}</td>` +
        `<td><span class="swatch" style="background:${colourOf(tr.handoff)}"></span>` +
        `${esc(tr.handoff || "none")}</td></tr>`;
    }
    if (total > shown.length) {
      html += `<tr><td class="more" colspan="8">${total - shown.length} more: search to narrow` +
        `</td></tr>`;
    }
    $("#tracklist tbody").innerHTML = html;
    $("#list-count").textContent = `(${total} of ${tracks.size})`;
  }

  $("#search").addEventListener("input", renderList);
  $("#filter").addEventListener("change", renderList);
  $("#tracklist tbody").addEventListener("click", (e) => {
    const row = e.target.closest("tr[data-id]");
    if (row) select(row.dataset.id, true);
  });

  // ---- details of one track: GET /api/track/{id} -----------------------------------
  const history = L.layerGroup().addTo(map);

  async function select(id, pan) {
    selectedId = id;
    const tr = tracks.get(id);
    if (pan && tr) map.panTo([tr.lat, tr.lon]);
    renderList();
    draw();
    $("#details-box").hidden = false;
    $("#details-id").textContent = id;
    $("#details").textContent = "loading\u2026";
    let body;
    try {
      const r = await fetch(`/api/track/${encodeURIComponent(id)}`);
      body = await r.json();
      if (!r.ok) throw new Error(body && body.error ? body.error : `HTTP ${r.status}`);
    } catch (e) {
      if (selectedId === id) $("#details").textContent = `no details: ${e.message}`;
      return;
    }
    if (selectedId !== id) return;
    showDetails(body);
  }

  function showDetails(body) {
    const t = body.track || {};
    const fpl = body.fpl;
    const field = (k, v) => `<dt>${esc(k)}</dt><dd>${esc(v ?? "")}</dd>`;
    let html = "<dl>" +
      field("state", t.state) + field("kind", t.kind) + field("callsign", t.callsign) +
      field("Mode 3/A", t.mode3a) + field("Mode S", t.icao24) +
      field("FL", finite(t.fl) ? `${fmtFl(t.fl)} ${climbArrow(t.roc_fpm)}` : "") +
      field("rate of climb", finite(t.roc_fpm) ? `${Math.round(t.roc_fpm)} ft/min` : "") +
      field("ground speed", finite(t.gs_kt) ? `${Math.round(t.gs_kt)} kt` : "") +
      field("track", finite(t.trk_deg) ? `${Math.round(t.trk_deg)}\u00B0` : "") +
      field("position", finite(t.lat) ? `${t.lat.toFixed(4)}, ${t.lon.toFixed(4)}` : "") +
      field("sources", (t.sources || []).join(" ")) +
      field("handoff", `${t.handoff || "none"}${t.from || t.to ?
        ` (${t.from || "?"} \u2192 ${t.to || "?"})` : ""}`);
    if (fpl && typeof fpl === "object") {
      for (const [k, v] of Object.entries(fpl)) {
        if (v != null && typeof v !== "object") html += field(`plan ${k}`, v);
      }
    }
    html += "</dl>";
    const pl = Array.isArray(body.plots) ? body.plots : [];
    html += `<div class="plots"><table><thead><tr><th>src</th><th>time</th><th>FL</th>` +
      `<th>3/A</th><th>Mode S</th></tr></thead><tbody>` +
      pl.slice(-200).reverse().map((p) => `<tr><td><span class="swatch" style="background:` +
        `${colourForSource(String(p.src))}"></span>${esc(p.src)}</td><td>${hms(p.t)}</td>` +
        `<td>${finite(p.fl) ? fmtFl(p.fl) : ""}</td><td>${esc(p.mode3a || "")}</td>` +
        `<td>${esc(p.icao24 || "")}</td></tr>`).join("") + "</tbody></table></div>";
    $("#details").innerHTML = `<div>${pl.length} plots behind it (last 60 s)</div>` + html;
    history.clearLayers();
    const trail = (t.trail || []).filter((p) => Array.isArray(p) && finite(p[0]) && finite(p[1]));
    if (trail.length > 1) {
      L.polyline(trail, { renderer, color: "#ffffff", weight: 1.5, opacity: 0.7,
        interactive: false }).addTo(history);
    }
    for (const p of pl) {
      if (!finite(p.lat) || !finite(p.lon)) continue;
      L.circleMarker([p.lat, p.lon], { renderer, radius: 2.5, weight: 1,
        color: colourForSource(String(p.src)), fillOpacity: 0.8, interactive: false })
        .addTo(history);
    }
  }

  $("#details-close").addEventListener("click", () => {
    selectedId = null;
    history.clearLayers();
    $("#details-box").hidden = true;
    renderList();
    draw();
  });

  // ---- the event stream ------------------------------------------------------------
  function setConn(cls, text) {
    const el = $("#conn");
    el.className = `pill ${cls}`;
    el.textContent = text;
  }

  function connect() {
    if (es) es.close();
    es = new EventSource("/api/events");
    es.addEventListener("open", () => setConn("conn-wait", "connected, waiting"));
    const handle = (snapshot) => (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) {
        console.warn("unreadable event skipped", e); return;
      }
      apply(msg, snapshot);
      setConn("conn-ok", snapshot ? "live (snapshot)" : "live");
    };
    es.addEventListener("snapshot", handle(true));
    es.addEventListener("update", handle(false));
    es.addEventListener("error", () => {
      // EventSource reconnects by itself while CONNECTING; once CLOSED it has given up
      // (e.g. the server answered with an error), so the page tries again itself.
      if (es.readyState === EventSource.CLOSED) {
        setConn("conn-down", "disconnected, retrying");
        setTimeout(connect, 3000);
      } else {
        setConn("conn-wait", "reconnecting");
      }
    });
  }

  // ---- the read-only hook for tests ------------------------------------------------
  window.gatewayMap = Object.freeze({
    tracks: () => [...tracks.values()].map((t) => ({ id: t.id, callsign: t.callsign,
      lat: t.lat, lon: t.lon, fl: t.fl, kind: t.kind, handoff: t.handoff,
      colour: colourOf(t.handoff), trail: t.trail.length })),
    colourOf: (id) => (tracks.has(id) ? colourOf(tracks.get(id).handoff) : null),
    handoffColour: (state) => colourOf(state),
    alerts: () => alertsKept.slice(),
    applyTimes,
    events: () => events,
    pictureTime: () => picT,
    select: (id) => select(id, true),
  });

  // ---- start -----------------------------------------------------------------------
  async function start() {
    try {
      const r = await fetch("/api/layout");
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      layout = await r.json();
    } catch (e) {
      showError(`layout not loaded (${e.message}): retrying`);
      setTimeout(start, 3000);
      return;
    }
    const err = $("#error");
    if (err) err.remove();
    drawLayout();
    connect();
  }
  sizeCanvas();
  buildLegend();
  loadBasemap().catch((e) => showError(`base map not loaded: ${e.message}`));
  start();
})();
