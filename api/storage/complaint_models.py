"""The complaints table (migration 0012): a customer's complaint about a job and its crew, with
the 4-hour first-answer clock (`dispatch.running.complaints`).

Kept apart from `api.storage.models` (whose `Base` it shares, so Alembic and the schema see one
metadata), like `api.storage.booking_models`. Times are naive local times of the region. The
complaint's and the answer's text may hold personal data: they go only to the roles that see
it and never into logs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.storage.models import ID, Base


class ComplaintRow(Base):
    """One complaint. `answer_due_at` is `received_at` plus the first-answer hours; the first
    answer sets `answered_at`; a complaint still unanswered at its due time is `escalated_at`
    once (webhook `complaint.escalated`); `closed_at` ends it."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    #: the crew complained about: the job's crew when it was recorded, unless given
    crew_id: Mapped[str | None] = mapped_column(ID, index=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # phone | app | store | web | other
    category: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    answer_due_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    recorded_by: Mapped[str] = mapped_column(String(200))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    answered_by: Mapped[str | None] = mapped_column(String(200))
    answer: Mapped[str | None] = mapped_column(Text)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolution: Mapped[str | None] = mapped_column(Text)
