// Today's route: fetched with its ETag, kept on the phone, shown as a list of stops with each
// report the driver made applied at once (optimistically) over what the service said.
//
// `GET /me/route` with `If-None-Match`: while nothing changed the answer is a bodiless 304, so
// refreshing every minute costs almost nothing on a weak connection. A new answer replaces the
// stored one; stops a re-plan added or moved carry `change` ("new", "eta_moved" with
// `previous_eta`) and jobs taken off are in `removed` (their addresses are looked up in the
// route the phone had before, which it still knows).

import { el } from "./dom.js";
import { fmtClock, label, t } from "./i18n.js";
import { call } from "./driver-queue.js";
import { getKV, setKV } from "./driver-store.js";

/** Job statuses in the order a visit goes through them; completed and failed end it. */
const RANK = { assigned: 0, en_route: 1, on_site: 2, in_progress: 3, completed: 4, failed: 4 };
const STATUS_AFTER = {
  departed: "en_route",
  arrived: "on_site",
  started: "in_progress",
  completed: "completed",
  failed: "failed",
};

export function rank(status) {
  return RANK[status] ?? 0;
}

export function isDone(status) {
  return status === "completed" || status === "failed" || status === "cancelled";
}

/** The status a report leads to when it is further along than `status` (else `status`). */
export function advance(status, type) {
  const next = STATUS_AFTER[type];
  return next && rank(next) > rank(status) && !isDone(status) ? next : status;
}

/**
 * Ask the service for the route (304 when the stored one is current). Resolves with
 * "changed", "same", "none" (no route published: `message` says why) or throws SendError.
 */
export async function refreshRoute() {
  const stored = (await getKV("route")) || null;
  const headers = stored && stored.etag && stored.body ? { "If-None-Match": stored.etag } : {};
  let answer;
  try {
    answer = await call("/me/route", { headers });
  } catch (err) {
    if (err.status === 404) {
      await setKV("route", { body: null, etag: null, message: err.message, at: Date.now() });
      return "none";
    }
    throw err;
  }
  if (answer.status === 304) {
    await setKV("route", { ...stored, at: Date.now() });
    return "same";
  }
  const body = answer.body;
  const before = {};
  for (const stop of stored?.body?.stops || []) before[stop.job_id] = stop;
  for (const [id, stop] of Object.entries(stored?.taken_off || {})) before[id] ??= stop;
  const takenOff = {};
  for (const id of body.removed || []) {
    const old = before[id];
    takenOff[id] = old ? { address: old.address || "", eta: old.eta } : { address: "", eta: null };
  }
  await setKV("route", {
    body,
    etag: answer.headers.get("etag"),
    at: Date.now(),
    taken_off: takenOff,
  });
  return "changed";
}

/** Patch the stored route after an accepted report, until the next refresh says it all. */
export async function applySent(jobId, type) {
  const stored = await getKV("route");
  const stop = stored?.body?.stops?.find((s) => s.job_id === jobId);
  if (!stop) return;
  stop.status = advance(stop.status, type);
  await setKV("route", stored);
}

/** The route's stops with each job's queued reports applied and listed. */
export function viewStops(route, queue) {
  if (!route || !route.body) return [];
  return route.body.stops.map((stop) => {
    const mine = queue.filter((e) => e.job_id === stop.job_id);
    let status = stop.status;
    for (const entry of mine) if (entry.state === "waiting") status = advance(status, entry.type);
    return {
      ...stop,
      server_status: stop.status,
      status,
      waiting: mine.filter((e) => e.state === "waiting"),
      rejected: mine.filter((e) => e.state === "rejected"),
    };
  });
}

/** "2 × split AC · 70 kg · 2 people": what to bring, in a line. */
export function bringLine(bring) {
  const parts = [`${bring.quantity} × ${label("cat_", bring.category)}`];
  if (bring.weight_kg) parts.push(`${Math.round(bring.weight_kg)} kg`);
  if (bring.volume_l) parts.push(`${Math.round(bring.volume_l)} L`);
  if (bring.people > 1) parts.push(t("people", { n: bring.people }));
  if (bring.skills && bring.skills.length) {
    parts.push(bring.skills.map((s) => label("skill_", s)).join(", "));
  }
  return parts.join(" · ");
}

export function doorLine(stop) {
  if (stop.floor === null || stop.floor === undefined) return "";
  return t(stop.has_lift ? "floor_lift" : "floor_no_lift", { floor: stop.floor });
}

export function windowLine(stop) {
  if (!stop.window) return "";
  return t("window", { start: fmtClock(stop.window.start), end: fmtClock(stop.window.end) });
}

/**
 * A two-crew visit's line (`stop.assist`), or null: who assists whom and when the crews meet
 * (the assisted job's planned start). Only the partner crews' ids and that time are known.
 */
