// The dispatcher board: pick a day and region, plan it (with progress, cancellable), look at
// the routes on the map and the crew timeline side by side, move stops by dragging (the
// service checks every move and explains a refusal), publish, re-plan during the day, and
// watch drivers' reports arrive. Everything goes through the same JSON API as any client.

import { api } from "./api.js";
import "./board-strings.js";
import { renderTiles } from "./board-kpis.js";
import { BoardMap } from "./board-map.js";
import { ReplanDialog } from "./board-replan.js";
import { Timeline } from "./board-timeline.js";
import { BoardDetails } from "./board-details.js";
import { EventFeed } from "./board-feed.js";
import { CrewPositions } from "./board-positions.js";
import { applyI18n, fmtClock, t } from "./i18n.js";
import { say, startPage } from "./shell.js";

const REGIONS = ["urban", "rural"];
const ACTIVE = ["queued", "running"];
const SHOWN = ["published", "succeeded", "superseded"];
const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A distinct colour per crew, stable for the crew's place in the plan. */
function crewColours(crews) {
  const colours = new Map();
  crews.forEach((crew, i) => {
    const hue = (i * 137.508) % 360; // golden angle: neighbours differ
    colours.set(crew.id, `hsl(${hue.toFixed(1)} 70% ${i % 2 ? 38 : 48}%)`);
  });
  return colours;
}

function todayLocal() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

class Board {
  constructor(user, config) {
    this.user = user;
    this.plan = null; // the plan row shown (summary)
    this.board = null; // its board answer
    this.etag = null;
    this.map = new BoardMap($("map"), config, (sel) => this.select(sel));
    this.positions = new CrewPositions(this.map);
    this.timeline = new Timeline($("timeline"), (sel) => this.select(sel), (...a) => this.move(...a));
    this.details = new BoardDetails($("details"), this);
    this.feed = new EventFeed((event) => this.onEvent(event));
    this.replan = new ReplanDialog((published) => this.afterReplan(published));
    this.setUpControls();
  }

  setUpControls() {
    const params = new URLSearchParams(location.search);
    $("day").value = params.get("date") || todayLocal();
    this.dayGiven = Boolean(params.get("date"));
    const regions = this.user.regions && this.user.regions.length ? this.user.regions : REGIONS;
    for (const r of regions) {
      const name = t(`region_${r}`);
      $("region").append(new Option(name === `region_${r}` ? r : name, r));
    }
    if (params.get("region") && regions.includes(params.get("region"))) $("region").value = params.get("region");
    $("day").addEventListener("change", () => this.loadPlans());
    $("region").addEventListener("change", () => this.loadPlans());
    $("plan-select").addEventListener("change", () => this.showPlan($("plan-select").value));
    $("plan-day").addEventListener("click", () => this.planDay());
    $("cancel-plan").addEventListener("click", () => this.cancelPlan());
    $("publish").addEventListener("click", () => this.publish());
    $("replan").addEventListener("click", () => this.openReplan());
    $("search").addEventListener("input", () => this.timeline.setFilter({ text: $("search").value }));
    $("zone-filter").addEventListener("change", () => this.timeline.setFilter({ zone: $("zone-filter").value }));
    $("used-only").addEventListener("change", () => this.timeline.setFilter({ usedOnly: $("used-only").checked }));
    const office = ["dispatcher", "admin"].includes(this.user.role);
    for (const id of ["plan-day", "publish", "replan"]) $(id).hidden = !office;
  }

  /**
   * Without `?date=`, open on a day that has work: today if it has jobs, else the next day
   * with jobs, else the latest one (a fresh demo database holds one demo day).
   */
  async pickDefaultDay() {
    try {
      const answer = await api(`/board/days?region=${encodeURIComponent(this.region)}`);
      this.days = answer.days;
      if (this.dayGiven || !answer.days.length) return;
      const dates = answer.days.map((d) => d.date).sort();
      const today = answer.today;
      $("day").value = dates.includes(today) ? today : dates.find((d) => d > today) || dates[dates.length - 1];
    } catch {
      this.days = [];
    }
  }

  /** "No jobs on this day" with the days that have some, so a newcomer finds the demo day. */
  sayNoWork() {
    const days = (this.days || []).slice(0, 5).map((d) => `${d.date} (${d.jobs})`);
    if (days.length && !this.days.some((d) => d.date === this.day)) {
      say(t("no_jobs_day", { days: days.join(", ") }));
    } else say(t("no_plan_state"));
  }

  get day() {
    return $("day").value;
  }

  get region() {
    return $("region").value;
  }

