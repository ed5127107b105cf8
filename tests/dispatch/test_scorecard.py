"""Crew scorecards on a small hand-worked case (definitions: docs/service-metrics.md, "Crew
scorecards"; module: dispatch.metrics.scorecard).

The period is Wednesday 2026-06-03 to Sunday 2026-06-14: ISO weeks 2026-W23 (06-03..06-07,
cut to 5 days) and 2026-W24 (06-08..06-14). Crews: A own installation crew, B temporary
installation crew, D own delivery truck with no work. Urban jobs: deliveries 12 h and
installations 24 h on the customer's clock; the planning clock counts an order confirmed
after 18:00 from 08:00 next morning.

Crew A (own):
  A1 install  recv 06-03 09:00 -> done 06-04 08:00 (23 h: kept; planning 06-04 09:00: kept)
              visit 1, rated good; callback A1-CB1 opened 06-20 by crew B (open): called back
  A2 install  recv 06-04 19:00 -> done 06-05 20:00 (25 h: missed; planning from 06-05 08:00,
              deadline 06-06 08:00: kept), visit 1, rated fair
  A3 repair   recv 06-08 10:00 -> done 06-09 11:00, visit 2 (a failed visit before), good
  A4 install  recv 06-09 08:00 -> done 06-09 15:00 (7 h: kept on both), visit 1, unrated;
              its callback A4-CB1 was cancelled (does not count)
  A5 repair   recv 06-10 09:00, priority complaint, assigned (not done)
  A6 delivery recv 06-12 08:00 -> done 06-12 21:00 (13 h: missed; planning 20:00: missed),
              rated very poor
  A7 install  done 05-30 (before the period), rated poor: counts for nothing here
  A7-CB1      repair, callback of A7, recv 06-04 10:00 -> done 06-05 10:00 by A, rated good
Crew B (temporary):
  B1 install  recv 06-10 09:00 -> done 06-10 17:00 (8 h), visit 1, rated poor;
              its callback B1-CB1 (recv 06-12, open, crew B): called back
  B2 install  recv 06-11 09:00 -> done 06-11 12:00 (3 h), visit 1, rated good
  B3 install  recv 06-13 09:00, cancelled: in no cohort

Crew A over the period:
  completed: A1 A2 A3 A4 A6 A7-CB1 = 6
  ratings: good A1 A3 A7-CB1 = 3, fair A2 = 1, poor 0, very poor A6 = 1, unrated A4 = 1;
           share good 3 / 5 rated
  callbacks per 100 installations: A1 of A1 A2 A4 = 1/3 -> 33.3 per 100 (target missed)
  callbacks per 100 jobs: A1 of 6 = 1/6 -> 16.7 per 100
  first-time fix: cohort repairs and installations not themselves callbacks, A1 A2 A3 A4;
           A2 A4 fixed at the first visit and not called back -> 2/4
  on time (received in the period): installations A1 A2 A4: customer 2/3 (A2 late),
           planning 3/3; deliveries A6: 0/1 and 0/1; combined customer 2/4, planning 3/4
  complaints: a complaint record about A received 06-10 = 1 (B's, received 06-02, is before
  the period); complaint jobs: A5 = 1
  week W23: completed A1 A2 A7-CB1 = 3; good 2 fair 1 -> 2/3; installations 1/2; jobs 1/3;
           first-time fix A2 of A1 A2 = 1/2; on time installs A1 A2: customer 1/2,
           planning 2/2; complaints 0
  week W24: completed A3 A4 A6 = 3; good 1 very poor 1 unrated 1 -> 1/2; installations 0/1;
           jobs 0/3; first-time fix A4 of A3 A4 = 1/2; on time: install A4 1/1 on both,
           delivery A6 0/1 on both -> combined 1/2 on both; complaints A5 = 1
Crew B: completed B1 B2 = 2; good 1 poor 1 -> 1/2; installations B1 of 2 -> 50 per 100;
  first-time fix B2 of B1 B2 = 1/2; on time installs 2/2 on both clocks.
Crew D: no data: every ratio 0/0 with value None, counts 0.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

import pytest

from dispatch.errors import InputError
from dispatch.metrics.scorecard import (
    CrewFact,
    Group,
    QualityFact,
    SortKey,
    answer_context,
    crew_figures,
    iso_weeks,
    own_temporary_summary,
    scorecard,
    scorecards,
)
from dispatch.metrics.service_metrics import JobFact, filter_rows, service_metrics

PERIOD = (date(2026, 6, 3), date(2026, 6, 14))
CREWS = [
    CrewFact("A", "installation_crew", "urban", temporary=False),
    CrewFact("B", "installation_crew", "urban", temporary=True),
    CrewFact("D", "delivery_truck", "urban", temporary=False),
]


def t(text: str) -> datetime:
    """`06-03T09:00` -> a time in 2026."""
    return datetime.fromisoformat(f"2026-{text}")


def job(
    job_id: str,
    kind: str,
    crew: str,
    received: str,
    done: str | None = None,
    *,
    status: str | None = None,
    callback_of: str | None = None,
) -> JobFact:
    completed = t(done) if done else None
    return JobFact(
        job_id=job_id,
        kind=kind,
        zone="Z1",
        crew_id=crew,
        crew_kind="installation_crew",
        received_at=t(received),
        due_date=t(received).date(),
        status=status or ("completed" if done else "assigned"),
        completed_at=completed,
        callback_of=callback_of,
        region="urban",
    )


def q(fact: JobFact, visit: int = 1, rating: str | None = None, priority: str = "normal"):
    return QualityFact(job=fact, visit=visit, rating=rating, priority=priority)


JOBS = [
    q(job("A1", "installation", "A", "06-03T09:00", "06-04T08:00"), rating="good"),
    q(job("A2", "installation", "A", "06-04T19:00", "06-05T20:00"), rating="fair"),
    q(job("A3", "repair", "A", "06-08T10:00", "06-09T11:00"), visit=2, rating="good"),
    q(job("A4", "installation", "A", "06-09T08:00", "06-09T15:00")),
    q(job("A5", "repair", "A", "06-10T09:00"), priority="complaint"),
    q(job("A6", "delivery", "A", "06-12T08:00", "06-12T21:00"), rating="very_poor"),
    q(job("A7", "installation", "A", "05-29T09:00", "05-30T10:00"), rating="poor"),
    q(
        job("A7-CB1", "repair", "A", "06-04T10:00", "06-05T10:00", callback_of="A7"),
        rating="good",
        priority="callback",
    ),
    q(job("B1", "installation", "B", "06-10T09:00", "06-10T17:00"), rating="poor"),
    q(job("B1-CB1", "repair", "B", "06-12T09:00", callback_of="B1"), priority="callback"),
    q(job("B2", "installation", "B", "06-11T09:00", "06-11T12:00"), rating="good"),
    q(job("B3", "installation", "B", "06-13T09:00", status="cancelled")),
]
#: callbacks of jobs completed in the period, made whenever by whichever crew
CALLBACKS = [
    job("A1-CB1", "repair", "B", "06-20T09:00", callback_of="A1"),
    job("A4-CB1", "repair", "A", "06-10T09:00", status="cancelled", callback_of="A4"),
]


def ratio(n: int, d: int, **extra: Any) -> dict[str, Any]:
    return {"numerator": n, "denominator": d, "value": n / d if d else None, **extra}


def per_100(n: int, d: int) -> dict[str, Any]:
    return ratio(n, d, per_100=100 * n / d if d else None)


#: the days the complaint records about each crew were received
COMPLAINTS = {"A": [date(2026, 6, 10)], "B": [date(2026, 6, 2)]}


def card(crew_id: str, weeks: bool = True) -> dict[str, Any]:
    crew = next(c for c in CREWS if c.crew_id == crew_id)
    return scorecard(crew, JOBS, CALLBACKS, PERIOD, weeks=weeks, complaints=COMPLAINTS)


def test_crew_a_over_the_period() -> None:
    a = card("A")
    assert (a["crew_id"], a["kind"], a["temporary"], a["active"]) == (
        "A",
        "installation_crew",
        False,
        True,
    )
    f = a["figures"]
    assert f["jobs_completed"] == 6
    assert f["ratings"] == {
        "good": 3,
        "fair": 1,
        "poor": 0,
        "very_poor": 1,
        "unrated": 1,
        "share_good": ratio(3, 5),
    }
    assert f["callbacks_per_100_installations"] == per_100(1, 3)
    assert f["callbacks_per_100_installations"]["per_100"] == pytest.approx(33.333, abs=1e-3)
    assert f["callbacks_per_100_jobs"] == per_100(1, 6)
    assert f["first_time_fix"] == ratio(2, 4)
    on_time = f["on_time"]
    assert on_time["installations_within_24h"] == ratio(2, 3, unfinished=0)
    assert on_time["installations_by_planning_deadline"] == ratio(3, 3, unfinished=0)
    assert on_time["deliveries_within_12h"] == ratio(0, 1, unfinished=0)
    assert on_time["deliveries_by_planning_deadline"] == ratio(0, 1, unfinished=0)
    assert on_time["customer"] == ratio(2, 4, unfinished=0)
    assert on_time["planning"] == ratio(3, 4, unfinished=0)
    assert (f["complaints"], f["complaint_jobs"]) == (1, 1)
    assert f["meets_targets"] == {
        "callbacks_per_100_installations": False,
        "callbacks_per_100_jobs": False,
    }


def test_crew_a_week_by_week() -> None:
    weeks = card("A")["weeks"]
    assert [(w["week"], w["from"], w["to"]) for w in weeks] == [
        ("2026-W23", "2026-06-03", "2026-06-07"),
        ("2026-W24", "2026-06-08", "2026-06-14"),
    ]
    w23, w24 = (w["figures"] for w in weeks)
    assert w23["jobs_completed"] == 3
    assert w23["ratings"]["share_good"] == ratio(2, 3)
    assert (w23["ratings"]["good"], w23["ratings"]["fair"]) == (2, 1)
    assert w23["callbacks_per_100_installations"] == per_100(1, 2)
    assert w23["callbacks_per_100_jobs"] == per_100(1, 3)
    assert w23["first_time_fix"] == ratio(1, 2)
    assert w23["on_time"]["customer"] == ratio(1, 2, unfinished=0)
    assert w23["on_time"]["planning"] == ratio(2, 2, unfinished=0)
    assert w23["complaints"] == 0

    assert w24["jobs_completed"] == 3
    assert w24["ratings"]["share_good"] == ratio(1, 2)
    assert (w24["ratings"]["very_poor"], w24["ratings"]["unrated"]) == (1, 1)
    assert w24["callbacks_per_100_installations"] == per_100(0, 1)
    assert w24["callbacks_per_100_jobs"] == per_100(0, 3)
    assert w24["first_time_fix"] == ratio(1, 2)
    assert w24["on_time"]["customer"] == ratio(1, 2, unfinished=0)
    assert w24["on_time"]["planning"] == ratio(1, 2, unfinished=0)
    assert w24["complaints"] == 1
    assert w24["meets_targets"]["callbacks_per_100_installations"] is True


def test_temporary_crew_b_and_the_empty_crew_d() -> None:
    f = card("B")["figures"]
    assert card("B")["temporary"] is True
    assert f["jobs_completed"] == 2
    assert f["ratings"]["share_good"] == ratio(1, 2)
    assert f["callbacks_per_100_installations"] == per_100(1, 2)
    assert f["first_time_fix"] == ratio(1, 2)
    assert f["on_time"]["customer"] == ratio(2, 2, unfinished=0)
    assert f["on_time"]["planning"] == ratio(2, 2, unfinished=0)

    d = card("D", weeks=False)
    assert "weeks" not in d
    empty = d["figures"]
    assert empty["jobs_completed"] == 0 and empty["complaints"] == 0
    assert empty["ratings"]["share_good"] == ratio(0, 0)
    assert empty["callbacks_per_100_installations"] == per_100(0, 0)
    assert empty["first_time_fix"]["value"] is None
    assert empty["on_time"]["customer"]["value"] is None
    assert empty["meets_targets"]["callbacks_per_100_installations"] is None


def test_the_same_rules_as_the_service_metrics() -> None:
    """A crew's on-time shares and callback rate are the service metrics filtered to it."""
    facts = [x.job for x in JOBS]
    for crew in ("A", "B"):
        m = service_metrics(filter_rows(facts, crew_id=crew), [], PERIOD, callbacks=CALLBACKS)
        f = card(crew, weeks=False)["figures"]
        for key in ("deliveries_within_12h", "installations_by_planning_deadline"):
            assert f["on_time"][key] == m[key]
        jobs_rate = f["callbacks_per_100_jobs"]
        assert (jobs_rate["numerator"], jobs_rate["denominator"]) == (
            m["callback_rate"]["numerator"],
            m["callback_rate"]["denominator"],
        )


