// One finished simulation's recommendation, shown in the page's language: whether the target
// was reached, after a lever search the option chosen and its levers (evening shifts,
// next-morning slots, specialist temporary crews), the cost with the levers' premiums, the
// temporary crews per week, every peak week's installations within 24 h on the customer's
// clock and on the planning clock (each named), the binding constraint and every option
// searched. The figures are the service's (`recommendation` of `GET /simulations/{id}`, as
// the report shows them: dispatch/season/report_html.py).

import { fmtNumber, label, t } from "./i18n.js";
import { fmtShare } from "./season-chart.js";

/** The lever search's verdicts (dispatch/season/levers.py, `choose`) -> string keys. */
const VERDICTS = { met: "verdict_met", fallback: "verdict_fallback", "not met": "verdict_not_met" };
/** The two clocks of a share, the customer's first, as `peak_week_shares` names them. */
const CLOCKS = [
  ["customer_clock", "col_customer"],
  ["planning_clock", "col_planning"],
];

function el(tag, className = "", text = null) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== null) node.textContent = text;
  return node;
}

/** An option's name ("next-morning slots + evening shifts") in the page's language. */
export function optionName(name) {
  return String(name || "")
    .split(" + ")
    .map((part) => label("opt_", part))
    .join(" + ");
}

function clockName(rec) {
  return t(rec.target_clock === "customer" ? "col_customer" : "col_planning");
}

function percent(value) {
  return typeof value === "number" ? `${fmtNumber(value * 100)} %` : "?";
}

function hour(value) {
  return typeof value === "number" ? `${String(value).padStart(2, "0")}:00` : "?";
}

/** One lever of the chosen plan in words, from its id and the settings it ran with. */
function leverText(lever, changes, settings) {
  const crews = { ...(settings.crews || {}), ...(changes.crews || {}) };
  const demand = { ...(settings.demand || {}), ...(changes.demand || {}) };
  const key = `lever_${lever.lever}`;
  if (t(key) === key) return lever.description || lever.lever; // a lever this page lacks
  return t(key, {
    own: percent(crews.evening_share),
    temp: percent(crews.evening_temp_share),
    start: hour(crews.evening_start_hour ?? 12),
    end: hour(crews.evening_end_hour ?? 21),
    until: hour(demand.install_until_hour),
    factor: fmtNumber(crews.evening_cost_factor ?? 1.2, 1),
    share: percent(crews.temp_specialist_share),
    special: fmtNumber(crews.temp_specialist_cost_factor ?? 1.5, 1),
  });
}

/** A table in a box that scrolls sideways when the window is too narrow for it. */
function scrolling(node) {
  const box = el("div", "table-wrap");
  box.append(node);
  return box;
}

/** A table with a header row and body rows of cells (text, or [text, className]). */
function table(className, header, rows) {
  const node = el("table", className);
  const head = node.createTHead().insertRow();
  for (const [k, text] of header.entries()) {
    const th = el("th", k === 0 ? "" : "num", text);
    th.scope = "col";
    head.append(th);
  }
  const body = node.createTBody();
  for (const cells of rows) {
    const row = body.insertRow();
    for (const [k, cell] of cells.entries()) {
      const [text, extra] = Array.isArray(cell) ? cell : [cell, ""];
      row.append(el("td", [k === 0 ? "" : "num", extra].filter(Boolean).join(" "), text));
    }
  }
  return node;
}

function yesNo(value) {
  if (value === null || value === undefined) return ["–", ""];
  return value ? [t("yes"), "ok"] : [t("no"), "bad"];
}

/** The share with its range when several replications back it. */
function shareCell(clock, several) {
  const c = clock || {};
  const text = fmtShare(c.share_mean);
  if (!several || c.share_min === null || c.share_min === undefined) return text;
  return `${text} (${fmtShare(c.share_min)} – ${fmtShare(c.share_max)})`;
}

/** Peak weeks on both clocks; a run from before `peak_week_shares` shows its target clock. */
function weeksTable(rec) {
  const several = (rec.replications || 1) > 1;
  let weeks = rec.peak_week_shares;
  if (!weeks) {
    const clock = rec.target_clock === "customer" ? "customer_clock" : "planning_clock";
    weeks = (rec.per_week || [])
      .filter((w) => w.peak_week)
      .map((w) => ({ week: w.week, temp_crews: w.temp_crews, target_met: w.met, [clock]: w }));
  }
  const header = [
    t("col_peak_week"),
    t("col_temp"),
    ...CLOCKS.map(([, key]) => t("col_within_24h", { clock: t(key) })),
    t("col_target_met", { clock: clockName(rec) }),
  ];
  const rows = weeks.map((w) => [
    String(w.week),
    String(w.temp_crews ?? "–"),
    ...CLOCKS.map(([clock]) => shareCell(w[clock], several)),
    yesNo(w.target_met),
  ]);
  const node = table("rec-weeks", header, rows);
  for (const [k, [clock]] of CLOCKS.entries()) {
    node.tHead.rows[0].cells[2 + k].dataset.clock = clock;
  }
  return node;
}

