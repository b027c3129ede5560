"""The SQL catalog: migrations, models and queries, on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import create_engine, delete, inspect, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from archive.catalog import db
from archive.catalog.models import (
    Base,
    BinaryPackage,
    Build,
    Publication,
    RelationChange,
    ScriptRewrite,
    SourcePackage,
)
from archive.catalog.queries import add_source, dropped_relations
from base.errors import CatalogError

TABLES = {
    "source_package",
    "build",
    "binary_package",
    "relation_change",
    "source_file",
    "version_counter",
    "upload",
    "script_rewrite",
    "publication",
    "image",
    "image_package",
    "implicit_use",
    "flagged_binary",
    "survey",
    "survey_package",
    "survey_line",
}
SHA = "0" * 64


# -- backends -------------------------------------------------------------------------


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """An empty catalog database (no tables at all)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'catalog.sqlite'}"
        return
    database = request.getfixturevalue("pg_database")
    _reset_postgres(database)
    yield database
    _reset_postgres(database)


@pytest.fixture
def engine(url: str):
    db.upgrade(url)
    engine = db.make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine) -> Iterator[Session]:
    with db.session_factory(engine)() as session:
        yield session


def _table_names(url: str) -> set[str]:
    engine = db.make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _build(session: Session, name: str = "hello", version: str = "2.10-3") -> Build:
    source = add_source(session, name, version, "bookworm", SHA)
    build = Build(
        source_package=source,
        recipe_digest="sha256:" + "1" * 64,
        env_digest="sha256:" + "2" * 64,
        origin="source-build",
    )
    session.add(build)
    session.flush()
    return build


def _binary(build: Build, name: str, version: str = "1.0-1", arch: str = "amd64") -> BinaryPackage:
    binary = BinaryPackage(
        name=name,
        version=version,
        architecture=arch,
        sha256="a" * 64,
        size=5 * 2**32,
        filename=f"pool/main/{name[0]}/{name}/{name}_{version}_{arch}.deb",
    )
    build.binaries.append(binary)
    return binary


# -- migrations -----------------------------------------------------------------------


HEAD = "0011"


def test_upgrade_from_empty_creates_every_table(url: str) -> None:
    assert db.current_revision(url) is None
    assert db.upgrade(url) == db.head_revision() == HEAD
    assert _table_names(url) == TABLES | {"alembic_version"}
    assert db.current_revision(url) == HEAD


def test_upgrade_is_idempotent(url: str) -> None:
    assert db.upgrade(url) == HEAD
    assert db.upgrade(url) == HEAD
    assert db.upgrade(url, HEAD) == HEAD
    assert _table_names(url) == TABLES | {"alembic_version"}


def test_upgrade_step_by_step_keeps_rows(url: str) -> None:
    assert db.upgrade(url, "0001") == "0001"
    engine = db.make_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO source_package (name, version, suite, dsc_sha256) "
                "VALUES ('hello', '2.10-3', 'bookworm', '" + "0" * 64 + "')")
            connection.exec_driver_sql(
                "INSERT INTO build (source_package_id, recipe_digest, env_digest, origin, "
                "status) VALUES (1, 'r', 'e', 'repack', 'done')")
    finally:
        engine.dispose()
    assert db.upgrade(url) == HEAD
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            row = connection.exec_driver_sql(
                "SELECT status, campaign, heartbeat_at FROM build").one()
    finally:
        engine.dispose()
    assert tuple(row) == ("done", None, None)
    assert db.downgrade(url, "0001") == "0001"


def test_downgrade_to_base_and_back(url: str) -> None:
    db.upgrade(url)
    assert db.downgrade(url, "base") is None
    assert _table_names(url) <= {"alembic_version"}
    assert db.current_revision(url) is None
    assert db.upgrade(url) == HEAD
    assert _table_names(url) == TABLES | {"alembic_version"}


