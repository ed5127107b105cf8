"""Service metrics on small hand-computed cases (definitions: docs/service-metrics.md)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

import pytest

from dispatch.errors import InputError
from dispatch.metrics.service_metrics import (
    TARGETS,
    JobFact,
    RouteFact,
    filter_rows,
    p90,
    service_metrics,
)

JUNE_1, JUNE_7 = date(2026, 6, 1), date(2026, 6, 7)
WEEK = (JUNE_1, JUNE_7)


def t(day: int, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    """A time in June 2026."""
    return datetime(2026, 6, day, hh, mm, ss)


TUESDAY_8AM = t(2, 8)


def job(
    job_id: str,
    *,
    received: datetime = TUESDAY_8AM,
    due: date | None = None,
    status: str = "completed",
    completed: datetime | None = None,
    kind: str = "repair",
    zone: str | None = "north",
    crew_id: str | None = "C1",
    crew_kind: str | None = "repair_technician",
    arrived: datetime | None = None,
    window_end: datetime | None = None,
    callback_of: str | None = None,
    followed_up: bool = False,
    region: str | None = None,
    deadline: datetime | None = None,
) -> JobFact:
    """A job; a completed one defaults to completion 4 h after it was received."""
    if status == "completed" and completed is None:
        completed = received + timedelta(hours=4)
    return JobFact(
        job_id=job_id,
        kind=kind,
        zone=zone,
        crew_id=crew_id,
        crew_kind=crew_kind,
        received_at=received,
        due_date=due or received.date(),
        status=status,
        arrived_at=arrived,
        completed_at=completed,
        window_end=window_end,
        callback_of=callback_of,
        followed_up=followed_up,
        region=region,
        deadline=deadline,
    )


def metrics(jobs, routes=(), period=WEEK, callbacks=()):
    return service_metrics(jobs, routes, period, callbacks=callbacks)


def test_completion_rate_counts_jobs_due_in_the_period():
    """Due in the week and not cancelled: J1, J2 (completed), J3 (failed), J4 (assigned).

    J5 is cancelled, J6 due the day after the week. 2 / 4 = 0.5; J4 is unfinished.
    """
    jobs = [
        job("J1", due=JUNE_1),
        job("J2", due=JUNE_7, received=t(6, 9), completed=t(9, 10)),  # completed late: still 1
        job("J3", due=JUNE_7, status="failed"),
        job("J4", due=JUNE_7, status="assigned"),
        job("J5", due=JUNE_7, status="cancelled"),
        job("J6", due=date(2026, 6, 8)),
    ]
    assert metrics(jobs)["completion_rate"] == {
        "numerator": 2,
        "denominator": 4,
        "value": 0.5,
        "unfinished": 1,
    }


def test_same_day_completion_by_calendar_day_of_receipt():
    """Received in the week: J1 (done 17:00 same day), J2 (22:00, done next morning),
    J3 (failed), J4 (in progress). J5 was received on 31 May, J6 is cancelled.
    1 / 4 = 0.25; J4 unfinished.
    """
    jobs = [
        job("J1", received=t(1, 8), completed=t(1, 17)),
        job("J2", received=t(1, 22), completed=t(2, 9)),
        job("J3", received=t(2, 10), status="failed"),
        job("J4", received=t(7, 23, 59), status="in_progress"),
        job("J5", received=datetime(2026, 5, 31, 23), completed=t(1, 8)),
        job("J6", received=t(3, 8), status="cancelled"),
    ]
    got = metrics(jobs)["same_day_completion"]
    assert got == {"numerator": 1, "denominator": 4, "value": 0.25, "unfinished": 1}
    assert metrics(jobs)["meets_targets"]["same_day_completion"] is False


def test_promise_boundaries_exactly_12_and_24_hours_keep_the_promise():
    """Deliveries: D1 12 h 00 min 00 s (kept), D2 12 h + 1 s (missed), D3 open (missed,
    unfinished) -> 1 / 3. Installations: I1 exactly 24 h (kept), I2 24 h 1 min (missed) ->
    1 / 2. R1 is a repair: in neither cohort.
    """
    jobs = [
        job("D1", kind="delivery", received=t(2, 8), completed=t(2, 20)),
        job("D2", kind="delivery", received=t(2, 8), completed=t(2, 20, 0, 1)),
        job("D3", kind="delivery", received=t(3, 8), status="en_route"),
        job("I1", kind="installation", received=t(2, 9), completed=t(3, 9)),
        job("I2", kind="installation", received=t(2, 9), completed=t(3, 9, 1)),
        job("R1", kind="repair", received=t(2, 9), completed=t(2, 10)),
    ]
    got = metrics(jobs)
    assert got["deliveries_within_12h"] == {
        "numerator": 1,
        "denominator": 3,
        "value": pytest.approx(1 / 3),
        "unfinished": 1,
    }
    assert got["installations_within_24h"] == {
        "numerator": 1,
        "denominator": 2,
        "value": 0.5,
        "unfinished": 0,
    }


def test_promise_shares_on_both_clocks_with_each_regions_hours():
    """Deliveries received in the week:

    - D1 urban, ordered 21:00, done 10:00 next day: 13 calendar hours, a miss on the
      customer's clock; the planning clock starts at 08:00 (after the 18:00 cut-off), due
      20:00: kept.
    - D2 rural, ordered 12:00, done 08:00 next day: 20 h, within the rural 24 h on both.
    - D3 urban with an explicit deadline 09:00, done 10:00: a miss on both.
    - D4 urban, still en route: a miss on both, unfinished.

    Customer's clock 1 / 4 (D2), planning clock 2 / 4 (D1, D2). I1 (no region: the default
    region's 24 h) done exactly 24 h after the order: kept on both.
    """
    jobs = [
        job("D1", kind="delivery", region="urban", received=t(1, 21), completed=t(2, 10)),
        job("D2", kind="delivery", region="rural", received=t(2, 12), completed=t(3, 8)),
        job(
            "D3",
            kind="delivery",
            region="urban",
            received=t(1, 21),
            completed=t(2, 10),
            deadline=t(2, 9),
        ),
        job("D4", kind="delivery", region="urban", received=t(3, 8), status="en_route"),
        job("I1", kind="installation", received=t(2, 9), completed=t(3, 9)),
    ]
    got = metrics(jobs)
    assert got["deliveries_within_12h"] == {
        "numerator": 1, "denominator": 4, "value": 0.25, "unfinished": 1,
    }  # fmt: skip
    assert got["deliveries_by_planning_deadline"] == {
        "numerator": 2, "denominator": 4, "value": 0.5, "unfinished": 1,
    }  # fmt: skip
    assert got["installations_within_24h"]["value"] == 1.0
    assert got["installations_by_planning_deadline"]["value"] == 1.0
    clocks = got["promise_clocks"]
    assert clocks["customer"].startswith("customer's clock: calendar hours")
    assert clocks["planning"].startswith("planning clock: the plan's deadlines")
    assert clocks["shares"] == {
        "deliveries_within_12h": "customer",
        "installations_within_24h": "customer",
        "deliveries_by_planning_deadline": "planning",
        "installations_by_planning_deadline": "planning",
    }


def test_follow_up_coverage_over_jobs_completed_in_the_period():
    """Completed in the week: J1 (called), J2 (called), J3 (not) -> 2 / 3.

    J4 was called but completed on 8 June; J5 failed (not completed) though called.
    """
    jobs = [
        job("J1", followed_up=True),
        job("J2", received=datetime(2026, 5, 31, 20), completed=t(1, 9), followed_up=True),
        job("J3"),
        job("J4", received=t(7, 22), completed=t(8, 9), followed_up=True),
        job("J5", status="failed", followed_up=True),
    ]
    got = metrics(jobs)
    assert got["follow_up_coverage"] == {
        "numerator": 2,
        "denominator": 3,
        "value": pytest.approx(2 / 3),
    }
    assert got["meets_targets"]["follow_up_coverage"] is False
    called = [job("J1", followed_up=True), job("J2", followed_up=True)]
    assert metrics(called)["meets_targets"]["follow_up_coverage"] is True


def test_callback_rate_counts_originals_with_a_live_callback():
    """Completed in the week: A, B, C and D (D is itself a callback of Z, done in May).

    A: callback A2 opened 20 June in another zone (counts: after the period, other zone).
    B: its only callback is cancelled (does not count). C: two callbacks (counts once).
    D: none. So 2 / 4 = 0.5. Z was completed before the week: not in the cohort.
    """
    jobs = [
        job("A"),
        job("B"),
        job("C"),
        job("D", callback_of="Z"),
    ]
    callbacks = [
        job("A2", received=t(20, 8), status="open", zone="south", callback_of="A"),
        job("B2", received=t(5, 8), status="cancelled", callback_of="B"),
        job("C2", received=t(5, 8), callback_of="C"),
        job("C3", received=t(9, 8), status="failed", callback_of="C"),
        job("D", callback_of="Z"),
    ]
    got = metrics(jobs, callbacks=callbacks)
    assert got["callback_rate"] == {"numerator": 2, "denominator": 4, "value": 0.5}
    assert got["meets_targets"]["callback_rate"] is False


def test_callback_counts_for_the_original_zone_with_filtered_jobs():
    """North view: only A (north) in the cohort; its callback A2 was made in the south by
    another crew and is passed unfiltered -> 1 / 1. The south view has no completed job.
    """
    a = job("A", zone="north", crew_id="C1")
    a2 = job("A2", zone="south", crew_id="C9", received=t(6, 8), callback_of="A")
    all_jobs = [a, a2]
    north = metrics(filter_rows(all_jobs, zone="north"), callbacks=[a2])
    assert north["callback_rate"] == {"numerator": 1, "denominator": 1, "value": 1.0}
    south = metrics(filter_rows(all_jobs, zone="south"), callbacks=[a2])
    # A2 completed in the week in the south: 1 completed job there, with no callback of its own
    assert south["callback_rate"] == {"numerator": 0, "denominator": 1, "value": 0.0}


def test_callbacks_found_in_jobs_count_too():
    """With the whole fleet's rows in `jobs`, an empty `callbacks` still finds C2 -> 1 / 2."""
    jobs = [job("C"), job("C2", received=t(3, 8), callback_of="C")]
    assert metrics(jobs)["callback_rate"] == {"numerator": 1, "denominator": 2, "value": 0.5}


