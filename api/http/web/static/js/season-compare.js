// Two finished simulations side by side: what each ran with, its headline figures (from
// `summary.across`, labelled as the report labels them, with the clock each share is on)
// and the weekly on-time chart.

import { fmtNumber, t } from "./i18n.js";
import { fmtFixed, fmtShare, weeklyChart, weeklyMeans } from "./season-chart.js";
import { optionName } from "./season-rec.js";

export const RUN_COLOURS = { A: "#1f6feb", B: "#d9480f" };

/** The report's headline figures in its order: summary key, kind (how it is written). */
const FIGURES = [
  ["orders", "count"],
  ["jobs_done", "count"],
  ["assisted_visits_done", "count"],
  ["backlog_end", "count"],
  ["share_delivery_12h_customer", "share"],
  ["share_delivery_12h", "share"],
  ["share_install_24h_customer", "share"],
  ["share_install_24h", "share"],
  ["share_install_24h_peak_customer", "share"],
  ["share_install_24h_peak", "share"],
  ["worst_week_install_24h", "share"],
  ["install_wait_p50_h", "hours"],
  ["install_wait_p90_h", "hours"],
  ["utilisation", "share"],
  ["callback_rate", "share"],
  ["followup_coverage", "share"],
  ["temp_crew_days", "count"],
  ["cost_cny", "count"],
];

/** Which clock a figure is on, where it is one of the promise shares or the waits. */
const CLOCK = {
  share_delivery_12h_customer: "clock_customer",
  share_install_24h_customer: "clock_customer",
  share_install_24h_peak_customer: "clock_customer",
  share_delivery_12h: "clock_promise",
  share_install_24h: "clock_promise",
  share_install_24h_peak: "clock_promise",
  worst_week_install_24h: "clock_promise",
  install_wait_p50_h: "clock_wait",
  install_wait_p90_h: "clock_wait",
};

const CHART_METRICS = [
  ["share_install_24h", "chart_install"],
  ["share_delivery_12h", "chart_delivery"],
];

/** A small element with a class and text. */
function el(tag, className = "", text = null) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== null) node.textContent = text;
  return node;
}

/** A figure as the report writes it: 12,345 / 95.2 % / 23.7 h. */
export function fmtFigure(value, kind) {
  if (value === null || value === undefined) return "–";
  if (kind === "share") return fmtShare(value);
  if (kind === "hours") return `${fmtFixed(value, 1)} ${t("unit_h")}`;
  return fmtNumber(value);
}

/** B − A: points for shares, else in the figure's unit, signed. */
function fmtDifference(a, b, kind) {
  if (a === null || a === undefined || b === null || b === undefined) return "–";
  const d = b - a;
  const sign = d > 0 ? "+" : d < 0 ? "−" : "±";
  if (kind === "share") return t("points", { value: sign + fmtNumber(Math.abs(d) * 100, 1) });
  if (kind === "hours") return `${sign}${fmtNumber(Math.abs(d), 1)} ${t("unit_h")}`;
  return sign + fmtNumber(Math.abs(d));
}

/** The target share a run searched for (null when it did not recommend). */
export function targetOf(sim) {
  if (!sim.params || !sim.params.recommend) return null;
  const share = sim.params.settings && sim.params.settings.target_share;
  return typeof share === "number" ? share : null;
}

/** A run's card: when and by whom, what it ran with, its recommendation. */
function runCard(run) {
  const { sim, letter } = run;
  const s = (sim.params && sim.params.settings) || {};
  const card = el("div", "run-card");
  card.style.setProperty("--run-colour", RUN_COLOURS[letter]);
  card.dataset.run = letter;
  const asked = String(sim.created_at).slice(0, 16).replace("T", " ");
  const who = `${t("asked_by", { user: sim.created_by })} · ${sim.id.slice(0, 8)}`;
  card.append(el("h3", "", `${t("run_label", { letter })} · ${asked}`), el("p", "muted", who));
  const seeds = (sim.summary && sim.summary.seeds) || [s.seed];
  const line = seeds.length === 1 ? "settings_line_one" : "settings_line";
  const values = { days: s.days, start: s.start, scale: s.scale, seeds: seeds.join(", ") };
  card.append(el("p", "", t(line, values)));
  const temp = (s.crews && s.crews.temp_per_week) || [];
  card.append(el("p", "", t("temp_line", { list: temp.length ? temp.join(", ") : t("none") })));
  const rec = sim.recommendation;
  if (rec) {
    const weeks = (rec.per_week || []).map((w) => w.temp_crews);
    card.append(el("p", "rec", t("rec_line", {
      list: weeks.length ? weeks.join(", ") : t("none"),
      target: fmtShare(rec.target_share, 0),
      verdict: rec.met ? t("rec_met") : t("rec_not_met"),
      extra: fmtNumber(rec.extra_cost_cny),
    })));
    if (rec.levers) {
      card.append(el("p", "rec", t("rec_levers_line", { option: optionName(rec.levers.chosen) })));
    }
  }
  return card;
}

