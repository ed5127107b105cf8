// A crew's weekly trend as small inline SVG line charts (no chart library: it scales with
// the page, prints sharply, and each point carries its value as a tooltip).
//
// One chart holds shares (0–100 %: rated good, first-time fix, on time on the customer's
// clock), the other the callbacks per 100 installations with the target line (4 per 100).
// A week without data for a figure (nothing to divide) has no point, and the line breaks
// there rather than dropping to zero. Series differ by colour and by marker shape.

import { fmtNumber, fmtPercent, t } from "./i18n.js";

const NS = "http://www.w3.org/2000/svg";
const W = 460;
const H = 230;
const PAD = { left: 46, right: 14, top: 14, bottom: 34 };

function svg(name, attrs = {}, text = null) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

/** A marker at (x, y): circle, square or a hollow diamond (drawn last and open, so a point of
 * another series at the same value still shows through it). */
function marker(shape, x, y) {
  if (shape === "square") return svg("rect", { x: x - 4, y: y - 4, width: 8, height: 8 });
  if (shape === "diamond") {
    const d = `M${x} ${y - 7}L${x + 7} ${y}L${x} ${y + 7}L${x - 7} ${y}Z`;
    return svg("path", { d, fill: "none", "stroke-width": 2 });
  }
  return svg("circle", { cx: x, cy: y, r: 4 });
}

/** A text label at (x, y) with a class and an anchor ("start", "middle", "end"). */
function label(x, y, text, className, anchor) {
  const attrs = { x, y, "text-anchor": anchor };
  if (className) attrs.class = className;
  return svg("text", attrs, text);
}

/** A horizontal line across the plot at height `yPos`. */
function hLine(yPos, plotW, attrs = {}) {
  return svg("line", { x1: PAD.left, x2: PAD.left + plotW, y1: yPos, y2: yPos, ...attrs });
}

/** "W23" from "2026-W23". */
export function shortWeek(week) {
  return String(week).split("-").pop();
}

/** A y axis top that holds every value and the target, rounded up to a tidy step. */
export function niceMax(values, floor) {
  const top = Math.max(floor, ...values.filter((v) => v !== null && Number.isFinite(v)));
  const step = top <= 10 ? 2 : top <= 50 ? 10 : 20;
  return Math.ceil(top / step) * step;
}

/**
 * One chart. `spec`: {id, title, desc, weeks: ["2026-W23", ...], yMax, format(value) -> text,
 * target: number | null, targetText, series: [{key, label, colour, shape, values}]}.
 * Returns the <figure> with the <svg> and its legend.
 */
export function lineChart(spec) {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const n = spec.weeks.length;
  const inset = 14; // the first and last weeks' markers clear the axis labels
  const x = (i) => PAD.left + (n <= 1 ? plotW / 2 : inset + (i / (n - 1)) * (plotW - 2 * inset));
  const y = (v) => PAD.top + (1 - v / spec.yMax) * plotH;
  const root = svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    class: "trend-chart",
    role: "img",
    "aria-labelledby": `${spec.id}-title ${spec.id}-desc`,
    "data-chart": spec.id,
  });
  root.append(svg("title", { id: `${spec.id}-title` }, spec.title));
  root.append(svg("desc", { id: `${spec.id}-desc` }, spec.desc));

  const axes = svg("g", { class: "axes" });
  for (let k = 0; k <= 4; k += 1) {
    const v = (spec.yMax * k) / 4;
    axes.append(hLine(y(v), plotW, { class: "grid" }));
    axes.append(label(PAD.left - 6, y(v) + 4, spec.format(v), "tick", "end"));
  }
  const every = Math.max(1, Math.ceil(n / 10));
  spec.weeks.forEach((week, i) => {
    if (i % every) return;
    axes.append(label(x(i), H - PAD.bottom + 16, shortWeek(week), "tick", "middle"));
  });
  axes.append(label(PAD.left + plotW / 2, H - 4, t("chart_week"), "axis-title", "middle"));
  root.append(axes);

  if (spec.target !== null && spec.target <= spec.yMax) {
    const g = svg("g", { class: "target" });
    g.append(hLine(y(spec.target), plotW));
    g.append(label(PAD.left + plotW - 4, y(spec.target) - 5, spec.targetText, "", "end"));
    root.append(g);
  }

  for (const s of spec.series) {
    const g = svg("g", { class: "series", "data-series": s.key, stroke: s.colour, fill: s.colour });
    let run = [];
    const flush = () => {
      if (run.length > 1) {
        g.append(svg("polyline", { points: run.join(" "), fill: "none", "stroke-width": 2.2 }));
      }
      run = [];
    };
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) {
        flush();
        return;
      }
      run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
      const dot = marker(s.shape, x(i), y(v));
      const tip = t("chart_point", { series: s.label, week: spec.weeks[i], value: spec.format(v) });
      dot.append(svg("title", {}, tip));
      g.append(dot);
    });
    flush();
    root.append(g);
  }

  const figure = document.createElement("figure");
  figure.className = "trend";
  const caption = document.createElement("figcaption");
  caption.textContent = spec.title;
  const legend = document.createElement("ul");
  legend.className = "legend";
  for (const s of spec.series) {
    const item = document.createElement("li");
    const key = svg("svg", { viewBox: "0 0 24 12", width: 24, height: 12, "aria-hidden": "true" });
    const sample = svg("g", { stroke: s.colour, fill: s.colour });
    const line = svg("line", { x1: 0, x2: 24, y1: 6, y2: 6, "stroke-width": 2 });
    sample.append(line, marker(s.shape, 12, 6));
    key.append(sample);
    item.append(key, document.createTextNode(` ${s.label}`));
    legend.append(item);
  }
  figure.append(caption, root, legend);
  return figure;
}

/** The two charts of a crew's scorecard answer (`weeks`). */
export function trendCharts(card) {
  const weeks = card.weeks.map((w) => w.week);
  const pick = (fn) => card.weeks.map((w) => fn(w.figures));
  const series = (key, colour, shape, values) => ({
    key,
    label: t(`series_${key}`),
    colour,
    shape,
    values,
  });
  const shares = [
    series("good", "#1a7f37", "circle", pick((f) => f.ratings.share_good.value)),
    series("ftf", "#1f6feb", "square", pick((f) => f.first_time_fix.value)),
    series("on_time", "#8250df", "diamond", pick((f) => f.on_time.customer.value)),
  ];
  const callbacks = pick((f) => f.callbacks_per_100_installations.per_100);
  const target = 100 * card.targets.callback_rate_max;
  return [
    lineChart({
      id: "chart-shares",
      title: t("chart_shares"),
      desc: t("chart_desc", { what: t("chart_shares"), crew: card.crew_id }),
      weeks,
      yMax: 1,
      format: (v) => fmtPercent(v, 0),
      target: null,
      series: shares,
    }),
    lineChart({
      id: "chart-callbacks",
      title: t("chart_callbacks"),
      desc: t("chart_desc", { what: t("chart_callbacks"), crew: card.crew_id }),
      weeks,
      yMax: niceMax(callbacks, 2 * target),
      format: (v) => fmtNumber(v, v % 1 ? 1 : 0),
      target,
      targetText: t("chart_target", { value: fmtNumber(target) }),
      series: [series("callbacks", "#c62828", "circle", callbacks)],
    }),
  ];
}
