// The two forms a visit ends with: completed (the customer's receipt: items received, the
// receipt note, the rating, the signature, photos) and failed (the reason, photos). The
// values offered are exactly the events endpoint's enums (dispatch/running/lifecycle.py:
// ReceiptNote, Rating, FailureReason). Photos are made small as they are taken.

import { el } from "./dom.js";
import { label, t } from "./i18n.js";
import { downscale } from "./driver-photo.js";
import { signaturePad } from "./driver-signature.js";

export const RECEIPTS = ["intact", "declined_to_unpack", "damage_noted"];
export const RATINGS = ["good", "fair", "poor", "very_poor"];
export const REASONS = [
  "customer_absent",
  "wrong_address",
  "product_damaged",
  "no_access",
  "parts_missing",
  "customer_refused",
  "unsafe_site",
  "other",
];

let formCount = 0;

/** A set of large radio choices: `name`, the codes, their labels' key prefix. */
function choices(name, legend, codes, prefix) {
  const box = el("fieldset", "choices");
  box.dataset.name = name;
  box.append(el("legend", "", legend));
  for (const code of codes) {
    const choice = el("label", "choice");
    const input = el("input");
    input.type = "radio";
    input.name = name;
    input.value = code;
    choice.append(input, el("span", "", label(prefix, code)));
    box.append(choice);
  }
  return box;
}

function chosen(form, name) {
  const input = form.querySelector(`input[name="${name}"]:checked`);
  return input ? input.value : null;
}

/** The photo picker: camera input, thumbnails, each removable; `.photos()` waits for the
 * ones still being made smaller. */
function photoPicker() {
  const box = el("fieldset", "photos");
  box.append(el("legend", "", t("photos")));
  const pick = el("label", "button photo-button");
  const input = el("input");
  input.type = "file";
  input.accept = "image/*";
  input.setAttribute("capture", "environment");
  input.className = "visually-hidden";
  input.name = "photo";
  pick.append(input, el("span", "", t("take_photo")));
  const thumbs = el("div", "thumbs");
  const note = el("p", "muted photo-note");
  box.append(pick, thumbs, note);
  const taken = [];
  input.addEventListener("change", () => {
    for (const file of input.files) {
      const entry = { ready: downscale(file), url: null };
      taken.push(entry);
      const thumb = el("figure", "thumb");
      thumbs.append(thumb);
      entry.ready.then(
        ({ blob }) => {
          entry.blob = blob;
          entry.url = URL.createObjectURL(blob);
          const img = el("img");
          img.src = entry.url;
          img.alt = t("photo_n", { n: taken.indexOf(entry) + 1 });
          const remove = el("button", "remove", "×");
          remove.type = "button";
          remove.setAttribute("aria-label", t("remove_photo"));
          remove.addEventListener("click", () => {
            taken.splice(taken.indexOf(entry), 1);
            URL.revokeObjectURL(entry.url);
            thumb.remove();
          });
          thumb.append(img, remove);
          note.textContent = t("photo_size", { kb: Math.round(blob.size / 1024) });
        },
        () => {
          taken.splice(taken.indexOf(entry), 1);
          thumb.remove();
          note.textContent = t("photo_unreadable");
        },
      );
    }
    input.value = "";
  });
  box.photos = async () => {
    await Promise.allSettled(taken.map((e) => e.ready));
    return taken.filter((e) => e.blob).map((e) => e.blob);
  };
  return box;
}

function noteField() {
  const id = `note-${++formCount}`;
  const wrap = el("div", "field");
  const lab = el("label", "", t("note"));
  lab.htmlFor = id;
  const area = el("textarea");
  area.id = id;
  area.name = "note";
  area.maxLength = 2000;
  area.rows = 2;
  wrap.append(lab, area);
  return wrap;
}

