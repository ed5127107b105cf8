// The call centre's booking page (`/booking`): enter a new order, quote its slots
// (`POST /quotes`), pick one in the days × slots grid and book it with the customer's name,
// phone and address (`POST /bookings`).
//
// The customer's contact goes only into the booking request; the page never reads jobs,
// routes or the board (a call-centre agent may not), and the confirmation shows the jobs'
// ids and the booked slot. A failed booking says why in words: a quote that expired or a
// slot sold meanwhile offers "Quote again", which asks for fresh slots with the same order
// and keeps the customer's fields. Modules beside this one: the text (booking-strings.js),
// the order form (booking-form.js), the grid (booking-grid.js) and the map (booking-map.js).

import { api } from "./api.js";
import { el } from "./dom.js";
import { applyI18n, fmtClock, fmtNumber, label, t } from "./i18n.js";
import { say, startPage } from "./shell.js";
import "./booking-strings.js";
import {
  FormError,
  fieldOfApiError,
  inputOfApiError,
  readOrder,
  resetWhen,
  setUpForm,
  showFormError,
} from "./booking-form.js";
import {
  QUOTE_MINUTES,
  QuoteModel,
  best,
  fmtDay,
  minutesOf,
  renderGrid,
  renderLegend,
} from "./booking-grid.js";
import { PointPicker } from "./booking-map.js";

const $ = (id) => document.getElementById(id);
/** the booking's fields (a problem's `field`) -> their inputs */
const CUSTOMER_INPUTS = {
  customer_name: "customer-name",
  customer_phone: "customer-phone",
  address: "address",
};

const state = {
  /** the quote shown and its grid model; null before the first quote and after a booking */
  quote: null,
  model: null,
  /** the chosen option's id, and (a pair) the delivery slot start picked first */
  optionId: null,
  firstStart: null,
  /** Date.now() when the quote came, to count its minutes down on this computer's clock */
  quotedAt: 0,
  timer: null,
  picker: null,
};

// ---- quoting

async function quote(event) {
  if (event) event.preventDefault();
  let body;
  try {
    body = readOrder();
  } catch (err) {
    if (!(err instanceof FormError)) throw err;
    showFormError("order-error", err.message, err.inputId);
    return;
  }
  const button = $("quote");
  button.disabled = true;
  button.textContent = t("quoting");
  try {
    const answer = await api("/quotes", { method: "POST", json: body });
    showFormError("order-error", "");
    showQuote(answer, body.confirmed_at || null, body.jobs.map((j) => j.kind));
    const count = answer.options.length;
    if (count) say(t("quoted", { count, days: answer.days.length }), "ok");
    else say(t("quoted_none"), "info");
  } catch (err) {
    showFormError("order-error", withField(err), inputOfApiError(err));
  } finally {
    button.disabled = false;
    button.textContent = t("quote");
  }
}

/** The service's sentence, and the field it names when the sentence does not. */
function withField(err) {
  const field = fieldOfApiError(err);
  if (!field || err.message.includes(field)) return err.message;
  return t("err_field_named", { detail: err.message, field });
}

function showQuote(answer, confirmedAt, kinds) {
  const previous = state.quote && chosenOption();
  state.quote = answer;
  state.model = new QuoteModel(answer, confirmedAt, kinds);
  state.quotedAt = Date.now();
  state.optionId = null;
  state.firstStart = null;
  // a re-quote keeps the agent's choice when the same slots are still offered
  if (previous) {
    const same = answer.options.find((o) => sameSlots(o, previous));
    if (same) choose(same.option_id, false);
  }
  const at = confirmedAt || new Date((minutesOf(answer.expires_at) - QUOTE_MINUTES) * 60000)
    .toISOString().slice(0, 16);
  $("clock-label").textContent = t("clock_label", { at: `${fmtDay(at)} ${fmtClock(at)}` });
  $("promise-lines").replaceChildren(...state.model.promises().map((line) => el("li", "", line)));
  renderLegend($("legend"));
  $("notes").replaceChildren(...answer.notes.map((note) => el("li", "", note)));
  if (answer.notes.length) $("notes").prepend(el("li", "notes-title", t("notes_title")));
  $("slots-empty").hidden = true;
  $("quote-body").hidden = false;
  // a narrow window stacks the panels: bring the slots up under the agent's eyes
  const panel = document.querySelector(".booking-slots");
  if (panel.getBoundingClientRect().top > innerHeight * 0.6) {
    panel.scrollIntoView({ block: "start", behavior: "smooth" });
  }
  $("confirmation").hidden = true;
  $("book-form").hidden = false;
  showBookError("");
  draw();
  tick();
  clearInterval(state.timer);
  state.timer = setInterval(tick, 15_000);
}