  /** The day's plans in the picker; shows the running one's progress or the best finished one. */
  async loadPlans(preferId = null) {
    const url = `/plans?date=${this.day}&region=${encodeURIComponent(this.region)}&limit=50`;
    history.replaceState(null, "", `/board?date=${this.day}&region=${this.region}`);
    let page;
    try {
      page = await api(url);
    } catch (err) {
      say(err.message, "error");
      return;
    }
    const plans = page.items;
    const select = $("plan-select");
    select.replaceChildren();
    for (const p of plans) {
      const label = t("plan_option", {
        time: fmtClock(p.created_at),
        status: t(`status_${p.status}`),
        kind: p.kind === "replan" ? t("replan_suffix") : "",
      });
      select.append(new Option(label, p.id));
    }
    if (!plans.length) select.append(new Option(t("no_plans"), ""));
    const active = plans.find((p) => ACTIVE.includes(p.status));
    if (active && !this.tracking) this.track(active.id);
    const shown =
      plans.find((p) => p.id === preferId) ||
      plans.find((p) => p.status === "published") ||
      plans.find((p) => SHOWN.includes(p.status));
    if (shown) {
      select.value = shown.id;
      await this.showPlan(shown.id);
    } else {
      this.clear();
      if (!active) this.sayNoWork();
    }
  }

  clear() {
    this.plan = null;
    this.board = null;
    this.feed.stop();
    this.positions.stop();
    this.positions.show([]);
    renderTiles($("tiles"), null, null);
    $("timeline").replaceChildren();
    this.details.clear();
    this.updateButtons();
  }

  /** Fetch and draw one plan (routes on the map, rows on the timeline, tiles, details). */
  async showPlan(planId, quiet = false) {
    if (!planId) return;
    const started = performance.now();
    if (!quiet) say(t("loading_plan"));
    let board;
    try {
      board = await api(`/plans/${planId}/board`);
    } catch (err) {
      say(err.message, "error");
      return;
    }
    this.board = board;
    this.plan = board.plan;
    const colours = crewColours(board.crews);
    this.map.draw(board, colours);
    this.positions.draw(board, colours);
    this.timeline.draw(board, colours);
    this.fillZones(board);
    this.details.showUnassigned();
    this.updateButtons();
    const ms = Math.round(performance.now() - started);
    document.body.dataset.drawnMs = String(ms);
    // since the page was opened (navigation start): what the "board drawn" benchmark reads
    document.body.dataset.drawnSinceOpenMs = String(Math.round(performance.now()));
    document.body.dataset.planVersion = String(board.plan.version);
    if (!quiet) say(t("drawn", { routes: this.map.routeCount(), ms }), "ok");
    renderTiles($("tiles"), board, null);
    this.feed.start(this.day, this.region);
    if (board.plan.status === "published") this.loadMetrics();
  }

  async loadMetrics() {
    try {
      const metrics = await api(`/metrics/service?from=${this.day}&to=${this.day}&region=${encodeURIComponent(this.region)}`);
      renderTiles($("tiles"), this.board, metrics);
    } catch {
      // the plan's own tiles stay; metrics are a bonus for a running day
    }
  }

  fillZones(board) {
    const select = $("zone-filter");
    const current = select.value;
    const zones = [...new Set(board.crews.map((c) => c.home_zone).filter(Boolean))].sort();
    select.replaceChildren(new Option(t("all_zones"), ""), ...zones.map((z) => new Option(z, z)));
    if (zones.includes(current)) select.value = current;
  }

  updateButtons() {
    const p = this.plan;
    $("publish").disabled = !(p && p.status === "succeeded");
    $("replan").disabled = !(p && p.status === "published");
    $("plan-state").textContent = p ? t("plan_state", { status: t(`status_${p.status}`), version: p.version }) : "";
  }

  select({ crew = null, job = null }) {
    if (job && !crew && this.board) {
      const route = this.board.routes.find((r) => r.stops.some((s) => s.job_id === job));
      crew = route ? route.crew_id : null;
    }
    this.timeline.highlight(crew, job);
    this.map.highlight(crew, job);
    this.details.show(crew, job);
  }

  /** Ask the service to move a job; a refusal's reasons are shown where it was dropped. */
  async move(jobId, crewId, position, row = null) {
    if (!this.plan) return;
    this.timeline.clearRefusal();
    say(t("move_checking"));
    try {
      const answer = await api(`/plans/${this.plan.id}/overrides`, {
        method: "POST",
        json: { version: this.plan.version, job_id: jobId, crew_id: crewId, position },
      });
      await this.showPlan(this.plan.id, true);
      this.select({ crew: crewId, job: jobId });
      say(t("move_done", { job: jobId, crew: crewId || "–", version: answer.version }), "ok");
      this.details.showAccepted(jobId, crewId);
    } catch (err) {
      const title = t("move_refused", { job: jobId, crew: crewId || "–" });
      const reasons = err.reasons.length ? err.reasons : [err.message];
      this.timeline.showRefusal(row, title, reasons);
      this.details.showRefusal(title, reasons);
      say(title, "error");
      if (err.status === 409 && this.plan) await this.showPlan(this.plan.id, true);
    }
  }