def test_callback_target_is_strictly_under_four_percent():
    """1 of 25 = 4 % exactly misses the target; 1 of 26 (3.8 %) meets it."""

    def cohort(n: int) -> list[JobFact]:
        return [job(f"J{k}") for k in range(n)]

    cb = [job("X", received=t(9, 8), status="open", callback_of="J0")]
    assert metrics(cohort(25), callbacks=cb)["meets_targets"]["callback_rate"] is False
    assert metrics(cohort(26), callbacks=cb)["meets_targets"]["callback_rate"] is True


def test_same_day_target_met_at_exactly_95_percent():
    """19 of 20 same day = 95 % meets the target; 18 of 20 does not."""
    done = [job(f"J{k}") for k in range(19)]
    miss = [job(f"M{k}", received=t(2, 22), completed=t(3, 8)) for k in range(2)]
    assert metrics([*done, miss[0]])["meets_targets"]["same_day_completion"] is True
    assert metrics([*done[:18], *miss])["meets_targets"]["same_day_completion"] is False


def test_lateness_share_mean_and_p90_over_late_arrivals():
    """Completed in the week with both times: J1 on time (arrived at the window end: not
    late), J2 10 min late, J3 30 min late -> 2 / 3 late. Mean (10 + 30) / 2 = 20 min;
    p90 of [10, 30]: ceil(0.9 * 2) = 2nd value = 30. J4 lacks a window end, J5 failed.
    """
    jobs = [
        job("J1", arrived=t(2, 10), window_end=t(2, 10)),
        job("J2", arrived=t(2, 10, 10), window_end=t(2, 10)),
        job("J3", arrived=t(2, 12, 30), window_end=t(2, 12)),
        job("J4", arrived=t(2, 15)),
        job("J5", status="failed", arrived=t(2, 18), window_end=t(2, 12)),
    ]
    assert metrics(jobs)["lateness"] == {
        "numerator": 2,
        "denominator": 3,
        "value": pytest.approx(2 / 3),
        "mean_minutes_late": 20.0,
        "p90_minutes_late": 30.0,
    }


