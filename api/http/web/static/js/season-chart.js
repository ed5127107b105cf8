// The weekly on-time chart of the comparison, drawn as inline SVG (no chart library, no
// canvas: it scales with the page, prints sharply and its points carry tooltips).
//
// One line per run: the share of jobs on time in each season week, the mean over the run's
// replications (as the capacity recommendation judges a week). Weeks on x, 0–100 % on y, a
// dashed line at a run's target when the run searched for one.

import { fmtNumber, t } from "./i18n.js";

const NS = "http://www.w3.org/2000/svg";
const W = 760;
const H = 300;
const PAD = { left: 56, right: 40, top: 16, bottom: 44 };

/**
 * A share as the report writes it (Python's `f"{100 * v:.1f} %"`): rounded on the exact
 * binary value, as `toFixed` does, so 0.8355 reads 83.5 % here as there (the browser's
 * number formatting would say 83.6 %).
 */
export function fmtShare(value, digits = 1) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return `${fmtNumber(Number((value * 100).toFixed(digits)), digits)} %`;
}

/** A number rounded as the report rounds it, in the page's language. */
export function fmtFixed(value, digits) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return fmtNumber(Number(value.toFixed(digits)), digits);
}

/** An SVG element with attributes (and text content when `text` is given). */
function svg(name, attrs = {}, text = null) {
  const el = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  if (text !== null) el.textContent = text;
  return el;
}

/** [{week, share}] of one run: the mean over its replications of `key`, per week. */
export function weeklyMeans(weeks, key) {
  const byWeek = new Map();
  for (const row of weeks || []) {
    const value = row[key];
    if (value === null || value === undefined || !Number.isFinite(value)) continue;
    const list = byWeek.get(row.week) || [];
    list.push(value);
    byWeek.set(row.week, list);
  }
  return [...byWeek.entries()]
    .map(([week, values]) => ({ week, share: values.reduce((a, b) => a + b, 0) / values.length }))
    .sort((a, b) => a.week - b.week);
}

/** The number of weeks the runs span (the x axis), from their weekly rows. */
function weekCount(runs) {
  let most = 0;
  for (const run of runs) for (const row of run.weeks || []) most = Math.max(most, row.week + 1);
  return most;
}

/** Scales from week and share to SVG coordinates. */
function scales(weeks) {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (week) => PAD.left + (weeks <= 1 ? plotW / 2 : (week / (weeks - 1)) * plotW);
  const y = (share) => PAD.top + (1 - share) * plotH;
  return { x, y, plotW };
}

/** A text label at (x, y) with a class and an anchor ("start", "middle", "end"). */
function label(x, y, text, className = "tick", anchor = "start") {
  return svg("text", { x, y, class: className, "text-anchor": anchor }, text);
}

/** A horizontal line across the plot at height `yPos`. */
function hLine(yPos, plotW, attrs = {}) {
  return svg("line", { x1: PAD.left, x2: PAD.left + plotW, y1: yPos, y2: yPos, ...attrs });
}

/** Gridlines and labels: 0–100 % every 20 points; a tick per week (fewer on long seasons). */
function drawAxes(root, weeks, { x, y, plotW }) {
  const axes = svg("g", { class: "axes" });
  for (let p = 0; p <= 100; p += 20) {
    axes.append(hLine(y(p / 100), plotW, { class: "grid" }));
    axes.append(label(PAD.left - 8, y(p / 100) + 4, `${p} %`, "tick", "end"));
  }
  const every = Math.max(1, Math.ceil(weeks / 20));
  for (let w = 0; w < weeks; w += every) {
    axes.append(label(x(w), H - PAD.bottom + 18, String(w), "tick", "middle"));
  }
  const midX = PAD.left + plotW / 2;
  const midY = PAD.top + (H - PAD.top - PAD.bottom) / 2;
  axes.append(label(midX, H - 6, t("chart_week"), "axis-title", "middle"));
  const yTitle = label(14, midY, t("chart_share"), "axis-title", "middle");
  yTitle.setAttribute("transform", `rotate(-90 14 ${midY})`);
  axes.append(yTitle);
  root.append(axes);
}

/** The target lines: one per distinct target among the runs that searched for one. */
function drawTargets(root, runs, { y, plotW }) {
  const owners = new Map();
  for (const run of runs) {
    if (run.target !== null) owners.set(run.target, [...(owners.get(run.target) || []), run]);
  }
  for (const [target, those] of owners) {
    const colour = those.length === 1 ? those[0].colour : "#555";
    const g = svg("g", { class: "target", "data-target": target });
    g.append(hLine(y(target), plotW, { stroke: colour }));
    const whose = those.length === 1 ? `${those[0].letter}: ` : "";
    // labelled at the left end, above the line: the right end holds the runs' tags
    const text = label(PAD.left + 6, y(target) - 5, whose + t("chart_target", {
      value: fmtShare(target, 0),
    }));
    text.setAttribute("fill", colour);
    g.append(text);
    root.append(g);
  }
}

/** A week's marker: circles for run A, squares for run B (told apart without colour). */
function marker(letter, cx, cy) {
  if (letter === "A") return svg("circle", { cx, cy, r: 4.5 });
  return svg("rect", { x: cx - 4.5, y: cy - 4.5, width: 9, height: 9 });
}

/** One run's line with a marker per week, each with its value as a tooltip. */
function drawRun(root, run, points, { x, y }) {
  const g = svg("g", { class: "series", "data-run": run.letter });
  g.setAttribute("stroke", run.colour);
  g.setAttribute("fill", run.colour);
  if (points.length > 1) {
    const coords = points.map((p) => `${x(p.week).toFixed(1)},${y(p.share).toFixed(1)}`);
    g.append(svg("polyline", { points: coords.join(" "), fill: "none", "stroke-width": 2.5 }));
  }
  for (const p of points) {
    const dot = marker(run.letter, x(p.week), y(p.share));
    const value = fmtShare(p.share);
    dot.append(svg("title", {}, t("chart_point", { letter: run.letter, week: p.week, value })));
    g.append(dot);
  }
  const last = points.at(-1);
  if (last) {
    // A's tag sits a little above its last point and B's below, so equal ends stay legible
    const dy = run.letter === "A" ? -2 : 12;
    const tag = label(x(last.week) + 10, y(last.share) + dy, run.letter, "run-tag");
    tag.setAttribute("stroke", "none");
    g.append(tag);
  }
  root.append(g);
}

/**
 * The chart for `runs` ([{letter, colour, weeks, target}]) and the weekly key `key`
 * ("share_install_24h" or "share_delivery_12h"). Returns the <svg> element.
 */
export function weeklyChart(runs, key, metricLabel) {
  const weeks = weekCount(runs);
  const root = svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    class: "week-chart",
    role: "img",
    "aria-labelledby": "chart-svg-title chart-svg-desc",
  });
  root.append(svg("title", { id: "chart-svg-title" }, `${t("chart_title")}: ${metricLabel}`));
  root.append(svg("desc", { id: "chart-svg-desc" }, t("chart_desc", { metric: metricLabel })));
  const sc = scales(weeks);
  drawAxes(root, weeks, sc);
  drawTargets(root, runs, sc);
  for (const run of runs) drawRun(root, run, weeklyMeans(run.weeks, key), sc);
  return root;
}
