// The quote as a grid of days × slots: each bookable slot marked as keeping the promise (on
// the customer's clock) or not, with the driving it adds; the recommended ones (the
// cheapest that keep the promise) highlighted; the others greyed with the reason.
//
// A quote answers only the options it can book. The grid is the service's slot grid
// (docs/api.md "Quotes and bookings": 08-10 ... 16-18, offered from an hour after the
// quote and after the order's confirmation), so a slot without an option is greyed with
// why: it has passed, starts too soon, no crew may do the job that day (the quote's
// `notes`), or the crews' routes have no room left. A delivery with its installation is
// picked in two steps: the delivery's slot (the first grid; each cell shows its best
// option), then the installation's among those the quote pairs with it (the second grid).
//
// The cells are laid out by CSS grid from two numbers each (`--d` day, `--s` slot), so a
// narrow window turns the grid (days as columns) without another rendering.

import { el } from "./dom.js";
import { fmtClock, fmtNumber, label, lang, t } from "./i18n.js";

/** the service's default slot starts (`dispatch.booking.slots.SlotGrid`), each 2 hours long;
 * the slots a quote offers add theirs, and their length counts */
const GRID_STARTS = ["08:00", "10:00", "12:00", "14:00", "16:00"];
const SLOT_MINUTES = 120;
/** a slot is offered from this long after the quote (and the confirmation) */
const LEAD_MINUTES = 60;
/** how long a quote may be booked: its `expires_at` less this is the service's "now" */
export const QUOTE_MINUTES = 15;

const LOCALE = () => (lang === "zh" ? "zh-CN" : "en-GB");

/** A naive local ISO time as a number to compare (minutes since the epoch, as if UTC). */
export function minutesOf(iso) {
  return Date.parse(`${String(iso).slice(0, 16)}:00Z`) / 60000;
}

function isoOf(minutes) {
  return new Date(minutes * 60000).toISOString().slice(0, 16);
}

/** "Thu 18 Jun" / "6月18日周四" of "2026-06-18". */
export function fmtDay(day) {
  const [y, m, d] = String(day).slice(0, 10).split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString(LOCALE(), {
    weekday: "short", day: "numeric", month: "short", timeZone: "UTC",
  });
}

/** "Thu 18 Jun 18:00". */
export function fmtDayTime(iso) {
  return `${fmtDay(iso)} ${fmtClock(iso)}`;
}