def test_models_match_migrations(engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    assert diffs == []


def test_constraint_names_are_the_conventional_ones(engine) -> None:
    inspector = inspect(engine)
    assert inspector.get_pk_constraint("build")["name"] == "pk_build"
    assert {fk["name"] for fk in inspector.get_foreign_keys("binary_package")} == {
        "fk_binary_package_build_id_build"
    }
    assert {uq["name"] for uq in inspector.get_unique_constraints("source_package")} == {
        "uq_source_package_name_version_suite"
    }
    assert {ck["name"] for ck in inspector.get_check_constraints("build")} == {
        "ck_build_status",
        "ck_build_origin",
    }
    assert {ix["name"] for ix in inspector.get_indexes("relation_change")} == {
        "ix_relation_change_binary_id",
        "ix_relation_change_relation",
        "ix_relation_change_relation_name",
        "ix_relation_change_reason",
    }


def test_unknown_revision_is_a_catalog_error(url: str) -> None:
    with pytest.raises(CatalogError) as info:
        db.upgrade(url, "9999")
    assert "9999" in str(info.value)
    assert "\n" not in str(info.value)


# -- round trip -----------------------------------------------------------------------


def test_round_trip(engine) -> None:
    big_script = "#!/bin/sh\nset -e\n" + "echo 'ça marche — 日本語 🐧'\n" * 3500
    assert len(big_script.encode()) > 100_000
    started = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    factory = db.session_factory(engine)
    with factory() as session, session.begin():
        build = _build(session, "perl", "5.36.0-7+deb12u1")
        build.status = "done"
        build.worker = "wörker-1"
        build.started_at = started
        build.finished_at = started + timedelta(minutes=3)
        build.log = "dpkg-buildpackage: info: source package perl ✓\n"
        base = _binary(build, "perl-base", "5.36.0-7+deb12u1")
        _binary(build, "perl", "5.36.0-7+deb12u1", arch="all")
        base.relation_changes.append(
            RelationChange(
                field="Pre-Depends",
                relation="dpkg (>= 1.17.17)",
                action="dropped",
                reason="implicit-essential",
                detail="dpkg is ‘essential’",
            )
        )
        base.script_rewrites.append(
            ScriptRewrite(
                script="postinst",
                original_sha256=hashlib.sha256(big_script.encode()).hexdigest(),
                original=big_script,
                actions='[{"action": "drop", "line": 3}]',
                rendered=None,
            )
        )
        session.add(
            Publication(
                suite="bookworm",
                release_sha256="b" * 64,
                key_fingerprint="C" * 40,
                snapshot="20240501T120000Z",
            )
        )
        build_id = build.id

    with factory() as session:
        build = session.get_one(Build, build_id)
        assert build.source_package.name == "perl"
        assert build.status == "done"
        assert build.worker == "wörker-1"
        assert build.started_at == started
        assert build.started_at.tzinfo == UTC
        assert build.finished_at is not None
        assert build.finished_at - build.started_at == timedelta(minutes=3)
        assert build.created_at.tzinfo == UTC
        assert build.log is not None and "✓" in build.log
        assert sorted((b.name, b.architecture, b.size) for b in build.binaries) == [
            ("perl", "all", 5 * 2**32),
            ("perl-base", "amd64", 5 * 2**32),
        ]
        base = next(b for b in build.binaries if b.name == "perl-base")
        (change,) = base.relation_changes
        assert (change.field, change.relation, change.action, change.reason) == (
            "Pre-Depends",
            "dpkg (>= 1.17.17)",
            "dropped",
            "implicit-essential",
        )
        assert change.detail == "dpkg is ‘essential’"
        (rewrite,) = base.script_rewrites
        assert rewrite.original == big_script
        assert rewrite.original_sha256 == hashlib.sha256(big_script.encode()).hexdigest()
        assert rewrite.rendered is None
        publication = session.scalars(select(Publication)).one()
        assert publication.published_at.tzinfo == UTC
        assert publication.snapshot == "20240501T120000Z"


def test_server_defaults_apply_to_raw_inserts(engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO source_package (name, version, suite, dsc_sha256) "
                "VALUES ('hello', '1', 'sid', :sha)"
            ),
            {"sha": SHA},
        )
    with db.session_factory(engine)() as session:
        source = session.scalars(select(SourcePackage)).one()
        assert source.created_at.tzinfo == UTC
        assert abs(datetime.now(UTC) - source.created_at) < timedelta(minutes=5)