def test_own_vs_temporary_grouping() -> None:
    own, temporary = scorecards(
        CREWS, JOBS, CALLBACKS, PERIOD, group=Group.OWN_TEMPORARY, complaints=COMPLAINTS
    )
    assert (own["group"], own["crews"], temporary["group"], temporary["crews"]) == (
        "own",
        2,
        "temporary",
        1,
    )
    # own = A's jobs (D has none); temporary = B's
    assert own["figures"] == card("A", weeks=False)["figures"]
    assert temporary["figures"] == card("B", weeks=False)["figures"]

    summary = own_temporary_summary(JOBS, CALLBACKS, PERIOD, {"A": False, "B": True})
    assert summary["own"]["jobs_completed"] == 6
    assert summary["own"]["callback_rate"] == per_100(1, 6)
    assert summary["own"]["callbacks_per_100_installations"] == per_100(1, 3)
    assert summary["own"]["share_good"] == ratio(3, 5)
    assert summary["temporary"]["callback_rate"] == per_100(1, 2)
    assert summary["temporary"]["share_good"] == ratio(1, 2)
    assert summary["temporary"]["meets_targets"] == {"callback_rate": False}


def test_a_callback_counts_against_the_original_crew_whoever_made_it() -> None:
    """A1's callback was made by B after the period; it counts for A, never for B."""
    without = card("A")["figures"]["callbacks_per_100_installations"]
    assert without["numerator"] == 1
    b = scorecard(CREWS[1], JOBS, [], PERIOD, weeks=False)["figures"]
    assert b["callbacks_per_100_installations"] == per_100(1, 2)  # B1 only, by B1-CB1
    a_no_callbacks = scorecard(CREWS[0], JOBS, [], PERIOD, weeks=False)["figures"]
    assert a_no_callbacks["callbacks_per_100_installations"] == per_100(0, 3)


