"""Storage: the database engine and sessions, the SQLAlchemy models, the store's queries and
column types, and the Alembic migrations."""