def test_naive_datetimes_are_refused(session: Session) -> None:
    build = _build(session)
    build.started_at = datetime(2024, 1, 1)
    with pytest.raises(Exception, match="naive datetime"):
        session.flush()


def test_check_constraint_rejects_a_bad_status(session: Session) -> None:
    build = _build(session)
    session.commit()
    build.status = "exploded"
    with pytest.raises(IntegrityError, match="ck_build_status"):
        session.commit()


def test_check_constraint_rejects_a_bad_action(session: Session) -> None:
    binary = _binary(_build(session), "hello")
    binary.relation_changes.append(
        RelationChange(field="Depends", relation="libc6", action="removed", reason="recipe")
    )
    with pytest.raises(IntegrityError):
        session.commit()


def test_foreign_keys_are_enforced(session: Session) -> None:
    session.add(
        BinaryPackage(
            build_id=12345,
            name="orphan",
            version="1",
            architecture="all",
            sha256=SHA,
            size=1,
            filename="orphan.deb",
        )
    )
    with pytest.raises(IntegrityError):
        session.commit()


def test_deleting_a_build_cascades_to_its_binaries(engine) -> None:
    factory = db.session_factory(engine)
    with factory() as session, session.begin():
        build = _build(session)
        binary = _binary(build, "hello")
        binary.relation_changes.append(
            RelationChange(field="Depends", relation="libc6", action="dropped", reason="recipe")
        )
        binary.script_rewrites.append(
            ScriptRewrite(script="postrm", original_sha256=SHA, original="#!/bin/sh\n", actions="")
        )
        _binary(build, "hello-doc", arch="all")
        build_id = build.id
    # In the database itself (ON DELETE CASCADE), not through the ORM.
    with factory() as session, session.begin():
        session.execute(delete(Build).where(Build.id == build_id))
    with factory() as session:
        assert session.scalars(select(BinaryPackage)).all() == []
        assert session.scalars(select(RelationChange)).all() == []
        assert session.scalars(select(ScriptRewrite)).all() == []
        assert session.scalars(select(SourcePackage)).one().name == "hello"


def test_a_source_with_builds_cannot_be_deleted(session: Session) -> None:
    _build(session)
    session.commit()
    with pytest.raises(IntegrityError):
        session.execute(delete(SourcePackage))
        session.commit()


def test_unique_binary_per_build_and_architecture(session: Session) -> None:
    build = _build(session)
    _binary(build, "hello")
    _binary(build, "hello")
    with pytest.raises(IntegrityError):  # SQLite does not name the constraint
        session.commit()


# -- queries --------------------------------------------------------------------------


def test_add_source_is_get_or_create(session: Session) -> None:
    first = add_source(session, "hello", "2.10-3", "bookworm", SHA)
    again = add_source(session, "hello", "2.10-3", "bookworm", SHA)
    other_suite = add_source(session, "hello", "2.10-3", "trixie", SHA)
    session.commit()
    assert first is again
    assert other_suite.id != first.id
    assert len(session.scalars(select(SourcePackage)).all()) == 2


def test_add_source_refuses_another_digest(session: Session) -> None:
    add_source(session, "hello", "2.10-3", "bookworm", SHA)
    with pytest.raises(CatalogError, match="already recorded"):
        add_source(session, "hello", "2.10-3", "bookworm", "f" * 64)


def test_dropped_relations_match_the_package_name_only(session: Session) -> None:
    build = _build(session)
    foo = _binary(build, "foo", "1.0-1")
    bar = _binary(build, "bar", "2.0-1")
    changes = [
        (foo, "Depends", "perl-base (>= 5)", "dropped", "implicit-essential"),
        (foo, "Pre-Depends", "perl-base", "dropped", "script-only"),
        (bar, "Depends", "perl-base:any", "dropped", "recipe"),
        (bar, "Depends", "perl-base-x", "dropped", "recipe"),
        (bar, "Depends", "perl-base-x (>= 1)", "dropped", "recipe"),
        (bar, "Depends", "PERL-BASE (>= 5)", "dropped", "recipe"),
        (bar, "Recommends", "perl-base (>= 5)", "added", "recipe"),
        (bar, "Depends", "libperl-base", "dropped", "recipe"),
    ]
    for binary, field, relation, action, reason in changes:
        binary.relation_changes.append(
            RelationChange(field=field, relation=relation, action=action, reason=reason)
        )
    session.commit()
    assert dropped_relations(session, "perl-base") == [
        ("bar", "2.0-1", "Depends", "perl-base:any", "recipe"),
        ("foo", "1.0-1", "Depends", "perl-base (>= 5)", "implicit-essential"),
        ("foo", "1.0-1", "Pre-Depends", "perl-base", "script-only"),
    ]
    assert [row[3] for row in dropped_relations(session, "perl-base-x")] == [
        "perl-base-x",
        "perl-base-x (>= 1)",
    ]
    assert dropped_relations(session, "perl") == []
    with pytest.raises(ValueError):
        dropped_relations(session, "perl%")


