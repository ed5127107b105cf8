"""positions and tracking

Crews' last known positions from the phone app (`crew_positions`: one row per crew, the
newest only, no trail) and customers' tracking links (`tracking_links`: the SHA-256 of the
token, never the token).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crew_positions",
        sa.Column("crew_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("device_time", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["crew_id"], ["crews.id"], name="fk_crew_positions_crew_id", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("crew_id"),
    )
    op.create_index("ix_crew_positions_received_at", "crew_positions", ["received_at"])
    op.create_table(
        "tracking_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_tracking_links_job_id", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_tracking_links_job_id", "tracking_links", ["job_id"])
    op.create_index("ix_tracking_links_expires_at", "tracking_links", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_tracking_links_expires_at", table_name="tracking_links")
    op.drop_index("ix_tracking_links_job_id", table_name="tracking_links")
    op.drop_table("tracking_links")
    op.drop_index("ix_crew_positions_received_at", table_name="crew_positions")
    op.drop_table("crew_positions")