function sameSlots(a, b) {
  return a.slots.map((s) => s.start).join() === b.slots.map((s) => s.start).join();
}

/** How long the quote may still be booked, counted on this computer's clock. */
function tick() {
  if (!state.quote) return;
  const expires = state.quote.expires_at;
  const left = Math.ceil(QUOTE_MINUTES - (Date.now() - state.quotedAt) / 60000);
  const box = $("quote-expiry");
  box.textContent = left > 0
    ? t("expires_in", { time: fmtClock(expires), minutes: left })
    : t("expired", { time: fmtClock(expires) });
  box.classList.toggle("expired", left <= 0);
}

// ---- the grids and the choice

function chosenOption() {
  return state.quote && state.quote.options.find((o) => o.option_id === state.optionId);
}

function draw() {
  const { model, quote: q } = state;
  const first = model.byStart(q.options, 0);
  const chosen = chosenOption();
  const kind = label("kind_", model.kinds[0] || "");
  $("grid-title").textContent = model.pair ? t("grid_delivery") : t("grid_one", { kind });
  renderGrid($("grid-first"), model, (day, start) => {
    const options = first.get(`${day}T${start}`);
    if (!options) return { reason: model.reason(day, start, model.kinds[0]) };
    const top = model.pair ? best(options) : options[0];
    return {
      option: top,
      slotIndex: 0,
      summary: model.pair,
      selected: Boolean(chosen) && chosen.slots[0].start === top.slots[0].start,
      recommended: options.some((o) => o.recommended),
    };
  });
  $("second-part").hidden = !(model.pair && chosen);
  if (model.pair && chosen) {
    const group = q.options.filter((o) => o.slots[0].start === chosen.slots[0].start);
    const second = model.byStart(group, 1);
    const d = chosen.slots[0];
    $("second-title").textContent = t("grid_installation", {
      slot: `${fmtDay(d.start)} ${fmtClock(d.start)}–${fmtClock(d.end)}`,
    });
    renderGrid($("grid-second"), model, (day, start) => {
      const options = second.get(`${day}T${start}`);
      if (!options) return { reason: model.reason(day, start, model.kinds[1], minutesOf(d.end)) };
      return {
        option: options[0],
        slotIndex: 1,
        summary: false,
        selected: options[0].option_id === chosen.option_id,
        recommended: options[0].recommended,
      };
    });
  }
  showChoice();
}

/** A click on a bookable cell: in the first grid of a pair, the delivery slot's best option. */
function onGridClick(event) {
  const button = event.target.closest("button.slot");
  if (!button) return;
  let id = button.dataset.option;
  if (state.model.pair && button.closest("#grid-first")) {
    const start = button.dataset.start;
    id = best(state.quote.options.filter((o) => o.slots[0].start.startsWith(start))).option_id;
  }
  const grid = button.closest(".grid-wrap");
  choose(id, true);
  // the grids were drawn anew: keep the keyboard on the chosen cell
  const pressed = grid.querySelector('button.slot[aria-pressed="true"]');
  if (pressed) pressed.focus();
}

function choose(optionId, redraw) {
  state.optionId = optionId;
  if (redraw) draw();
}

/** The chosen slots above the customer's fields, and the fields enabled with a choice. */
function showChoice() {
  const option = chosenOption();
  $("book-fields").disabled = !option;
  const box = $("chosen");
  box.classList.toggle("muted", !option);
  if (!option) {
    box.textContent = t("chosen_none");
    return;
  }
  const slots = option.slots.map((s) => t("chosen_slot", {
    kind: label("kind_", s.kind),
    day: fmtDay(s.start),
    start: fmtClock(s.start),
    end: fmtClock(s.end),
  }));
  const promise = t({ true: "keeps", false: "late" }[option.keeps_promise] || "no_promise");
  box.replaceChildren(
    el("strong", "", t("chosen", { slots: slots.join(" · ") })),
    el("span", "figures", t("chosen_figures", {
      promise, minutes: fmtNumber(option.added_drive_minutes),
    })),
  );
  if (option.recommended) box.append(el("span", "rec", t("recommended")));
}

// ---- booking

