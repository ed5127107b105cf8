// One stop in detail, and what the driver can report on it.
//
// Only the next legal reports are offered (the events' stages: departed < arrived < started <
// completed or failed; stages may be skipped, none repeated, nothing after the end), from the
// stop's status with the driver's queued reports applied. A tapped button is disabled at once
// and the report queued with its own Idempotency-Key, so a double tap sends one report.

import { el } from "./dom.js";
import { fmtClock, label, t } from "./i18n.js";
import {
  assistLine,
  bringLine,
  changeLine,
  doorLine,
  isDone,
  statusBadge,
  windowLine,
} from "./driver-route.js";
import { completeForm, failForm } from "./driver-forms.js";
import { amapLink, baiduAppLink, baiduWebLink, geoLink } from "./driver-nav.js";

/** The reports offered in `status`: [type, primary?]. */
export function nextActions(status) {
  switch (status) {
    case "assigned":
      return [["departed", true], ["arrived", false]];
    case "en_route":
      return [["arrived", true], ["failed", false]];
    case "on_site":
      return [["completed", true], ["started", false], ["failed", false]];
    case "in_progress":
      return [["completed", true], ["failed", false]];
    default:
      return [];
  }
}

function row(term, value) {
  const wrap = el("div", "kv");
  wrap.append(el("dt", "", term), el("dd", "", value));
  return wrap;
}

function linkButton(href, text, cls = "button") {
  const a = el("a", cls, text);
  a.href = href;
  return a;
}

function navigation(stop, lastFix) {
  const box = el("div", "nav-links");
  box.append(el("h3", "", t("navigate")));
  const amap = linkButton(amapLink(stop), t("nav_amap"), "button nav-amap");
  amap.target = "_blank";
  amap.rel = "noopener";
  const baidu = linkButton(baiduAppLink(stop), t("nav_baidu"), "button nav-baidu");
  baidu.dataset.web = baiduWebLink(stop, lastFix);
  baidu.addEventListener("click", () => {
    // without the app nothing opens: go to Baidu's web page if the app did not take over
    const web = baidu.dataset.web;
    setTimeout(() => {
      if (document.visibilityState === "visible") location.href = web;
    }, 1500);
  });
  const geo = linkButton(geoLink(stop), t("nav_other"), "button nav-geo");
  box.append(amap, baidu, geo);
  return box;
}

/**
 * Fill `root` with the stop. `ctx`: {total, lastFix, onReport(type, fields, attachments),
 * onDismiss(seq), onBack()}.
 */
export function renderStop(root, stop, ctx) {
  root.replaceChildren();
  const back = el("a", "back", t("back_to_list"));
  back.href = "#";
  root.append(back);
  if (!stop) {
    root.append(el("p", "empty", t("stop_not_on_route")));
    return;
  }
  const head = el("div", "detail-head");
  head.append(
    el("h2", "", t("stop_of", { seq: stop.seq, total: ctx.total })),
    statusBadge(stop),
  );
  root.append(head);
  const kind = [label("kind_", stop.kind)];
  if (stop.priority && stop.priority !== "normal") kind.push(label("prio_", stop.priority));
  root.append(el("p", "detail-kind", `${kind.join(" · ")} · ${stop.job_id}`));
  const change = changeLine(stop);
  if (change) root.append(el("p", "stop-change", change));

  if (stop.customer_name || stop.customer_phone) {
    const who = el("div", "customer");
    if (stop.customer_name) who.append(el("strong", "", stop.customer_name));
    if (stop.customer_phone) {
      const tel = linkButton(`tel:${stop.customer_phone.replace(/[^\d+]/g, "")}`, "", "button call");
      tel.textContent = t("call", { phone: stop.customer_phone });
      who.append(tel);
    }
    root.append(who);
  }
  if (stop.address) root.append(el("p", "detail-address", stop.address));
  root.append(navigation(stop, ctx.lastFix));

  const facts = el("dl", "facts");
  facts.append(row(t("eta"), fmtClock(stop.eta)));
  const win = windowLine(stop);
  if (win) facts.append(row(t("window_label"), win.replace(/^[^0-9]*/, "")));
  facts.append(row(t("work_time"), `${fmtClock(stop.start)}–${fmtClock(stop.end)}`));
  const door = doorLine(stop);
  if (door) facts.append(row(t("door"), door));
  facts.append(row(t("bring"), bringLine(stop.bring)));
  facts.append(row(t("order"), stop.order_id));
  root.append(facts);
  const assist = assistLine(stop);
  if (assist) {
    const box = el("div", "assist-box");
    box.append(el("h3", "", t(stop.assist.role === "assisting" ? "assist_title_for" : "assist_title_by")));
    box.append(el("p", "assist-line", assist));
    const list = el("ul");
    for (const partner of stop.assist.partners) {
      const text = partner.crew_id
        ? t("assist_partner", { job: partner.job_id, crew: partner.crew_id })
        : t("assist_partner_open", { job: partner.job_id });
      const li = el("li", "", text);
      li.dataset.job = partner.job_id;
      list.append(li);
    }
    box.append(list);
    root.append(box);
  }
  if (stop.linked && stop.linked.length) {
    const linked = el("div", "linked");
    linked.append(el("h3", "", t("linked_jobs")));
    const list = el("ul");
    for (const job of stop.linked) {
      list.append(
        el("li", "", t("linked_line", {
          kind: label("kind_", job.kind),
          job: job.job_id,
          crew: job.crew_id,
          end: fmtClock(job.end),
        })),
      ); // prettier-ignore
    }
    linked.append(list);
    root.append(linked);
  }

  for (const entry of stop.rejected) {
    const box = el("div", "refusal rejected-entry");
    box.setAttribute("role", "alert");
    box.append(
      el("strong", "", t("rejected_title", { action: label("act_", entry.type) })),
      el("p", "", entry.error),
    );
    const ok = el("button", "", t("dismiss"));
    ok.type = "button";
    ok.addEventListener("click", () => ctx.onDismiss(entry.seq));
    box.append(ok);
    root.append(box);
  }
  if (stop.waiting.length) {
    const names = stop.waiting.map((e) => label("act_", e.type)).join(", ");
    root.append(el("p", "stop-waiting", t("waiting_here", { actions: names })));
  }
  root.append(actions(stop, ctx));
}

function actions(stop, ctx) {
  const box = el("div", "actions");
  if (isDone(stop.status)) {
    box.append(el("p", "muted", t("visit_over", { status: label("st_", stop.status) })));
    return box;
  }
  const buttons = [];
  const lock = () => buttons.forEach((b) => (b.disabled = true));
  for (const [type, primary] of nextActions(stop.status)) {
    const button = el("button", `big act act-${type}${primary ? " primary" : ""}`);
    button.type = "button";
    button.textContent = label("act_", type);
    button.dataset.action = type;
    buttons.push(button);
    button.addEventListener("click", async () => {
      if (button.disabled) return;
      if (type === "completed" || type === "failed") {
        const make = type === "completed" ? completeForm : failForm;
        const form = make(stop, {
          onSubmit: (fields, attachments) => ctx.onReport(type, fields, attachments),
          onCancel: () => {
            form.remove();
            box.hidden = false;
          },
        });
        box.hidden = true;
        box.after(form);
        form.scrollIntoView({ block: "start" });
        return;
      }
      lock(); // the first tap wins; the view is redrawn from the queue
      await ctx.onReport(type, {}, []);
    });
    box.append(button);
  }
  return box;
}