def test_sorting_puts_cards_without_data_last() -> None:
    def order(sort: SortKey, descending: bool = False) -> list[str]:
        cards = scorecards(
            CREWS, JOBS, CALLBACKS, PERIOD, sort=sort, descending=descending, complaints=COMPLAINTS
        )
        return [c["crew_id"] for c in cards]

    assert order(SortKey.CREW) == ["A", "B", "D"]
    assert order(SortKey.CREW, descending=True) == ["D", "B", "A"]
    assert order(SortKey.CALLBACK_RATE) == ["A", "B", "D"]  # 1/3, 1/2, none
    assert order(SortKey.CALLBACK_RATE, descending=True) == ["B", "A", "D"]
    assert order(SortKey.RATING) == ["B", "A", "D"]  # 1/2, 3/5, none
    assert order(SortKey.COMPLETED, descending=True) == ["A", "B", "D"]  # 6, 2, 0
    assert order(SortKey.COMPLAINTS) == ["B", "D", "A"]  # 0, 0 (by id), 1


def test_iso_weeks_cut_to_the_period_and_across_a_year() -> None:
    assert iso_weeks((date(2026, 6, 14), date(2026, 6, 14))) == [
        ("2026-W24", date(2026, 6, 14), date(2026, 6, 14))
    ]
    assert iso_weeks((date(2026, 12, 30), date(2027, 1, 5))) == [
        ("2026-W53", date(2026, 12, 30), date(2027, 1, 3)),
        ("2027-W01", date(2027, 1, 4), date(2027, 1, 5)),
    ]
    with pytest.raises(ValueError, match="before it starts"):
        iso_weeks((date(2026, 6, 2), date(2026, 6, 1)))


