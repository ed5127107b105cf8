// The KPI tiles: the plan's figures (planned share, promises on both clocks, late jobs, km,
// utilisation) and, for a day under way, the service metrics (done so far, same-day
// completion, callback rate, follow-up coverage). Promise shares are shown on the customer's
// clock (calendar hours from the order) with the plan's own clock beside it, each labelled.

import { fmtNumber, fmtPercent, t } from "./i18n.js";

function tile(id, label, value, sub = "", tone = "") {
  const node = document.createElement("div");
  node.className = "tile";
  node.dataset.kpi = id;
  if (tone) node.dataset.tone = tone;
  const l = document.createElement("div");
  l.className = "label";
  l.textContent = label;
  const v = document.createElement("div");
  v.className = "value";
  v.textContent = value;
  const s = document.createElement("div");
  s.className = "sub";
  s.textContent = sub;
  node.append(l, v, s);
  return node;
}

function promiseTile(id, label, kind, kpis, board) {
  const customer = board.customer_clock && board.customer_clock[kind];
  const planning = board.planning_clock && board.planning_clock[kind];
  // the planning clock's share; a board answer without `planning_clock` has it in the KPIs
  const plan = planning ? planning.of_planned : kpis.on_time_share_by_kind ? kpis.on_time_share_by_kind[kind] : null;
  const value = customer ? customer.of_planned : plan;
  const node = tile(
    id,
    label,
    fmtPercent(value),
    t("t_clock_sub", {
      value: customer ? t("t_of", { n: customer.within, d: customer.planned }) : "–",
      plan: fmtPercent(plan),
    }),
    value === null || value === undefined ? "" : value >= 0.95 ? "ok" : "bad",
  );
  const labels = board.promise_clocks || {};
  node.title = [t("t_clock_title"), labels.customer, labels.planning].filter(Boolean).join("\n");
  return node;
}

/** Tiles for a board answer (`kpis`, `customer_clock`, `planning_clock`, `promise_clocks`) and
 * optional service metrics. */
export function renderTiles(container, board, metrics) {
  const k = board && board.kpis;
  const tiles = [];
  if (k) {
    tiles.push(
      tile("planned", t("t_planned"), fmtPercent(k.planned_share), t("t_planned_sub", { planned: k.planned, jobs: k.jobs })),
      promiseTile("delivery", t("t_delivery"), "delivery", k, board),
      promiseTile("installation", t("t_install"), "installation", k, board),
      tile("late", t("t_late"), fmtNumber(k.late_jobs), "", k.late_jobs ? "bad" : "ok"),
      tile("unassigned", t("t_unassigned"), fmtNumber(k.unassigned), "", k.unassigned ? "bad" : "ok"),
      tile("km", t("t_km"), `${fmtNumber(k.km)} km`, t("t_km_sub", { hours: fmtNumber(k.drive_hours, 1) })),
      tile("utilisation", t("t_util"), fmtPercent(k.utilisation), t("t_util_sub", { used: k.crews_used, crews: k.crews })),
    );
  }
  if (metrics) {
    const ratio = (id, label, r, target, lowerIsBetter = false) => {
      if (!r) return;
      const ok = r.value === null || target === undefined ? "" : (lowerIsBetter ? r.value < target : r.value >= target) ? "ok" : "bad";
      const sub = `${t("t_of", { n: r.numerator, d: r.denominator })}${target !== undefined ? ` · ${t("t_target", { value: fmtPercent(target, 0) })}` : ""}`;
      tiles.push(tile(id, label, fmtPercent(r.value), sub, ok));
    };
    const targets = metrics.targets || {};
    ratio("completion", t("t_completion"), metrics.completion_rate);
    ratio("same_day", t("t_same_day"), metrics.same_day_completion, targets.same_day_completion);
    ratio("callback", t("t_callback"), metrics.callback_rate, targets.callback_rate_max, true);
    ratio("followup", t("t_followup"), metrics.follow_up_coverage, targets.follow_up_coverage);
  }
  container.replaceChildren(...tiles);
}
