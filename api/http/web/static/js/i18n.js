// Page text in Chinese (zh-CN) and English, chosen from the browser's language.
//
// Each page registers its own strings (`registerStrings({en: {...}, zh: {...}})`) and marks
// static text in its HTML with `data-i18n="key"` (text), `data-i18n-label="key"`
// (aria-label and title) or `data-i18n-placeholder="key"`; `applyI18n()` fills them in.
// A key missing in Chinese falls back to English, a key missing in both shows the key, so a
// forgotten string is visible rather than blank.

const strings = { en: {}, zh: {} };

const SAVED = "fieldroute.lang";

/** "zh" for any Chinese browser language that comes first, else "en". `?lang=` overrides,
 * then a language chosen in a page (`chooseLanguage`, kept in this browser). */
export function pickLanguage(languages = navigator.languages || [navigator.language]) {
  const forced = new URLSearchParams(location.search).get("lang");
  if (forced === "zh" || forced === "en") return forced;
  let saved = null;
  try {
    saved = localStorage.getItem(SAVED);
  } catch {
    // storage refused (a locked-down browser): the browser's language decides
  }
  if (saved === "zh" || saved === "en") return saved;
  for (const lang of languages) {
    const l = (lang || "").toLowerCase();
    if (l.startsWith("zh")) return "zh";
    if (l.startsWith("en")) return "en";
  }
  return "en";
}

export const lang = pickLanguage();

/** Keep `code` ("zh", "en") as this browser's language for the pages; they read it as they
 * load (the caller reloads). */
export function chooseLanguage(code) {
  try {
    localStorage.setItem(SAVED, code);
  } catch {
    // not kept: this page still switches on reload with ?lang=
  }
}

export function registerStrings(table) {
  for (const code of Object.keys(strings)) Object.assign(strings[code], table[code] || {});
}

/** The text of `key` with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = strings[lang][key] ?? strings.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

/** The name of a code the service sends (`label("kind_", "delivery")`), the code itself when
 * no string is registered for it: a new code shows as sent rather than as a key. */
export function label(prefix, code) {
  if (code === null || code === undefined) return "";
  const key = `${prefix}${code}`;
  const text = t(key);
  return text === key ? String(code) : text;
}

export function applyI18n(root = document) {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nLabel));
    el.title = t(el.dataset.i18nLabel);
  }
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
}

/** Numbers and times in the page's language. */
export function fmtNumber(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return Number(value).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

export function fmtPercent(share, digits = 1) {
  if (share === null || share === undefined) return "–";
  return `${fmtNumber(share * 100, digits)} %`;
}

/** "09:40" from a naive local ISO time ("2026-06-18T09:40:00"): the region's clock. */
export function fmtClock(iso) {
  if (!iso) return "–";
  return String(iso).slice(11, 16);
}

registerStrings({
  en: {
    app_name: "fieldroute",
    nav_board: "Dispatch board",
    nav_season: "Season planner",
    nav_booking: "Booking",
    nav_quality: "Crew quality",
    nav_worklist: "Worklist",
    nav_api: "API docs",
    sign_out: "Sign out",
    signed_in_as: "{user} ({role})",
    role_dispatcher: "dispatcher",
    role_planner: "planner",
    role_manager: "manager",
    role_admin: "admin",
    role_driver: "driver",
    role_call_centre: "call centre",
    err_network: "The service cannot be reached. Check the connection and try again.",
    err_session: "Your session has ended. Please sign in again.",
    err_forbidden: "You are not allowed to do this: {detail}",
    err_not_found: "Not found: {detail}",
    err_conflict: "Someone or something changed this meanwhile: {detail}",
    err_rules: "Refused: {detail}",
    err_too_many: "{detail}",
    err_server: "The service failed ({status}). The error has been logged; try again.",
    err_field: "{field}: {message}",
    close: "Close",
    loading: "Loading…",
  },
  zh: {
    app_name: "fieldroute 调度",
    nav_board: "调度看板",
    nav_season: "旺季规划",
    nav_booking: "预约下单",
    nav_quality: "班组质量",
    nav_worklist: "工作清单",
    nav_api: "接口文档",
    sign_out: "退出登录",
    signed_in_as: "{user}（{role}）",
    role_dispatcher: "调度员",
    role_planner: "规划员",
    role_manager: "经理",
    role_admin: "管理员",
    role_driver: "司机",
    role_call_centre: "客服",
    err_network: "无法连接服务，请检查网络后重试。",
    err_session: "登录已失效，请重新登录。",
    err_forbidden: "无权执行此操作：{detail}",
    err_not_found: "未找到：{detail}",
    err_conflict: "数据已被他人或系统修改：{detail}",
    err_rules: "被拒绝：{detail}",
    err_too_many: "{detail}",
    err_server: "服务出错（{status}），已记录日志，请重试。",
    err_field: "{field}：{message}",
    close: "关闭",
    loading: "加载中…",
  },
});
