// What every signed-in page shares: the header (app name, navigation, who is signed in,
// sign-out) and the status line where errors are shown in words.
//
// The navigation offers each role the pages it can use: the call centre only its booking
// page (it reads no board, plans or simulations), which it is also sent to from any other
// page; the booking page is offered to those who may book, the crew quality page to the
// office roles that read figures.

import { api, requireSession, session } from "./api.js";
import { applyI18n, t } from "./i18n.js";

/** The pages each link leads to, and the roles it is offered to (null: every office role). */
const PAGES = [
  { page: "board", key: "nav_board", roles: null },
  { page: "booking", key: "nav_booking", roles: ["dispatcher", "admin", "call_centre"] },
  { page: "season", key: "nav_season", roles: null },
  { page: "quality", key: "nav_quality", roles: ["manager", "dispatcher", "planner", "admin"] },
  { page: "worklist", key: "nav_worklist", roles: ["dispatcher", "admin", "manager"] },
];
/** roles that use the booking page only */
const BOOKING_ONLY = new Set(["call_centre"]);

/** Fill the page's `<header class="app-header">` and return the session; null when the
 * visitor is not signed in (he is on his way to the sign-in page: the page does nothing)
 * or is sent on to the one page his role uses. */
export function startPage(active) {
  const s = requireSession();
  if (!s) return null;
  if (BOOKING_ONLY.has(s.role) && active !== "booking") {
    location.replace("/booking");
    return null;
  }
  const offered = (p) => (p.roles ? p.roles.includes(s.role) : !BOOKING_ONLY.has(s.role));
  const links = PAGES.filter(offered)
    .map((p) => `<a href="/${p.page}" data-page="${p.page}" data-i18n="${p.key}"></a>`)
    .join("");
  const header = document.querySelector("header.app-header");
  header.innerHTML = `
    <span class="brand" data-i18n="app_name"></span>
    <nav aria-label="main">
      ${links}
      <a href="/docs" data-i18n="nav_api"></a>
    </nav>
    <span class="who" id="who"></span>
    <button type="button" id="sign-out" data-i18n="sign_out"></button>`;
  for (const a of header.querySelectorAll("nav a")) {
    if (a.dataset.page === active) a.setAttribute("aria-current", "page");
  }
  applyI18n();
  header.querySelector("#who").textContent = t("signed_in_as", {
    user: s.subject,
    role: t(`role_${s.role}`),
  });
  header.querySelector("#sign-out").addEventListener("click", signOut);
  return s;
}

export async function signOut() {
  try {
    await api("/auth/sign-out", { method: "POST", allowUnauthorized: true });
  } catch {
    // signing out locally is what matters; the server only records it
  }
  session.clear();
  location.assign("/sign-in");
}

/** Show a message in the page's status line (`#status`): kind "error", "ok" or "info". */
export function say(message, kind = "info") {
  const el = document.getElementById("status");
  if (!el) return;
  el.textContent = message;
  el.dataset.kind = kind;
  el.hidden = !message;
}
