// What the worklist's forms share: a refused request shown beside the form that sent it, in
// the service's words (its problem details' `detail`, or one line per field problem) and the
// field it names marked `aria-invalid`, so the dispatcher sees what to fix and where.

import { fieldErrors } from "./api.js";
import { el } from "./dom.js";
import { fmtClock, t } from "./i18n.js";

/** "06-18 09:40" from a naive local ISO time: the region's clock. */
export function fmtWhen(iso) {
  if (!iso) return "–";
  return `${String(iso).slice(5, 10)} ${fmtClock(iso)}`;
}

/** The fields a refusal names: its `field` (a 409) or each of its `errors` (a 422). */
function fieldsOf(body) {
  const names = fieldErrors(body).map((e) => e.field || (e.loc || []).at(-1) || "");
  if (body && typeof body.field === "string") names.push(body.field);
  return names.filter(Boolean);
}

/** Clear a form's earlier refusal. */
export function clearError(form) {
  const box = form.querySelector(".form-error");
  if (box) box.remove();
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

/** Show `err` (an ApiError, or a plain message) at the end of `form`; mark the named fields
 * (inputs with `data-field="job_id"`), focus the first. */
export function showError(form, err) {
  clearError(form);
  const box = el("p", "form-error", typeof err === "string" ? err : err.message);
  box.setAttribute("role", "alert");
  const fields = typeof err === "string" ? [] : fieldsOf(err.body);
  let first = null;
  for (const name of fields) {
    const input = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    }
  }
  if (fields.length && !fieldErrors(err.body).length) {
    box.append(el("span", "field-name", t("err_field_is", { field: fields.join(", ") })));
  }
  form.append(box);
  if (first) first.focus();
}
