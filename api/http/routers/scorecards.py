"""Crew scorecards: how well each crew, and own vs temporary crews, serve the customer.

`GET /crews/{crew_id}/scorecard` answers one crew's card with its weekly trend;
`GET /scorecards` a card per crew (or one for own and one for temporary crews), sortable.
Both take a period `from`/`to` (both days included, at most 366; by default the last 28 days
up to today on the service's clock). The figures (ratings, callbacks per 100 installations
and per 100 completed jobs, first-time fix, on-time share on the customer's clock with the
planning clock beside it, jobs completed, complaints) are defined in docs/service-metrics.md,
"Crew scorecards"; `dispatch.metrics.scorecard` computes them and `api.services.scorecards`
reads the rows.

Office roles only (dispatcher, planner, manager, admin): figures and crew ids, no personal
data. A region-bound dispatcher sees his regions' crews only: 403 for another region's crew
or `region`, and only his crews in the list.
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status

from api.http.auth import require
from api.http.deps import CtxDep, SessionDep
from api.principals import ANY_OFFICE, Principal, check_region
from api.services.figure_regions import figure_regions
from api.services.scorecards import crew_fact, crew_scorecard, list_scorecards
from api.storage.types import Day
from dispatch.errors import InputError
from dispatch.metrics.scorecard import Group, SortKey

router = APIRouter(tags=["scorecards"])

#: the period when none is asked for: this many days up to today
DEFAULT_DAYS = 28
#: the longest period one request may ask for (a leap year)
MAX_PERIOD_DAYS = 366

FromDay = Annotated[
    Day | None,
    Query(alias="from", description="first day (included); default: 27 days before `to`"),
]
ToDay = Annotated[
    Day | None, Query(description="last day (included); default: today (service clock)")
]


class Order(StrEnum):
    ASC = "asc"
    DESC = "desc"


def period_of(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The period asked for, the defaults filled in: `to` today, `from` 27 days before `to`
    (28 days in all). A start after the end, or a period over 366 days, is a 422 naming
    `from` (the day that moves it out of order)."""
    last = end if end is not None else today
    first = start if start is not None else last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise InputError("query", "from", f"the period starts ({first}) after it ends ({last})")
    days = (last - first).days + 1
    if days > MAX_PERIOD_DAYS:
        raise InputError(
            "query", "from", f"the period is {days} days; at most {MAX_PERIOD_DAYS} are allowed"
        )
    return first, last


@router.get(
    "/crews/{crew_id}/scorecard",
    response_model=dict[str, Any],
    summary="One crew's scorecard for a period, with its weekly trend",
    description="Customer ratings (good / fair / poor / very poor, share good), callbacks per "
    "100 installations and per 100 completed jobs (target under 4 %; a callback counts "
    "against the original job's crew), first-time fix, on-time share on the customer's clock "
    "(calendar hours from the order) with the planning clock beside it, jobs completed and "
    "complaints, for the period (`figures`) and per ISO week of it (`weeks`). Every ratio "
    "has its numerator and denominator (`value` null when there is no data). Exact "
    "definitions: docs/service-metrics.md, 'Crew scorecards'. 404 for an unknown crew, 403 "
    "for a crew of another region than a bound dispatcher's.",
)
def read_scorecard(
    crew_id: str,
    from_: FromDay = None,
    to: ToDay = None,
    *,
    principal: Principal = Depends(require(*ANY_OFFICE)),
    ctx: CtxDep,
    session: SessionDep,
) -> dict[str, Any]:
    period = period_of(from_, to, ctx.settings.now().date())
    crew = crew_fact(session, crew_id)
    if crew is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"crew {crew_id!r} not found")
    check_region(principal, crew.region)
    return crew_scorecard(session, crew, period)


@router.get(
    "/scorecards",
    response_model=dict[str, Any],
    summary="Scorecards of every crew, or of own vs temporary crews, for a period",
    description="One card per crew (`group=crew`: the active crews, and retired ones with "
    "work in the period) or one for own and one for temporary crews (`group=own_temporary`), "
    "each with the figures of `GET /crews/{crew_id}/scorecard` (`weeks=true` adds the weekly "
    "figures). `sort`: crew (id), callback_rate (per 100 installations), callback_rate_jobs, "
    "rating (share good), first_time_fix, on_time (customer's clock), completed, complaints; "
    "`order` asc or desc; cards without data for the sort key come last. `region` keeps that "
    "region's crews; a bound dispatcher gets his regions' crews (403 for another region).",
)
def list_cards(
    from_: FromDay = None,
    to: ToDay = None,
    *,
    group: Annotated[Group, Query(description="crew, or own_temporary")] = Group.CREW,
    sort: Annotated[SortKey, Query(description="what the cards are sorted by")] = SortKey.CREW,
    order: Annotated[Order, Query(description="asc or desc")] = Order.ASC,
    weeks: Annotated[bool, Query(description="add each card's weekly figures")] = False,
    region: Annotated[
        str | None, Query(max_length=32, description="only this region's crews")
    ] = None,
    principal: Principal = Depends(require(*ANY_OFFICE)),
    ctx: CtxDep,
    session: SessionDep,
) -> dict[str, Any]:
    period = period_of(from_, to, ctx.settings.now().date())
    regions = figure_regions(principal, region)
    answer = list_scorecards(
        session,
        period,
        regions=regions,
        group=group,
        sort=sort,
        descending=order is Order.DESC,
        weeks=weeks,
    )
    if regions is not None:
        answer["filters"] = {"regions": sorted(regions)}
    return answer
