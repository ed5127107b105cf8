// The complaints list (`GET /complaints`: open ones, soonest due first) with each one's
// 4-hour countdown, and its first-answer form (`POST /complaints/{id}/answer`).
//
// The list is kept keyed by complaint id: a refresh updates the countdowns in place and adds
// or drops items, so an answer being typed survives the 30-second refresh.

import { api } from "./api.js";
import { el } from "./dom.js";
import { label, t } from "./i18n.js";
import { clearError, fmtWhen, showError } from "./worklist-forms.js";

/** "2 h 10 min left" / "overdue 35 min" from the service's minutes_left. */
export function countdown(minutes) {
  if (minutes === null || minutes === undefined) return "";
  const over = minutes < 0;
  const total = Math.abs(minutes);
  const h = Math.floor(total / 60);
  const m = total % 60;
  if (over) return h ? t("overdue_hm", { h, m }) : t("overdue_m", { m });
  return h ? t("left_hm", { h, m }) : t("left_m", { m });
}

function answerForm(item, onAnswered) {
  const form = el("form", "answer-form");
  form.noValidate = true;
  const id = `answer-${item.id}`;
  const lab = el("label", "", t("answer_label"));
  lab.htmlFor = id;
  const text = el("textarea");
  text.id = id;
  text.rows = 2;
  text.required = true;
  text.dataset.field = "answer";
  const button = el("button", "primary", t("answer"));
  button.type = "submit";
  form.append(lab, text, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError(form);
    const answer = text.value.trim();
    if (!answer) {
      text.setAttribute("aria-invalid", "true");
      text.focus();
      return;
    }
    button.disabled = true;
    try {
      await api(`/complaints/${item.id}/answer`, { method: "POST", json: { answer } });
      onAnswered(item);
    } catch (err) {
      showError(form, err);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function build(item, canAct, onAnswered) {
  const li = el("li", "complaint");
  li.dataset.id = String(item.id);
  const head = el("div", "item-head");
  const clock = el("strong", "countdown");
  const badge = el("span", "badge bad escalated-badge", t("escalated"));
  head.append(clock, badge);
  const facts = el("div", "facts");
  facts.append(
    el("span", "job", t("complaint_head", { id: item.id, job: item.job_id })),
    el("span", "", item.crew_id ? t("crew", { crew: item.crew_id }) : t("no_crew")),
    el("span", "", item.region),
    el("span", "category", label("cat_", item.category)),
    el("span", "", label("ch_", item.channel)),
  );
  const times = el("div", "times muted");
  li.append(head, facts, times);
  if (item.text !== null && item.text !== undefined) li.append(el("p", "complaint-text", item.text));
  if (canAct) li.append(answerForm(item, onAnswered));
  return li;
}

function update(li, item) {
  const over = item.state === "overdue" || item.minutes_left < 0;
  li.classList.toggle("overdue", over);
  li.dataset.state = item.state;
  li.querySelector(".countdown").textContent = countdown(item.minutes_left);
  li.querySelector(".escalated-badge").hidden = !item.escalated_at;
  li.querySelector(".times").textContent = `${t("received", {
    time: fmtWhen(item.received_at),
  })} · ${t("due_at", { time: fmtWhen(item.answer_due_at) })}`;
}

/** Show `items` in `list` (an `<ul>`), in their order, reusing the items already shown. */
export function renderComplaints(list, items, canAct, onAnswered) {
  const shown = new Map([...list.children].map((li) => [li.dataset.id, li]));
  const rows = items.map((item) => {
    const li = shown.get(String(item.id)) || build(item, canAct, onAnswered);
    update(li, item);
    return li;
  });
  // replaceChildren would move (and blur) a focused textarea; only reorder when needed
  const same = rows.length === list.children.length && rows.every((li, i) => list.children[i] === li);
  if (!same) list.replaceChildren(...rows);
}

/** The "Record a complaint" form: `POST /complaints`; `onRecorded(complaint)` on success. */
export function wireRecordForm(form, onRecorded) {
  const category = form.querySelector("#c-category");
  for (const code of ["lateness", "attitude", "damage", "quality", "no_show", "billing", "other"]) {
    const option = el("option", "", label("cat_", code));
    option.value = code;
    category.append(option);
  }
  const channel = form.querySelector("#c-channel");
  for (const code of ["phone", "app", "store", "web", "other"]) {
    const option = el("option", "", label("ch_", code));
    option.value = code;
    channel.append(option);
  }
  category.value = "other";
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError(form);
    const body = {
      job_id: form.querySelector("#c-job").value.trim(),
      category: category.value,
      channel: channel.value,
      text: form.querySelector("#c-text").value.trim(),
    };
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const complaint = await api("/complaints", { method: "POST", json: body });
      form.querySelector("#c-job").value = "";
      form.querySelector("#c-text").value = "";
      onRecorded(complaint);
    } catch (err) {
      showError(form, err);
    } finally {
      button.disabled = false;
    }
  });
}
