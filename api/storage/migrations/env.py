"""Alembic environment: runs against the engine handed over by `api.storage.db.migrate`, or the
`DATABASE_URL` from the service settings when run from the alembic command line."""

from __future__ import annotations

from alembic import context

from api.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _engine():
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine
    from api.settings import Settings
    from api.storage.db import make_engine

    return make_engine(Settings().database_url)


def run_migrations_online() -> None:
    engine = _engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
