"""Bad input is refused on construction with the record and field named."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from dispatch.errors import InputError
from dispatch.models import CrewKind, GeoPoint, Job, JobKind, ProductCategory, TimeWindow
from dispatch.promises import PromiseBook, PromiseClock, RegionPolicy
from dispatch.service_time import estimate_minutes
from tests.factories import at, crew, depot, job, problem


def _field(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    return exc.value.record, exc.value.field


def test_coordinates_outside_the_world_name_the_field():
    """Latitude 95 is refused: record job 'X', field location.lat."""
    with pytest.raises(InputError) as e:
        Job("X", JobKind.REPAIR, "O", at(7), GeoPoint(121.0, 95.0), (TimeWindow(at(9), at(10)),))
    assert _field(e) == ("job 'X'", "location.lat")


def test_window_ending_before_it_starts():
    """A window 10:00-09:00 names windows[0]."""
    with pytest.raises(InputError) as e:
        job("X", 1).__class__(
            "X", JobKind.REPAIR, "O", at(7), GeoPoint(121, 31), (TimeWindow(at(10), at(9)),)
        )
    assert _field(e) == ("job 'X'", "windows[0]")


def test_deadline_before_order_time():
    """A promise deadline before the order was confirmed is refused."""
    with pytest.raises(InputError) as e:
        job("X", 1, confirmed_at=at(9), deadline=at(8))
    assert _field(e) == ("job 'X'", "deadline")


def test_unknown_enum_value_lists_the_allowed_ones():
    """kind 'teleport' is refused and the message lists the real kinds."""
    with pytest.raises(InputError, match="delivery, installation") as e:
        job("X", 1, kind="teleport")
    assert e.value.field == "kind"


def test_bad_people_and_quantity():
    """People must be 1-3 on a job; quantity at least 1."""
    with pytest.raises(InputError, match="people"):
        job("X", 1, people=4)
    with pytest.raises(InputError, match="quantity"):
        job("X", 1, quantity=0)


def test_crew_shift_must_end_after_it_starts():
    """Shift 18:00-08:00 is refused on the crew's shift_end."""
    with pytest.raises(InputError) as e:
        crew("C", shift_start=time(18), shift_end=time(8))
    assert _field(e) == ("crew 'C'", "shift_end")


def test_duplicate_ids_and_unknown_depot_are_refused():
    """Two jobs with one id, or a crew starting at a depot that does not exist."""
    with pytest.raises(InputError, match="duplicate"):
        problem([job("A", 1), job("A", 2)], [crew()])
    with pytest.raises(InputError) as e:
        problem([job("A", 1)], [crew(start_depot="NOPE")])
    assert _field(e) == ("crew 'C1'", "start_depot")


def test_zero_crews_leaves_every_job_unassigned_with_a_reason():
    """No crews is not a crash: every job is unassigned, reason no_eligible_crew."""
    from dispatch.planning.planner import make_plan

    plan = make_plan(problem([job("A", 1), job("B", 2)], []))
    assert {u.job_id: u.reason.value for u in plan.unassigned} == {
        "A": "no_eligible_crew",
        "B": "no_eligible_crew",
    }


def test_job_far_outside_the_region_is_unassigned():
    """A job 300 km from every depot is reported outside the region, not planned."""
    from dispatch.planning.planner import make_plan

    plan = make_plan(problem([job("FAR", 300)], [crew()]))
    assert [(u.job_id, u.reason.value) for u in plan.unassigned] == [("FAR", "outside_region")]


def test_window_on_another_day_is_unassigned():
    """A job whose only window is tomorrow is not planned today, with that reason."""
    from dispatch.planning.planner import make_plan

    j = Job(
        "TMR",
        JobKind.REPAIR,
        "O",
        at(7),
        depot().location,
        (TimeWindow(datetime(2026, 6, 19, 9), datetime(2026, 6, 19, 11)),),
    )
    plan = make_plan(problem([j], [crew()]))
    assert [u.reason.value for u in plan.unassigned] == ["window_not_on_plan_day"]


def test_promise_deadlines_calendar_and_service_hours():
    """12 h delivery / 24 h installation; after the 18:00 cut-off the clock starts at 08:00.

    Calendar: confirmed 19:30 -> delivery due 07:30 next day.
    Service hours: confirmed 19:30 -> clock starts 08:00 next day -> delivery due 20:00,
    installation due 08:00 the day after; a same-day repair reported 19:30 is due 20:00
    next day (closing). Confirmed 10:00 (before cut-off): delivery due 22:00 the same day.
    """
    book = PromiseBook({"cal": RegionPolicy(clock=PromiseClock.CALENDAR), "svc": RegionPolicy()})
    evening = datetime(2026, 6, 17, 19, 30)
    assert book.deadline(
        job("a", 1, kind=JobKind.DELIVERY, confirmed_at=evening, region="cal")
    ) == datetime(2026, 6, 18, 7, 30)
    assert book.deadline(
        job("b", 1, kind=JobKind.DELIVERY, confirmed_at=evening, region="svc")
    ) == datetime(2026, 6, 18, 20, 0)
    assert book.deadline(
        job("c", 1, kind=JobKind.INSTALLATION, confirmed_at=evening, region="svc")
    ) == datetime(2026, 6, 19, 8, 0)
    assert book.deadline(
        job("d", 1, kind=JobKind.REPAIR, confirmed_at=evening, region="svc")
    ) == datetime(2026, 6, 18, 20, 0)
    morning = datetime(2026, 6, 17, 10, 0)
    assert book.deadline(
        job("e", 1, kind=JobKind.DELIVERY, confirmed_at=morning, region="svc")
    ) == datetime(2026, 6, 17, 22, 0)


def test_rural_region_has_24h_delivery_and_unknown_region_is_an_error():
    """Default policies: rural deliveries are promised in 24 h; region 'moon' is refused."""
    book = PromiseBook()
    morning = datetime(2026, 6, 17, 10, 0)
    assert book.deadline(
        job("r", 1, kind=JobKind.DELIVERY, confirmed_at=morning, region="rural")
    ) == datetime(2026, 6, 18, 10, 0)
    with pytest.raises(InputError) as e:
        book.deadline(job("m", 1, region="moon"))
    assert e.value.field == "region"


def test_service_time_grows_with_floor_without_lift():
    """Split AC install: 100 min; 7th floor adds 20 min work at height; no lift adds 1 min per
    floor above the 2nd (5 min): 125 min. With a lift: 120 min."""
    base = dict(kind=JobKind.INSTALLATION, minutes=None, category=ProductCategory.SPLIT_AC)
    assert estimate_minutes(job("a", 1, floor=1, **base)) == 100
    assert estimate_minutes(job("b", 1, floor=7, has_lift=True, **base)) == 120
    assert estimate_minutes(job("c", 1, floor=7, has_lift=False, **base)) == 125


def test_crew_kind_decides_what_it_may_do():
    """A delivery truck cannot install; an installation crew cannot deliver."""
    truck = crew("T", CrewKind.DELIVERY_TRUCK)
    installer = crew("I", CrewKind.INSTALLATION_CREW)
    assert truck.can_do(job("d", 1, kind=JobKind.DELIVERY))
    assert not truck.can_do(job("i", 1, kind=JobKind.INSTALLATION))
    assert not installer.can_do(job("d", 1, kind=JobKind.DELIVERY))
