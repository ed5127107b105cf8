// The pages' one way to the JSON API: the bearer token from sign-in, errors in words.
//
// The token lives in this tab's sessionStorage (closing the tab signs out; it never goes in
// a URL). Every failure becomes an `ApiError` whose `message` is a sentence for a person:
// the service's own explanation from its problem details (RFC 9457, docs/api.md): the
// `errors` of a 422, one `{field, message}` (and `record` or `loc`) per problem, else
// `detail`; the `reasons` of a refused override stay apart. Never raw JSON.

import { t } from "./i18n.js";

const KEY = "fieldroute.session";

export const session = {
  get() {
    try {
      const s = JSON.parse(sessionStorage.getItem(KEY) || "null");
      if (s && s.expires_at && Date.parse(s.expires_at) <= Date.now()) {
        sessionStorage.removeItem(KEY);
        return null;
      }
      return s;
    } catch {
      return null;
    }
  },
  set(value) {
    sessionStorage.setItem(KEY, JSON.stringify(value));
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

export class ApiError extends Error {
  constructor(status, body, message) {
    super(message);
    this.status = status;
    this.body = body;
    /** the separate reasons a rule check gave (a refused override), each a sentence */
    this.reasons = (body && Array.isArray(body.reasons) && body.reasons) || [];
  }
}

function fieldOf(entry) {
  if (entry.field) return entry.record ? `${entry.record} · ${entry.field}` : entry.field;
  if (Array.isArray(entry.loc)) return entry.loc.filter((p) => p !== "body").join(".");
  return "";
}

/** The per-field problems of an error body (the problem's `errors`), or []. */
export function fieldErrors(body) {
  return (body && Array.isArray(body.errors) && body.errors) || [];
}

/** The service's explanation of a failure as one sentence (or a few, joined). */
export function describe(status, body) {
  let detail = "";
  const errors = fieldErrors(body);
  if (errors.length) {
    detail = errors
      .map((e) => t("err_field", { field: fieldOf(e), message: e.message || "" }))
      .join("; ");
  } else if (body && typeof body.detail === "string") detail = body.detail;
  else if (typeof body === "string") detail = body.slice(0, 300);
  if (status === 401) return t("err_session");
  if (status === 403) return t("err_forbidden", { detail });
  if (status === 404) return t("err_not_found", { detail });
  if (status === 409) return t("err_conflict", { detail });
  if (status === 422) return t("err_rules", { detail });
  if (status === 429) return t("err_too_many", { detail });
  if (status >= 500) return t("err_server", { status });
  return detail || `HTTP ${status}`;
}

/**
 * Call the API. `options`: method, json (a body to send as JSON), headers, etag (sent as
 * If-None-Match: a 304 answers `{notModified: true}`), raw (return the Response).
 */
export async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  const s = session.get();
  if (s && s.token) headers.Authorization = `Bearer ${s.token}`;
  if (options.etag) headers["If-None-Match"] = options.etag;
  let body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  let response;
  try {
    response = await fetch(path, { method: options.method || "GET", headers, body });
  } catch {
    throw new ApiError(0, null, t("err_network"));
  }
  if (response.status === 304) return { notModified: true, etag: options.etag };
  if (options.raw && response.ok) return response;
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json")
    ? await response.json().catch(() => null)
    : await response.text().catch(() => "");
  if (!response.ok) {
    if (response.status === 401 && !options.allowUnauthorized) {
      session.clear();
      redirectToSignIn();
    }
    throw new ApiError(response.status, data, describe(response.status, data));
  }
  if (data && typeof data === "object" && !Array.isArray(data)) {
    Object.defineProperty(data, "etag", { value: response.headers.get("etag"), enumerable: false });
  }
  return data;
}

export function redirectToSignIn() {
  const next = location.pathname + location.search;
  location.assign(`/sign-in?next=${encodeURIComponent(next)}`);
}

/** The signed-in user, or null and a trip to the sign-in page (the caller stops there). */
export function requireSession() {
  const s = session.get();
  if (!s || !s.token) {
    redirectToSignIn();
    return null;
  }
  return s;
}
