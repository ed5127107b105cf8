// The queue of reports from the road, sent in order when the phone is online.
//
// Every action the driver taps (departed, arrived, started, completed, failed) is stored
// first (driver-store.js), with an Idempotency-Key made at the tap (crypto.randomUUID) and the
// phone's time of the tap, and is then shown as done at once; sending happens here, oldest
// first. An entry's photos and signature go first (`POST /uploads`, each with its own key),
// their ids are kept on the entry, then the event that names them (`POST /jobs/{id}/events`).
// Keys never change, so a report sent twice (a lost answer, two tabs, a crash mid-send) is
// stored once by the service.
//
// - A network failure, a 5xx, 408 or 429 stops the pass; it is tried again with backoff
//   (2 s doubling to 60 s), and at once when the phone comes online.
// - A refusal (409, 422, 403, 404, 413 ...) is not retried: the entry stays, marked
//   `rejected` with the service's words, on its stop, until the driver dismisses it.
// - 401: the sign-in has ended; everything waits until the driver signs in again.
//
// One tab sends at a time (Web Locks), so tabs of the same phone never post side by side.

import { describe } from "./api.js";
import { t } from "./i18n.js";
import { getSession, queueAdd, queueAll, queueDelete, queuePut } from "./driver-store.js";

export const RETRY_STATUSES = new Set([0, 408, 425, 429, 500, 502, 503, 504]);
const BACKOFF_MS = [2000, 4000, 8000, 16000, 32000, 60000];

export class SendError extends Error {
  constructor(status, body) {
    super(status === 0 ? t("err_network") : describe(status, body));
    this.status = status;
    this.body = body;
  }
}

/** A call to the service with the stored token; the parsed answer or a SendError. */
export async function call(path, { method = "GET", json, form, headers = {}, token } = {}) {
  const sent = { Accept: "application/json", ...headers };
  if (token === undefined) token = (await getSession())?.token;
  if (token) sent.Authorization = `Bearer ${token}`;
  let body;
  if (json !== undefined) {
    sent["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) body = form;
  let response;
  try {
    response = await fetch(path, { method, headers: sent, body, cache: "no-store" });
  } catch {
    throw new SendError(0, null);
  }
  if (response.status === 204 || response.status === 304) {
    return { status: response.status, body: null, headers: response.headers };
  }
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json")
    ? await response.json().catch(() => null)
    : await response.text().catch(() => "");
  if (!response.ok) throw new SendError(response.status, data);
  return { status: response.status, body: data, headers: response.headers };
}

/** The phone's clock now, with its UTC offset (the service converts it to local time). */
export function deviceTime(date = new Date()) {
  const pad = (n) => String(Math.abs(n)).padStart(2, "0");
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`
  );
}

/**
 * Queue one report: `{job_id, type, fields, attachments}` where `fields` are the event's
 * other fields (reason, receipt, items_received, rating, note, lon, lat) and `attachments`
 * `[{kind: "photo"|"signature", type, bytes}]`. Stamped here, at the tap.
 */
export async function enqueue({ job_id, type, fields = {}, attachments = [] }) {
  const entry = {
    job_id,
    type,
    key: crypto.randomUUID(),
    device_time: deviceTime(),
    fields,
    attachments: attachments.map((a) => ({ ...a, key: crypto.randomUUID(), upload_id: null })),
    state: "waiting",
    error: null,
    created_at: Date.now(),
  };
  entry.seq = await queueAdd(entry);
  kick();
  return entry;
}

/** Drop a rejected entry (the driver read the refusal). */
export async function dismiss(seq) {
  await queueDelete(seq);
  notify();
}

let hooks = { onChange() {}, onSent() {}, onAuthLost() {} };
let timer = null;
let failures = 0;
let running = false;
let again = false;

function notify() {
  hooks.onChange();
}

/** Start sending: `hooks.onChange()` after every change of the queue, `hooks.onSent(entry,
 * event)` after each accepted event, `hooks.onAuthLost()` on a 401. */
export function startQueue(given) {
  hooks = { ...hooks, ...given };
  addEventListener("online", () => {
    failures = 0;
    kick();
  });
  kick();
}

/** Try sending now (a new entry, the phone online again, a new sign-in). */
export function kick() {
  clearTimeout(timer);
  timer = null;
  flush();
}

function later() {
  const wait = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)];
  failures += 1;
  clearTimeout(timer);
  timer = setTimeout(flush, wait);
}

/** One pass over the queue, in one tab at a time. */
export async function flush() {
  if (!navigator.onLine) return;
  if (running) {
    again = true; // asked while a pass runs: one more pass after it
    return;
  }
  running = true;
  try {
    do {
      again = false;
      if (navigator.locks) {
        await navigator.locks.request("fieldroute-driver-queue", { ifAvailable: true }, (lock) =>
          lock ? pass() : null,
        );
      } else await pass();
    } while (again && timer === null);
  } finally {
    running = false;
  }
}

async function pass() {
  const session = await getSession();
  if (!session || session.expired) return;
  for (const entry of await queueAll()) {
    if (entry.state !== "waiting") continue;
    try {
      await send(entry, session.token);
      failures = 0;
    } catch (err) {
      if (err.status === 401) {
        hooks.onAuthLost();
        return;
      }
      if (RETRY_STATUSES.has(err.status)) {
        later();
        notify();
        return;
      }
      entry.state = "rejected";
      entry.error = err.message;
      entry.status = err.status;
      await queuePut(entry);
    }
    notify();
  }
}

async function send(entry, token) {
  for (const item of entry.attachments) {
    if (item.upload_id) continue;
    const form = new FormData();
    const ext = item.type === "image/png" ? "png" : "jpg";
    form.append("file", new Blob([item.bytes], { type: item.type }), `${item.kind}.${ext}`);
    form.append("job_id", entry.job_id);
    form.append("kind", item.kind);
    const answer = await call("/uploads", {
      method: "POST",
      form,
      token,
      headers: { "Idempotency-Key": item.key },
    });
    item.upload_id = answer.body.id;
    await queuePut(entry); // the id is kept: a retry of the event does not upload again
  }
  const body = { type: entry.type, device_time: entry.device_time, ...entry.fields };
  const signature = entry.attachments.find((a) => a.kind === "signature");
  if (signature) body.signature_ref = signature.upload_id;
  const photos = entry.attachments.filter((a) => a.kind === "photo").map((a) => a.upload_id);
  if (photos.length) body.photo_refs = photos;
  const answer = await call(`/jobs/${encodeURIComponent(entry.job_id)}/events`, {
    method: "POST",
    json: body,
    token,
    headers: { "Idempotency-Key": entry.key },
  });
  await queueDelete(entry.seq);
  await hooks.onSent(entry, answer.body);
}
