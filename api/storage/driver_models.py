"""The tables of the drivers' phone app (migration 0009): crews' sign-in PINs and the photos
and signatures uploaded from the road.

Kept apart from `api.storage.models` (whose `Base` they share, so Alembic and the schema see
one metadata) to keep that module readable. Times are naive local times of the region.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.storage.models import ID, Base


class CrewPinRow(Base):
    """A crew's PIN, which its drivers sign in with on the phone app
    (`POST /auth/driver-sign-in`, `api.services.crew_pins`). `pin_hash` is an argon2id hash
    (the same hasher as users' passwords), never the PIN. A separate table rather than a
    column of `crews`: setting a PIN must not bump the crew's version, which dispatchers'
    edits of the crew are checked against."""

    __tablename__ = "crew_pins"

    crew_id: Mapped[str] = mapped_column(
        ForeignKey("crews.id", name="fk_crew_pins_crew_id", ondelete="CASCADE"),
        primary_key=True,
    )
    pin_hash: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(DateTime)
    #: the subject of whoever set it (a dispatcher, an admin, `seed`)
    set_by: Mapped[str] = mapped_column(String(100))


class UploadRow(Base):
    """A photo or signature uploaded for a job (`POST /uploads`, `api.services.uploads`).

    The bytes are a file in the upload folder at `storage_key` (relative; its name is the
    row's `id`, never the client's file name); `media_type` is what its first bytes say it is
    (JPEG, PNG or WebP), not what the client declared. `crew_id` is the uploading driver's
    crew (null for the office). A retry with the same `Idempotency-Key` from the same crew
    (or, for the office, the same subject: `idempotency_scope`) finds this row instead of
    storing a second one. Photos and signatures may show the customer: they are deleted, file
    and row, when retention anonymises their job (`api.services.retention`).
    """

    __tablename__ = "uploads"
    __table_args__ = (
        UniqueConstraint("idempotency_scope", "idempotency_key", name="uq_uploads_idempotency"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", name="fk_uploads_job_id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # photo | signature
    media_type: Mapped[str] = mapped_column(String(50))
    bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(100))
    uploaded_by: Mapped[str] = mapped_column(String(100))
    crew_id: Mapped[str | None] = mapped_column(ID, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    idempotency_scope: Mapped[str | None] = mapped_column(String(120))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