async function book(event) {
  event.preventDefault();
  const option = chosenOption();
  if (!option) return;
  const customer = {
    customer_name: $("customer-name").value.trim(),
    customer_phone: $("customer-phone").value.trim(),
    address: $("address").value.trim(),
  };
  const missing = Object.values(CUSTOMER_INPUTS).find((id) => !$(id).value.trim());
  if (missing) {
    showBookError(t("missing_customer"), { inputId: missing });
    return;
  }
  const button = $("book");
  button.disabled = true;
  button.textContent = t("booking");
  try {
    const answer = await api("/bookings", {
      method: "POST",
      json: { quote_id: state.quote.quote_id, option_id: option.option_id, ...customer },
    });
    showBooked(answer, option);
  } catch (err) {
    showBookError(...bookingFailure(err));
  } finally {
    button.disabled = false;
    button.textContent = t("book");
  }
}

/** A failed booking in words: the page's sentence, the service's detail with its field,
 * and whether a new quote helps (an expired quote, a slot sold meanwhile). */
function bookingFailure(err) {
  const field = fieldOfApiError(err);
  const body = err.body || {};
  const said = typeof body.detail === "string" ? body.detail : "";
  const detail = said && t("err_detail", { detail: said, field: field || "–" });
  if (err.status === 409 && body.current_status === "booked") {
    return [t("err_booked"), { detail }];
  }
  if (err.status === 409 && field === "quote_id") {
    return [t("err_expired"), { detail, requote: true }];
  }
  if (err.status === 409 && field === "option_id") {
    return [t("err_sold_out"), { detail, requote: true }];
  }
  const requote = err.status === 404;
  return [withField(err), { requote, inputId: CUSTOMER_INPUTS[field] || null }];
}

function showBookError(message, { detail = "", requote = false, inputId = null } = {}) {
  showFormError("book-error", message, inputId);
  $("book-error-detail").textContent = detail;
  $("book-error-detail").hidden = !detail;
  $("requote").hidden = !requote;
}

function showBooked(answer, option) {
  clearInterval(state.timer);
  state.quote = null;
  state.optionId = null;
  $("quote-body").hidden = true;
  $("quote-expiry").textContent = "";
  $("slots-empty").hidden = false;
  // the contact went into the jobs' records: it stays off the page from here
  for (const id of Object.values(CUSTOMER_INPUTS)) $(id).value = "";
  $("book-fields").disabled = true;
  $("book-form").hidden = true;
  showBookError("");
  const box = $("confirmation");
  const list = el("ul");
  answer.jobs.forEach((job, i) => {
    const slot = option.slots[i] || option.slots[0];
    list.append(el("li", "", t("booked_job", {
      job: job.id, kind: label("kind_", job.kind), day: fmtDay(slot.start),
      start: fmtClock(slot.start), end: fmtClock(slot.end),
    })));
  });
  const again = el("button", "", t("new_order"));
  again.type = "button";
  again.id = "new-order";
  again.addEventListener("click", newOrder);
  box.replaceChildren(
    el("h3", "", t("booked_title", { order: answer.order_id })),
    list,
    el("p", "muted", t("booked_tell")),
    again,
  );
  box.hidden = false;
  $("chosen").textContent = "";
  say(t("booked_status", { order: answer.order_id }), "ok");
  again.focus();
}

/** Clear the order number and times for the next call (the place and product stay). */
function newOrder() {
  $("order-id").value = "";
  resetWhen();
  $("confirmation").hidden = true;
  $("book-form").hidden = false;
  showChoice();
  say("");
  $("lon").focus();
}

// ---- the map and the coordinates

function onCoordinates() {
  const lon = Number($("lon").value.trim().replace(",", "."));
  const lat = Number($("lat").value.trim().replace(",", "."));
  const given = $("lon").value.trim() && $("lat").value.trim();
  state.picker.show(given ? lon : null, given ? lat : null);
}

async function setUpMap() {
  let config = { tile_url: "", tile_attribution: "", tile_coords: "wgs84" };
  try {
    config = await api("/ui/config");
  } catch (err) {
    say(err.message, "error");
  }
  state.picker = new PointPicker($("pick-map"), config, (lon, lat) => {
    $("lon").value = String(lon);
    $("lat").value = String(lat);
    showFormError("order-error", "");
  });
  for (const id of ["lon", "lat"]) $(id).addEventListener("change", onCoordinates);
  addEventListener("resize", () => state.picker.refresh());
}

// ---- start

async function start() {
  const user = startPage("booking");
  if (!user) return;
  applyI18n();
  document.title = t("page_title");
  setUpForm(user);
  $("order-form").addEventListener("submit", quote);
  $("book-form").addEventListener("submit", book);
  $("requote").addEventListener("click", () => quote(null));
  for (const id of ["grid-first", "grid-second"]) $(id).addEventListener("click", onGridClick);
  window.fieldrouteBooking = state; // for the browser tests and the console
  await setUpMap();
}

start();