export function assistLine(stop) {
  const assist = stop.assist;
  if (!assist) return null;
  const planned = assist.partners.filter((p) => p.crew_id);
  const missing = assist.partners.filter((p) => !p.crew_id).map((p) => p.job_id);
  if (!planned.length || !assist.meet) {
    return t("assist_missing", { jobs: (missing.length ? missing : [stop.job_id]).join(", ") });
  }
  const crews = planned.map((p) => p.crew_id).join(", ");
  const key = assist.role === "assisting" ? "assist_for" : "assist_by";
  const line = t(key, { crews, meet: fmtClock(assist.meet) });
  return missing.length ? `${line} · ${t("assist_missing", { jobs: missing.join(", ") })}` : line;
}

/** A stop's "what changed" line after a re-plan, or null. */
export function changeLine(stop) {
  if (stop.change === "new") return t("change_new");
  if (stop.change === "eta_moved") {
    return t("change_eta", { before: fmtClock(stop.previous_eta), now: fmtClock(stop.eta) });
  }
  return null;
}

export function statusBadge(stop) {
  const badge = el("span", `badge st-${stop.status}`, label("st_", stop.status));
  badge.dataset.status = stop.status;
  return badge;
}

/** One stop of the list: a large button-like card opening the stop. */
export function stopCard(stop) {
  const item = el("li", "stop-card");
  item.dataset.job = stop.job_id;
  item.dataset.status = stop.status;
  if (stop.change) item.classList.add("changed");
  if (isDone(stop.status)) item.classList.add("done");
  const link = el("a", "stop-link");
  link.href = `#stop/${encodeURIComponent(stop.job_id)}`;
  const head = el("div", "stop-head");
  head.append(
    el("span", "seq", String(stop.seq)),
    el("span", "eta", fmtClock(stop.eta)),
    statusBadge(stop),
  );
  link.append(head);
  const kind = [windowLine(stop), label("kind_", stop.kind)].filter(Boolean);
  if (stop.priority && stop.priority !== "normal") kind.push(label("prio_", stop.priority));
  link.append(el("div", "stop-kind", `${kind.join(" · ")} · ${stop.job_id}`));
  if (stop.address) link.append(el("div", "stop-address", stop.address));
  const door = doorLine(stop);
  link.append(el("div", "stop-bring", [door, bringLine(stop.bring)].filter(Boolean).join(" · ")));
  const assist = assistLine(stop);
  if (assist) {
    const line = el("div", "stop-assist");
    line.append(el("span", "badge assist", t("assist_badge")), " ", assist);
    link.append(line);
  }
  if (stop.linked && stop.linked.length) {
    link.append(el("div", "stop-linked", t("linked_count", { n: stop.linked.length })));
  }
  const change = changeLine(stop);
  if (change) link.append(el("div", "stop-change", change));
  if (stop.waiting.length) link.append(el("div", "stop-waiting", t("stop_waiting")));
  for (const entry of stop.rejected) {
    link.append(el("div", "stop-rejected", t("rejected_line", { message: entry.error })));
  }
  item.append(link);
  return item;
}

/** The list view: the route's heading, the stops, the jobs taken off. */
export function renderList(root, route, stops) {
  root.replaceChildren();
  if (!route) {
    root.append(el("p", "empty", t("no_route_yet")));
    return;
  }
  if (!route.body) {
    root.append(el("p", "empty", route.message || t("no_route")));
    return;
  }
  const body = route.body;
  const done = stops.filter((s) => isDone(s.status)).length;
  const head = el("div", "route-head");
  head.append(
    el("strong", "", t("route_title", { date: body.date, crew: body.crew_id })),
    el("span", "muted", t("route_summary", { done, total: stops.length, km: body.distance_km })),
  );
  if (body.depart) {
    head.append(
      el("span", "muted", t("route_times", {
        depart: fmtClock(body.depart),
        back: fmtClock(body.return_at),
        depot: body.start_depot.name,
      })),
    ); // prettier-ignore
  }
  if (route.at) {
    head.append(el("span", "muted as-of", t("route_as_of", { time: clockOf(route.at) })));
  }
  root.append(head);
  const taken = Object.entries(route.taken_off || {});
  if (taken.length) {
    const box = el("div", "taken-off");
    box.append(el("strong", "", t("taken_off", { n: taken.length })));
    const list = el("ul");
    for (const [id, info] of taken) {
      const text = [id, info.address, info.eta ? fmtClock(info.eta) : ""].filter(Boolean);
      const li = el("li", "", text.join(" · "));
      li.dataset.job = id;
      list.append(li);
    }
    box.append(list);
    root.append(box);
  }
  if (!stops.length) root.append(el("p", "empty", t("no_stops")));
  const list = el("ol", "stops");
  for (const stop of stops) list.append(stopCard(stop));
  root.append(list);
}

function clockOf(ms) {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}
