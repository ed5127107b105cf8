"""Season figures per day, per zone and per week, computed from the jobs' final records.

Definitions (the service's, docs/service-metrics.md, applied to simulated jobs):

* **Due day** of a job: the day of its promise deadline, or the day before when the deadline
  falls before the 08:00 shift start (nobody works at 03:00). A job counts **on time** when it
  was done by its deadline; it is judged at the end of its due day (a job still open then is
  late). Cancelled jobs and jobs whose customer was absent at a visit are left out (the
  promise is excused), and so are jobs due after the season's last day.
* **Share of deliveries within 12 h / installations within 24 h** of a day, on both clocks of
  `dispatch.promise_clocks`, over the same jobs (those due that day; urban and rural, each
  under its own policy: rural promises are longer). `share_delivery_12h`, `share_install_24h`
  and their week and season figures are on the **planning clock**: done by the deadline
  (service hours: an order after 18:00 counts from 08:00). The `..._customer` keys are on the
  **customer's clock**: done within the promise hours of the order in calendar hours. The
  capacity recommendation is judged on the planning clock.
* **Late installations by booking** (`late_installs_<booking>` and `..._customer` per day
  and week, counted on their due day): "same_day" (a same-day order's installation after
  its delivery), "next_morning" (booked on the next morning at order time), "booked" (an
  order for a later day, before 07:00 or after the same-day cut-off).
* **Install waiting time**: hours from the order to the installation's end, by completion day.
* **Utilisation**: driving and working time over shift time, crews on duty; for the season,
  both summed over its days (a day with more shift hours weighs more, as in the service
  metrics; not a mean of the daily ratios per crew).
* **Callback rate**: completed installations and repairs that will need a repeat visit, over
  completed installations and repairs (by completion day); `callbacks_opened` counts the
  repeat-visit jobs that arrived that day.
* **Follow-up coverage**: completed jobs that got their follow-up call, by completion day (the
  last `followup_max_age_days` of the season may still be called after it ends).
* **Assisted installations** (two crews at one visit, `Job.assists`): an order's promise,
  waiting time, callback and follow-up call are its assisted installation's; the assisting
  job is left out of those figures (not due, not waiting, not called), so an order is
  counted once. It is a job done by a crew: `jobs_done`, hours, kilometres, utilisation and
  cost count both crews' work. `assists_done` counts the assisting jobs done (= two-crew
  visits done); `assist_pairs_offered` / `assist_pairs_planned` the pairs offered to the
  planner whole and planned whole that day (a pair offered on two days counts twice).
* **Cost** (CNY): own crews' shift hours at their hourly cost (sick crews are paid too),
  temporary crews' daily cost and one onboarding fee per hire, overtime at the overtime
  factor, and kilometres at each crew's per-km cost. A crew on an evening shift or a
  specialist temporary team costs its premium factor times its day rate
  (`crews.evening_cost_factor`, `crews.temp_specialist_cost_factor`); `lever_cost_cny` is the
  part of the cost those premiums add.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from dispatch.models import JobKind
from dispatch.promise_clocks import CUSTOMER_CLOCK, promise_hours
from dispatch.season.demand import day_levels
from dispatch.season.state import JobRecord, SeasonState

if TYPE_CHECKING:
    from dispatch.season.settings import SeasonSettings

SHIFT_START = time(8, 0)


def due_day(deadline: datetime, start: datetime) -> int:
    """Season day index on which a job with this deadline must be done (module doc)."""
    day = deadline.date()
    if deadline.time() <= SHIFT_START:
        day -= timedelta(days=1)
    return (day - start.date()).days


def _on_time(r: JobRecord) -> bool:
    return r.status == "done" and r.done_at is not None and r.done_at <= r.deadline


def _customer_kept(r: JobRecord) -> bool:
    """Done within its promise hours of the order in calendar hours (the customer's clock)."""
    hours = promise_hours(r.job.kind, r.job.region)
    return (
        r.status == "done"
        and r.done_at is not None
        and hours is not None
        and CUSTOMER_CLOCK.within(r.job.confirmed_at, r.done_at, hours)
    )


def _counts() -> dict[str, float]:
    return defaultdict(float)


def season_tables(state: SeasonState) -> dict[str, Any]:  # noqa: C901, PLR0915 - one pass over the finished season filling every table; split per table
    """days, zones, weeks, install_waits_h, summary and ledger of a finished season."""
    s = state.s
    start = datetime.combine(s.start, time(0))
    n = s.days
    day_rows: list[dict[str, float]] = [_counts() for _ in range(n)]
    zone_rows: dict[tuple[int, str], dict[str, float]] = defaultdict(_counts)
    waits: list[list[float]] = [[] for _ in range(n)]
    all_waits: list[float] = []
    completed_ir = callbacks_drawn = 0
    for order_id, day in state.order_day.items():
        zone = state.jobs[state.orders[order_id][0]].job.zone or "-"
        day_rows[day]["orders"] += 1
        zone_rows[(day, zone)]["orders"] += 1
        if state.order_kind[order_id] == "callback":
            day_rows[day]["callbacks_opened"] += 1
            zone_rows[(day, zone)]["callbacks_opened"] += 1
    can_do: dict[tuple, bool] = {}
    specialists = s.crews.temp_specialist_share > 0

    def temp_can_do(job) -> bool:  # cached: the check builds crews
        sig = (job.kind, job.skills, job.people)
        if sig not in can_do:
            can_do[sig] = state.city.temp_can_do(job, specialists)
        return can_do[sig]

    for r in state.jobs.values():
        job = r.job
        zone = job.zone or "-"
        if r.status == "done" and r.done_day is not None:
            row, zrow = day_rows[r.done_day], zone_rows[(r.done_day, zone)]
            row["jobs_done"] += 1
            zrow["jobs_done"] += 1
            if job.assists is not None:  # an assisting crew's half (module doc)
                row["assists_done"] += 1
                zrow["assists_done"] += 1
                continue
            if job.kind is JobKind.INSTALLATION and r.done_at is not None:
                hours = (r.done_at - job.confirmed_at).total_seconds() / 3600
                waits[r.done_day].append(hours)
                all_waits.append(hours)
            if job.kind in (JobKind.INSTALLATION, JobKind.REPAIR):
                row["completed_install_repair"] += 1
                row["callbacks_drawn"] += r.callback_drawn
                completed_ir += 1
                callbacks_drawn += r.callback_drawn
            row["followups_called"] += r.called_day is not None
        if r.status == "cancelled":
            day_rows[min(n - 1, r.release_day)]["jobs_cancelled"] += 1
        if r.excused or r.status == "cancelled":
            continue
        if job.kind not in (JobKind.DELIVERY, JobKind.INSTALLATION) or job.assists is not None:
            continue
        due = due_day(r.deadline, start)
        if not 0 <= due < n:
            continue
        key = "deliveries" if job.kind is JobKind.DELIVERY else "installs"
        on_time = _on_time(r)
        customer = _customer_kept(r)
        for row in (day_rows[due], zone_rows[(due, zone)]):
            row[f"{key}_due"] += 1
            row[f"{key}_on_time"] += on_time
            row[f"{key}_within_customer"] += customer
        if key == "installs":
            booked = booking_of(r, state.order_day[job.order_id], s.demand.same_day_cutoff_hour)
            day_rows[due][f"late_installs_{booked}"] += not on_time
            day_rows[due][f"late_installs_{booked}_customer"] += not customer
        if key == "installs" and not temp_can_do(job):
            day_rows[due]["own_only_installs_due"] += 1
            day_rows[due]["own_only_installs_on_time"] += on_time
            day_rows[due]["own_only_installs_within_customer"] += customer
    for stats in state.crew_days:
        row = day_rows[stats.day]
        row["jobs_offered"] = stats.jobs_offered
        row["cost_cny"] += stats.onboarding_cost
        for zone, z in stats.zones.items():
            zrow = zone_rows[(stats.day, zone)]
            for target in (row, zrow):
                target["crews_on_duty"] += z.crews
                target["temp_crews"] += z.temp
                target["shift_h"] += z.shift_s / 3600
                target["worked_h"] += z.worked_s / 3600
                target["overtime_h"] += z.overtime_s / 3600
                target["km"] += z.km
                target["cost_cny"] += z.cost
                target["lever_cost_cny"] += z.lever_cost
                target["temp_jobs_done"] += z.temp_jobs
                target["install_crews"] += z.install_crews
                target["install_crew_jobs"] += z.install_crew_jobs
    for d, (offered, planned) in enumerate(state.assist_pairs):
        day_rows[d]["assist_pairs_offered"] = offered
        day_rows[d]["assist_pairs_planned"] = planned
    for d, backlog in enumerate(state.backlog):
        day_rows[d]["backlog"] = sum(backlog.values())
        for zone, count in backlog.items():
            zone_rows[(d, zone)]["backlog"] = count
    days = [_finish_row(d, s, start, row, waits[d]) for d, row in enumerate(day_rows)]
    zones = [
        {"zone": zone, **_finish_row(d, s, start, row, None)}
        for (d, zone), row in sorted(zone_rows.items())
    ]
    weeks = _weeks(days, s)
    ledger = _ledger(state)
    summary = _summary(days, weeks, all_waits, completed_ir, callbacks_drawn, ledger, s)
    summary["utilisation"] = season_utilisation(day_rows)
    summary["assisted_visits"] = sum(1 for r in state.jobs.values() if r.job.assists is not None)
    return {
        "days": days,
        "zones": zones,
        "weeks": weeks,
        "install_waits_h": [round(w, 2) for w in all_waits],
        "summary": summary,
        "ledger": ledger,
    }


#: how an installation was booked (`booking_of`), for the late installations' breakdown
BOOKINGS = ("same_day", "next_morning", "booked")


def booking_of(r: JobRecord, order_day: int, cutoff_hour: int) -> str:
    """How an installation was booked: "same_day" (a same-day order's, after its delivery
    the same afternoon), "next_morning" (a same-day order's, booked on the next morning,
    `demand.install_slot_policy`), "booked" (an order for a later day: confirmed before
    07:00 or after the same-day cut-off, its delivery slot chosen to leave room for both)."""
    same_day_order = 7 <= r.job.confirmed_at.hour < cutoff_hour
    if not same_day_order:
        return "booked"
    return "same_day" if r.release_day == order_day else "next_morning"


def season_utilisation(day_rows: Sequence[Mapping[str, float]]) -> float | None:
    """Driving and working hours over shift hours of the crews on duty, each summed over the
    days (`worked_h`, `shift_h` of the raw day rows): the module doc's definition."""
    shift = sum(r.get("shift_h", 0.0) for r in day_rows)
    worked = sum(r.get("worked_h", 0.0) for r in day_rows)
    return round(worked / shift, 4) if shift else None


def _share(on_time: float, due: float) -> float | None:
    return round(on_time / due, 4) if due else None


def install_shares(
    due: int, on_time: int, own_due: int, own_on: int, suffix: str = ""
) -> dict[str, Any]:
    """A period's installation figures, split by whether temporary crews can do them.

    `suffix` names the clock of `on_time` and `own_on` in the share keys: "" for the
    planning clock, "_customer" for the customer's (then the counts of due jobs, the same
    on both clocks, are left to the planning clock's call).
    """
    shares = {
        f"share_install_24h{suffix}": _share(on_time, due),
        # installations no temporary crew can do (skills, people): the own fleet's
        f"share_install_24h_own_only{suffix}": _share(own_on, own_due),
        # the best the period could do with every other installation on time
        f"share_install_24h_ceiling{suffix}": _share(due - own_due + own_on, due),
        # the installations temporary crews can do: what hiring more of them moves
        f"share_install_24h_temp_capable{suffix}": _share(on_time - own_on, due - own_due),
    }
    if suffix:
        return shares
    return {"installs_due": due, "own_only_installs_due": own_due, **shares}


def _finish_row(
    d: int, s: SeasonSettings, start: datetime, row: dict[str, float], waits: list[float] | None
) -> dict[str, Any]:
    out: dict[str, Any] = {"day": d, "date": (start + timedelta(days=d)).date().isoformat()}
    out["sales_level"] = round(day_levels(s, d).sales, 3)
    for key in (
        "orders", "jobs_offered", "jobs_done", "jobs_cancelled", "backlog",
        "deliveries_due", "deliveries_on_time", "installs_due", "installs_on_time",
        "crews_on_duty", "temp_crews", "callbacks_opened", "completed_install_repair",
        "callbacks_drawn", "followups_called", "temp_jobs_done", "install_crews",
        "install_crew_jobs", "own_only_installs_due", "own_only_installs_on_time",
        "deliveries_within_customer", "installs_within_customer",
        "own_only_installs_within_customer", "assists_done", "assist_pairs_offered",
        "assist_pairs_planned",
        *(f"late_installs_{b}{c}" for b in BOOKINGS for c in ("", "_customer")),
    ):  # fmt: skip
        out[key] = int(row.get(key, 0))
    out["share_delivery_12h"] = _share(row["deliveries_on_time"], row["deliveries_due"])
    out["share_install_24h"] = _share(row["installs_on_time"], row["installs_due"])
    out["share_delivery_12h_customer"] = _share(
        row["deliveries_within_customer"], row["deliveries_due"]
    )
    out["share_install_24h_customer"] = _share(row["installs_within_customer"], row["installs_due"])
    if waits is not None:
        out["install_wait_p50_h"] = round(float(np.percentile(waits, 50)), 1) if waits else None
        out["install_wait_p90_h"] = round(float(np.percentile(waits, 90)), 1) if waits else None
    shift = row.get("shift_h", 0.0)
    out["utilisation"] = round(row.get("worked_h", 0.0) / shift, 4) if shift else None
    out["overtime_h"] = round(row.get("overtime_h", 0.0), 1)
    out["km"] = round(row.get("km", 0.0), 1)
    out["callback_rate"] = _share(row["callbacks_drawn"], row["completed_install_repair"])
    # an assisting job gets no call of its own (module doc)
    out["followup_coverage"] = _share(
        row["followups_called"], row["jobs_done"] - row["assists_done"]
    )
    out["cost_cny"] = round(row.get("cost_cny", 0.0), 0)
    out["lever_cost_cny"] = round(row.get("lever_cost_cny", 0.0), 0)
    return out


def _weeks(days: list[dict[str, Any]], s: SeasonSettings) -> list[dict[str, Any]]:
    out = []
    for w in range(s.weeks):
        rows = days[7 * w : 7 * w + 7]
        due = sum(r["installs_due"] for r in rows)
        on_time = sum(r["installs_on_time"] for r in rows)
        d_due = sum(r["deliveries_due"] for r in rows)
        d_on = sum(r["deliveries_on_time"] for r in rows)
        own_due = sum(r["own_only_installs_due"] for r in rows)
        own_on = sum(r["own_only_installs_on_time"] for r in rows)
        own_cust = sum(r["own_only_installs_within_customer"] for r in rows)
        d_cust = sum(r["deliveries_within_customer"] for r in rows)
        i_cust = sum(r["installs_within_customer"] for r in rows)
        out.append(
            {
                "week": w,
                "first_day": rows[0]["day"],
                "last_day": rows[-1]["day"],
                "peak_days": sum(r["sales_level"] > 1.0 for r in rows),
                "max_sales_level": max(r["sales_level"] for r in rows),
                "temp_crews": max(r["temp_crews"] for r in rows),
                **install_shares(due, on_time, own_due, own_on),
                **install_shares(due, i_cust, own_due, own_cust, "_customer"),
                "share_delivery_12h": _share(d_on, d_due),
                "share_delivery_12h_customer": _share(d_cust, d_due),
                # late installations by booking (`booking_of`), on both clocks
                **{
                    f"late_installs_{b}{c}": sum(r[f"late_installs_{b}{c}"] for r in rows)
                    for b in BOOKINGS
                    for c in ("", "_customer")
                },
                "backlog_end": rows[-1]["backlog"],
                "cost_cny": sum(r["cost_cny"] for r in rows),
            }
        )
    return out


def _ledger(state: SeasonState) -> dict[str, int]:
    status = [r.status for r in state.jobs.values()]
    orders = {"completed": 0, "cancelled": 0, "open": 0}
    for job_ids in state.orders.values():
        st = [state.jobs[j].status for j in job_ids]
        if "cancelled" in st:
            orders["cancelled"] += 1
        elif all(x == "done" for x in st):
            orders["completed"] += 1
        else:
            orders["open"] += 1
    return {
        "jobs_created": state.jobs_created,
        "jobs_done": status.count("done"),
        "jobs_cancelled": status.count("cancelled"),
        "jobs_open": status.count("open"),
        "orders_created": state.orders_created,
        "orders_completed": orders["completed"],
        "orders_cancelled": orders["cancelled"],
        "orders_open": orders["open"],
        "jobs_lost": state.jobs_lost,
    }


def _summary(
    days: list[dict[str, Any]],
    weeks: list[dict[str, Any]],
    waits: list[float],
    completed_ir: int,
    callbacks_drawn: int,
    ledger: dict[str, int],
    s: SeasonSettings,
) -> dict[str, Any]:
    def total(key: str) -> float:
        return sum(r[key] or 0 for r in days)

    peak = [r for r in days if r["sales_level"] >= s.demand.peak_level > 1.0]
    covered = days[: max(0, len(days) - s.quality.followup_max_age_days)]
    return {
        "days": len(days),
        "orders": int(total("orders")),
        "jobs_done": int(total("jobs_done")),
        "backlog_end": days[-1]["backlog"] if days else 0,
        "max_backlog": max((r["backlog"] for r in days), default=0),
        "share_delivery_12h": _share(total("deliveries_on_time"), total("deliveries_due")),
        "share_install_24h": _share(total("installs_on_time"), total("installs_due")),
        "share_install_24h_peak": _share(
            sum(r["installs_on_time"] for r in peak), sum(r["installs_due"] for r in peak)
        ),
        "share_delivery_12h_customer": _share(
            total("deliveries_within_customer"), total("deliveries_due")
        ),
        "share_install_24h_customer": _share(
            total("installs_within_customer"), total("installs_due")
        ),
        "share_install_24h_peak_customer": _share(
            sum(r["installs_within_customer"] for r in peak), sum(r["installs_due"] for r in peak)
        ),
        "worst_week_install_24h": min(
            (w["share_install_24h"] for w in weeks if w["share_install_24h"] is not None),
            default=None,
        ),
        "install_wait_p50_h": round(float(np.percentile(waits, 50)), 1) if waits else None,
        "install_wait_p90_h": round(float(np.percentile(waits, 90)), 1) if waits else None,
        "install_wait_max_h": round(max(waits), 1) if waits else None,
        "utilisation": None,  # set by `season_tables` from the raw hours (`season_utilisation`)
        "callback_rate": _share(callbacks_drawn, completed_ir),
        "callbacks_opened": int(total("callbacks_opened")),
        "followup_coverage": _share(
            sum(r["followups_called"] for r in covered),
            sum(r["jobs_done"] - r["assists_done"] for r in covered),
        ),
        "temp_crew_days": int(total("temp_crews")),
        "overtime_h": round(total("overtime_h"), 1),
        "km": round(total("km"), 0),
        "cost_cny": round(total("cost_cny"), 0),
        "lever_cost_cny": round(total("lever_cost_cny"), 0),
        "jobs_cancelled": ledger["jobs_cancelled"],
        # two-crew visits (module doc); `assisted_visits` (created) is set by `season_tables`
        "assisted_visits": 0,
        "assisted_visits_done": int(total("assists_done")),
        "assist_pairs_offered": int(total("assist_pairs_offered")),
        "assist_pairs_planned": int(total("assist_pairs_planned")),
    }
