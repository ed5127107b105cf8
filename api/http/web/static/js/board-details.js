// The panel under the timeline: the selected stop or crew (with a keyboard-friendly "move
// to crew" form beside dragging), a refused move's reasons, the unassigned jobs with the
// reason and the fixes the explanations endpoint proposes, and the drivers' reports.

import { api } from "./api.js";
import { assistPairs, assistText } from "./board-assist.js";
import { el, refusalBox } from "./dom.js";
import { fmtClock, label, t } from "./i18n.js";

function fields(pairs) {
  const dl = el("dl");
  for (const [label, value] of pairs) {
    if (value === undefined || value === null || value === "") continue;
    dl.append(el("dt", "", label), el("dd", "", String(value)));
  }
  return dl;
}

export class BoardDetails {
  constructor(root, board) {
    this.root = root;
    this.board = board;
    this.selection = el("div", "selection");
    this.message = el("div", "message");
    this.unassigned = el("div", "unassigned");
    this.feedBox = el("div", "feed-box");
    this.feedList = el("ul", "list feed");
    this.feedList.id = "feed";
    this.feedBox.append(el("h3", "", t("feed_title")), this.feedList);
    this.feedEmpty = el("p", "muted", t("feed_empty"));
    this.feedBox.append(this.feedEmpty);
    root.replaceChildren(this.selection, this.message, this.unassigned, this.feedBox);
    this.explanations = null;
  }

  clear() {
    this.selection.replaceChildren();
    this.message.replaceChildren();
    this.unassigned.replaceChildren();
    this.explanations = null;
  }

  get data() {
    return this.board.board;
  }

  /** The selected stop (with its move form), or the selected crew's day. */
  show(crewId, jobId) {
    this.message.replaceChildren();
    const data = this.data;
    if (!data) return;
    const job = jobId ? data.jobs.find((j) => j.id === jobId) : null;
    const route = crewId ? data.routes.find((r) => r.crew_id === crewId) : null;
    const crew = crewId ? data.crews.find((c) => c.id === crewId) : null;
    if (job) {
      this.showStop(job, route);
      return;
    }
    if (crew) {
      const box = el("div");
      box.append(el("h3", "", t("crew_title", { crew: crew.id, kind: label("crew_", crew.kind) })));
      box.append(
        fields([
          [t("f_shift"), `${crew.shift_start}–${crew.shift_end}`],
          [t("f_zone"), crew.home_zone],
          [t("f_stops"), route ? route.stops.length : 0],
          [t("f_distance"), route ? `${(route.distance_m / 1000).toFixed(1)} km` : "–"],
          [t("f_lunch"), route && route.lunch ? `${fmtClock(route.lunch.start)} · ${route.lunch.minutes} min` : ""],
        ]),
      );
      this.selection.replaceChildren(box);
    }
  }

  showStop(job, route) {
    const index = route ? route.stops.findIndex((s) => s.job_id === job.id) : -1;
    const stop = index >= 0 ? route.stops[index] : null;
    const unassigned = this.data.unassigned.find((u) => u.job_id === job.id);
    const pair = assistPairs(this.data).get(job.id);
    const box = el("div");
    box.append(el("h3", "", t("stop_title", { job: job.id, kind: label("kind_", job.kind) })));
    const windows = (job.windows || []).map(([a, b]) => `${fmtClock(a)}–${fmtClock(b)}`).join(", ");
    box.append(
      fields([
        [t("f_crew"), route ? route.crew_id : "–"],
        [t("f_sequence"), stop ? index + 1 : ""],
        [t("f_eta"), stop ? fmtClock(stop.arrival) : ""],
        [t("f_service"), stop ? `${fmtClock(stop.start)}–${fmtClock(stop.end)}` : ""],
        [t("f_window"), windows],
        [t("f_deadline"), stop ? String(stop.deadline).replace("T", " ").slice(0, 16) : ""],
        [t("f_slack"), stop ? t("f_slack_value", { minutes: stop.slack_minutes }) : ""],
        [t("f_status"), label("job_", job.status)],
        [t("f_zone"), job.zone],
        [t("f_customer"), job.customer_name],
        [t("f_address"), job.address],
        [t("f_reason"), unassigned ? `${label("reason_", unassigned.reason)}: ${unassigned.detail}` : ""],
        [t("f_carried"), job.first_due ? t("carried_value", { date: job.first_due, days: this.daysCarried(job) }) : ""],
        [t("f_assist"), pair ? assistText(pair) : ""],
      ]),
    );
    if (unassigned) box.append(this.fixesFor(job.id));
    if (["dispatcher", "admin"].includes(this.board.user.role)) box.append(this.moveForm(job, route, index));
    this.selection.replaceChildren(box);
  }

