// Crews' last known positions on the board's map: one small marker per crew whose phone sent
// a position on the plan's day, a ring in the crew's colour around a dot (stops are filled
// dots with a dark edge), its age in the tooltip ("IC001 · last position 3 min ago"), grey
// and dashed once older than 15 minutes.
// The board answer brings them (`crews[].last_position`); while a published plan is shown
// they are read again every 30 s (`GET /plans/{id}/positions`, a few rows, no ETag: ages
// move). Planners and managers get positions rounded to about a kilometre by the service.

import { api } from "./api.js";
import { registerStrings, t } from "./i18n.js";

const L = window.L;
const STALE_S = 15 * 60;
const EVERY_MS = 30000;
const GREY = "#9aa5b1";

registerStrings({
  en: {
    pos_now: "just now",
    pos_min: "{n} min ago",
    pos_hour: "{n} h {m} min ago",
    pos_tip: "{crew} · last position {age}",
    pos_accuracy: "±{m} m",
    pos_stale: "(stale)",
  },
  zh: {
    pos_now: "刚刚",
    pos_min: "{n} 分钟前",
    pos_hour: "{n} 小时 {m} 分钟前",
    pos_tip: "{crew} · 最后位置 {age}",
    pos_accuracy: "±{m} 米",
    pos_stale: "（已过时）",
  },
});

/** "3 min ago" for an age in seconds. */
export function ageText(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return t("pos_now");
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return t("pos_min", { n: minutes });
  return t("pos_hour", { n: Math.floor(minutes / 60), m: minutes % 60 });
}

export class CrewPositions {
  /** `boardMap`: the board's `BoardMap` (its Leaflet map and coordinate projector). */
  constructor(boardMap) {
    this.boardMap = boardMap;
    const map = boardMap.map;
    map.createPane("positions").style.zIndex = "640"; // above the stops, below popups
    this.renderer = L.svg({ pane: "positions", padding: 0.3 });
    this.layer = L.layerGroup().addTo(map);
    this.markers = new Map(); // crew id -> circle marker
    this.colours = new Map();
    this.timer = null;
    this.planId = null;
  }

  /** Draw the board answer's positions; follow them while its plan is published. */
  draw(board, colours) {
    this.colours = colours;
    const positions = board.crews
      .filter((c) => c.last_position)
      .map((c) => ({ crew_id: c.id, ...c.last_position }));
    this.show(positions, new Set(board.crews.map((c) => c.id)));
    this.stop();
    if (board.plan.status === "published") {
      this.planId = board.plan.id;
      this.timer = setTimeout(() => this.poll(), EVERY_MS);
    }
  }

  /** Markers for `positions` (`{crew_id, lon, lat, accuracy_m, at, age_s}`) of `crews`. */
  show(positions, crews = null) {
    if (crews) this.crews = crews;
    this.layer.clearLayers();
    this.markers.clear();
    const seenAt = Date.now();
    for (const pos of positions) {
      if (this.crews && !this.crews.has(pos.crew_id)) continue;
      const at = this.boardMap.project(pos.lon, pos.lat);
      // a ring in the crew's colour around a dot: unlike a stop (a filled dot, dark edge)
      const marker = L.circleMarker(at, {
        renderer: this.renderer, radius: 10, weight: 3, fillColor: "#ffffff", fillOpacity: 0.92,
        className: `crew-position crew-${pos.crew_id}`,
      })
        .bindTooltip(() => this.tooltip(marker), { direction: "top", offset: [0, -10] })
        .on("click", () => this.boardMap.onSelect({ crew: pos.crew_id }))
        .addTo(this.layer);
      marker.dot = L.circleMarker(at, {
        renderer: this.renderer, radius: 4.5, weight: 0, fillOpacity: 1, interactive: false,
        className: "crew-position-dot",
      }).addTo(this.layer);
      marker.position = pos;
      marker.seenAt = seenAt;
      this.restyle(marker);
      this.markers.set(pos.crew_id, marker);
    }
    document.body.dataset.crewPositions = String(this.markers.size);
  }

  age(marker) {
    return marker.position.age_s + (Date.now() - marker.seenAt) / 1000;
  }

  restyle(marker) {
    const stale = this.age(marker) > STALE_S;
    const colour = this.colours.get(marker.position.crew_id) || "#1f6feb";
    marker.setStyle({ color: stale ? GREY : colour, opacity: stale ? 0.8 : 1, dashArray: stale ? "3 3" : null });
    marker.dot.setStyle({ fillColor: stale ? GREY : colour });
    marker.stale = stale;
  }

  tooltip(marker) {
    const pos = marker.position;
    this.restyle(marker);
    const parts = [t("pos_tip", { crew: pos.crew_id, age: ageText(this.age(marker)) })];
    if (pos.accuracy_m !== null && pos.accuracy_m !== undefined) {
      parts.push(t("pos_accuracy", { m: Math.round(pos.accuracy_m) }));
    }
    if (marker.stale) parts.push(t("pos_stale"));
    const tip = document.createElement("span");
    tip.className = "stop-tip";
    tip.textContent = parts.join(" ");
    return tip;
  }

  async poll() {
    const planId = this.planId;
    if (!planId) return;
    try {
      const answer = await api(`/plans/${planId}/positions`);
      if (planId === this.planId) this.show(answer.positions);
    } catch {
      // a lost connection: the markers stay, their ages keep counting; the next poll catches up
      for (const marker of this.markers.values()) this.restyle(marker);
    }
    if (planId === this.planId) this.timer = setTimeout(() => this.poll(), EVERY_MS);
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    this.planId = null;
  }
}
