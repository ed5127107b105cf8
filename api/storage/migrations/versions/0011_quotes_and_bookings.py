"""quotes and bookings

Slot quotes given to the call centre (`quotes`: the order's jobs without personal data, the
options offered, the expiry) and the per-region-day rows that serialise bookings
(`booking_days`).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-12 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quotes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("jobs", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("booked_at", sa.DateTime(), nullable=True),
        sa.Column("booked_option", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_quotes_expires_at", "quotes", ["expires_at"])
    op.create_table(
        "booking_days",
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("bookings", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("region", "day"),
    )


def downgrade() -> None:
    op.drop_table("booking_days")
    op.drop_index("ix_quotes_expires_at", table_name="quotes")
    op.drop_table("quotes")
