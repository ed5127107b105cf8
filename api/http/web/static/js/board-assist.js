// Two-crew visits on the board: an assisted job and the job assisting it (协助, a job's
// `assists`), planned on two crews that start together. The board answer's jobs name the job
// they assist; the routes say which crew has each half and when the assisted crew starts.

import { fmtClock, t } from "./i18n.js";

/**
 * Job id -> {role, meet, partners}: `role` "assisted" (leads the visit) or "assisting",
 * `meet` the assisted job's planned start (null while unplanned), `partners` the other
 * halves as {job_id, crew_id} (crew_id null while unplanned). Empty for a day without pairs.
 */
export function assistPairs(board) {
  const placed = new Map();
  for (const route of board.routes || []) {
    for (const stop of route.stops) placed.set(stop.job_id, { crew: route.crew_id, start: stop.start });
  }
  const ids = new Set((board.jobs || []).map((j) => j.id));
  const partners = new Map();
  const leadOf = new Map();
  const add = (job, other) => {
    if (!partners.has(job)) partners.set(job, new Set());
    partners.get(job).add(other);
  };
  for (const job of board.jobs || []) {
    if (!job.assists || !ids.has(job.assists)) continue;
    add(job.assists, job.id);
    add(job.id, job.assists);
    if (!leadOf.has(job.id)) leadOf.set(job.id, job.assists);
  }
  const out = new Map();
  for (const [id, others] of partners) {
    const lead = placed.get(leadOf.get(id) || id);
    out.set(id, {
      role: leadOf.has(id) ? "assisting" : "assisted",
      meet: lead ? lead.start : null,
      partners: [...others].sort().map((other) => ({
        job_id: other,
        crew_id: placed.has(other) ? placed.get(other).crew : null,
      })),
    });
  }
  return out;
}

/** "assisted by crew C2 (job J2) · together from 09:40": one pair's line for the board. */
export function assistText(info) {
  const who = info.partners
    .map((p) => t(p.crew_id ? "assist_partner" : "assist_partner_open", { job: p.job_id, crew: p.crew_id }))
    .join(", ");
  const key = info.role === "assisting" ? "assist_for" : "assist_by";
  const line = t(key, { who });
  return info.meet ? `${line} · ${t("assist_meet", { time: fmtClock(info.meet) })}` : line;
}
