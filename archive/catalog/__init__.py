"""The SQL catalog: what was built, from what, how it changed and where it was published.

Tables are SQLAlchemy 2.x declarative models (`archive.catalog.models`); the schema is
created and evolved only by the versioned Alembic migrations in `migrations/`, so the
same schema runs on SQLite and PostgreSQL (`archive.catalog.db.upgrade`).
"""
