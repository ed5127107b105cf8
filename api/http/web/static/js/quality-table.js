// The crew quality page's table (one row per crew, sortable by any column) and the own vs
// temporary summary above it, from the `GET /scorecards` answers.
//
// Every figure shows its share and, in small print, the counts it was taken from, so a
// manager can audit it; a callback figure at or over the target (4 per 100, judged by the
// service on exact fractions: `meets_targets`) is shown in red. A figure without data (0 of
// 0) is "–", never 0 %, and sorts last whichever the direction.

import { el } from "./dom.js";
import { fmtNumber, fmtPercent, t } from "./i18n.js";

/** The table's columns: key, heading, the value it sorts by, numeric or not. */
export const COLUMNS = [
  { key: "crew", head: "col_crew", value: (c) => c.crew_id, text: true },
  { key: "type", head: "col_type", value: (c) => (c.temporary ? 1 : 0) },
  { key: "completed", head: "col_completed", value: (c) => c.figures.jobs_completed },
  { key: "rating", head: "col_rating", value: (c) => c.figures.ratings.share_good.value },
  {
    key: "callback_rate",
    head: "col_callbacks",
    value: (c) => c.figures.callbacks_per_100_installations.value,
  },
  { key: "first_time_fix", head: "col_ftf", value: (c) => c.figures.first_time_fix.value },
  { key: "on_time", head: "col_on_time", value: (c) => c.figures.on_time.customer.value },
  { key: "complaints", head: "col_complaints", value: (c) => c.figures.complaints },
];

/** Cards sorted by a column; null values last, ties by crew id. */
export function sortCards(cards, key, descending) {
  const column = COLUMNS.find((c) => c.key === key) || COLUMNS[0];
  const byId = [...cards].sort((a, b) => a.crew_id.localeCompare(b.crew_id));
  const known = byId.filter((c) => column.value(c) !== null && column.value(c) !== undefined);
  const unknown = byId.filter((c) => column.value(c) === null || column.value(c) === undefined);
  const sign = descending ? -1 : 1;
  known.sort((a, b) => {
    const x = column.value(a);
    const y = column.value(b);
    if (column.text) return sign * String(x).localeCompare(String(y));
    return sign * (x - y);
  });
  return [...known, ...unknown];
}

/** "12 of 16" in small print under a figure. */
function counts(ratio, key = "of") {
  return el("small", "counts", t(key, { n: ratio.numerator, d: ratio.denominator }));
}

/** A share cell: the percentage, the counts under it. */
function shareCell(ratio) {
  const td = el("td", "num");
  td.append(el("span", "figure", fmtPercent(ratio.value)), counts(ratio));
  return td;
}

/** Callbacks per 100 installations: red at or over the target, the per-100-jobs beside it. */
function callbackCell(figures) {
  const inst = figures.callbacks_per_100_installations;
  const jobs = figures.callbacks_per_100_jobs;
  const td = el("td", "num callbacks");
  const value = el("span", "figure", inst.per_100 === null ? "–" : fmtNumber(inst.per_100, 1));
  if (figures.meets_targets.callbacks_per_100_installations === false) {
    td.classList.add("over");
    value.title = t("over_target");
  }
  const line = t("callbacks_line", { n: inst.numerator, d: inst.denominator });
  td.append(value, el("small", "counts", line));
  const perJob = jobs.per_100 === null ? "–" : fmtNumber(jobs.per_100, 1);
  td.append(el("small", "counts", `${t("col_callbacks_jobs")}: ${perJob}`));
  return td;
}

/** Rated good: the share, and the four counts of the receipt's scale. */
function ratingCell(ratings) {
  const td = el("td", "num rating");
  td.append(el("span", "figure", fmtPercent(ratings.share_good.value)));
  const total = ratings.good + ratings.fair + ratings.poor + ratings.very_poor;
  let line = total ? t("ratings_line", ratings) : t("no_ratings");
  if (ratings.unrated) line += ` · ${t("unrated_n", { n: ratings.unrated })}`;
  td.append(el("small", "counts", line));
  if (total) {
    const bar = el("span", "rating-bar");
    bar.setAttribute("aria-hidden", "true");
    for (const r of ["good", "fair", "poor", "very_poor"]) {
      const part = el("i", `r-${r}`);
      part.style.width = `${(100 * ratings[r]) / total}%`;
      bar.append(part);
    }
    td.append(bar);
  }
  return td;
}

