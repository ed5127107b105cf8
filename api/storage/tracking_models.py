"""The tables of live tracking (migration 0010): each crew's last known position, sent by
its phone while its route runs, and the links customers follow to see their visit coming.

Kept apart from `api.storage.models` (whose `Base` they share, so Alembic and the schema see
one metadata), like `api.storage.driver_models`. Times are naive local times of the region.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from api.storage.models import Base


class CrewPositionRow(Base):
    """A crew's last known position (`POST /me/position`, `api.services.positions`).

    One row per crew, overwritten by each position stored: the service keeps no trail of
    where a crew has been (privacy), only where it was last seen. `day` is the working day
    the position belongs to; `device_time` is when the phone took it (its clock, believed
    under the event clock rule, else the receive time), `received_at` the server's clock.
    Retention deletes rows received more than a day ago (`api.services.retention`).
    """

    __tablename__ = "crew_positions"

    crew_id: Mapped[str] = mapped_column(
        ForeignKey("crews.id", name="fk_crew_positions_crew_id", ondelete="CASCADE"),
        primary_key=True,
    )
    day: Mapped[date] = mapped_column(Date)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    device_time: Mapped[datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class TrackingLinkRow(Base):
    """A customer's tracking link for one job (`/track/{token}`, `api.services.tracking`).

    Only the SHA-256 of the token is stored (hex): the token itself is shown once, in the
    answer that made it (and in the customer's notice text), so a copy of the database
    cannot be turned into working links. The link expires at `expires_at` (the end of the
    day after the job's day) and is refused 2 hours after the job is closed.
    """

    __tablename__ = "tracking_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[str] = mapped_column(
        ForeignKey("jobs.id", name="fk_tracking_links_job_id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