  /** Move by form: the same override as a drag, for keyboards and precise positions. */
  moveForm(job, route, index) {
    const form = el("form", "move-form");
    const crewLabel = el("label", "", t("move_to"));
    const select = el("select");
    select.id = "move-crew";
    crewLabel.htmlFor = "move-crew";
    for (const crew of this.data.crews) select.append(new Option(crew.id, crew.id));
    if (route) select.value = route.crew_id;
    const posLabel = el("label", "", t("move_position"));
    const pos = el("input");
    pos.id = "move-position";
    pos.type = "number";
    pos.min = "1";
    pos.value = String(index >= 0 ? index + 1 : 1);
    posLabel.htmlFor = "move-position";
    const submit = el("button", "primary", t("move"));
    submit.type = "submit";
    form.append(crewLabel, select, posLabel, pos, submit);
    if (route) {
      const off = el("button", "danger", t("unassign"));
      off.type = "button";
      off.addEventListener("click", () => this.board.move(job.id, null, null));
      form.append(off);
    }
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const position = Math.max(0, Number(pos.value || 1) - 1);
      const row = document.querySelector(`.tl-row[data-crew="${CSS.escape(select.value)}"]`);
      this.board.move(job.id, select.value, position, row);
    });
    return form;
  }

  showRefusal(title, reasons) {
    this.message.replaceChildren(refusalBox(title, reasons));
  }

  showAccepted(jobId, crewId) {
    this.message.replaceChildren(el("div", "accepted", t("move_done", { job: jobId, crew: crewId || "–", version: this.data.plan.version })));
  }

  /** Days a carried-over job has waited by the plan's day (roll-over: `first_due`). */
  daysCarried(job) {
    const day = Date.parse(`${this.data.plan.date}T00:00:00Z`);
    const first = Date.parse(`${job.first_due}T00:00:00Z`);
    return Math.max(0, Math.round((day - first) / 86_400_000));
  }

  /** The unassigned jobs, each draggable onto a crew's row, reasons on click; a job carried
   * over from an earlier day says for how long it has waited. */
  showUnassigned() {
    const items = this.data.unassigned;
    const jobs = new Map(this.data.jobs.map((j) => [j.id, j]));
    const pairs = assistPairs(this.data);
    this.unassigned.replaceChildren();
    if (!items.length) return;
    this.unassigned.append(el("h3", "", t("unassigned_title", { n: items.length })));
    const list = el("ul", "list");
    list.id = "unassigned-list";
    for (const item of items) {
      const li = el("li", "");
      li.draggable = true;
      li.dataset.job = item.job_id;
      li.tabIndex = 0;
      li.append(el("strong", "", item.job_id), " ", el("span", "badge bad", label("reason_", item.reason)), " ");
      const job = jobs.get(item.job_id);
      if (job && job.first_due) li.append(el("span", "badge warn", t("carried_badge", { days: this.daysCarried(job) })), " ");
      const pair = pairs.get(item.job_id);
      if (pair) {
        const jobsText = pair.partners.map((p) => p.job_id).join(", ");
        const badge = el("span", "badge assist", t("assist_pair", { jobs: jobsText }));
        badge.title = assistText(pair);
        li.append(badge, " ");
      }
      li.append(el("span", "muted", item.detail));
      li.addEventListener("dragstart", (e) => e.dataTransfer.setData("text/plain", item.job_id));
      li.addEventListener("click", () => this.board.select({ job: item.job_id }));
      list.append(li);
    }
    this.unassigned.append(list);
  }

  /** The fixes the explanations endpoint proposes for an unassigned job (fetched once). */
  fixesFor(jobId) {
    const box = el("div", "fixes");
    box.append(el("p", "muted", t("explaining")));
    this.loadExplanations()
      .then((byJob) => {
        const explanation = byJob.get(jobId);
        box.replaceChildren();
        if (!explanation) return;
        box.append(el("p", "", explanation.message));
        if (explanation.fixes && explanation.fixes.length) {
          box.append(el("strong", "", t("f_fixes")));
          const list = el("ul");
          for (const fix of explanation.fixes) list.append(el("li", "", fix.message));
          box.append(list);
        }
      })
      .catch((err) => box.replaceChildren(el("p", "refusal", err.message)));
    return box;
  }

  async loadExplanations() {
    const plan = this.data.plan;
    const key = `${plan.id}:${plan.version}`;
    if (!this.explanations || this.explanations.key !== key) {
      const answer = await api(`/plans/${plan.id}/explanations`);
      this.explanations = { key, byJob: new Map(answer.jobs.map((j) => [j.job_id, j])) };
    }
    return this.explanations.byJob;
  }

  /** A driver's report, newest first (ids and times only: no customer data here). */
  addEvent(event) {
    this.feedEmpty.hidden = true;
    const li = el(
      "li",
      "",
      t("feed_item", {
        time: fmtClock(event.effective_time ?? event.device_time),
        crew: event.crew_id,
        type: t(`ev_${event.type}`),
        job: event.job_id,
      }),
    );
    li.dataset.job = event.job_id;
    li.dataset.type = event.type;
    this.feedList.prepend(li);
    while (this.feedList.children.length > 200) this.feedList.lastChild.remove();
  }
}
