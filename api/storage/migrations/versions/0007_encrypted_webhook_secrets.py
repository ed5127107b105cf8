"""webhook secrets encrypted at rest

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-15 00:00:00.000000

`webhooks.secret` held each webhook's signing secret in plain text; from this revision it holds
`fernet:<token>` (`api.storage.webhook_secrets`), the column widened to 500 characters for it
(on PostgreSQL; SQLite does not enforce a VARCHAR's length, and widening it there would mean
copying the table, which the outbox's ON DELETE CASCADE forbids).

The key comes from the settings the migration is run with (`dispatch serve` hands its own
over) or, from `dispatch db upgrade` and the alembic command line, from the environment:
`FIELDROUTE_WEBHOOK_SECRET_KEY`, else the token signing secret (`FIELDROUTE_SECRET_KEY`, or the
installation's secret file). Where there are secrets to convert and no key can be found, the
migration stops with a message saying what to set, and changes nothing. The downgrade
decrypts them again (with the same key; one it cannot decrypt stops it, nothing lost).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from api.settings import SecretKeyError, Settings
from api.storage.webhook_secrets import SecretBox, SecretUnreadable, is_sealed, secret_box

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OLD_LENGTH = 200
NEW_LENGTH = 500


class WebhookSecretMigrationError(RuntimeError):
    """Webhook secrets that cannot be converted: nothing has been changed."""


def _box() -> SecretBox:
    settings = context.config.attributes.get("settings")
    try:
        if settings is None:
            settings = Settings()
        return secret_box(settings, create=False)
    except SecretKeyError as exc:
        raise WebhookSecretMigrationError(
            f"cannot encrypt or decrypt the stored webhook secrets: {exc}. Run the migration "
            "with the service's settings; nothing has been changed"
        ) from exc


def _rows() -> list[tuple[int, str]]:
    result = op.get_bind().execute(sa.text("SELECT id, secret FROM webhooks ORDER BY id"))
    return [(int(row[0]), str(row[1])) for row in result]


def _store(values: dict[int, str]) -> None:
    statement = sa.text("UPDATE webhooks SET secret = :secret WHERE id = :id")
    bind = op.get_bind()
    for row_id, secret in values.items():
        bind.execute(statement, {"id": row_id, "secret": secret})


def _resize(old: int, new: int) -> None:
    if op.get_bind().dialect.name == "sqlite":
        return  # SQLite ignores the length (see the docstring)
    op.alter_column(
        "webhooks",
        "secret",
        existing_type=sa.String(length=old),
        type_=sa.String(length=new),
        existing_nullable=False,
    )


def upgrade() -> None:
    _resize(OLD_LENGTH, NEW_LENGTH)
    plain = [(row_id, secret) for row_id, secret in _rows() if not is_sealed(secret)]
    if plain:
        box = _box()
        _store({row_id: box.seal(secret) for row_id, secret in plain})


def downgrade() -> None:
    sealed = [(row_id, secret) for row_id, secret in _rows() if is_sealed(secret)]
    if sealed:
        box = _box()
        values: dict[int, str] = {}
        for row_id, secret in sealed:
            try:
                values[row_id] = box.open(secret)
            except SecretUnreadable as exc:
                raise WebhookSecretMigrationError(
                    f"webhook {row_id}: {exc}; nothing has been changed"
                ) from None
        _store(values)
    _resize(NEW_LENGTH, OLD_LENGTH)
