"""complaints

Customers' complaints about a job and its crew, with the 4-hour first-answer clock
(`complaints`: received, due, answered, escalated, closed).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("crew_id", sa.String(length=64), nullable=True),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=30), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("answer_due_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("answered_by", sa.String(length=200), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("job_id", "crew_id", "region", "received_at", "answer_due_at", "escalated_at"):
        op.create_index(f"ix_complaints_{column}", "complaints", [column])


def downgrade() -> None:
    for column in ("job_id", "crew_id", "region", "received_at", "answer_due_at", "escalated_at"):
        op.drop_index(f"ix_complaints_{column}", table_name="complaints")
    op.drop_table("complaints")
