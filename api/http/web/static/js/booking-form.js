// The booking page's order form: its choices, its fields as a `POST /quotes` body, and its
// errors shown next to it with the field marked.
//
// Numbers are checked here first, in the page's language; what only the service can judge
// (an unknown region, an order number in use) comes back as a problem naming its field
// (`errors[].field`, or `field` of a 409), which marks the input it came from. The order's
// confirmation time and the first day are left empty unless the agent sets them: then the
// service's own "now" and "today" count, whatever this computer's clock or zone says.

import { fieldErrors } from "./api.js";
import { label, t } from "./i18n.js";

export const KINDS = ["delivery", "installation", "repair", "pickup"];
export const CATEGORIES = [
  "split_ac", "cabinet_ac", "washing_machine", "refrigerator", "tv", "water_heater",
  "range_hood", "dishwasher", "other",
];
export const PRIORITIES = ["normal", "vip", "complaint", "callback"];
/** the service's regions, for users who work on all of them */
const REGIONS = ["urban", "rural"];

/** The number fields: input id, request key, whole or not, range (the record rules'). */
const NUMBERS = [
  { id: "lon", min: -180, max: 180 },
  { id: "lat", min: -90, max: 90 },
  { id: "floor", whole: true, min: -5, max: 200 },
  { id: "quantity", whole: true, min: 1, max: 1000 },
  { id: "days", whole: true, min: 1, max: 7 },
];

/** The service's field names (a problem's `field`) -> the input that sets them. */
const INPUT_OF = {
  region: "region",
  order_id: "order-id",
  lon: "lon",
  lat: "lat",
  floor: "floor",
  has_lift: "has-lift",
  priority: "priority",
  zone: "region",
  confirmed_at: "confirmed-at",
  first_day: "first-day",
  days: "days",
  jobs: "kind",
  kind: "kind",
  category: "category",
  quantity: "quantity",
};

export class FormError extends Error {
  constructor(message, inputId) {
    super(message);
    this.inputId = inputId;
  }
}

const $ = (id) => document.getElementById(id);

function fill(select, codes, prefix) {
  select.replaceChildren(...codes.map((c) => new Option(label(prefix, c), c)));
}

/** Fill the selects (regions: the user's own when bound to some) and the defaults. */
export function setUpForm(user) {
  const regions = user.regions && user.regions.length ? user.regions : REGIONS;
  fill($("region"), regions, "region_");
  fill($("kind"), KINDS, "kind_");
  fill($("category"), CATEGORIES, "cat_");
  fill($("priority"), PRIORITIES, "prio_");
  $("category").value = "split_ac";
  resetWhen();
  for (const radio of document.querySelectorAll('input[name="shape"]')) {
    radio.addEventListener("change", syncShape);
  }
  syncShape();
}

/** Confirmation time and first day back to empty: the service's "now" and "today". */
export function resetWhen() {
  $("confirmed-at").value = "";
  $("first-day").value = "";
}

function pairChosen() {
  return document.querySelector('input[name="shape"]:checked').value === "pair";
}

/** The job picker only for a single job (a pair is a delivery and its installation). */
function syncShape() {
  $("kind-field").hidden = pairChosen();
}

/** The visible label of an input (already in the page's language). */
function labelOf(id) {
  const el = document.querySelector(`label[for="${id}"]`);
  return el ? el.textContent.trim() : id;
}

function readNumber(spec) {
  const input = $(spec.id);
  const raw = input.value.trim().replace(",", ".");
  const field = labelOf(spec.id);
  if (raw === "") {
    if (spec.id === "lon" || spec.id === "lat") throw new FormError(t("err_location"), spec.id);
    return undefined;
  }
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new FormError(t("err_number", { field }), spec.id);
  if (spec.whole && !Number.isInteger(value)) {
    throw new FormError(t("err_whole", { field }), spec.id);
  }
  if (value < spec.min || value > spec.max) {
    throw new FormError(t("err_range", { field, min: spec.min, max: spec.max }), spec.id);
  }
  return value;
}

/** The `POST /quotes` body the form describes; a FormError naming the first bad input. */
export function readOrder() {
  const n = {};
  for (const spec of NUMBERS) n[spec.id] = readNumber(spec);
  const category = $("category").value;
  const quantity = n.quantity ?? 1;
  const jobs = pairChosen()
    ? ["delivery", "installation"].map((kind) => ({ kind, category, quantity }))
    : [{ kind: $("kind").value, category, quantity }];
  const body = {
    region: $("region").value,
    lon: n.lon,
    lat: n.lat,
    has_lift: $("has-lift").checked,
    priority: $("priority").value,
    jobs,
  };
  if (n.floor !== undefined) body.floor = n.floor;
  if (n.days !== undefined) body.days = n.days;
  const orderId = $("order-id").value.trim();
  if (orderId) body.order_id = orderId;
  if ($("confirmed-at").value) {
    body.confirmed_at = `${$("confirmed-at").value.slice(0, 16)}:00`;
  }
  if ($("first-day").value) body.first_day = $("first-day").value;
  return body;
}

/** Show `message` in the box `boxId` (empty: hide it) and mark the input it is about. */
export function showFormError(boxId, message, inputId = null) {
  const box = $(boxId);
  const text = box.querySelector("span") || box;
  text.textContent = message || "";
  box.hidden = !message;
  for (const el of box.closest("form").querySelectorAll("[aria-invalid]")) {
    el.removeAttribute("aria-invalid");
  }
  const input = inputId && $(inputId);
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.closest("details")?.setAttribute("open", "");
    input.focus();
  }
}

/** The service's field a failure names: its first `errors[].field`, or a 409's `field`. */
export function fieldOfApiError(err) {
  const body = err && err.body;
  for (const entry of fieldErrors(body)) {
    const field = entry.field || (entry.loc || []).filter((p) => p !== "body").join(".");
    if (field) return String(field);
  }
  return body && typeof body.field === "string" ? body.field : null;
}

/** The order form's input a failure is about ("jobs[1].category" -> the product), or null. */
export function inputOfApiError(err) {
  const field = fieldOfApiError(err);
  if (!field) return null;
  const last = field.split(".").pop().replace(/\[\d+\]$/, "");
  return INPUT_OF[field.replace(/\[\d+\]/g, "")] || INPUT_OF[last] || null;
}
