"""Shared fixtures: throwaway keys, a signed fixture archive, a local HTTP server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.archive import FixtureArchive
from tests.fixtures.audit_seed import AuditSeed, seed_audit
from tests.fixtures.keys import ArchiveKey, make_key
from tests.fixtures.postgres import PG_SERVER, throwaway_database
from tests.fixtures.server import ArchiveServer


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("UNESSENTIAL_CONFIG", "UNESSENTIAL_DATA_DIR", "UNESSENTIAL_DATABASE_URL",
                 "UNESSENTIAL_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ArchiveKey]]:
    folder = tmp_path_factory.mktemp("keys")
    made = {name: make_key(folder, name) for name in ("archive", "other")}
    yield made
    for key in made.values():
        key.stop_agent()


@pytest.fixture(scope="session")
def archive_template(tmp_path_factory: pytest.TempPathFactory,
                     keys: dict[str, ArchiveKey]) -> FixtureArchive:
    root = tmp_path_factory.mktemp("archive-template")
    archive = FixtureArchive(root=root / "www", key=keys["archive"])
    archive.build(root / "work")
    return archive


@pytest.fixture
def archive(tmp_path: Path, archive_template: FixtureArchive) -> FixtureArchive:
    """A private copy of the fixture archive, free to tamper with."""
    root = tmp_path / "www"
    shutil.copytree(archive_template.root, root)
    return FixtureArchive(root=root, key=archive_template.key, suite=archive_template.suite,
                          packages={k: root / v.relative_to(archive_template.root)
                                    for k, v in archive_template.packages.items()})


@pytest.fixture
def server(archive: FixtureArchive) -> Iterator[ArchiveServer]:
    with ArchiveServer(archive.root) as srv:
        yield srv


@dataclass
class Workspace:
    """A data dir, a destination and a config file pointing at the fixture mirror."""

    data_dir: Path
    dest: Path
    config: Path

    def write_config(self, mirror: str, keyring: Path, **upstream: object) -> None:
        lines = [
            f'data_dir = "{self.data_dir}"',
            "[upstream]",
            f'mirror = "{mirror}"',
            'suites = ["fixture"]',
            'components = ["main"]',
            f'keyring = ["{keyring}"]',
            'architectures = ["amd64"]',
            "apt_sources = []",
            "retries = 1",
            "backoff = 0",
            "timeout = 5",
        ]
        for key, value in upstream.items():
            rendered = str(value).lower() if isinstance(value, bool) else repr(value)
            lines.append(f"{key} = {rendered}".replace("'", '"'))
        self.config.write_text("\n".join(lines) + "\n")


@pytest.fixture
def workspace(tmp_path: Path, archive: FixtureArchive, server: ArchiveServer) -> Workspace:
    ws = Workspace(data_dir=tmp_path / "data", dest=tmp_path / "dest",
                   config=tmp_path / "unessential.toml")
    ws.write_config(f"{server.url}/debian", archive.key.public_keyring)
    return ws


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test module, dropped afterwards."""
    with throwaway_database("unessential_t") as url:
        if url is None:
            pytest.skip(f"no PostgreSQL server at {PG_SERVER}")
        yield url


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AuditSeed:
    """The audit world (tests/fixtures/audit_seed.py) in a fresh catalog of each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('audit') / 'catalog.sqlite'}"
    else:
        url = request.getfixturevalue("pg_database")
    return seed_audit(url)
