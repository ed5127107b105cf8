// The dispatchers' worklist (`/worklist`): two lists side by side (stacked on a phone):
// the open complaints with their 4-hour countdown to the first answer (`GET /complaints`),
// and the completed jobs whose follow-up call has not reached the customer yet
// (`GET /follow-ups/due`). Dispatchers and admins answer, record and log calls here;
// managers read the lists (without the customers' words, which the service leaves out).
// Both lists refresh every 30 seconds. Modules beside this one: the text
// (worklist-strings.js), the lists (worklist-complaints.js, worklist-followups.js) and the
// forms' error display (worklist-forms.js).

import { api } from "./api.js";
import { t } from "./i18n.js";
import { say, startPage } from "./shell.js";
import "./worklist-strings.js";
import { renderComplaints, wireRecordForm } from "./worklist-complaints.js";
import { renderFollowUps } from "./worklist-followups.js";
import { fmtWhen } from "./worklist-forms.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 30_000;
/** the roles that answer complaints and log calls here; the others read */
const ACTING = new Set(["dispatcher", "admin"]);

const state = { canAct: false, turn: 0 };

async function loadComplaints() {
  const page = await api("/complaints?limit=200");
  renderComplaints($("complaints"), page.items, state.canAct, answered);
  $("complaints-empty").hidden = page.items.length > 0;
  $("complaints-count").textContent = t("complaints_count", { n: page.total });
}

async function loadFollowUps() {
  const page = await api("/follow-ups/due?limit=200");
  renderFollowUps($("followups"), page.items, state.canAct, logged);
  $("followups-empty").hidden = page.items.length > 0;
  $("followups-count").textContent = t("followups_count", { n: page.total });
}

/** Both lists; an error in one is said and leaves the other shown. */
async function refresh() {
  const turn = ++state.turn;
  const results = await Promise.allSettled([loadComplaints(), loadFollowUps()]);
  if (turn !== state.turn) return;
  const failed = results.find((r) => r.status === "rejected");
  if (failed) say(failed.reason.message, "error");
  else if ($("status").dataset.kind !== "ok") say("");
  $("refreshed").textContent = t("refreshed", { time: new Date().toTimeString().slice(0, 5) });
}

function answered(item) {
  const li = $("complaints").querySelector(`li[data-id="${item.id}"]`);
  if (li) li.remove();
  say(t("answered", { id: item.id }), "ok");
  refresh();
}

function logged(item, reached) {
  if (reached) {
    const li = $("followups").querySelector(`li[data-job="${CSS.escape(item.job.id)}"]`);
    if (li) li.remove();
  }
  say(t(reached ? "call_logged_reached" : "call_logged_missed", { job: item.job.id }), "ok");
  refresh();
}

function recorded(complaint) {
  say(t("recorded", { id: complaint.id, time: fmtWhen(complaint.answer_due_at) }), "ok");
  refresh();
}

function start() {
  const s = startPage("worklist");
  if (!s) return;
  document.title = t("page_title");
  state.canAct = ACTING.has(s.role);
  $("record-panel").hidden = !state.canAct;
  $("read-only").hidden = state.canAct;
  if (state.canAct) wireRecordForm($("record-form"), recorded);
  say(t("loading_lists"));
  refresh();
  setInterval(refresh, REFRESH_MS);
}

start();
