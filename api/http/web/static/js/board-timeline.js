// The crew timeline: one row per crew (driving, work, lunch, waiting; late stops outlined in
// red), with search and zone filters. A stop is dragged to another row (or another place in
// its own row) to move it; the drop's time picks the position among that crew's stops. An
// unassigned job from the details list can be dropped on a row the same way.

import { assistPairs, assistText } from "./board-assist.js";
import { el, refusalBox } from "./dom.js";
import { fmtClock, label, t } from "./i18n.js";

/** Minutes since midnight of a naive local ISO time ("2026-06-18T09:40:00"). */
export function minutesOf(iso) {
  if (!iso) return null;
  const s = String(iso);
  return Number(s.slice(11, 13)) * 60 + Number(s.slice(14, 16));
}

function hhmmMinutes(hhmm) {
  const [h, m] = String(hhmm || "00:00").split(":").map(Number);
  return h * 60 + (m || 0);
}

export class Timeline {
  /**
   * `onSelect({crew, job})` on a click; `onMove(jobId, crewId, position, row)` on a drop.
   */
  constructor(element, onSelect, onMove) {
    this.root = element;
    this.onSelect = onSelect;
    this.onMove = onMove;
    this.filter = { text: "", zone: "", usedOnly: false };
    this.selected = { crew: null, job: null };
  }

  /** Draw the board answer; `colours` maps crew id -> CSS colour. */
  draw(board, colours) {
    this.board = board;
    this.colours = colours;
    this.jobs = new Map(board.jobs.map((j) => [j.id, j]));
    this.routes = new Map(board.routes.map((r) => [r.crew_id, r]));
    this.pairs = assistPairs(board);
    this.range = this.timeRange(board);
    this.render();
  }

  timeRange(board) {
    let start = 8 * 60;
    let end = 19 * 60;
    for (const crew of board.crews) {
      start = Math.min(start, hhmmMinutes(crew.shift_start));
      end = Math.max(end, hhmmMinutes(crew.shift_end));
    }
    for (const route of board.routes) {
      start = Math.min(start, minutesOf(route.depart));
      end = Math.max(end, minutesOf(route.return_at));
    }
    return [Math.floor(start / 60) * 60, Math.ceil(end / 60) * 60];
  }

  /** The crews shown after the search text, zone and "used only" filters. */
  visibleCrews() {
    const text = this.filter.text.trim().toLowerCase();
    return this.board.crews.filter((crew) => {
      const route = this.routes.get(crew.id);
      if (this.filter.usedOnly && !(route && route.stops.length)) return false;
      if (this.filter.zone && crew.home_zone !== this.filter.zone) return false;
      if (!text) return true;
      if (crew.id.toLowerCase().includes(text)) return true;
      return Boolean(route && route.stops.some((s) => s.job_id.toLowerCase().includes(text)));
    });
  }

  setFilter(filter) {
    Object.assign(this.filter, filter);
    if (this.board) this.render();
  }

  pct(minutes) {
    const [a, b] = this.range;
    return `${(((minutes - a) / (b - a)) * 100).toFixed(3)}%`;
  }

  span(node, from, to) {
    node.style.left = this.pct(from);
    node.style.width = `calc(${this.pct(to)} - ${this.pct(from)})`;
    return node;
  }

  render() {
    const frag = document.createDocumentFragment();
    frag.append(this.axis());
    const crews = this.visibleCrews();
    for (const crew of crews) frag.append(this.row(crew));
    if (!crews.length) frag.append(el("p", "muted", t("no_crews")));
    frag.append(this.legend());
    this.root.replaceChildren(frag);
    this.highlight(this.selected.crew, this.selected.job, false);
  }

  axis() {
    const axis = el("div", "tl-axis");
    axis.append(el("div", "tl-name muted", ""));
    const ticks = el("div", "ticks");
    for (let m = this.range[0]; m <= this.range[1]; m += 60) {
      const tick = el("span", "tick", `${String(m / 60).padStart(2, "0")}:00`);
      tick.style.left = this.pct(m);
      ticks.append(tick);
    }
    axis.append(ticks);
    return axis;
  }

  legend() {
    const legend = el("div", "tl-legend");
    const items = [
      ["legend_drive", "var(--drive)"],
      ["legend_work", "var(--work)"],
      ["legend_lunch", "var(--lunch)"],
      ["legend_idle", "#dfe4ea"],
      ["legend_late", "var(--bad)"],
    ];
    if (this.pairs.size) items.push(["legend_assist", "var(--assist)"]);
    for (const [key, colour] of items) {
      const item = el("span", "", "");
      const swatch = el("i", key === "legend_assist" ? "dot" : "");
      swatch.style.background = colour;
      item.append(swatch, t(key));
      legend.append(item);
    }
    return legend;
  }

  row(crew) {
    const route = this.routes.get(crew.id);
    const row = el("div", "tl-row");
    row.dataset.crew = crew.id;
    row.style.setProperty("--crew-colour", this.colours.get(crew.id) || "#9aa5b1");
    const name = el("div", "tl-name", crew.id);
    name.title = t("crew_row", { crew: crew.id, kind: label("crew_", crew.kind), stops: route ? route.stops.length : 0 });
    name.addEventListener("click", () => this.onSelect({ crew: crew.id }));
    const track = el("div", "tl-track");
    const shift = this.span(el("div", "seg idle"), hhmmMinutes(crew.shift_start), hhmmMinutes(crew.shift_end));
    shift.style.opacity = "0.35";
    track.append(shift);
    if (route) this.drawRoute(track, route);
    row.append(name, track);
    this.makeDropTarget(row, crew.id);
    return row;
  }