def test_bad_facts_are_refused_naming_the_field() -> None:
    fact = job("X", "repair", "A", "06-03T09:00", "06-03T10:00")
    with pytest.raises(InputError, match="rating"):
        QualityFact(job=fact, rating="excellent")
    with pytest.raises(InputError, match="priority"):
        QualityFact(job=fact, priority="urgent")
    with pytest.raises(InputError, match="visit"):
        QualityFact(job=fact, visit=0)


def test_answer_context_names_both_clocks() -> None:
    context = answer_context(PERIOD)
    assert context["period"] == {"from": "2026-06-03", "to": "2026-06-14"}
    clocks = context["promise_clocks"]
    assert clocks["customer"].startswith("customer's clock: calendar hours")
    assert clocks["planning"].startswith("planning clock")
    assert clocks["shares"]["installations_within_24h"] == "customer"
    assert clocks["shares"]["deliveries_by_planning_deadline"] == "planning"
    assert context["targets"] == {"callback_rate_max": 0.04}


def test_an_assisting_visit_is_the_crews_work_but_not_an_installation_of_its_own() -> None:
    """Crew B assists A1's installation (A1-A, done the same minute) and does one installation
    of its own (B9, called back): B completed 2 jobs, but its installations, callbacks per
    100 installations, ratings and promise shares count B9 only (1 called back of 1)."""
    helper = dataclasses.replace(
        job("A1-A", "installation", "B", "06-03T09:00", "06-04T08:00"), assisting=True
    )
    own = job("B9", "installation", "B", "06-10T09:00", "06-10T12:00")
    figures = crew_figures([q(helper), q(own, rating="good")], {"B9", "A1"}, PERIOD)
    assert figures["jobs_completed"] == 2
    assert figures["callbacks_per_100_installations"] == per_100(1, 1)
    assert figures["callbacks_per_100_jobs"] == per_100(1, 1)
    assert figures["ratings"]["unrated"] == 0 and figures["ratings"]["good"] == 1
    assert figures["on_time"]["installations_within_24h"]["denominator"] == 1