/** On time on the customer's clock, the planning clock beside it. */
function onTimeCell(onTime) {
  const td = shareCell(onTime.customer);
  td.classList.add("on-time");
  const planning = t("planning_beside", { value: fmtPercent(onTime.planning.value) });
  td.append(el("small", "counts", planning));
  return td;
}

function typeBadge(temporary) {
  return el("span", `badge ${temporary ? "warn" : "ok"}`, t(temporary ? "temporary" : "own"));
}

/** One crew's row; its crew cell is a button that shows the crew's weekly trend. */
function row(card, selected, onPick) {
  const tr = el("tr");
  tr.dataset.crew = card.crew_id;
  if (selected) tr.classList.add("selected");
  const crewCell = el("th");
  crewCell.scope = "row";
  const pick = el("button", "crew-link", card.crew_id);
  pick.type = "button";
  pick.addEventListener("click", () => onPick(card.crew_id));
  crewCell.append(pick);
  if (!card.active) crewCell.append(el("small", "counts", t("retired")));
  const f = card.figures;
  const typeCell = el("td");
  typeCell.append(typeBadge(card.temporary));
  const complaints = el("td", "num", fmtNumber(f.complaints));
  if (f.complaints > 0) complaints.classList.add("has-complaints");
  tr.append(
    crewCell,
    typeCell,
    el("td", "num", fmtNumber(f.jobs_completed)),
    ratingCell(f.ratings),
    callbackCell(f),
    shareCell(f.first_time_fix),
    onTimeCell(f.on_time),
    complaints,
  );
  return tr;
}

/** The header row: a sort button per column, `aria-sort` on the sorted one. */
export function renderHead(tr, sort, onSort) {
  tr.replaceChildren();
  for (const column of COLUMNS) {
    const th = el("th");
    th.scope = "col";
    if (!column.text) th.className = column.key === "type" ? "" : "num";
    const button = el("button", "sort", t(column.head));
    button.type = "button";
    button.dataset.sort = column.key;
    button.title = t("sort_by", { column: t(column.head) });
    if (sort.key === column.key) {
      th.setAttribute("aria-sort", sort.descending ? "descending" : "ascending");
      button.append(el("span", "arrow", sort.descending ? " ▼" : " ▲"));
    }
    button.addEventListener("click", () => onSort(column.key));
    th.append(button);
    tr.append(th);
  }
}

/** The rows, sorted. */
export function renderRows(tbody, cards, sort, selectedCrew, onPick) {
  tbody.replaceChildren(
    ...sortCards(cards, sort.key, sort.descending).map((c) =>
      row(c, c.crew_id === selectedCrew, onPick),
    ),
  );
}

/** Own vs temporary crews: one card each with the headline figures. */
export function renderGroups(box, groups) {
  box.replaceChildren();
  for (const g of groups) {
    const f = g.figures;
    const card = el("article", `group-card ${g.group}`);
    card.dataset.group = g.group;
    const head = el("h2", "", t(`group_${g.group}`));
    head.append(el("small", "muted", ` · ${t("group_crews", { n: g.crews })}`));
    card.append(head);
    const dl = el("dl");
    const inst = f.callbacks_per_100_installations;
    const items = [
      [t("col_completed"), fmtNumber(f.jobs_completed), ""],
      [
        t("col_callbacks"),
        inst.per_100 === null ? "–" : fmtNumber(inst.per_100, 1),
        f.meets_targets.callbacks_per_100_installations === false ? "over" : "",
      ],
      [t("col_rating"), fmtPercent(f.ratings.share_good.value), ""],
      [t("col_ftf"), fmtPercent(f.first_time_fix.value), ""],
      [t("col_on_time"), fmtPercent(f.on_time.customer.value), ""],
      [t("col_complaints"), fmtNumber(f.complaints), ""],
    ];
    for (const [label, value, cls] of items) {
      const pair = el("div");
      pair.append(el("dt", "", label), el("dd", cls, value));
      dl.append(pair);
    }
    card.append(dl);
    box.append(card);
  }
}
