"""Paginated list answers: `{"items": [...], "total": N, "limit": L, "offset": O}`."""

from __future__ import annotations

from typing import Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class PageParams(BaseModel):
    limit: int
    offset: int


def page_params(
    limit: int = Query(100, ge=1, le=500, description="items per page (at most 500)"),
    offset: int = Query(0, ge=0, le=10_000_000, description="items to skip"),
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


def paginate(session: Session, query: Select, params: PageParams) -> tuple[list, int]:
    """The rows of one page of `query` and the total count of all its rows."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.scalars(query.limit(params.limit).offset(params.offset)).all()
    return list(rows), int(total or 0)
