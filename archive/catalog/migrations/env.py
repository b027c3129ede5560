"""Alembic environment of the catalog.

Used programmatically by `archive.catalog.db` (no alembic.ini): the connection comes from
`config.attributes["connection"]`, else one is made from the `sqlalchemy.url` option.

On SQLite, foreign keys are switched off while migrating (a batch ALTER copies and drops
tables, which would otherwise cascade deletes) and checked afterwards, and the whole
upgrade runs in one transaction, as on PostgreSQL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from archive.catalog.models import Base
from base.errors import CatalogError

config = context.config
target_metadata = Base.metadata


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    # PRAGMA foreign_keys is a no-op inside a transaction: use the DBAPI connection
    # directly so SQLAlchemy does not begin one first.
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


def _check_sqlite_foreign_keys(connection: Connection) -> None:
    problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if problems:
        table, rowid, parent, _ = problems[0]
        raise CatalogError(
            connection.engine.url.render_as_string(hide_password=True),
            f"migration left {len(problems)} dangling foreign key(s), "
            f"e.g. {table} row {rowid} -> {parent}",
        )


def run_migrations(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    toggle = sqlite and not connection.in_transaction()
    if toggle:
        _sqlite_foreign_keys(connection, on=False)
    try:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            compare_type=True,
            transactional_ddl=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                _check_sqlite_foreign_keys(connection)
    finally:
        if toggle:
            if connection.in_transaction():
                connection.rollback()
            _sqlite_foreign_keys(connection, on=True)


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        render_as_batch=True,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    from archive.catalog.db import make_engine

    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection in config.attributes and no sqlalchemy.url")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
