// The customer's tracking page (/track/<token>): no sign-in, the token in the address is the
// key. It asks `GET /track/<token>/status` now and then (every 30 s while the visit is to
// come, every 60 s after; not while the tab is hidden) and shows the answer in words. A 404
// (unknown, expired or closed link: the service does not say which) shows "this link has
// expired" and stops asking. The page never sends the token anywhere else (no-referrer) and
// shows only what the status holds: no crew, no position, no name.

import "./track-strings.js";
import { applyI18n, fmtNumber, lang, t } from "./i18n.js";

const COMING = ["planned", "en_route"];
const STEPS = ["planned", "en_route", "arrived", "done"];
const STEP_OF = { planned: 0, en_route: 1, arrived: 2, in_progress: 2, completed: 3, failed: 3, cancelled: 3 };
const POLL_COMING_MS = 30000;
const POLL_LATER_MS = 60000;
const $ = (id) => document.getElementById(id);

const token = location.pathname.split("/")[2] || "";
let timer = null;
let busy = false;
let stopped = false;

function show(id, text) {
  const row = $(`${id}-row`);
  row.hidden = text === null || text === undefined;
  if (!row.hidden) $(id).textContent = text;
}

function drawSteps(status) {
  const list = $("steps");
  const at = STEP_OF[status] ?? 0;
  list.replaceChildren();
  list.className = `steps${status === "completed" ? " ok" : ""}${["failed", "cancelled"].includes(status) ? " bad" : ""}`;
  STEPS.forEach((step, i) => {
    const item = document.createElement("li");
    const last = i === 3 && ["failed", "cancelled"].includes(status);
    item.textContent = t(`track_step_${last ? status : step}`);
    if (i < at) item.className = "done";
    if (i === at) {
      item.className = "now";
      item.setAttribute("aria-current", "step");
    }
    list.append(item);
  });
}

function stopsText(count) {
  if (count === null || count === undefined) return null;
  if (count === 0) return t("track_before_none");
  if (count === 1) return t("track_before_one");
  return t("track_before_value", { count });
}

function draw(body) {
  const kind = t(`track_kind_${body.kind}`);
  $("kind").textContent = kind === `track_kind_${body.kind}` ? t("track_kind_other") : kind;
  $("headline").textContent = t(`track_status_${body.status}`);
  drawSteps(body.status);
  const coming = COMING.includes(body.status);
  show("eta", coming ? body.eta : null);
  show("window", body.window ? `${body.window.start}–${body.window.end}` : null);
  show("distance", body.distance_km === null ? null : t("track_distance_value", { km: fmtNumber(body.distance_km, 1) }));
  show("before", coming ? stopsText(body.stops_before) : null);
  const note = `track_note_${body.status}`;
  $("note").textContent = t(note) === note ? "" : t(note);
  $("visit").hidden = false;
  $("updated").textContent = t("track_updated", { time: String(body.updated_at).slice(11, 16) });
  $("updated").dataset.kind = "ok";
  return coming ? POLL_COMING_MS : POLL_LATER_MS;
}

function expired() {
  stopped = true;
  $("visit").hidden = true;
  $("expired").hidden = false;
  $("updated").textContent = "";
  document.body.dataset.state = "expired";
}

async function poll() {
  timer = null;
  if (stopped || busy) return;
  busy = true;
  let wait = POLL_COMING_MS;
  try {
    const answer = await fetch(`/track/${encodeURIComponent(token)}/status`, {
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
      headers: { Accept: "application/json" },
    });
    if (answer.status === 404) {
      expired();
    } else if (answer.ok) {
      wait = draw(await answer.json());
      document.body.dataset.state = "shown";
    } else {
      throw new Error(String(answer.status));
    }
  } catch {
    $("updated").textContent = t("track_offline");
    $("updated").dataset.kind = "error";
  } finally {
    busy = false;
    $("loading").hidden = true;
    $("track").removeAttribute("aria-busy");
  }
  if (!stopped && !document.hidden) timer = setTimeout(poll, wait);
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden && timer) {
    clearTimeout(timer);
    timer = null;
  } else if (!document.hidden && !timer && !busy && !stopped) {
    poll();
  }
});

document.title = t("track_title");
applyI18n();
$(`lang-${lang}`).setAttribute("aria-current", "true");
if (token) poll();
else expired();