# -- errors ---------------------------------------------------------------------------


def test_unreachable_server_is_a_one_line_catalog_error() -> None:
    with pytest.raises(CatalogError) as info:
        db.upgrade("postgresql+psycopg://root@127.0.0.1:1/x")
    error = info.value
    assert error.subject == "postgresql+psycopg://root@127.0.0.1:1/x"
    assert "\n" not in str(error)
    assert error.cause


def test_catalog_errors_never_show_the_password() -> None:
    for call in (db.upgrade, db.current_revision):
        with pytest.raises(CatalogError) as info:
            call("postgresql+psycopg://root:s3cr3t@127.0.0.1:1/x")
        assert "s3cr3t" not in str(info.value)
        assert info.value.subject == "postgresql+psycopg://root:***@127.0.0.1:1/x"


def test_bad_url_is_a_catalog_error() -> None:
    with pytest.raises(CatalogError):
        db.make_engine("not a url")
    with pytest.raises(CatalogError):
        db.make_engine("nosuchdb://x/y")


def test_current_does_not_create_a_sqlite_file(tmp_path) -> None:
    path = tmp_path / "no" / "catalog.sqlite"
    assert db.current_revision(f"sqlite:///{path}") is None
    assert not path.exists()


def test_migrations_do_not_depend_on_the_current_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert db.upgrade(f"sqlite:///{tmp_path / 'c.sqlite'}") == db.head_revision()
    assert not (tmp_path / "alembic.ini").exists()


# -- command line ---------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UNESSENTIAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("UNESSENTIAL_CONFIG", raising=False)
    monkeypatch.delenv("UNESSENTIAL_DATABASE_URL", raising=False)
    return tmp_path


def _main_cli():
    try:
        from unessential.cli import cli
    except ImportError:  # the rest of the command line is not there yet
        import click

        from archive.catalog.cli import catalog

        cli = click.Group("unessential", commands={"catalog": catalog})
    return cli


