"""Engines, sessions and migrations of the catalog, the same on SQLite and PostgreSQL.

The schema is only ever created by the Alembic migrations (`upgrade`); Alembic is driven
from code with a `Config` built here, so no alembic.ini and no particular current
directory are needed.

Database failures (server unreachable, no such database, permission denied, unknown
revision) become one-line `CatalogError`s naming the URL with its password hidden.
"""

from __future__ import annotations

import fcntl
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from archive.urls import mask_passwords
from base.errors import CatalogError

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported only when a catalog is not at the newest revision (or one is
# asked for): a command on an up-to-date catalog starts without it.

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

POSTGRES_CONNECT_TIMEOUT = 10
SQLITE_BUSY_TIMEOUT = 60
"""Seconds to wait for a PostgreSQL server unless the URL says otherwise."""

def display_url(url: str | URL) -> str:
    """The URL as it may be shown to a user: the password, if any, is masked."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return mask_passwords(url)


def _one_line(exc: BaseException, url: URL | None = None) -> str:
    cause: BaseException = exc
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        cause = exc.orig
    text = " ".join(str(cause).split()) or type(cause).__name__
    if url is not None and url.password:
        text = text.replace(str(url.password), "***")
    return text


def _sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL, or None for an in-memory or `file:` URI database."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


@contextmanager
def catalog_errors(url: str | URL) -> Iterator[None]:
    """Turn database and migration failures into a one-line CatalogError about `url`."""
    parsed = url if isinstance(url, URL) else None
    try:
        yield
    except DBAPIError as exc:
        raise CatalogError(display_url(url), _one_line(exc, parsed)) from exc
    except Exception as exc:
        alembic = sys.modules.get("alembic.util.exc")  # loaded if a migration ran
        if alembic is not None and isinstance(exc, alembic.CommandError):
            raise CatalogError(display_url(url), _one_line(exc, parsed)) from exc
        raise


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for the catalog at `url`.

    SQLite: the file's directory is created, foreign keys are enforced, the journal is
    WAL, and SQLAlchemy (not the sqlite3 module) emits BEGIN so that DDL is
    transactional and SAVEPOINTs work, as on PostgreSQL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise CatalogError(display_url(str(url)), "not a database URL") from exc
    shown = parsed.render_as_string(hide_password=True)
    backend = parsed.get_backend_name()
    path = _sqlite_file(parsed)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CatalogError(shown, f"cannot create {path.parent}: {exc.strerror}") from exc
    if (
        backend == "postgresql"
        and parsed.get_driver_name() in ("psycopg", "psycopg2")
        and "connect_timeout" not in parsed.query
    ):
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("connect_timeout", POSTGRES_CONNECT_TIMEOUT)
        kwargs["connect_args"] = connect_args
    if backend == "sqlite":
        # Several processes (workers, the CLI) share one file: wait for a lock, do not fail.
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT)
        kwargs["connect_args"] = connect_args
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise CatalogError(shown, " ".join(str(exc).split())) from exc
    if backend == "sqlite":
        _configure_sqlite(engine, wal=path is not None)
    return engine


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Leave BEGIN to SQLAlchemy (see _on_begin): the sqlite3 module's legacy
        # transaction control would run DDL outside any transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_sqlite_busy(exc: BaseException) -> bool:
    """Whether `exc` is SQLite refusing a write to a transaction that read before another
    connection's commit ("database is locked" at once, the busy timeout does not apply
    in WAL mode): the transaction can only be run again."""
    return (isinstance(exc, OperationalError)
            and "database is locked" in str(getattr(exc, "orig", exc)))


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on `engine`; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


IMMEDIATE = "unessential_immediate"  # an execution option: see `writing`


def writing(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions like `sessions` for transactions that read, then write. On SQLite their
    BEGIN takes the write lock (BEGIN IMMEDIATE): in WAL mode a transaction that read
    before another connection's commit cannot write after it (it fails at once, no
    busy wait), where one that took the lock first waits for it. On PostgreSQL the
    same as `sessions`."""
    bind = sessions.kw["bind"]
    if not isinstance(bind, Engine) or bind.dialect.name != "sqlite":
        return sessions
    return sessionmaker(bind=bind.execution_options(**{IMMEDIATE: True}),
                        expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the catalog's migrations, built in code."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision the code knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise CatalogError(str(MIGRATIONS_DIR), "no migrations found")
    return head


def _revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def newest_file_revision() -> str:
    """The newest revision by the migrations' file names (`NNNN_what.py`, revision
    "NNNN", each revising the one before: tests/test_catalog.py checks it is Alembic's
    head), read without importing Alembic."""
    names = sorted(p.name.split("_", 1)[0] for p in (MIGRATIONS_DIR / "versions")
                   .glob("[0-9][0-9][0-9][0-9]_*.py"))
    if not names:
        raise CatalogError(str(MIGRATIONS_DIR), "no migrations found")
    return names[-1]


def _at_newest(url: str | URL) -> bool:
    """Whether the catalog at `url` exists and is at the newest revision (one query)."""
    try:
        path = _sqlite_file(make_url(url))
    except ArgumentError:
        return False
    if path is not None and not path.exists():
        return False
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:
        return False  # no such table (a new catalog), or another problem: the slow path
    finally:
        engine.dispose()
    return [row[0] for row in rows] == [newest_file_revision()]


MIGRATION_LOCK_KEY = 0x756E6573  # "unes": PostgreSQL advisory lock of migrations


@contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    """One migration of the SQLite file `path` at a time (nothing for another database)."""
    if path is None:
        yield
        return
    with open(f"{path}.migrate.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _migration_lock(engine: Engine, connection: Connection) -> Iterator[None]:
    """One migration at a time: several workers may start on a new catalog at once
    (SQLite: `_file_lock`, taken before connecting)."""
    if engine.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
        connection.commit()
        try:
            yield
        finally:
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")
            connection.commit()
        return
    yield


def _migrate(url: str | URL, step: str, revision: str) -> str | None:
    engine = make_engine(url)
    try:
        # (SQLite: the file lock before the first connection, whose PRAGMA journal_mode
        # =WAL on a new file may find the database locked by another one's, busy or not)
        with _file_lock(_sqlite_file(engine.url)), catalog_errors(engine.url), \
                engine.connect() as connection, _migration_lock(engine, connection):
            from alembic import command

            config = alembic_config(connection)
            if step == "upgrade":
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
            return _revision(connection)
    finally:
        engine.dispose()


def upgrade(url: str | URL, revision: str = "head") -> str:
    """Migrate the catalog at `url` up to `revision`; return the revision it is now at.

    Creates an empty database's schema; does nothing if already there. Returns "base"
    only if the catalog is (still) empty.
    """
    if revision == "head" and _at_newest(url):
        return newest_file_revision()
    return _migrate(url, "upgrade", revision) or "base"


def downgrade(url: str | URL, revision: str) -> str | None:
    """Migrate the catalog at `url` down to `revision` ("base": drop every table)."""
    return _migrate(url, "downgrade", revision)


def current_revision(url: str | URL) -> str | None:
    """The revision the catalog at `url` is at; None if it has none (or does not exist).

    A SQLite file that does not exist is not created.
    """
    try:
        path = _sqlite_file(make_url(url))
    except ArgumentError:
        path = None  # make_engine says what is wrong with it
    if path is not None and not path.exists():
        return None
    engine = make_engine(url)
    try:
        with catalog_errors(engine.url), engine.connect() as connection:
            return _revision(connection)
    finally:
        engine.dispose()


def require_current(url: str | URL) -> None:
    """CatalogError unless the catalog at `url` is at the newest revision the code knows.

    A command that reads or writes the catalog's tables calls this first, so an empty
    or older catalog is one line telling the user what to run, not a database error.
    """
    revision = current_revision(url)
    head = head_revision()
    if revision == head:
        return
    shown = display_url(url)
    if revision is None:
        raise CatalogError(shown, "the catalog has no tables yet: run "
                           "`unessential catalog upgrade` first")
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    try:
        known = ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise CatalogError(shown, f"the catalog is at revision {revision}, unknown to this "
                           f"version (head {head}): it was migrated by a newer unessential")
    raise CatalogError(shown, f"the catalog is at revision {revision}, this version needs "
                       f"{head}: run `unessential catalog upgrade` first")
