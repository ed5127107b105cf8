// The table of simulations: one row per simulation, updated in place on every poll (so a
// ticked box or a focused button survives the refresh), newest first.
//
// Each row shows when and by whom it was asked, what season, its status, a progress bar with
// the worker's message, and the actions its status allows: Cancel (queued, running; for the
// roles that may start simulations), Open report, Recommendation (done, when one was asked
// for), Daily figures and Compare (done).

import { t } from "./i18n.js";
import { fmtShare } from "./season-chart.js";
import { optionName } from "./season-rec.js";

const ACTIVE = new Set(["queued", "running"]);

export function isActive(sim) {
  return ACTIVE.has(sim.status);
}

function el(tag, className = "", text = null) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== null) node.textContent = text;
  return node;
}

/** "8 days · scale 0.1 · temporary 0, 5 · 1 replication(s)" from the validated params. */
export function seasonText(sim) {
  const p = sim.params || {};
  const s = p.settings || {};
  const temp = (s.crews && s.crews.temp_per_week) || [];
  const parts = [
    t("season_days", { days: s.days }),
    t("season_scale", { scale: s.scale }),
    temp.length ? t("season_temp", { list: temp.join(", ") }) : t("season_no_temp"),
    (p.replications || 1) === 1 ? t("season_rep_one") : t("season_reps", { n: p.replications }),
  ];
  if (p.fixture === "own") parts.unshift(t("season_own"));
  if (p.recommend) {
    parts.push(t("season_target", { target: fmtShare(s.target_share, 0) }));
    if (s.target_clock === "customer") parts.push(t("season_clock_customer"));
    if (p.levers) parts.push(t("season_levers"));
  }
  return parts.join(" · ");
}

/** The worker's progress messages (English from the service) -> a string key and values. */
const MESSAGES = [
  [/^replication (\d+)\/(\d+): day (\d+): (\d+) jobs offered, (\d+) done, backlog (\d+)$/,
    (m) => t("msg_day", { k: m[1], n: m[2], day: m[3], offered: m[4], done: m[5], backlog: m[6] })],
  [/^(\d+) replication\(s\) on (.+)$/, (m) => t("msg_replications", { n: m[1], where: m[2] })],
  [/^replication (\d+) \(seed (\d+)\) done$/, (m) => t("msg_rep_done", { k: m[1], seed: m[2] })],
  [/^capacity search: round (\d+): temporary crews per week (.+)$/,
    (m) => t("msg_round", { round: m[1], plan: m[2] })],
  [/^lever search: (.+): round (\d+): temporary crews per week (.+)$/,
    (m) => t("msg_lever_round", { option: optionName(m[1]), round: m[2], plan: m[3] })],
  [/^lever search: (.+): worst peak week (.+), cost (.+) CNY$/,
    (m) => t("msg_lever_done", { option: optionName(m[1]), worst: m[2], cost: m[3] })],
  [/^writing the report$/, () => t("msg_report")],
  [/^starting$/, () => t("msg_starting")],
  [/^requeued:/, () => t("msg_requeued")],
];

/** The line under the progress bar, in the page's language where its shape is known. */
export function progressText(sim) {
  if (sim.status === "failed") return sim.error || t("status_failed");
  if (sim.status === "done" || sim.status === "cancelled") {
    const time = String(sim.finished_at || "").slice(0, 16).replace("T", " ");
    return time ? t(sim.status === "done" ? "msg_finished" : "msg_cancelled", { time }) : "";
  }
  if (sim.status === "queued" && sim.message === "queued") return t("msg_queued");
  const text = sim.message || "";
  for (const [pattern, words] of MESSAGES) {
    const m = text.match(pattern);
    if (m) return words(m);
  }
  return text; // a message of a shape this page does not know: the service's own words
}

/** The status badge's words: "cancelling" while a cancel is on its way. */
function statusText(sim) {
  if (sim.status === "running" && sim.cancel_requested) return t("cancelling");
  return t(`status_${sim.status}`);
}

function badgeClass(status) {
  if (status === "done") return "badge ok";
  if (status === "failed") return "badge bad";
  if (ACTIVE.has(status)) return "badge active";
  return "badge";
}

/** A button with text and a data-action the table's one click listener dispatches on. */
function actionButton(action, text, className = "") {
  const button = el("button", className, text);
  button.type = "button";
  button.dataset.action = action;
  return button;
}

/** The action cell for a status; rebuilt only when the status changes. */
function actions(sim, { canRun, selected }) {
  const cell = el("div", "actions");
  if (isActive(sim) && canRun && !sim.cancel_requested) {
    cell.append(actionButton("cancel", t("cancel"), "danger"));
  }
  if (sim.status === "done") {
    cell.append(actionButton("report", t("open_report")));
    if (sim.params && sim.params.recommend) {
      cell.append(actionButton("recommendation", t("show_rec")));
    }
    cell.append(actionButton("csv", t("days_csv")));
    const label = el("label", "compare-pick");
    const box = el("input");
    box.type = "checkbox";
    box.dataset.action = "compare";
    box.checked = selected;
    box.setAttribute("aria-label", t("compare_label", { id: sim.id.slice(0, 8) }));
    label.append(box, el("span", "", t("compare")));
    cell.append(label);
  }
  return cell;
}

/** A new row's cells (filled by `updateRow`). */
function newRow(sim) {
  const row = el("tr");
  row.dataset.id = sim.id;
  const asked = el("td", "asked");
  asked.append(el("span", "when"), el("span", "who muted"));
  const progress = el("td", "progress-cell");
  const bar = el("progress");
  bar.max = 1;
  bar.setAttribute("aria-label", t("progress_label", { id: sim.id.slice(0, 8) }));
  progress.append(bar, el("span", "message muted"));
  row.append(asked, el("td", "season"), el("td", "state"), progress, el("td", "act"));
  return row;
}

/** Bring a row up to date with `sim`. */
function updateRow(row, sim, options) {
  row.querySelector(".when").textContent = String(sim.created_at).slice(0, 16).replace("T", " ");
  row.querySelector(".who").textContent = t("asked_by", { user: sim.created_by });
  row.querySelector(".season").textContent = seasonText(sim);
  row.querySelector(".state").replaceChildren(el("span", badgeClass(sim.status), statusText(sim)));
  row.querySelector("progress").value = sim.progress || 0;
  const message = progressText(sim);
  row.querySelector(".message").textContent = message;
  row.querySelector(".message").title = message;
  const key = `${sim.status}:${sim.cancel_requested}`;
  if (row.dataset.state !== key) {
    row.dataset.state = key;
    row.dataset.status = sim.status;
    row.querySelector(".act").replaceChildren(actions(sim, options(sim)));
  }
}

/** Show `items` (newest first) in `tbody`, reusing the rows already there. */
export function renderRuns(tbody, items, options) {
  const existing = new Map([...tbody.rows].map((row) => [row.dataset.id, row]));
  items.forEach((sim, k) => {
    const row = existing.get(sim.id) || newRow(sim);
    existing.delete(sim.id);
    updateRow(row, sim, options);
    if (tbody.rows[k] !== row) tbody.insertBefore(row, tbody.rows[k] || null);
  });
  for (const row of existing.values()) row.remove();
}