/** One cell of the headline table: the median, and the range over several replications. */
function figureCell(spread, kind, replications) {
  const td = el("td", "num");
  td.append(el("span", "value", fmtFigure(spread && spread.median, kind)));
  if (spread && replications > 1) {
    const range = `(${fmtFigure(spread.min, kind)} – ${fmtFigure(spread.max, kind)})`;
    td.append(el("span", "range", range));
  }
  return td;
}

/** The headline figures of both runs, with the difference B − A. */
function headlineTable(a, b) {
  const table = el("table", "headline");
  const head = table.createTHead().insertRow();
  head.append(el("th", "", t("figure")));
  for (const run of [a, b]) {
    const th = el("th", "num run-head", t("run_label", { letter: run.letter }));
    th.style.setProperty("--run-colour", RUN_COLOURS[run.letter]);
    head.append(th);
  }
  head.append(el("th", "num", t("difference", { a: "A", b: "B" })));
  for (const th of head.cells) th.scope = "col";
  const body = table.createTBody();
  for (const [key, kind] of FIGURES) {
    const row = body.insertRow();
    row.dataset.figure = key;
    const label = el("th", "", t(`fig_${key}`));
    label.scope = "row";
    if (CLOCK[key]) label.append(el("span", "clock", t(CLOCK[key])));
    row.append(label);
    const [sa, sb] = [a, b].map((run) => ((run.sim.summary || {}).across || {})[key] || null);
    row.append(figureCell(sa, kind, a.replications), figureCell(sb, kind, b.replications));
    row.append(el("td", "num diff", fmtDifference(sa && sa.median, sb && sb.median, kind)));
  }
  return table;
}

/** The weekly values behind the chart, as a table (for reading exact figures). */
function weeklyTable(runs, key) {
  const table = el("table", "weekly");
  const head = table.createTHead().insertRow();
  head.append(el("th", "", t("week_col")));
  for (const run of runs) head.append(el("th", "num", t("run_label", { letter: run.letter })));
  const means = runs.map(
    (run) => new Map(weeklyMeans(run.weeks, key).map((p) => [p.week, p.share])),
  );
  const weeks = new Set(means.flatMap((m) => [...m.keys()]));
  const body = table.createTBody();
  for (const week of [...weeks].sort((x, y) => x - y)) {
    const row = body.insertRow();
    row.append(el("td", "", String(week)));
    for (const m of means) row.append(el("td", "num", m.has(week) ? fmtShare(m.get(week)) : "–"));
  }
  return table;
}

/** The chart with its metric picker; redraws in place when the metric changes. */
function chartBlock(a, b) {
  const block = el("div", "chart-block");
  const bar = el("div", "chart-bar");
  const title = el("h3", "", t("chart_title"));
  const label = el("label", "", t("chart_metric"));
  label.htmlFor = "chart-metric";
  const select = el("select");
  select.id = "chart-metric";
  for (const [key, text] of CHART_METRICS) select.append(new Option(t(text), key));
  bar.append(title, el("span", "spacer"), label, select);
  const figure = el("figure", "chart");
  block.append(bar, figure);
  const draw = () => {
    const key = select.value;
    const metric = t(CHART_METRICS.find(([k]) => k === key)[1]);
    // the recommendation's target is a 24 h installation share: drawn on that chart only
    const runs = [a, b].map((run) => ({
      letter: run.letter,
      colour: RUN_COLOURS[run.letter],
      weeks: run.sim.weeks || [],
      target: key === "share_install_24h" ? targetOf(run.sim) : null,
    }));
    const hasData = runs.some((run) => weeklyMeans(run.weeks, key).length);
    const chart = hasData ? weeklyChart(runs, key, metric) : el("p", "muted", t("chart_no_data"));
    figure.replaceChildren(chart);
    figure.append(el("figcaption", "muted", t("chart_desc", { metric })), weeklyTable(runs, key));
  };
  select.addEventListener("change", draw);
  draw();
  return block;
}

/** Fill `container` with the comparison of two finished simulations `simA` and `simB`. */
export function renderComparison(container, simA, simB) {
  const runs = [simA, simB].map((sim, k) => ({
    sim,
    letter: k === 0 ? "A" : "B",
    replications: (sim.summary && sim.summary.replications) || 1,
  }));
  const cards = el("div", "run-cards");
  cards.append(...runs.map(runCard));
  const left = el("div", "compare-figures");
  left.append(headlineTable(runs[0], runs[1]));
  if (runs.some((run) => run.replications > 1)) {
    left.append(el("p", "clock-note muted", t("median_note")));
  }
  left.append(el("p", "clock-note muted", t("clock_note")));
  const grid = el("div", "compare-grid");
  grid.append(left, chartBlock(runs[0], runs[1]));
  container.replaceChildren(cards, grid);
}