  async publish() {
    const p = this.plan;
    if (!p) return;
    $("publish").disabled = true;
    try {
      const body = { version: p.version };
      if (p.kind === "replan" && p.parent_id) body.replaces = p.parent_id;
      const row = await api(`/plans/${p.id}/publish`, { method: "POST", json: body });
      await this.loadPlans(p.id);
      say(t("published_ok", { version: row.version }), "ok");
    } catch (err) {
      say(err.message, "error");
      this.updateButtons();
    }
  }

  async planDay() {
    $("plan-day").disabled = true;
    try {
      const days = Number($("horizon-days").value || 1);
      const body = { date: this.day, region: this.region };
      if (days > 1) body.horizon_days = days; // the later days' leftovers: result.horizon
      const accepted = await api("/plans", { method: "POST", json: body });
      say(accepted.rolled_over ? t("plan_started_rolled", { n: accepted.rolled_over }) : t("plan_started"));
      await this.loadPlans();
      this.track(accepted.id);
    } catch (err) {
      say(err.message, "error");
    } finally {
      $("plan-day").disabled = false;
    }
  }

  /** Follow a queued or running plan's progress until it ends. */
  async track(planId) {
    this.tracking = planId;
    $("progress-group").hidden = false;
    let message = null;
    try {
      for (;;) {
        const row = await api(`/plans/${planId}`);
        $("plan-progress").value = row.progress || 0;
        $("progress-text").textContent = t("planning", { message: row.message || t(`status_${row.status}`) });
        if (!ACTIVE.includes(row.status)) {
          if (row.status === "succeeded") {
            const k = row.kpis || {};
            const horizon = row.result && row.result.horizon;
            const done = t("plan_done", { planned: k.planned, jobs: k.jobs });
            message = [horizon ? `${done} ${horizonLine(horizon)}` : done, "ok"];
          } else if (row.status === "cancelled") message = [t("plan_cancelled"), "info"];
          else message = [t("plan_failed", { error: row.error || row.status }), "error"];
          break;
        }
        await sleep(1000);
      }
    } catch (err) {
      say(err.message, "error");
    } finally {
      this.tracking = null;
      $("progress-group").hidden = true;
    }
    await this.loadPlans(planId);
    if (message) say(...message);
  }

  async cancelPlan() {
    if (!this.tracking) return;
    try {
      await api(`/plans/${this.tracking}`, { method: "DELETE" });
    } catch (err) {
      say(err.message, "error");
    }
  }

  openReplan() {
    if (!this.plan || this.plan.status !== "published") {
      say(t("replan_only_published"), "error");
      return;
    }
    this.replan.open(this.plan, this.board);
  }

  async afterReplan(published) {
    await this.loadPlans(published.id);
    say(t("replan_approved", { version: published.version }), "ok");
  }

  /** A driver's report: the job's new status on the map, the timeline and the feed list. */
  onEvent(event) {
    if (!this.board) return;
    const job = this.board.jobs.find((j) => j.id === event.job_id);
    if (job && event.job_status) {
      job.status = event.job_status;
      this.map.updateJob(job);
      this.timeline.updateJob(job);
    }
    this.details.addEvent(event);
  }
}

/** One sentence on a horizon plan's later days (`result.horizon`): what each takes of the
 * work carried into it, what stays open, and the promises kept on the customer's clock. */
function horizonLine(horizon) {
  const later = horizon.days.slice(1).map((d) =>
    t("horizon_day", { date: d.date, planned: d.planned, carried: d.carried_in, taken: d.carried_planned }),
  );
  const kept = Object.entries(horizon.promise_kept_customer_clock || {})
    .filter(([, v]) => v.share !== null)
    .map(([kind, v]) => t("horizon_kept", { kind: t(`kind_${kind}`), hours: v.hours, share: Math.round(v.share * 1000) / 10 }));
  return [...later, t("horizon_open", { n: horizon.open_at_end }), ...kept].join(" · ");
}

async function main() {
  const user = startPage("board");
  if (!user) return;
  applyI18n();
  let config = { tile_url: "", tile_attribution: "", tile_coords: "wgs84" };
  try {
    config = await api("/ui/config");
  } catch (err) {
    say(err.message, "error");
  }
  const board = new Board(user, config);
  window.fieldrouteBoard = board; // for the browser tests and the console
  await board.pickDefaultDay();
  await board.loadPlans();
}

main();