def test_cli_upgrade_and_current(cli_env) -> None:
    cli = _main_cli()
    runner = CliRunner()
    catalog_file = cli_env / "data" / "catalog.sqlite"

    result = runner.invoke(cli, ["catalog", "current", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["revision"] is None
    assert not catalog_file.exists()

    result = runner.invoke(cli, ["catalog", "upgrade", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data == {
        "url": f"sqlite:///{catalog_file}",
        "previous": None,
        "revision": HEAD,
        "head": HEAD,
        "at_head": True,
    }
    assert catalog_file.exists()

    result = runner.invoke(cli, ["catalog", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.output == f"catalog at sqlite:///{catalog_file}: revision {HEAD} (head)\n"

    result = runner.invoke(cli, ["catalog", "current"])
    assert result.exit_code == 0, result.output
    assert result.output == f"catalog at sqlite:///{catalog_file}: revision {HEAD} (head)\n"


def test_cli_unreachable_database(cli_env, monkeypatch) -> None:
    monkeypatch.setenv("UNESSENTIAL_DATABASE_URL", "postgresql+psycopg://root:pw@127.0.0.1:1/x")
    result = CliRunner().invoke(_main_cli(), ["catalog", "upgrade"])
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit | CatalogError)
    assert ":pw@" not in result.output


def test_concurrent_upgrades_of_a_new_catalog(url: str) -> None:
    """Workers started together on an empty catalog: one migrates, the others wait."""
    import subprocess
    import sys

    code = "import sys; from archive.catalog.db import upgrade; print(upgrade(sys.argv[1]))"
    processes = [subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, outputs
    assert {out.strip() for out, _ in outputs} == {HEAD}


def test_version_counters_are_unique_per_source_version(url: str) -> None:
    """Each build identity of a source version gets a counter; a new identity, or going
    back to an older one, gets one more than the highest; a retry of the highest keeps
    it; two planners can never record one counter twice (the unique constraint)."""
    from sqlalchemy.exc import IntegrityError

    from archive.catalog.models import VersionCounter
    from worker.plan import version_counter

    db.upgrade(url)
    sessions = db.session_factory(db.make_engine(url))

    def take(recipe: str, version: str = "1.0-1") -> int:
        with sessions.begin() as session:
            return version_counter(session, "foo", version, recipe, "env")

    assert [take("a"), take("a"), take("b"), take("b"), take("a"), take("a")] == \
        [1, 1, 2, 2, 3, 3]
    assert take("a", "1.0-2") == 1  # another version counts on its own
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add(VersionCounter(source="foo", version="1.0-1", counter=3,
                                   recipe_digest="c", env_digest="env"))


def test_the_newest_migration_file_is_alembics_head() -> None:
    """`upgrade` answers for an up-to-date catalog from the file names, without Alembic:
    they must name the same revision, each file revising the one before."""
    from alembic.script import ScriptDirectory

    assert db.newest_file_revision() == db.head_revision() == HEAD
    scripts = ScriptDirectory.from_config(db.alembic_config())
    for revision in scripts.walk_revisions():
        number = int(revision.revision)
        assert revision.down_revision == (f"{number - 1:04d}" if number > 1 else None)


def _one_queued_build(tmp_path: Path) -> tuple[Engine, sessionmaker[Session]]:
    """A SQLite catalog (WAL) holding one queued build, and sessions on it."""
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    with sessions.begin() as session:
        source = add_source(session, "hello", "1.0", "stable", "a" * 64)
        session.add(Build(source_package_id=source.id, recipe_digest="r", env_digest="e",
                          status="queued"))
    return engine, sessions


def test_sqlite_refuses_a_write_after_a_read_and_another_commit(tmp_path: Path) -> None:
    """Why `rebuild` writes task ids without reading first, and the planner runs a
    transaction again: in WAL mode, a transaction that read, then writes after another
    connection committed, fails at once (no busy wait); one that only writes waits."""
    engine, sessions = _one_queued_build(tmp_path)
    try:
        reader = sessions()
        reader.begin()
        build = reader.scalars(select(Build)).one()
        with sessions.begin() as other:
            other.execute(text("UPDATE build SET worker = 'w1'"))
        build.task_id = "t1"
        with pytest.raises(OperationalError) as caught:
            reader.flush()
        assert db.is_sqlite_busy(caught.value)
        reader.rollback()
        reader.close()
        with sessions.begin() as writer:  # the pattern `rebuild` uses: writes only
            writer.execute(update(Build).values(task_id="t2"))
            with sessions.begin() as other:
                assert other.scalars(select(Build.task_id)).one() is None
        with sessions.begin() as session:
            assert session.scalars(select(Build.task_id)).one() == "t2"
        assert not db.is_sqlite_busy(OperationalError("x", {}, Exception("disk I/O error")))
    finally:
        engine.dispose()


def test_writing_sessions_read_then_write_while_others_commit(tmp_path: Path) -> None:
    """`db.writing`: on SQLite the transaction takes the write lock at BEGIN, so another
    connection's write waits for it instead of breaking it."""
    engine, sessions = _one_queued_build(tmp_path)
    try:
        other_done = threading.Event()

        def other_write() -> None:
            with sessions.begin() as other:
                other.execute(text("UPDATE build SET worker = 'w1'"))
            other_done.set()

        with db.writing(sessions).begin() as session:
            build = session.scalars(select(Build)).one()
            thread = threading.Thread(target=other_write)
            thread.start()
            assert not other_done.wait(0.5), "the other write waits for our lock"
            build.task_id = "t1"
        thread.join(10)
        assert other_done.is_set()
        with sessions.begin() as session:
            assert session.execute(select(Build.task_id, Build.worker)).one() == ("t1", "w1")
    finally:
        engine.dispose()
