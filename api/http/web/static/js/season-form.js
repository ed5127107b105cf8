// The season form: its fields become a `POST /simulations` body, and its errors are shown
// next to it in words.
//
// A field left empty is left out of the request, so the service's default applies (the
// placeholders show those defaults). Ranges are checked here first, in the page's language;
// what only the service can judge (a peak that does not fit in the season) comes back as a
// 422 whose sentence is shown the same way, with the field it names marked.

import { fieldErrors } from "./api.js";
import { t } from "./i18n.js";

/**
 * The number fields: input id, where the value goes in the request (a top-level key or a
 * dotted settings path), whole or decimal, and the allowed range (`above`: strictly more).
 */
const NUMBERS = [
  { id: "days", to: "days", whole: true, min: 1, max: 366 },
  { id: "scale", to: "scale", whole: false, above: 0, max: 4 },
  { id: "replications", to: "replications", whole: true, min: 1, max: 10 },
  { id: "seed", to: "seed", whole: true, min: 0, max: 4294967295 },
  { id: "target", to: "settings.target_share", whole: false, above: 0, max: 100, recommend: true },
  { id: "rounds", to: "rounds", whole: true, min: 1, max: 10, recommend: true },
  { id: "peak-start", to: "settings.demand.peak_start_day", whole: true, min: 0, max: 366 },
  { id: "peak-days", to: "settings.demand.peak_days", whole: true, min: 0, max: 366 },
  { id: "ramp-days", to: "settings.demand.ramp_days", whole: true, min: 0, max: 366 },
  { id: "decline-days", to: "settings.demand.decline_days", whole: true, min: 0, max: 366 },
  { id: "time-limit", to: "settings.planner.time_limit_s", whole: false, above: 0, max: 3600 },
  { id: "solution-limit", to: "settings.planner.solution_limit", whole: true, min: 1, max: 100000 },
];

/** The service's field names (422 `field`) -> the input that sets them. */
const INPUT_OF = {
  days: "days",
  scale: "scale",
  seed: "seed",
  replications: "replications",
  rounds: "rounds",
  target_share: "target",
  target_clock: "target-clock",
  levers: "levers",
  lever_options: "levers",
  fixture: "fixture",
  "crews.temp_per_week": "temp-per-week",
  "demand.peak_start_day": "peak-start",
  "demand.peak_days": "peak-days",
  "demand.ramp_days": "ramp-days",
  "demand.decline_days": "decline-days",
  "planner.time_limit_s": "time-limit",
  "planner.solution_limit": "solution-limit",
};

class FormError extends Error {
  constructor(message, inputId) {
    super(message);
    this.inputId = inputId;
  }
}

/** The visible label of an input (already in the page's language). */
function labelOf(id) {
  const label = document.querySelector(`label[for="${id}"]`);
  return label ? label.textContent.trim() : id;
}

/** Put `value` at a dotted `path` of `body` ("settings.demand.peak_days"). */
function setPath(body, path, value) {
  const keys = path.split(".");
  let node = body;
  for (const key of keys.slice(0, -1)) node = node[key] ??= {};
  node[keys.at(-1)] = value;
}

/** The value of one number field, checked, or undefined when it is empty. */
function readNumber(spec) {
  const input = document.getElementById(spec.id);
  const raw = input.value.trim().replace(",", ".");
  if (raw === "" && !input.validity.badInput) return undefined;
  const value = Number(raw);
  const field = labelOf(spec.id);
  if (raw === "" || !Number.isFinite(value)) {
    throw new FormError(t("err_number", { field }), spec.id);
  }
  if (spec.whole && !Number.isInteger(value)) {
    throw new FormError(t("err_whole", { field }), spec.id);
  }
  if (spec.above !== undefined && !(value > spec.above && value <= spec.max)) {
    const message = value > spec.max ? "err_range" : "err_above";
    throw new FormError(t(message, { field, min: spec.above, max: spec.max }), spec.id);
  }
  if (spec.min !== undefined && !(value >= spec.min && value <= spec.max)) {
    throw new FormError(t("err_range", { field, min: spec.min, max: spec.max }), spec.id);
  }
  return value;
}

/** "0, 20，40 20" -> [0, 20, 40, 20] (commas, Chinese commas or spaces between). */
export function parseCrewList(text) {
  const parts = text.split(/[\s,，、;；]+/).filter(Boolean);
  return parts.map((part) => {
    if (!/^\d+$/.test(part)) {
      throw new FormError(t("err_temp_list", { value: part }), "temp-per-week");
    }
    return Number(part);
  });
}

/** The request body the form describes; throws a FormError naming the first bad field. */
export function readForm() {
  const recommend = document.getElementById("recommend").checked;
  const body = { fixture: document.getElementById("fixture").value, recommend, settings: {} };
  for (const spec of NUMBERS) {
    if (spec.recommend && !recommend) continue;
    const value = readNumber(spec);
    if (value === undefined) continue;
    setPath(body, spec.to, spec.id === "target" ? Math.round(value * 10) / 1000 : value);
  }
  const crews = parseCrewList(document.getElementById("temp-per-week").value);
  if (crews.length) setPath(body, "settings.crews.temp_per_week", crews);
  if (recommend) {
    // the clock the target is judged on, and the search beyond hiring (docs/season.md)
    body.target_clock = document.getElementById("target-clock").value;
    body.levers = document.getElementById("levers").checked;
  }
  return body;
}

/** Show `message` next to the form (empty: hide it) and mark the input it is about. */
export function showFormError(message, inputId = null) {
  const box = document.getElementById("form-error");
  box.textContent = message || "";
  box.hidden = !message;
  for (const el of document.querySelectorAll("#season-form [aria-invalid]")) {
    el.removeAttribute("aria-invalid");
  }
  const input = inputId && document.getElementById(inputId);
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.closest("details")?.setAttribute("open", "");
  }
}

/** The input a 422 from the service is about, if its field is one the form sets. */
export function inputOfApiError(err) {
  for (const entry of fieldErrors(err && err.body)) {
    const field = String(entry.field || (entry.loc || []).filter((p) => p !== "body").join("."));
    const key = field.replace(/^settings\./, "").replace(/\[\d+\]$/, "");
    if (INPUT_OF[key]) return INPUT_OF[key];
  }
  return null;
}

/** Target, rounds, the target's clock and the lever search only mean something with
 * "recommend": enable them with it. */
export function syncRecommendFields() {
  const on = document.getElementById("recommend").checked;
  for (const id of ["target", "rounds", "target-clock", "levers"]) {
    document.getElementById(id).disabled = !on;
  }
}

export { FormError };