  drawRoute(track, route) {
    let previousEnd = minutesOf(route.depart);
    route.stops.forEach((stop, index) => {
      const arrival = minutesOf(stop.arrival);
      const start = minutesOf(stop.start);
      const end = minutesOf(stop.end);
      if (arrival > previousEnd) track.append(this.span(el("div", "seg drive"), previousEnd, arrival));
      if (start > arrival) track.append(this.span(el("div", "seg idle"), arrival, start));
      track.append(this.workSegment(route, stop, index, start, end));
      previousEnd = end;
    });
    const back = minutesOf(route.return_at);
    if (back > previousEnd) track.append(this.span(el("div", "seg drive"), previousEnd, back));
    if (route.lunch) {
      const from = minutesOf(route.lunch.start);
      const lunch = this.span(el("div", "seg lunch"), from, from + route.lunch.minutes);
      lunch.title = `${t("f_lunch")} ${fmtClock(route.lunch.start)} · ${route.lunch.minutes} min`;
      track.append(lunch);
    }
  }

  workSegment(route, stop, index, start, end) {
    const job = this.jobs.get(stop.job_id) || {};
    const seg = this.span(el("div", "seg work"), start, Math.max(end, start + 3));
    seg.dataset.job = stop.job_id;
    seg.dataset.crew = route.crew_id;
    seg.draggable = true;
    seg.tabIndex = 0;
    seg.setAttribute("role", "button");
    if (stop.slack_minutes < 0) seg.classList.add("late");
    if (job.status === "completed") seg.classList.add("done");
    if (job.status === "failed") seg.classList.add("failed");
    const pair = this.pairs.get(stop.job_id);
    let text = `${stop.job_id} · ${label("kind_", job.kind)} · #${index + 1} · ${fmtClock(stop.start)}–${fmtClock(stop.end)} · ${t("f_slack")} ${stop.slack_minutes} min`;
    if (pair) {
      seg.classList.add("assist");
      seg.dataset.assist = pair.role;
      text += ` · ${t("f_assist")}: ${assistText(pair)}`;
    }
    seg.title = text;
    seg.setAttribute("aria-label", text);
    const select = () => this.onSelect({ crew: route.crew_id, job: stop.job_id });
    seg.addEventListener("click", select);
    seg.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        select();
      }
    });
    seg.addEventListener("dragstart", (e) => {
      e.dataTransfer.setData("text/plain", stop.job_id);
      e.dataTransfer.effectAllowed = "move";
      seg.classList.add("dragging");
    });
    seg.addEventListener("dragend", () => seg.classList.remove("dragging"));
    return seg;
  }

  makeDropTarget(row, crewId) {
    row.addEventListener("dragover", (e) => {
      e.preventDefault();
      e.dataTransfer.dropEffect = "move";
      row.classList.add("drop-target");
    });
    row.addEventListener("dragleave", () => row.classList.remove("drop-target"));
    row.addEventListener("drop", (e) => {
      e.preventDefault();
      row.classList.remove("drop-target");
      const jobId = e.dataTransfer.getData("text/plain");
      if (!jobId) return;
      const track = row.querySelector(".tl-track");
      const box = track.getBoundingClientRect();
      const [a, b] = this.range;
      const minute = a + ((e.clientX - box.left) / Math.max(box.width, 1)) * (b - a);
      this.onMove(jobId, crewId, this.positionAt(crewId, jobId, minute), row);
    });
  }

  /** The 0-based position a job dropped at `minute` takes among the crew's other stops. */
  positionAt(crewId, jobId, minute) {
    const route = this.routes.get(crewId);
    if (!route) return 0;
    const others = route.stops.filter((s) => s.job_id !== jobId);
    return others.filter((s) => minutesOf(s.start) < minute).length;
  }

  /** Mark a crew's row and one stop as selected, and bring the row into view. */
  highlight(crewId, jobId, scroll = true) {
    this.selected = { crew: crewId, job: jobId };
    for (const node of this.root.querySelectorAll(".selected")) node.classList.remove("selected");
    if (!crewId) return;
    const row = this.root.querySelector(`.tl-row[data-crew="${CSS.escape(crewId)}"]`);
    if (!row) return;
    row.classList.add("selected");
    if (jobId) {
      const seg = row.querySelector(`.seg.work[data-job="${CSS.escape(jobId)}"]`);
      if (seg) seg.classList.add("selected");
    }
    if (scroll) row.scrollIntoView({ block: "nearest" });
  }

  /** A refused move's reasons, shown right under the row it was dropped on. */
  showRefusal(row, title, reasons) {
    this.clearRefusal();
    const box = refusalBox(title, reasons, "tl-refusal refusal");
    if (row && row.isConnected) row.after(box);
    else this.root.prepend(box);
    box.scrollIntoView({ block: "nearest" });
  }

  clearRefusal() {
    for (const node of this.root.querySelectorAll(".tl-refusal")) node.remove();
  }

  /** A driver's report changed a job's status: restyle its stop. */
  updateJob(job) {
    const seg = this.root.querySelector(`.seg.work[data-job="${CSS.escape(job.id)}"]`);
    if (!seg) return;
    seg.classList.toggle("done", job.status === "completed");
    seg.classList.toggle("failed", job.status === "failed");
  }
}