function optionsTable(levers) {
  const header = [
    t("col_option"),
    t("col_temp_weeks"),
    t("col_worst"),
    t("col_cost"),
    t("col_premiums"),
    t("col_meets"),
  ];
  const rows = (levers.options || []).map((o) => [
    [optionName(o.name), o.name === levers.chosen ? "chosen" : ""],
    (o.temp_per_week || []).join(", "),
    fmtShare(o.worst_week_share),
    fmtNumber(o.cost_cny),
    fmtNumber(o.lever_cost_cny),
    yesNo(o.met),
  ]);
  return table("rec-options", header, rows);
}

/** Whether the target (and, after a lever search, the 90 % fallback) was reached. */
function verdictBlock(rec) {
  const block = el("div", "rec-verdict");
  const target = el("p");
  const goal = t("rec_target", { target: fmtShare(rec.target_share, 0), clock: clockName(rec) });
  target.append(
    el("span", "", goal + t("colon")),
    el("span", rec.met ? "badge ok" : "badge bad", t(rec.met ? "rec_reached" : "rec_not_reached")),
  );
  block.append(target);
  const levers = rec.levers;
  if (levers && !rec.met && typeof levers.fallback_share === "number") {
    const held = levers.verdict === "fallback";
    const fallback = el("p");
    const share = fmtShare(levers.fallback_share, 0);
    fallback.append(
      el("span", "", t("rec_fallback", { share }) + t("colon")),
      el("span", held ? "badge ok" : "badge bad", t(held ? "rec_reached" : "rec_not_reached")),
    );
    block.append(fallback);
  }
  return block;
}

/** The chosen option, its levers in words, and the binding constraint. */
function leversBlock(rec, sim) {
  const levers = rec.levers;
  const block = el("div", "rec-levers");
  const chosen = el("p", "rec-chosen");
  chosen.append(
    el("span", "", t("rec_chosen") + t("colon")),
    el("strong", "", optionName(levers.chosen)),
    el("span", "muted", ` (${t(VERDICTS[levers.verdict] || "verdict_unknown")})`),
  );
  block.append(chosen, el("h3", "", t("rec_levers_title")));
  const list = el("ul", "lever-list");
  const settings = (sim.params && sim.params.settings) || {};
  for (const lever of levers.chosen_levers || []) {
    const item = el("li", "", leverText(lever, levers.changes || {}, settings));
    item.dataset.lever = lever.lever;
    list.append(item);
  }
  if (!list.children.length) list.append(el("li", "", t("rec_no_levers")));
  block.append(list);
  return block;
}

/** Fill `container` with the recommendation of the finished simulation `sim`. */
export function renderRecommendation(container, sim) {
  const rec = sim.recommendation;
  if (!rec) {
    container.replaceChildren(el("p", "muted", t("rec_none")));
    return;
  }
  const parts = [verdictBlock(rec)];
  if (rec.levers) parts.push(leversBlock(rec, sim));
  const crews = (rec.per_week || []).map((w) => w.temp_crews);
  const facts = el("div", "rec-facts");
  facts.append(
    el("p", "rec-cost", t("rec_cost", {
      cost: fmtNumber(rec.cost_cny),
      premiums: fmtNumber(rec.lever_cost_cny || 0),
    })),
    el("p", "rec-crews", t("rec_crews", {
      list: crews.length ? crews.join(", ") : t("none"),
      days: fmtNumber(rec.temp_crew_days),
    })),
  );
  parts.push(facts, el("h3", "", t("rec_weeks_title")), scrolling(weeksTable(rec)));
  const binding = rec.levers && rec.levers.binding_constraint;
  if (binding) {
    const p = el("p", "rec-binding");
    const words = el("span", "", binding);
    words.lang = "en"; // the service's sentence
    p.append(el("strong", "", t("rec_binding") + t("colon")), words);
    parts.push(p);
  }
  if (rec.levers) {
    parts.push(el("h3", "", t("rec_options_title")), scrolling(optionsTable(rec.levers)));
  }
  container.replaceChildren(...parts);
}