def test_p90_nearest_rank():
    """ceil(0.9 n)-th smallest: n=1 -> 1st, n=10 -> 9th, n=11 -> 10th, n=70 -> 63rd."""
    assert p90([]) is None
    assert p90([7.5]) == 7.5
    assert p90(list(range(10, 0, -1))) == 9
    assert p90(list(range(1, 12))) == 10
    assert p90(list(range(1, 71))) == 63


def test_utilisation_sums_busy_over_shift_minutes_of_routes_in_the_period():
    """(450 + 240) / (600 + 480) = 690 / 1080 = 0.6389; the 8 June route is outside."""
    routes = [
        RouteFact("C1", "repair_technician", "north", JUNE_1, 600, 450),
        RouteFact("C2", "delivery_truck", "south", JUNE_7, 480, 240),
        RouteFact("C1", "repair_technician", "north", date(2026, 6, 8), 600, 600),
    ]
    assert metrics([], routes)["utilisation"] == {
        "numerator": 690,
        "denominator": 1080,
        "value": pytest.approx(690 / 1080),
    }
    trucks = filter_rows(routes, crew_kind="delivery_truck")
    assert metrics([], trucks)["utilisation"]["value"] == 0.5


def test_no_data_gives_none_not_zero():
    got = metrics([])
    for key in (
        "completion_rate",
        "same_day_completion",
        "deliveries_within_12h",
        "installations_within_24h",
        "deliveries_by_planning_deadline",
        "installations_by_planning_deadline",
        "follow_up_coverage",
        "callback_rate",
        "lateness",
        "utilisation",
    ):
        assert got[key]["denominator"] == 0
        assert got[key]["value"] is None
    assert got["lateness"]["mean_minutes_late"] is None
    assert got["lateness"]["p90_minutes_late"] is None
    assert got["meets_targets"] == {
        "follow_up_coverage": None,
        "same_day_completion": None,
        "callback_rate": None,
    }
    assert (
        got["targets"]
        == TARGETS
        == {
            "follow_up_coverage": 1.0,
            "same_day_completion": 0.95,
            "callback_rate_max": 0.04,
        }
    )
    assert got["period"] == {"from": "2026-06-01", "to": "2026-06-07"}


