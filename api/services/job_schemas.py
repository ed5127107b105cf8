"""The job shapes shared by several routers: a time window in a request (`WindowIn`) and a
job in an answer (`JobOut`). Routers import this module, never each other."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.storage.types import Moment


class WindowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: Moment
    end: Moment


class JobOut(BaseModel):
    id: str
    kind: str
    status: str
    due_date: date
    region: str
    zone: str | None
    priority: str
    order_id: str
    received_at: datetime
    crew_id: str | None
    plan_id: str | None
    visit: int
    callback_of: str | None
    fault: str | None
    arrived_at: datetime | None
    completed_at: datetime | None
    cancel_reason: str | None
    version: int
    record: dict[str, Any] = Field(
        description="the job as imported; names, phones and addresses only for roles that "
        "may see them"
    )
