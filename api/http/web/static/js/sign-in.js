// The sign-in page: user name and password to `POST /auth/sign-in`; the token it answers is
// kept in this tab's sessionStorage and the user goes on to the page asked for (`?next=`,
// a path on this service only).

import { api, session } from "./api.js";
import { applyI18n, registerStrings, t } from "./i18n.js";

registerStrings({
  en: {
    sign_in_intro: "Sign in with the user name and password you were given.",
    username: "User name",
    password: "Password",
    sign_in: "Sign in",
    signing_in: "Signing in…",
    missing_fields: "Enter both your user name and your password.",
    wrong_credentials: "Wrong user name or password.",
  },
  zh: {
    sign_in_intro: "请使用分配给您的用户名和密码登录。",
    username: "用户名",
    password: "密码",
    sign_in: "登录",
    signing_in: "正在登录…",
    missing_fields: "请输入用户名和密码。",
    wrong_credentials: "用户名或密码错误。",
  },
});

/** Each role's own page, where it lands unless `?next=` names another. */
const HOME = { planner: "/season", manager: "/quality", call_centre: "/booking" };

/** Where to go after signing in: a local path only (never another site). */
function nextPage(role) {
  const next = new URLSearchParams(location.search).get("next") || "";
  if (next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/sign-in")) return next;
  return HOME[role] || "/board";
}

function show(message) {
  const el = document.getElementById("status");
  el.textContent = message;
  el.hidden = !message;
}

async function submit(event) {
  event.preventDefault();
  const username = document.getElementById("username").value.trim();
  const password = document.getElementById("password").value;
  if (!username || !password) {
    show(t("missing_fields"));
    return;
  }
  const button = document.getElementById("sign-in");
  button.disabled = true;
  button.textContent = t("signing_in");
  try {
    const answer = await api("/auth/sign-in", {
      method: "POST",
      json: { username, password },
      allowUnauthorized: true,
    });
    session.set({
      token: answer.token,
      subject: answer.subject,
      role: answer.role,
      crew_id: answer.crew_id,
      regions: answer.regions,
      expires_at: answer.expires_at,
    });
    location.assign(nextPage(answer.role));
  } catch (err) {
    show(err.status === 401 ? t("wrong_credentials") : err.message);
    document.getElementById("password").select();
  } finally {
    button.disabled = false;
    button.textContent = t("sign_in");
  }
}

applyI18n();
document.getElementById("sign-in-form").addEventListener("submit", submit);
document.getElementById("username").focus();