def test_no_late_arrival_gives_share_zero_and_no_minutes():
    got = metrics([job("J1", arrived=t(2, 9), window_end=t(2, 10))])["lateness"]
    assert (got["value"], got["mean_minutes_late"], got["p90_minutes_late"]) == (0.0, None, None)


def test_zero_shift_minutes_gives_no_utilisation():
    routes = [RouteFact("C1", "repair_technician", None, JUNE_1, 0, 0)]
    assert metrics([], routes)["utilisation"]["value"] is None


def test_single_day_period():
    jobs = [job("J1", received=t(7, 8)), job("J2", received=t(6, 8))]
    got = service_metrics(jobs, [], (JUNE_7, JUNE_7), callbacks=[])
    assert got["completion_rate"]["denominator"] == 1


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="ends"):
        service_metrics([], [], (JUNE_7, JUNE_1), callbacks=[])
    with pytest.raises(ValueError, match="twice"):
        metrics([job("J1"), job("J1")])
    with pytest.raises(InputError) as err:
        job("J1", status="done")
    assert err.value.field == "status"
    with pytest.raises(InputError) as err:
        job("J1", kind="teleport")
    assert err.value.field == "kind"
    with pytest.raises(InputError) as err:
        JobFact("J1", "repair", None, None, None, t(1, 8), JUNE_1, "completed")
    assert err.value.field == "completed_at"


def test_filter_rows_matches_every_given_field():
    jobs = [
        job("J1", zone="north", crew_id="C1", crew_kind="repair_technician"),
        job("J2", zone="north", crew_id="C2", crew_kind="installation_crew"),
        job("J3", zone="south", crew_id="C1", crew_kind="repair_technician"),
        job("J4", zone=None, crew_id=None, crew_kind=None, status="open"),
    ]
    assert [j.job_id for j in filter_rows(jobs, zone="north")] == ["J1", "J2"]
    assert [j.job_id for j in filter_rows(jobs, crew_id="C1", zone="south")] == ["J3"]
    assert [j.job_id for j in filter_rows(jobs, crew_kind="installation_crew")] == ["J2"]
    assert len(filter_rows(jobs)) == 4


def test_an_assisting_visit_counts_for_the_crews_not_for_the_customer():
    """An installation done at 30 h and its assisting visit (a second crew, `Job.assists`):
    the promise share, same-day completion, follow-up coverage and callback rate count the
    installation once (1 of 1 late); completion counts both visits (2 of 2)."""
    lead = job("I1", kind="installation", completed=t(3, 14), followed_up=True)
    helper = dataclasses.replace(
        job("I1-A", kind="installation", completed=t(3, 14)), assisting=True
    )
    m = metrics([lead, helper])
    share = m["installations_within_24h"]
    assert (share["numerator"], share["denominator"]) == (0, 1)
    coverage = m["follow_up_coverage"]
    assert (coverage["numerator"], coverage["denominator"]) == (1, 1)
    assert m["callback_rate"]["denominator"] == 1
    assert m["same_day_completion"]["denominator"] == 1
    assert m["completion_rate"]["denominator"] == 2
