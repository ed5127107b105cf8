// The season planner page (`/season`): ask for a peak-season simulation, follow it, cancel
// it, read its report and compare two finished runs, all on the `/simulations` endpoints.
//
// The list is polled every 2 s while a simulation is queued or running, and not at all
// otherwise. The report is fetched with the bearer token and shown from a blob: URL in a
// sandboxed frame, so the token never appears in a URL. Modules beside this one: the text
// (season-strings.js), the form (season-form.js), the table (season-list.js), one run's
// recommendation with its levers (season-rec.js) and the comparison with its chart
// (season-compare.js, season-chart.js).

import { api } from "./api.js";
import { t } from "./i18n.js";
import { say, startPage } from "./shell.js";
import "./season-strings.js";
import {
  FormError,
  inputOfApiError,
  readForm,
  showFormError,
  syncRecommendFields,
} from "./season-form.js";
import { isActive, renderRuns } from "./season-list.js";
import { renderComparison } from "./season-compare.js";
import { renderRecommendation } from "./season-rec.js";

const POLL_MS = 2000;
/** roles that may start and cancel simulations (managers read them) */
const RUN_ROLES = new Set(["planner", "dispatcher", "admin"]);

const state = {
  canRun: false,
  items: [],
  pollTimer: null,
  /** ids ticked for comparison, oldest tick first, at most two */
  selected: [],
  /** full answers of finished simulations (they no longer change) */
  details: new Map(),
  reportUrl: null,
  compareTurn: 0,
};

const $ = (id) => document.getElementById(id);

// ---- the list and its polling

/** Read the list, show it, and poll again in 2 s while anything is queued or running. */
async function refresh() {
  clearTimeout(state.pollTimer);
  try {
    const page = await api("/simulations?limit=100");
    state.items = page.items;
    renderRuns($("runs-body"), page.items, rowOptions);
    $("runs-empty").hidden = page.items.length > 0;
    $("runs-count").textContent = t("runs_count", { count: page.total });
    dropUnavailableSelections();
  } catch (err) {
    say(err.message, "error");
  }
  if (state.items.some(isActive)) state.pollTimer = setTimeout(refresh, POLL_MS);
}

/** What a row may offer: cancel for the roles that run simulations, its compare tick. */
function rowOptions(sim) {
  return { canRun: state.canRun, selected: state.selected.includes(sim.id) };
}

// ---- the form

async function submit(event) {
  event.preventDefault();
  let body;
  try {
    body = readForm();
  } catch (err) {
    if (!(err instanceof FormError)) throw err;
    showFormError(err.message, err.inputId);
    return;
  }
  const button = $("start");
  button.disabled = true;
  button.textContent = t("starting");
  try {
    await api("/simulations", { method: "POST", json: body });
    showFormError("");
    say(t("started"), "ok");
    await refresh();
  } catch (err) {
    // 422: the service's sentence naming the setting, shown beside the form
    showFormError(err.message, inputOfApiError(err));
  } finally {
    button.disabled = false;
    button.textContent = t("start");
  }
}

// ---- row actions

async function cancelRun(id) {
  try {
    const answer = await api(`/simulations/${encodeURIComponent(id)}`, { method: "DELETE" });
    const key = answer.status === "cancelled" ? "cancelled_now" : "cancel_asked";
    say(t(key, { id: id.slice(0, 8) }), "ok");
  } catch (err) {
    say(err.message, "error");
  }
  await refresh();
}

/** The report page, fetched with the token, shown from a blob: URL in the dialog's frame. */
async function openReport(id) {
  const dialog = $("report-dialog");
  $("report-run").textContent = id.slice(0, 8);
  say(t("report_loading"));
  try {
    const response = await api(`/simulations/${encodeURIComponent(id)}/report`, {
      raw: true,
      headers: { Accept: "text/html" },
    });
    const html = await response.text();
    releaseReport();
    state.reportUrl = URL.createObjectURL(new Blob([html], { type: "text/html" }));
    $("report-frame").src = state.reportUrl;
    say("");
    if (!dialog.open) dialog.showModal();
    $("report-close").focus();
  } catch (err) {
    say(err.message, "error");
  }
}

/** Forget the shown report (its blob: URL holds the whole page in memory). */
function releaseReport() {
  if (state.reportUrl) URL.revokeObjectURL(state.reportUrl);
  state.reportUrl = null;
}

function onReportClosed() {
  $("report-frame").removeAttribute("src");
  releaseReport();
}

