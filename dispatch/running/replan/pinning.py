"""Which reported events pin a visit: the one rule, shared by the service
(`api/services/day_state.py`,
events from the database) and `dispatch replan` on files (`scripts/replan_cli.py`, an events
CSV).

Per job, the events of its current visit (event type -> the time it was reported for; the
types of `dispatch.running.lifecycle.EventType`):

* `completed` or `failed` -> **done**, from the `started` (else `arrived`) time to the
  terminal one (from the terminal one if neither was reported);
* `arrived` or `started` without a terminal event -> **in progress** since `started` (else
  `arrived`);
* `departed` alone pins nothing: the re-plan's freeze horizon keeps a stop that is about to
  start where it is.

Done and in-progress visits are the re-plan's **pinned** stops: they keep crew, order and
their actual times (see `dispatch.running.replan`). `state_as_planned`
(`dispatch.running.replan.state`)
pins by the plan's own times instead, when no events are known.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from dispatch.running.lifecycle import EventType


def pinned_visits(
    events: Mapping[str, Mapping[str, datetime]],
) -> tuple[dict[str, tuple[datetime, datetime]], dict[str, datetime]]:
    """(done: job id -> (start, end), in progress: job id -> start) from each job's events."""
    done: dict[str, tuple[datetime, datetime]] = {}
    in_progress: dict[str, datetime] = {}
    for job_id, times in events.items():
        began = times.get(EventType.STARTED) or times.get(EventType.ARRIVED)
        end = times.get(EventType.COMPLETED) or times.get(EventType.FAILED)
        if end is not None:
            done[job_id] = (began or end, end)
        elif began is not None:
            in_progress[job_id] = began
    return done, in_progress