/** The best of some options: recommended first, then keeping the promise, then cheapest. */
function best(options) {
  const rank = (o) => [
    o.recommended ? 0 : 1, o.keeps_promise === false ? 1 : 0, o.added_drive_minutes,
  ];
  return [...options].sort((a, b) => {
    const [x, y] = [rank(a), rank(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  })[0];
}

/** What the grids are drawn from: the days, the slot times, and the options by slot. */
export class QuoteModel {
  /** `confirmedAt`: the order's confirmation as sent (null: the service's now); `kinds`: its
   * jobs' kinds as asked, delivery first (a quote without options names none). */
  constructor(quote, confirmedAt, kinds) {
    this.quote = quote;
    this.now = minutesOf(quote.expires_at) - QUOTE_MINUTES;
    this.after = Math.max(this.now, confirmedAt ? minutesOf(confirmedAt) : this.now);
    this.days = quote.days.map((d) => d.date);
    this.loads = new Map(quote.days.map((d) => [d.date, d]));
    const starts = new Set(GRID_STARTS);
    for (const o of quote.options) for (const s of o.slots) starts.add(fmtClock(s.start));
    this.starts = [...starts].sort();
    const some = quote.options.length ? quote.options[0].slots[0] : null;
    this.minutes = some ? minutesOf(some.end) - minutesOf(some.start) : SLOT_MINUTES;
    this.kinds = [...kinds].sort((a, b) => (a === "delivery" ? -1 : b === "delivery" ? 1 : 0));
    this.pair = this.kinds.length === 2;
    /** the days each job kind has no crew for, from the quote's notes */
    this.noCrew = new Set();
    for (const note of quote.notes) {
      const m = /^(\w+) on (\d{4}-\d{2}-\d{2}):/.exec(note);
      if (m) this.noCrew.add(`${m[1]} ${m[2]}`);
    }
  }

  /** The options grouped by the start of their slot `index` (0: first job, 1: second). */
  byStart(options, index) {
    const groups = new Map();
    for (const o of options) {
      const key = String(o.slots[index].start).slice(0, 16);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(o);
    }
    return groups;
  }

  /** Why the slot (day, start) of a job of `kind` has no option. */
  reason(day, start, kind, after = null) {
    const at = minutesOf(`${day}T${start}`);
    if (after !== null && at < after) return "why_before_delivery";
    if (at < this.now) return "why_passed";
    if (at < this.after + LEAD_MINUTES) return "why_too_soon";
    if (kind && this.noCrew.has(`${kind} ${day}`)) return "why_no_crew";
    return "why_full";
  }

  /** The promise lines above the grid: each job's deadline on the customer's clock. */
  promises() {
    const lines = new Map();
    for (const o of this.quote.options) {
      for (const s of o.slots) {
        if (lines.has(s.kind)) continue;
        const kind = label("kind_", s.kind);
        lines.set(
          s.kind,
          s.promise_deadline
            ? t("promise_line", { kind, deadline: fmtDayTime(s.promise_deadline) })
            : t("promise_none", { kind }),
        );
      }
    }
    return [...lines.values()];
  }
}

/** "08:00–10:00" for a slot start ("08:00") and length. */
function slotName(start, minutes = SLOT_MINUTES) {
  const end = isoOf(minutesOf(`2000-01-01T${start}`) + minutes).slice(11, 16);
  return `${start}–${end}`;
}

function place(node, d, s) {
  node.style.setProperty("--d", d);
  node.style.setProperty("--s", s);
  return node;
}

function promiseState(keeps) {
  if (keeps === true) return "keeps";
  if (keeps === false) return "late";
  return "none";
}

/** One bookable cell: a button showing the promise, the driving and "recommended". */
function optionCell(option, slotIndex, { summary, selected, recommended }) {
  const slot = option.slots[slotIndex];
  const keeps = summary ? option.keeps_promise : slot.keeps_promise;
  const state = promiseState(keeps);
  const minutes = fmtNumber(summary ? option.added_drive_minutes : slot.added_drive_minutes);
  const button = el("button", `slot ${state}`);
  button.type = "button";
  button.dataset.state = state;
  button.dataset.start = String(slot.start).slice(0, 16);
  button.dataset.option = option.option_id;
  if (recommended) button.classList.add("recommended");
  button.setAttribute("aria-pressed", selected ? "true" : "false");
  const mark = { keeps: "keeps", late: "late", none: "no_promise" }[state];
  const drive = el("span", "drive", t("drive", { minutes }));
  drive.title = t(summary ? "drive_best_title" : "drive_title");
  button.append(el("span", "mark", t(mark)), drive);
  if (recommended) button.append(el("span", "rec", t("recommended")));
  const name = `${fmtClock(slot.start)}–${fmtClock(slot.end)}`;
  const parts = [fmtDay(slot.start), name, t(mark), drive.textContent];
  if (recommended) parts.push(t("recommended"));
  button.setAttribute("aria-label", parts.join(", "));
  return button;
}

function offCell(reason, day, start, minutes) {
  const cell = el("div", "slot off", t(reason));
  cell.dataset.reason = reason.replace("why_", "");
  cell.title = `${fmtDay(day)} ${slotName(start, minutes)}: ${t(reason)}`;
  return cell;
}

/**
 * Draw a days × slots grid into `box`: `cellFor(day, start)` answers
 * `{option, slotIndex, summary, selected, recommended}` for a bookable slot or
 * `{reason}` for one that is not.
 */
export function renderGrid(box, model, cellFor) {
  const grid = el("div", "slot-grid");
  grid.style.setProperty("--days", model.days.length);
  grid.style.setProperty("--slots", model.starts.length);
  grid.append(place(el("div", "corner"), 0, 0));
  model.starts.forEach((start, s) => {
    grid.append(place(el("div", "slot-head", slotName(start, model.minutes)), 0, s + 1));
  });
  model.days.forEach((day, d) => {
    const head = place(el("div", "day-head"), d + 1, 0);
    head.append(el("span", "", fmtDay(day)));
    const load = model.loads.get(day);
    if (load) head.append(el("small", "muted", t("day_load", { jobs: load.jobs })));
    grid.append(head);
    model.starts.forEach((start, s) => {
      const cell = cellFor(day, start);
      const node = cell.option
        ? optionCell(cell.option, cell.slotIndex, cell)
        : offCell(cell.reason, day, start, model.minutes);
      grid.append(place(node, d + 1, s + 1));
    });
  });
  box.replaceChildren(grid);
}

/** The legend under the clock line. */
export function renderLegend(list) {
  const items = [
    ["keeps", "legend_keeps"],
    ["late", "legend_late"],
    ["recommended", "legend_recommended"],
    ["off", "legend_unavailable"],
  ];
  list.replaceChildren(
    ...items.map(([cls, key]) => {
      const li = el("li");
      li.append(el("i", `swatch ${cls}`), el("span", "", t(key)));
      return li;
    }),
  );
}

export { best };
