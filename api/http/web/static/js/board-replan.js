// Re-planning during the day: a crew off sick from a time, a job overrunning; new urgent jobs
// of the day are picked up by the re-plan itself. The dispatcher sees the diff (who changes,
// which jobs move, which customers hear of a new arrival time) before approving it, and
// approving publishes the re-plan in place of the published plan.

import { api } from "./api.js";
import { el } from "./dom.js";
import { t } from "./i18n.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class ReplanDialog {
  /** `onApproved(planId)` after the re-plan is published. */
  constructor(onApproved) {
    this.dialog = document.getElementById("replan-dialog");
    this.result = document.getElementById("replan-result");
    this.startButton = document.getElementById("replan-start");
    this.approveButton = document.getElementById("replan-approve");
    this.onApproved = onApproved;
    this.startButton.addEventListener("click", () => this.start());
    this.approveButton.addEventListener("click", () => this.approve());
  }

  open(plan, board) {
    this.plan = plan;
    this.replan = null;
    this.result.replaceChildren();
    this.approveButton.hidden = true;
    this.startButton.hidden = false;
    const now = new Date();
    document.getElementById("replan-at").value =
      `${String(now.getHours()).padStart(2, "0")}:${String(now.getMinutes()).padStart(2, "0")}`;
    const select = document.getElementById("sick-crew");
    select.replaceChildren(new Option(t("no_crew"), ""));
    for (const route of board.routes) select.append(new Option(route.crew_id, route.crew_id));
    document.getElementById("overrun-job").value = "";
    document.getElementById("overrun-end").value = "";
    this.dialog.showModal();
  }

  show(message, kind = "") {
    const p = el("p", "", message);
    if (kind) p.className = kind;
    p.setAttribute("role", kind === "refusal" ? "alert" : "status");
    this.result.replaceChildren(p);
  }

  body() {
    const day = this.plan.date;
    const at = `${day}T${document.getElementById("replan-at").value || "12:00"}`;
    const body = { at };
    const sick = document.getElementById("sick-crew").value;
    if (sick) body.unavailable = [{ crew_id: sick, from: at }];
    const job = document.getElementById("overrun-job").value.trim();
    const end = document.getElementById("overrun-end").value;
    if (job && end) body.overruns = [{ job_id: job, expected_end: `${day}T${end}` }];
    return body;
  }

  async start() {
    this.startButton.disabled = true;
    try {
      const accepted = await api(`/plans/${this.plan.id}/replan`, { method: "POST", json: this.body() });
      let row;
      for (;;) {
        row = await api(`/plans/${accepted.id}`);
        if (!["queued", "running"].includes(row.status)) break;
        this.show(t("replan_running", { message: row.message || row.status }));
        await sleep(1000);
      }
      if (row.status !== "succeeded") {
        this.show(t("plan_failed", { error: row.error || row.status }), "refusal");
        return;
      }
      this.replan = row;
      const diff = await api(`/plans/${row.id}/diff`);
      this.showDiff(diff.diff);
      this.approveButton.hidden = false;
      this.startButton.hidden = true;
    } catch (err) {
      this.show(err.message, "refusal");
    } finally {
      this.startButton.disabled = false;
    }
  }

  showDiff(diff) {
    const counts = diff.counts || {};
    const box = el("div", "diff");
    box.append(el("h3", "", t("diff_title")), el("p", "", t("diff_counts", counts)));
    if (diff.moved && diff.moved.length) {
      const list = el("ul");
      for (const m of diff.moved.slice(0, 30)) {
        list.append(el("li", "", t("diff_moved", { job: m.job_id, from: m.from_crew || "–", to: m.to_crew || "–" })));
      }
      box.append(list);
    }
    this.result.replaceChildren(box);
  }

  async approve() {
    this.approveButton.disabled = true;
    try {
      const published = await api(`/plans/${this.replan.id}/publish`, {
        method: "POST",
        json: { version: this.replan.version, replaces: this.plan.id },
      });
      this.dialog.close();
      this.onApproved(published);
    } catch (err) {
      this.show(err.message, "refusal");
    } finally {
      this.approveButton.disabled = false;
    }
  }
}
