"""The callback guarantee, worked by hand: a repair's same fault within 180 days, an
installation within its window (30 days here), never a delivery or pick-up."""

from __future__ import annotations

from datetime import datetime

import pytest

from dispatch.models import JobKind
from dispatch.running.callbacks import callback_refusal

LIMITS = {"repair_guarantee_days": 180, "installation_callback_days": 30}
#: 2026-01-01 + 180 days = 2026-06-30 (Jan 30 + Feb 28 + Mar 31 + Apr 30 + May 31 + Jun 30)
REPAIRED = datetime(2026, 1, 1, 16, 30)


def refusal(kind, completed_at, original_fault, fault, now):
    return callback_refusal("J1", kind, completed_at, original_fault, fault, **LIMITS, now=now)


def test_same_fault_on_the_180th_day_is_a_callback():
    # 180 days, counted by calendar day: the time of day does not matter
    assert refusal(JobKind.REPAIR, REPAIRED, "E4", "E4", datetime(2026, 6, 30, 8, 0)) is None
    assert refusal(JobKind.REPAIR, REPAIRED, "E4", "E4", datetime(2026, 1, 2, 0, 1)) is None


def test_same_fault_on_the_181st_day_is_outside_the_guarantee():
    assert refusal(JobKind.REPAIR, REPAIRED, "E4", "E4", datetime(2026, 7, 1, 0, 5)) == (
        "outside the 180-day guarantee: completed 2026-01-01, 181 days ago"
    )


def test_a_different_fault_is_a_new_repair_even_the_next_day():
    assert refusal(JobKind.REPAIR, REPAIRED, "E4", "E5", datetime(2026, 1, 2, 9, 0)) == (
        "a different fault is a new repair, not a callback "
        "(the original repair was for 'E4', this is 'E5')"
    )


def test_a_repair_without_a_fault_code_takes_any_fault_within_the_guarantee():
    assert refusal(JobKind.REPAIR, REPAIRED, None, "E5", datetime(2026, 3, 1, 9, 0)) is None
    assert refusal(JobKind.REPAIR, REPAIRED, None, "E5", datetime(2026, 7, 1, 9, 0)) == (
        "outside the 180-day guarantee: completed 2026-01-01, 181 days ago"
    )


def test_an_installation_has_its_own_window_whatever_the_fault():
    installed = datetime(2026, 6, 1, 11, 0)
    # June 1 + 30 days = July 1
    assert refusal(JobKind.INSTALLATION, installed, None, "E9", datetime(2026, 7, 1, 18, 0)) is None
    assert refusal(JobKind.INSTALLATION, installed, "E1", "E9", datetime(2026, 7, 2, 8, 0)) == (
        "outside the 30-day installation callback window: completed 2026-06-01, 31 days ago"
    )


def test_a_job_without_a_completion_time_cannot_be_judged():
    assert refusal(JobKind.REPAIR, None, "E4", "E4", datetime(2026, 1, 2)) == (
        "job 'J1' has no completion time"
    )


@pytest.mark.parametrize("kind", [JobKind.DELIVERY, JobKind.PICKUP])
def test_deliveries_and_pickups_never_get_callbacks(kind):
    reason = refusal(kind, REPAIRED, None, None, datetime(2026, 1, 2))
    assert reason is not None
    assert reason.startswith(f"job 'J1' is a {kind.value}: only installations and repairs")
    assert "return/exchange (pickup) job" in reason


def test_the_stored_kind_string_works_as_well_as_the_enum():
    now = datetime(2026, 7, 1)
    assert refusal("repair", REPAIRED, "E4", "E4", now) == refusal(
        JobKind.REPAIR, REPAIRED, "E4", "E4", now
    )
    assert refusal("delivery", REPAIRED, None, None, now).startswith("job 'J1' is a delivery:")
