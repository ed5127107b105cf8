// The follow-up calls due (`GET /follow-ups/due`: completed jobs no call has reached yet,
// oldest completion first), each with a small form to log a call
// (`POST /jobs/{id}/follow-ups`: reached or not, and when reached, satisfied or not).
//
// Keyed by job id like the complaints, so a half-filled form survives the refresh.

import { api } from "./api.js";
import { el } from "./dom.js";
import { label, t } from "./i18n.js";
import { clearError, fmtWhen, showError } from "./worklist-forms.js";

function radio(name, value, text, field) {
  const wrap = el("label", "choice");
  const input = el("input");
  input.type = "radio";
  input.name = name;
  input.value = value;
  input.dataset.field = field;
  wrap.append(input, el("span", "", text));
  return wrap;
}

function callForm(item, onLogged) {
  const job = item.job.id;
  const form = el("form", "call-form");
  form.noValidate = true;
  const reached = el("fieldset", "choices");
  reached.append(
    el("legend", "visually-hidden", t("reached")),
    radio(`reached-${job}`, "yes", t("reached"), "reached"),
    radio(`reached-${job}`, "no", t("not_reached"), "reached"),
  );
  const satisfied = el("fieldset", "choices satisfied");
  satisfied.append(
    el("legend", "", t("satisfied")),
    radio(`satisfied-${job}`, "yes", t("yes"), "satisfied"),
    radio(`satisfied-${job}`, "no", t("no"), "satisfied"),
  );
  satisfied.disabled = true;
  const button = el("button", "primary", t("log_call"));
  button.type = "submit";
  form.append(reached, satisfied, button);
  form.addEventListener("change", () => {
    const answered = form.querySelector(`input[name="reached-${job}"]:checked`);
    satisfied.disabled = !answered || answered.value !== "yes";
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError(form);
    const picked = form.querySelector(`input[name="reached-${job}"]:checked`);
    if (!picked) {
      showError(form, t("err_choose"));
      form.querySelector(`input[name="reached-${job}"]`).focus();
      return;
    }
    const body = { reached: picked.value === "yes" };
    if (body.reached) {
      const happy = form.querySelector(`input[name="satisfied-${job}"]:checked`);
      body.satisfied = happy ? happy.value === "yes" : null;
    }
    button.disabled = true;
    try {
      await api(`/jobs/${encodeURIComponent(job)}/follow-ups`, { method: "POST", json: body });
      form.reset();
      satisfied.disabled = true;
      onLogged(item, body.reached);
    } catch (err) {
      showError(form, err);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function build(item, canAct, onLogged) {
  const job = item.job;
  const li = el("li", "follow-up");
  li.dataset.job = job.id;
  const head = el("div", "item-head");
  head.append(
    el("strong", "job", job.id),
    el("span", "", label("kind_", job.kind)),
    el("span", "", job.crew_id ? t("crew", { crew: job.crew_id }) : t("no_crew")),
    el("span", "", job.region),
  );
  const customer = el("div", "customer");
  const record = job.record || {};
  if (record.customer_name) customer.append(el("span", "", record.customer_name));
  if (record.customer_phone) customer.append(el("span", "phone", record.customer_phone));
  li.append(head, el("div", "times muted"));
  if (customer.children.length) li.append(customer);
  if (canAct) li.append(callForm(item, onLogged));
  return li;
}

function update(li, item) {
  const when = fmtWhen(item.last_called_at);
  let calls = t("calls_none");
  if (item.calls === 1) calls = t("calls_one", { time: when });
  else if (item.calls > 1) calls = t("calls_some", { n: item.calls, time: when });
  li.querySelector(".times").textContent =
    `${t("completed", { time: fmtWhen(item.job.completed_at) })} · ${calls}`;
  li.classList.toggle("called", item.calls > 0);
}

/** Show `items` in `list`, in their order, reusing the items already shown. */
export function renderFollowUps(list, items, canAct, onLogged) {
  const shown = new Map([...list.children].map((li) => [li.dataset.job, li]));
  const rows = items.map((item) => {
    const li = shown.get(item.job.id) || build(item, canAct, onLogged);
    update(li, item);
    return li;
  });
  const same = rows.length === list.children.length && rows.every((li, i) => list.children[i] === li);
  if (!same) list.replaceChildren(...rows);
}
