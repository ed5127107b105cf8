// The driver app (`/driver`): sign-in with crew and PIN, today's stops, reports from the road
// queued on the phone and sent in order, offline first (docs/web.md, "Driver app").
//
// Everything the app knows lives in IndexedDB (driver-store.js), so a reload, a closed
// browser or a dead zone loses nothing; the service worker (/driver/sw.js) keeps the app
// itself. The view is redrawn from that state: the route as the service last answered it,
// with the driver's queued reports applied over it (driver-route.js).

import { applyI18n, chooseLanguage, lang, t } from "./i18n.js";
import "./driver-strings.js";
import { call, dismiss, enqueue, kick, startQueue } from "./driver-queue.js";
import {
  applySent,
  isDone,
  refreshRoute,
  renderList,
  viewStops,
} from "./driver-route.js";
import { renderStop } from "./driver-stop.js";
import {
  clearAll,
  getKV,
  getSession,
  onStoreChange,
  queueAll,
  setKV,
} from "./driver-store.js";
import {
  lastFix,
  locate,
  onPositionState,
  resumePositions,
  updatePositions,
} from "./driver-position.js";

const REFRESH_MS = 60_000;
const $ = (id) => document.getElementById(id);

const state = { session: null, route: null, queue: [], prefs: {}, message: "" };

function say(message, kind = "info") {
  const line = $("status");
  line.textContent = message || "";
  line.dataset.kind = kind;
  line.hidden = !message;
}

async function load() {
  state.session = await getSession();
  state.route = (await getKV("route")) || null;
  state.queue = await queueAll();
  state.prefs = (await getKV("prefs")) || {};
}

function routeRunning(stops) {
  return stops.some((s) => s.status !== "assigned") && stops.some((s) => !isDone(s.status));
}

function renderHeader(stops) {
  const online = navigator.onLine;
  const net = $("net");
  net.textContent = online ? t("online") : t("offline");
  net.dataset.state = online ? "online" : "offline";
  document.body.dataset.net = online ? "online" : "offline";
  const waiting = state.queue.filter((e) => e.state === "waiting").length;
  const rejected = state.queue.filter((e) => e.state === "rejected").length;
  const box = $("waiting");
  const parts = [];
  if (waiting) parts.push(t("waiting_count", { n: waiting }));
  if (rejected) parts.push(t("rejected_count", { n: rejected }));
  box.textContent = parts.join(" · ");
  box.hidden = !parts.length;
  box.dataset.waiting = String(waiting);
  box.dataset.rejected = String(rejected);
  const signedIn = Boolean(state.session && !state.session.expired);
  $("crew").textContent = state.session ? state.session.crew_id : "";
  $("refresh").hidden = !signedIn;
  $("refresh").disabled = !online;
  $("sign-out-row").hidden = !state.session;
  $("consent-row").hidden = !signedIn;
  $("consent").checked = Boolean(state.prefs.position_consent);
  updatePositions(signedIn && routeRunning(stops), Boolean(state.prefs.position_consent));
}

function render() {
  const stops = viewStops(state.route, state.queue);
  renderHeader(stops);
  const signedIn = Boolean(state.session && !state.session.expired);
  $("sign-in-view").hidden = signedIn;
  const match = /^#stop\/(.+)$/.exec(location.hash);
  $("list-view").hidden = !signedIn || Boolean(match);
  $("stop-view").hidden = !signedIn || !match;
  document.body.dataset.view = !signedIn ? "sign-in" : match ? "stop" : "list";
  if (!document.body.dataset.ready) {
    document.body.dataset.ready = String(Math.round(performance.now())); // benchmarks
  }
  if (!signedIn) {
    renderSignIn();
    return;
  }
  if (match) {
    const view = $("stop-view");
    const jobId = decodeURIComponent(match[1]);
    // the driver is filling in a form on this stop: leave it be
    if (view.dataset.job === jobId && view.querySelector(".act-form")) return;
    view.dataset.job = jobId;
    renderStop(view, stops.find((s) => s.job_id === jobId), {
      total: stops.length,
      lastFix: lastFix(),
      onReport: (type, fields, attachments) => report(jobId, type, fields, attachments),
      onDismiss: (seq) => dismiss(seq).then(changed),
    });
  } else {
    renderList($("list-view"), state.route, stops);
    if (stops.length && !document.body.dataset.stopsMs) {
      document.body.dataset.stopsMs = String(Math.round(performance.now())); // benchmarks
    }
  }
}

function renderSignIn() {
  const crew = $("crew-id");
  const expired = state.session && state.session.expired;
  if (expired && !crew.value) crew.value = state.session.crew_id;
  const waiting = state.queue.filter((e) => e.state === "waiting").length;
  if (expired) say(t(waiting ? "expired_waiting" : "expired", { n: waiting }), "error");
}

/** Redraw after the stored state changed (here or in another tab). */
async function changed() {
  await load();
  render();
}