function buttons(form, submitText, onCancel) {
  const error = el("p", "form-error");
  error.setAttribute("role", "alert");
  error.hidden = true;
  const row = el("div", "form-buttons");
  const submit = el("button", "primary big", submitText);
  submit.type = "submit";
  const cancel = el("button", "big", t("cancel"));
  cancel.type = "button";
  cancel.addEventListener("click", onCancel);
  row.append(cancel, submit);
  form.append(error, row);
  return { error, submit };
}

async function bytesOf(blob, kind) {
  return { kind, type: blob.type, bytes: await blob.arrayBuffer() };
}

/** The completion form. `onSubmit(fields, attachments)` is called once. */
export function completeForm(stop, { onSubmit, onCancel }) {
  const form = el("form", "act-form complete-form");
  form.noValidate = true;
  form.append(el("h3", "", t("complete_title")));
  const count = el("div", "field");
  const countId = `items-${++formCount}`;
  const countLabel = el("label", "", t("items_received"));
  countLabel.htmlFor = countId;
  const items = el("input");
  Object.assign(items, { id: countId, type: "number", min: 0, max: 10000, name: "items" });
  items.inputMode = "numeric";
  items.value = String(stop.bring ? stop.bring.quantity : 1);
  count.append(countLabel, items);
  form.append(count);
  form.append(choices("receipt", t("receipt"), RECEIPTS, "receipt_"));
  form.append(choices("rating", t("rating"), RATINGS, "rating_"));
  const sig = el("fieldset", "signature");
  sig.append(el("legend", "", t("signature")));
  const canvas = el("canvas", "sig-pad");
  canvas.setAttribute("aria-label", t("signature_hint"));
  const clear = el("button", "", t("clear"));
  clear.type = "button";
  sig.append(canvas, el("p", "muted", t("signature_hint")), clear);
  form.append(sig);
  const photos = photoPicker();
  form.append(photos, noteField());
  const { error, submit } = buttons(form, t("confirm_complete"), onCancel);
  let pad = null;
  // the canvas is sized once it is on the page
  requestAnimationFrame(() => {
    pad = signaturePad(canvas);
    clear.addEventListener("click", () => pad.clear());
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    const receipt = chosen(form, "receipt");
    const rating = chosen(form, "rating");
    const n = Number(items.value);
    const missing = [];
    if (!Number.isInteger(n) || n < 0 || n > 10000 || items.value === "") {
      missing.push(t("items_received"));
    }
    if (!receipt) missing.push(t("receipt"));
    if (!rating) missing.push(t("rating"));
    if (!pad || pad.isEmpty()) missing.push(t("signature"));
    if (missing.length) {
      error.textContent = t("form_missing", { fields: missing.join(", ") });
      error.hidden = false;
      return;
    }
    submit.disabled = true; // a double tap sends one report
    error.hidden = true;
    const attachments = [await bytesOf(await pad.toBlob(), "signature")];
    for (const blob of await photos.photos()) attachments.push(await bytesOf(blob, "photo"));
    const fields = { receipt, rating, items_received: n };
    const note = form.querySelector("textarea").value.trim();
    if (note) fields.note = note;
    await onSubmit(fields, attachments);
  });
  return form;
}

/** The failed-visit form. */
export function failForm(stop, { onSubmit, onCancel }) {
  const form = el("form", "act-form fail-form");
  form.noValidate = true;
  form.append(el("h3", "", t("fail_title")));
  form.append(choices("reason", t("reason"), REASONS, "reason_"));
  const photos = photoPicker();
  form.append(photos, noteField());
  const { error, submit } = buttons(form, t("confirm_fail"), onCancel);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    const reason = chosen(form, "reason");
    if (!reason) {
      error.textContent = t("form_missing", { fields: t("reason") });
      error.hidden = false;
      return;
    }
    submit.disabled = true;
    const attachments = [];
    for (const blob of await photos.photos()) attachments.push(await bytesOf(blob, "photo"));
    const fields = { reason };
    const note = form.querySelector("textarea").value.trim();
    if (note) fields.note = note;
    await onSubmit(fields, attachments);
  });
  return form;
}