/** The daily table as a file download (fetched with the token, saved from a blob:). */
async function downloadCsv(id) {
  try {
    const response = await api(`/simulations/${encodeURIComponent(id)}/days.csv`, {
      raw: true,
      headers: { Accept: "text/csv" },
    });
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = `simulation-${id}-days.csv`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (err) {
    say(err.message, "error");
  }
}

function onTableClick(event) {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const id = button.closest("tr").dataset.id;
  if (button.dataset.action === "cancel") cancelRun(id);
  else if (button.dataset.action === "report") openReport(id);
  else if (button.dataset.action === "csv") downloadCsv(id);
  else if (button.dataset.action === "recommendation") showRecommendation(id);
}

// ---- one run's recommendation

/** The recommendation of a finished run (levers, cost, weeks on both clocks) in its panel. */
async function showRecommendation(id) {
  try {
    const sim = await detailsOf(id);
    renderRecommendation($("rec-body"), sim);
    $("rec-run").textContent = t("rec_for", { id: id.slice(0, 8) });
    $("rec-panel").hidden = false;
    $("rec-panel").dataset.id = id;
    $("rec-panel").scrollIntoView({ block: "nearest" });
  } catch (err) {
    say(err.message, "error");
  }
}

function closeRecommendation() {
  $("rec-panel").hidden = true;
  $("rec-body").replaceChildren();
  delete $("rec-panel").dataset.id;
}

function onTableChange(event) {
  const box = event.target;
  if (box.dataset.action !== "compare") return;
  toggleCompare(box.closest("tr").dataset.id, box.checked);
}

// ---- comparison

/** Tick or untick a run; a third tick replaces the oldest one. */
function toggleCompare(id, on) {
  state.selected = state.selected.filter((s) => s !== id);
  if (on) state.selected.push(id);
  while (state.selected.length > 2) state.selected.shift();
  syncCompareBoxes();
  showComparison();
}

function syncCompareBoxes() {
  for (const box of document.querySelectorAll('#runs-body input[data-action="compare"]')) {
    box.checked = state.selected.includes(box.closest("tr").dataset.id);
  }
}

/** Untick runs that are no longer listed as done (deleted, or a stale tick). */
function dropUnavailableSelections() {
  const done = new Set(state.items.filter((s) => s.status === "done").map((s) => s.id));
  const kept = state.selected.filter((id) => done.has(id));
  if (kept.length !== state.selected.length) {
    state.selected = kept;
    syncCompareBoxes();
    showComparison();
  }
}

/** A finished simulation's full answer (summary, weeks), fetched once. */
async function detailsOf(id) {
  if (!state.details.has(id)) {
    const sim = await api(`/simulations/${encodeURIComponent(id)}`);
    if (sim.status !== "done") throw new Error(t("err_compare_missing", { id: id.slice(0, 8) }));
    state.details.set(id, sim);
  }
  return state.details.get(id);
}

/** Show the two ticked runs side by side (older as A), or say what is missing. */
async function showComparison() {
  const turn = ++state.compareTurn;
  const body = $("compare-body");
  const count = state.selected.length;
  $("compare-hint").textContent = count === 1 ? t("compare_one") : t("compare_hint");
  $("compare-hint").hidden = count === 2;
  $("compare-clear").hidden = count === 0;
  if (count < 2) {
    body.hidden = true;
    body.replaceChildren();
    return;
  }
  try {
    const sims = await Promise.all(state.selected.map(detailsOf));
    if (turn !== state.compareTurn) return; // another tick came meanwhile
    sims.sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)));
    renderComparison(body, sims[0], sims[1]);
    body.hidden = false;
  } catch (err) {
    if (turn === state.compareTurn) say(err.message, "error");
  }
}

function clearComparison() {
  state.selected = [];
  syncCompareBoxes();
  showComparison();
}

// ---- start

function start() {
  const session = startPage("season"); // fills the header and every data-i18n text
  if (!session) return; // not signed in, or a role sent on to its own page
  document.title = t("page_title");
  state.canRun = RUN_ROLES.has(session.role);
  $("season-fields").disabled = !state.canRun;
  $("read-only-note").hidden = state.canRun;
  syncRecommendFields();
  $("recommend").addEventListener("change", syncRecommendFields);
  $("season-form").addEventListener("submit", submit);
  $("runs-body").addEventListener("click", onTableClick);
  $("runs-body").addEventListener("change", onTableChange);
  $("report-close").addEventListener("click", () => $("report-dialog").close());
  $("report-dialog").addEventListener("close", onReportClosed);
  $("compare-clear").addEventListener("click", clearComparison);
  $("rec-close").addEventListener("click", closeRecommendation);
  showComparison();
  refresh();
}

start();
