"""driver PINs and uploads

Crews get a PIN their drivers sign in with on the phone app (`crew_pins`: an argon2id hash,
never the PIN), and the phone app's photos and signatures are recorded in `uploads` (the
bytes are files in the upload folder, named by the row's id: `api.services.uploads`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crew_pins",
        sa.Column("crew_id", sa.String(length=64), nullable=False),
        sa.Column("pin_hash", sa.String(length=200), nullable=False),
        sa.Column("set_at", sa.DateTime(), nullable=False),
        sa.Column("set_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["crew_id"], ["crews.id"], name="fk_crew_pins_crew_id", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("crew_id"),
    )
    op.create_table(
        "uploads",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("media_type", sa.String(length=50), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=100), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        sa.Column("crew_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("idempotency_scope", sa.String(length=120), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_uploads_job_id"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_scope", "idempotency_key", name="uq_uploads_idempotency"),
    )
    op.create_index("ix_uploads_job_id", "uploads", ["job_id"], unique=False)
    op.create_index("ix_uploads_crew_id", "uploads", ["crew_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_uploads_crew_id", table_name="uploads")
    op.drop_index("ix_uploads_job_id", table_name="uploads")
    op.drop_table("uploads")
    op.drop_table("crew_pins")
