// The crew quality page (`/quality`): managers (and dispatchers, planners, admins) compare
// crews over a period on `GET /scorecards`: own vs temporary crews side by side, a sortable
// table of crews, and a crew's weekly trend (`GET /crews/{id}/scorecard`) when it is clicked.
//
// The period is in the URL (`?from=&to=`, and `&crew=` for the trend shown), so a reload or a
// shared link shows the same; without it the service's default applies (the last 28 days up
// to today on its clock) and the picker is filled from the answer. Modules beside this one:
// the text (quality-strings.js), the table (quality-table.js), the charts (quality-chart.js).

import { api } from "./api.js";
import { el } from "./dom.js";
import { fmtNumber, fmtPercent, t } from "./i18n.js";
import { say, startPage } from "./shell.js";
import "./quality-strings.js";
import { renderGroups, renderHead, renderRows } from "./quality-table.js";
import { shortWeek, trendCharts } from "./quality-chart.js";

const $ = (id) => document.getElementById(id);

const state = {
  period: null, // {from, to} as the service answered it
  cards: [],
  sort: { key: "callback_rate", descending: true },
  crew: null, // the crew whose trend is shown
  turn: 0, // the latest trend request (an older answer arriving late is dropped)
};

/** The query string of the period asked for (empty: the service's default). */
function periodQuery(from, to) {
  const q = new URLSearchParams();
  if (from) q.set("from", from);
  if (to) q.set("to", to);
  return q.toString();
}

/** Keep the period and the crew shown in the address bar (no reload). */
function remember() {
  const q = new URLSearchParams();
  if (state.period) {
    q.set("from", state.period.from);
    q.set("to", state.period.to);
  }
  if (state.crew) q.set("crew", state.crew);
  history.replaceState(null, "", `${location.pathname}?${q}`);
}

function daysOf(period) {
  return Math.round((Date.parse(period.to) - Date.parse(period.from)) / 86_400_000) + 1;
}

// ---- the cards

async function load(from, to) {
  say(t("loading_cards"));
  const query = periodQuery(from, to);
  try {
    const [crews, groups] = await Promise.all([
      api(`/scorecards?${query}`),
      api(`/scorecards?group=own_temporary&${query}`),
    ]);
    state.period = crews.period;
    state.cards = crews.items;
    $("from").value = crews.period.from;
    $("to").value = crews.period.to;
    $("period-note").textContent = t("period_note", {
      from: crews.period.from,
      to: crews.period.to,
      days: daysOf(crews.period),
      target: fmtNumber(100 * crews.targets.callback_rate_max),
    });
    $("clock-note").replaceChildren(
      el("span", "", t("clock_customer")),
      el("span", "", t("clock_planning")),
    );
    $("clock-note").title = `${crews.promise_clocks.customer}\n${crews.promise_clocks.planning}`;
    renderGroups($("groups"), groups.items);
    drawTable();
    say("");
    const listed = state.cards.some((c) => c.crew_id === state.crew);
    if (state.crew && listed) await showTrend(state.crew);
    else hideTrend();
    remember();
  } catch (err) {
    say(err.message, "error");
  }
}

function drawTable() {
  renderHead($("scorecards-head"), state.sort, sortBy);
  renderRows($("scorecards-body"), state.cards, state.sort, state.crew, showTrend);
  $("crews-empty").hidden = state.cards.length > 0;
  $("crews-count").textContent = t("crews_count", { n: state.cards.length });
}

/** A click on a column: the same column flips its direction; a new one starts descending
 * (worst callbacks first), the crew id ascending. */
function sortBy(key) {
  if (state.sort.key === key) state.sort.descending = !state.sort.descending;
  else state.sort = { key, descending: key !== "crew" };
  drawTable();
  const button = document.querySelector(`#scorecards-head button[data-sort="${key}"]`);
  if (button) button.focus();
}

// ---- one crew's weekly trend

function hideTrend() {
  state.crew = null;
  $("trend-body").hidden = true;
  $("trend-hint").hidden = false;
  $("trend-crew").textContent = "";
}

async function showTrend(crewId) {
  const turn = ++state.turn;
  state.crew = crewId;
  for (const tr of $("scorecards-body").rows) {
    tr.classList.toggle("selected", tr.dataset.crew === crewId);
  }
  $("trend-crew").textContent = t("trend_loading", { crew: crewId });
  try {
    const q = periodQuery(state.period.from, state.period.to);
    const card = await api(`/crews/${encodeURIComponent(crewId)}/scorecard?${q}`);
    if (turn !== state.turn) return;
    $("trend-crew").textContent = `${card.crew_id} · ${t(card.temporary ? "temporary" : "own")}`;
    $("trend-charts").replaceChildren(...trendCharts(card));
    drawWeeks(card);
    $("trend-hint").hidden = true;
    $("trend-body").hidden = false;
    remember();
  } catch (err) {
    if (turn === state.turn) say(err.message, "error");
  }
}

/** The weekly figures as a table too (the charts' values, readable without a mouse). */
function drawWeeks(card) {
  const heads = [
    "col_week",
    "col_completed",
    "col_rating",
    "col_callbacks",
    "col_ftf",
    "col_on_time",
    "col_complaints",
  ];
  $("trend-head").replaceChildren(
    ...heads.map((key, i) => {
      const th = el("th", i ? "num" : "", t(key));
      th.scope = "col";
      return th;
    }),
  );
  $("trend-rows").replaceChildren(
    ...card.weeks.map((w) => {
      const f = w.figures;
      const inst = f.callbacks_per_100_installations;
      const week = el("th", "", shortWeek(w.week));
      week.scope = "row";
      week.append(el("small", "counts", `${w.from.slice(5)} – ${w.to.slice(5)}`));
      const callbacks = el("td", "num", inst.per_100 === null ? "–" : fmtNumber(inst.per_100, 1));
      if (f.meets_targets.callbacks_per_100_installations === false) {
        callbacks.classList.add("over");
      }
      const tr = el("tr");
      tr.append(
        week,
        el("td", "num", fmtNumber(f.jobs_completed)),
        el("td", "num", fmtPercent(f.ratings.share_good.value)),
        callbacks,
        el("td", "num", fmtPercent(f.first_time_fix.value)),
        el("td", "num", fmtPercent(f.on_time.customer.value)),
        el("td", "num", fmtNumber(f.complaints)),
      );
      return tr;
    }),
  );
}

// ---- the period picker

async function submit(event) {
  event.preventDefault();
  const from = $("from").value;
  const to = $("to").value;
  if (!from || !to || from > to) {
    say(t("err_period"), "error");
    $(from && !to ? "to" : "from").focus();
    return;
  }
  await load(from, to);
}

async function lastDays() {
  await load("", "");
}

function start() {
  if (!startPage("quality")) return;
  document.title = t("page_title");
  $("period-form").addEventListener("submit", submit);
  $("last-28").addEventListener("click", lastDays);
  const asked = new URLSearchParams(location.search);
  state.crew = asked.get("crew");
  load(asked.get("from") || "", asked.get("to") || "");
}

start();