async function report(jobId, type, fields, attachments) {
  const fix = state.prefs.position_consent ? lastFix() : null;
  const extra = fix ? { lon: fix.lon, lat: fix.lat } : {};
  await enqueue({ job_id: jobId, type, fields: { ...fields, ...extra }, attachments });
  if (type === "completed" || type === "failed") {
    $("stop-view").replaceChildren(); // the form is done with
    location.hash = "";
  }
  await changed();
}

let refreshing = null;

/** Ask for the route now (when online and signed in); the view follows. */
async function refresh() {
  if (!navigator.onLine || !state.session || state.session.expired) return;
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      const outcome = await refreshRoute();
      if (outcome === "changed") resumePositions();
    } catch (err) {
      if (err.status === 401) authLost();
      else if (err.status !== 0) say(err.message, "error");
    } finally {
      refreshing = null;
    }
    await changed();
  })();
  return refreshing;
}

async function authLost() {
  const session = await getSession();
  if (session) await setKV("session", { ...session, token: null });
  await changed();
}

async function signIn(event) {
  event.preventDefault();
  const crewId = $("crew-id").value.trim();
  const pin = $("pin").value;
  const error = $("sign-in-error");
  const show = (message) => {
    error.textContent = message;
    error.hidden = !message;
  };
  if (!crewId || !pin) return show(t("sign_in_missing"));
  const waiting = state.queue.filter((e) => e.state === "waiting").length;
  if (waiting && state.session && state.session.crew_id !== crewId) {
    return show(t("sign_in_other_crew", { crew: state.session.crew_id, n: waiting }));
  }
  if (!navigator.onLine) return show(t("sign_in_offline"));
  const button = $("sign-in");
  button.disabled = true;
  try {
    const answer = await call("/auth/driver-sign-in", {
      method: "POST",
      json: { crew_id: crewId, pin },
      token: null,
    });
    const body = answer.body;
    const crew = body.crew_id || crewId;
    if (state.session && state.session.crew_id !== crew) await clearAll(); // another crew's day
    await setKV("session", {
      token: body.token,
      crew_id: crew,
      expires_at: body.expires_at,
    });
    $("pin").value = "";
    show("");
    say("");
    await changed();
    kick();
    await refresh();
  } catch (err) {
    if (err.status === 401) show(t("wrong_pin"));
    else show(err.message);
  } finally {
    button.disabled = false;
  }
}

async function signOut() {
  const waiting = state.queue.filter((e) => e.state === "waiting").length;
  const note = $("menu-note");
  if (waiting) {
    note.textContent = t("sign_out_refused", { n: waiting });
    note.hidden = false;
    return;
  }
  const rejected = state.queue.filter((e) => e.state === "rejected").length;
  if (rejected && !confirm(t("sign_out_rejected", { n: rejected }))) return;
  if (state.session && state.session.token && navigator.onLine) {
    try {
      await call("/auth/sign-out", { method: "POST" });
    } catch {
      // forgetting the token here is what matters; the service only records it
    }
  }
  await clearAll();
  note.hidden = true;
  toggleMenu(false);
  location.hash = "";
  await changed();
}

function toggleMenu(open = $("menu").hidden) {
  $("menu").hidden = !open;
  $("menu-button").setAttribute("aria-expanded", String(open));
}

async function setConsent(event) {
  const on = event.target.checked;
  const stateLine = $("position-state");
  if (on) {
    try {
      await locate(); // the browser asks the driver here, once
    } catch {
      event.target.checked = false;
      stateLine.textContent = t("position_denied");
      stateLine.hidden = false;
      return;
    }
  }
  resumePositions();
  await setKV("prefs", { ...state.prefs, position_consent: on });
  await changed();
}

function wire() {
  $("sign-in-form").addEventListener("submit", signIn);
  $("refresh").addEventListener("click", () => refresh());
  $("menu-button").addEventListener("click", () => toggleMenu());
  $("sign-out").addEventListener("click", signOut);
  $("consent").addEventListener("change", setConsent);
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    button.addEventListener("click", () => {
      chooseLanguage(button.dataset.lang);
      location.reload();
    });
  }
  addEventListener("hashchange", render);
  addEventListener("online", () => {
    render();
    refresh();
  });
  addEventListener("offline", render);
  onStoreChange((what) => {
    changed();
    if (what === "queue") kick();
  });
  onPositionState((s) => {
    const line = $("position-state");
    line.textContent = s === "off" ? "" : t(`position_${s}`);
    line.hidden = s === "off";
  });
  setInterval(refresh, REFRESH_MS);
}

async function main() {
  applyI18n();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/driver/sw.js", { scope: "/driver" }).catch(() => {
      // no worker (a private window, an old browser): the app works while online
    });
  }
  wire();
  await changed();
  let sentSince = 0;
  startQueue({
    onChange: async () => {
      await changed();
      if (sentSince && !state.queue.some((e) => e.state === "waiting")) {
        sentSince = 0;
        refresh(); // everything is in: the service's view of the stops
      }
    },
    onSent: (entry) => {
      sentSince += 1;
      return applySent(entry.job_id, entry.type);
    },
    onAuthLost: authLost,
  });
  await refresh();
}

main();
