// What every signed-in page shares: the header (app name, navigation, who is signed in,
// sign-out) and the status line where errors are shown in words.

import { api, requireSession, session } from "./api.js";
import { applyI18n, t } from "./i18n.js";

/** Fill the page's `<header class="app-header">` and return the session; null when the
 * visitor is not signed in (he is on his way to the sign-in page: the page does nothing). */
export function startPage(active) {
  const s = requireSession();
  if (!s) return null;
  const header = document.querySelector("header.app-header");
  header.innerHTML = `
    <span class="brand" data-i18n="app_name"></span>
    <nav aria-label="main">
      <a href="/board" data-page="board" data-i18n="nav_board"></a>
      <a href="/season" data-page="season" data-i18n="nav_season"></a>
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
