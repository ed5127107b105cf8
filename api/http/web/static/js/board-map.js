// The board's map: each crew's route in its own colour, stops (ETA, window, slack on click),
// unassigned jobs with their reason, depots and zone outlines. Leaflet (vendored, global
// `L`), drawn on a canvas so a 1,500-stop day stays quick. Without a configured tile layer
// the map is drawn on a plain background: air-gapped sites and the tests work offline.

import { assistPairs, assistText } from "./board-assist.js";
import { fmtClock, label, t } from "./i18n.js";
import { projector } from "./gcj02.js";

const L = window.L;

function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export class BoardMap {
  /** `onSelect({crew, job})` is called when a route or stop is clicked. */
  constructor(element, config, onSelect) {
    this.onSelect = onSelect;
    this.project = projector(config.tile_coords);
    this.map = L.map(element, { preferCanvas: true, zoomSnap: 0.25, attributionControl: true });
    // stops on a canvas (many small markers); route lines as SVG paths (`path.route-line`,
    // one per crew with a route, which the browser tests count)
    this.renderer = L.canvas({ padding: 0.3, tolerance: 4 });
    this.lineRenderer = L.svg({ padding: 0.3 });
    if (config.tile_url) {
      L.tileLayer(config.tile_url, {
        attribution: esc(config.tile_attribution),
        maxZoom: 19,
      }).addTo(this.map);
    }
    this.map.setView([31.23, 121.47], 10);
    this.layers = L.layerGroup().addTo(this.map);
    this.routeLines = new Map(); // crew id -> polyline
    this.stopMarkers = new Map(); // job id -> circle marker
    this.selected = { crew: null, job: null };
  }

  /** Draw a whole board answer; `colours` maps crew id -> CSS colour. */
  draw(board, colours) {
    this.layers.clearLayers();
    this.routeLines.clear();
    this.stopMarkers.clear();
    this.board = board;
    this.colours = colours;
    const jobs = new Map(board.jobs.map((j) => [j.id, j]));
    const depots = new Map(board.depots.map((d) => [d.id, d]));
    const crews = new Map(board.crews.map((c) => [c.id, c]));
    this.pairs = assistPairs(board);
    const p = this.project;
    const bounds = L.latLngBounds([]);

    for (const zone of board.zones) this.drawZone(zone);
    for (const depot of board.depots) {
      const at = p(depot.lon, depot.lat);
      L.circleMarker(at, {
        renderer: this.renderer, radius: 7, color: "#15202b", weight: 2,
        fillColor: "#ffffff", fillOpacity: 1,
      })
        .bindTooltip(`${esc(depot.name || depot.id)}`)
        .addTo(this.layers);
      bounds.extend(at);
    }
    for (const route of board.routes) {
      const crew = crews.get(route.crew_id) || {};
      const depot = depots.get(crew.start_depot);
      const points = route.stops.map((s) => jobs.get(s.job_id)).filter(Boolean);
      // along the roads when the plan was timed on them (`road_line`), else stop to stop
      const path = route.road_line ? route.road_line.map(([lon, lat]) => p(lon, lat)) : [
        ...(depot ? [p(depot.lon, depot.lat)] : []),
        ...points.map((j) => p(j.lon, j.lat)),
        ...(depot ? [p(depot.lon, depot.lat)] : []),
      ];
      const line = L.polyline(path, {
        renderer: this.lineRenderer, color: colours.get(route.crew_id), weight: 2.5,
        opacity: 0.85, className: `route-line crew-${route.crew_id}`,
      })
        .on("click", () => this.onSelect({ crew: route.crew_id }))
        .addTo(this.layers);
      line.crewId = route.crew_id;
      this.routeLines.set(route.crew_id, line);
      route.stops.forEach((stop, index) => {
        const job = jobs.get(stop.job_id);
        if (!job) return;
        const marker = L.circleMarker(p(job.lon, job.lat), {
          renderer: this.renderer, radius: 5, weight: 1.5,
          ...this.stopStyle(route.crew_id, stop, job),
        })
          .bindPopup(() => this.stopPopup(route, stop, index, job))
          .on("click", () => this.onSelect({ crew: route.crew_id, job: stop.job_id }))
          .addTo(this.layers);
        marker.crewId = route.crew_id;
        marker.stop = stop;
        this.stopMarkers.set(stop.job_id, marker);
        bounds.extend(marker.getLatLng());
      });
    }
    for (const item of board.unassigned) {
      const job = jobs.get(item.job_id);
      if (!job) continue;
      const marker = L.circleMarker(p(job.lon, job.lat), {
        renderer: this.renderer, radius: 6, weight: 2, color: "#c62828", dashArray: "2 2",
        fillColor: "#ffffff", fillOpacity: 0.9,
      })
        .bindPopup(
          () => `<div class="stop-tip"><b>${esc(item.job_id)}</b> · ${esc(label("kind_", job.kind))}<br>` +
            `${esc(t("f_reason"))}: ${esc(label("reason_", item.reason))}<br>${esc(item.detail)}</div>`,
        )
        .on("click", () => this.onSelect({ job: item.job_id }))
        .addTo(this.layers);
      this.stopMarkers.set(item.job_id, marker);
      bounds.extend(marker.getLatLng());
    }
    if (bounds.isValid()) this.map.fitBounds(bounds, { padding: [20, 20] });
  }

  drawZone(feature) {
    const rings = [];
    const geometry = feature.geometry || {};
    const polygons = geometry.type === "MultiPolygon" ? geometry.coordinates : [geometry.coordinates];
    for (const polygon of polygons) {
      if (!polygon) continue;
      rings.push(polygon.map((ring) => ring.map(([lon, lat]) => this.project(lon, lat))));
    }
    const name = (feature.properties && (feature.properties.name || feature.properties.id)) || "";
    L.polygon(rings, {
      renderer: this.renderer, color: "#6b7c8f", weight: 1, dashArray: "4 3",
      fillColor: "#9fb3c8", fillOpacity: 0.06, interactive: false,
    })
      .bindTooltip(esc(name), { sticky: true })
      .addTo(this.layers);
  }

  stopStyle(crewId, stop, job) {
    const colour = this.colours.get(crewId);
    const done = job.status === "completed";
    const failed = job.status === "failed";
    return {
      color: stop.slack_minutes < 0 ? "#c62828" : "#15202b",
      fillColor: failed ? "#333333" : colour,
      fillOpacity: done ? 0.35 : 0.95,
    };
  }

  stopPopup(route, stop, index, job) {
    const windows = (job.windows || []).map(([a, b]) => `${fmtClock(a)}–${fmtClock(b)}`).join(", ");
    const late = stop.slack_minutes < 0 ? ' style="color:#c62828"' : "";
    const pair = this.pairs.get(stop.job_id);
    const assist = pair ? `<br><span class="badge assist">${esc(t("f_assist"))}</span> ${esc(assistText(pair))}` : "";
    return `<div class="stop-tip"><b>${esc(stop.job_id)}</b> · ${esc(label("kind_", job.kind))}<br>
      ${esc(t("f_crew"))}: ${esc(route.crew_id)} #${index + 1}<br>
      ${esc(t("f_eta"))}: ${fmtClock(stop.arrival)} · ${esc(t("f_service"))}: ${fmtClock(stop.start)}–${fmtClock(stop.end)}<br>
      ${esc(t("f_window"))}: ${esc(windows)}<br>
      <span${late}>${esc(t("f_slack"))}: ${esc(t("f_slack_value", { minutes: stop.slack_minutes }))}</span><br>
      ${esc(t("f_status"))}: ${esc(label("job_", job.status))}${assist}</div>`;
  }

  /** Emphasise one crew's route (and one stop); the others fade. */
  highlight(crewId, jobId) {
    this.selected = { crew: crewId, job: jobId };
    for (const [id, line] of this.routeLines) {
      const on = !crewId || id === crewId;
      line.setStyle({ opacity: on ? 0.95 : 0.15, weight: id === crewId ? 5 : 2.5 });
      if (id === crewId) line.bringToFront();
    }
    for (const [id, marker] of this.stopMarkers) {
      if (marker.crewId === undefined) continue;
      const on = !crewId || marker.crewId === crewId;
      marker.setStyle({ opacity: on ? 1 : 0.2, fillOpacity: on ? 0.95 : 0.15, radius: id === jobId ? 9 : 5 });
    }
    if (jobId && this.stopMarkers.has(jobId)) {
      const at = this.stopMarkers.get(jobId).getLatLng();
      if (!this.map.getBounds().contains(at)) this.map.panTo(at);
    } else if (crewId && this.routeLines.has(crewId)) {
      this.map.fitBounds(this.routeLines.get(crewId).getBounds(), { padding: [30, 30], maxZoom: 14 });
    }
  }

  /** A driver's report changed a job's status: recolour its stop. */
  updateJob(job) {
    const marker = this.stopMarkers.get(job.id);
    if (marker && marker.stop) marker.setStyle(this.stopStyle(marker.crewId, marker.stop, job));
  }

  /** Routes drawn (for tests and the "drawn in" figure). */
  routeCount() {
    return this.routeLines.size;
  }
}
