"""audit: the catalog queries (SQLite and PostgreSQL), the command, and the image gate.

The catalog is the audit world of `tests/fixtures/audit_seed.py`, seeded once per
module and backend into a fresh database (the tests only read it). The gate reads
images written by the real writers (`bootstrap.oci`, `bootstrap.layer`) and by the
real `unessential bootstrap` over a published archive.
"""

from __future__ import annotations

import csv
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import event
from sqlalchemy.orm import Session

from archive.catalog.db import make_engine, session_factory
from audit import queries
from audit.image import read_statuses
from audit.queries import (
    DroppedName,
    ImagePackageRow,
    RelationRow,
    Summary,
)
from base.errors import EXIT_CODES, FormatError, IntegrityError, PolicyGateFailed
from bootstrap.layer import write_rootfs_tar
from bootstrap.model import ImageConfig
from bootstrap.oci import write_docker_archive, write_oci_archive, write_oci_dir
from tests.fixtures.archive import FixtureArchive
from tests.fixtures.audit_seed import (
    DEBCONF_DETAIL,
    DEBCONF_GROUP,
    IMAGE_STATUS,
    AuditSeed,
    write_image_root,
)
from tests.fixtures.catalog_seed import seed as seed_debs
from tests.fixtures.debs import make_deb
from tests.fixtures.keys import ArchiveKey
from tests.fixtures.server import ArchiveServer
from unessential.cli import cli

GATE_EXIT = PolicyGateFailed.exit_code
PERL = "perl-base is Essential: yes in the upstream index"


# -- catalogs -------------------------------------------------------------------------


@pytest.fixture
def session(seeded: AuditSeed) -> Iterator[Session]:
    engine = make_engine(seeded.url)
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


class Statements:
    """Counts the SELECT statements an engine runs (not SQLite's explicit BEGIN)."""

    def __init__(self, session: Session) -> None:
        self.engine = session.get_bind()
        self.count = 0

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, connection: object, cursor: object, statement: str,
              *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            self.count += 1


def rel(seeded: AuditSeed, label: str, source: str, binary: str, version: str, arch: str,
        field: str, relation: str, action: str, reason: str, detail: str) -> RelationRow:
    return RelationRow(source, binary, version, arch, seeded.builds[label], field, relation,
                       action, reason, detail)


def cron_rows(seeded: AuditSeed) -> list[RelationRow]:
    def row(field: str, relation: str, reason: str, detail: str) -> RelationRow:
        return rel(seeded, "cron", "cron", "cron", "3.0pl1-162", "amd64", field, relation,
                   "dropped", reason, detail)

    return [
        row("Depends", "adduser", "script-only",
            "adduser: used only by maintainer scripts (adduser, addgroup, deluser, "
            "delgroup), all translated"),
        row("Depends", "libpam-runtime", "implicit-essential",
            "libpam-runtime is Priority: required in the upstream index"),
        row("Depends", "sensible-utils", "implicit-essential",
            "sensible-utils is Priority: required in the upstream index"),
        row("Pre-Depends", "init-system-helpers (>= 1.54~)", "script-only",
            "init-system-helpers: used only by maintainer scripts (deb-systemd-helper, "
            "deb-systemd-invoke, invoke-rc.d, update-rc.d), all translated"),
    ]


def debconf_rows(seeded: AuditSeed) -> list[RelationRow]:
    return [
        rel(seeded, "ca-certificates", "ca-certificates", "ca-certificates", "20230311", "all",
            "Depends", DEBCONF_GROUP, "dropped", "script-only", DEBCONF_DETAIL),
        rel(seeded, "tzdata", "tzdata", "tzdata", "2024a-0+deb12u1", "all",
            "Depends", DEBCONF_GROUP, "dropped", "script-only", DEBCONF_DETAIL),
    ]


# -- queries --------------------------------------------------------------------------


def test_dropped_perl_base_current_and_all_builds(seeded: AuditSeed, session: Session) -> None:
    current = rel(seeded, "openssl", "openssl", "openssl", "3.0.13-1", "amd64", "Depends",
                  "perl-base (>= 5.32)", "dropped", "implicit-essential", PERL)
    old = rel(seeded, "openssl-old", "openssl", "openssl", "3.0.11-1", "amd64", "Depends",
              "perl-base (>= 5.10)", "dropped", "implicit-essential", PERL)
    # the perl-base-foo decoy and the perl-base that a recipe *added* are not listed
    assert queries.dropped(session, "perl-base") == [current]
    assert queries.dropped(session, "perl-base", all_builds=True) == [old, current]


def test_dropped_matches_every_alternative_with_an_exact_boundary(
        seeded: AuditSeed, session: Session) -> None:
    assert queries.dropped(session, "debconf") == debconf_rows(seeded)
    assert queries.dropped(session, "debconf-2.0") == debconf_rows(seeded)  # 2nd alternative
    assert queries.dropped(session, "perl-base-foo") == [
        rel(seeded, "foo", "foo", "foo-tools", "1.2-1", "amd64", "Depends",
            "perl-base-foo (>= 1.0)", "dropped", "recipe", "perl-base-foo: dropped by the recipe")]
    assert queries.dropped(session, "adduser") == cron_rows(seeded)[:1]
    for prefix in ("perl", "debconf-2", "deb", "cron", "perl-bas"):
        assert queries.dropped(session, prefix) == []
    with pytest.raises(ValueError, match="not a Debian package name"):
        queries.dropped(session, "perl%")


def test_by_reason(seeded: AuditSeed, session: Session) -> None:
    cron = cron_rows(seeded)
    assert queries.by_reason(session, "script-only") == [
        debconf_rows(seeded)[0], cron[0], cron[3], debconf_rows(seeded)[1]]
    assert queries.by_reason(session, "implicit-essential") == [
        cron[1], cron[2],
        rel(seeded, "foo", "foo", "foo-data", "1.2-1", "all", "Pre-Depends", "dpkg (>= 1.17.5)",
            "dropped", "implicit-essential", "dpkg is Essential: yes in the upstream index"),
        rel(seeded, "openssl", "openssl", "openssl", "3.0.13-1", "amd64", "Depends",
            "perl-base (>= 5.32)", "dropped", "implicit-essential", PERL)]
    added = rel(seeded, "foo", "foo", "foo-tools", "1.2-1", "amd64", "Depends", "perl-base",
                "added", "recipe", "interpreter of the postinst, kept as is by the recipe")
    dropped = rel(seeded, "foo", "foo", "foo-tools", "1.2-1", "amd64", "Depends",
                  "perl-base-foo (>= 1.0)", "dropped", "recipe",
                  "perl-base-foo: dropped by the recipe")
    assert queries.by_reason(session, "recipe") == [added, dropped]
    assert queries.by_reason(session, "recipe", action="dropped") == [dropped]
    assert queries.by_reason(session, "no-such-reason") == []
    assert len(queries.by_reason(session, "implicit-essential", all_builds=True)) == 5


def test_package_relations_and_scripts(seeded: AuditSeed, session: Session) -> None:
    (cron,) = queries.package(session, "cron")
    assert (cron.source, cron.source_version, cron.binary, cron.version, cron.architecture,
            cron.build_id, cron.origin) == ("cron", "3.0pl1-162", "cron", "3.0pl1-162", "amd64",
                                            seeded.builds["cron"], "source-build")
    assert (cron.installed_size, cron.original_installed_size) == (252, 252)
    assert list(cron.relations) == cron_rows(seeded)
    assert [(s.script, s.status, s.action_names, s.rendered is not None)
            for s in cron.scripts] == [
        ("postinst", "translated", ("system-group", "make-dir"), True),
        ("prerm", "translated", (), False),
        ("postrm", "translated", ("remove-group",), True)]
    (foo,) = queries.package(session, "foo-tools")
    assert [(r.action, r.relation) for r in foo.relations] == [
        ("added", "perl-base"), ("dropped", "perl-base-foo (>= 1.0)")]
    assert [(s.script, s.status, s.action_names) for s in foo.scripts] == [
        ("postinst", "kept", ()), ("prerm", "translated", ())]
    (libssl,) = queries.package(session, "libssl3")
    assert (libssl.relations, libssl.scripts) == ((), ())
    assert queries.package(session, "no-such-binary") == []
    openssl = queries.package(session, "openssl", all_builds=True)
    assert [r.version for r in openssl] == ["3.0.13-1", "3.0.11-1"]  # newest build first
    assert [r.version for r in queries.package(session, "openssl")] == ["3.0.13-1"]


def test_binaries_of_binary_or_source(session: Session) -> None:
    assert [r.binary for r in queries.binaries_of(session, "openssl")] == ["openssl"]
    assert [r.binary for r in queries.binaries_of(session, "foo")] == ["foo-data", "foo-tools"]
    assert queries.binaries_of(session, "perl-base") == []


def test_summary(session: Session) -> None:
    assert queries.summary(session) == Summary(
        sources=6, binaries=8, failed_builds=1,
        dropped={"implicit-essential": 4, "recipe": 1, "script-only": 4}, added={"recipe": 1},
        scripts_translated=10, scripts_kept=1, sized_binaries=8,
        installed_size_before=13166, installed_size_after=13161)
    every = queries.summary(session, all_builds=True)
    assert (every.binaries, every.dropped["implicit-essential"], every.relations_dropped,
            every.installed_size_before, every.installed_size_after) == (9, 5, 10, 15456, 15451)


def test_top_dropped(session: Session) -> None:
    assert queries.top_dropped(session) == [
        DroppedName("debconf", "script-only", 2, 2),
        DroppedName("adduser", "script-only", 1, 1),
        DroppedName("dpkg", "implicit-essential", 1, 1),
        DroppedName("init-system-helpers", "script-only", 1, 1),
        DroppedName("libpam-runtime", "implicit-essential", 1, 1),
        DroppedName("perl-base", "implicit-essential", 1, 1),
        DroppedName("perl-base-foo", "recipe", 1, 1),
        DroppedName("sensible-utils", "implicit-essential", 1, 1)]
    assert queries.top_dropped(session, all_builds=True)[0] == \
        DroppedName("debconf", "script-only", 2, 2)
    assert DroppedName("perl-base", "implicit-essential", 2, 2) in \
        queries.top_dropped(session, all_builds=True)


def test_images(seeded: AuditSeed, session: Session) -> None:
    rows = queries.images(session)
    assert [(r.id, r.name, r.roots, r.format, r.packages, r.installed_size, r.upstream_count,
             r.upstream_installed_size) for r in rows] == [
        (seeded.images["openssl"], "openssl", "openssl ca-certificates", "oci", 4, 21827, 9,
         31420),
        (seeded.images["dpkg-tools"], "dpkg-tools", "dpkg", "dir", 4, 22777, None, None)]
    packages = queries.image_packages(session, "dpkg-tools")
    assert [p.name for p in packages] == ["dpkg", "libc6", "tar", "zlib1g"]
    assert packages[2] == ImagePackageRow("dpkg-tools", "tar", "1.34+dfsg-1.2+deb12u1",
                                          "amd64", "tar", 3152, "libc6 (>= 2.34)",
                                          "dpkg -> tar")
    assert queries.image_packages(session, seeded.images["openssl"])[0].name == \
        "ca-certificates"
    assert queries.image_packages(session, "no-such-image") == []


def test_fixed_number_of_statements(session: Session) -> None:
    """No query per row: each call runs the same few statements whatever it returns."""
    calls = {
        "dropped": lambda: queries.dropped(session, "debconf", all_builds=True),
        "by_reason": lambda: queries.by_reason(session, "script-only"),
        "package": lambda: queries.binaries_of(session, "foo"),
        "summary": lambda: queries.summary(session),
        "top_dropped": lambda: queries.top_dropped(session),
    }
    limits = {"dropped": 1, "by_reason": 1, "package": 3, "summary": 4, "top_dropped": 1}
    for name, call in calls.items():
        with Statements(session) as seen:
            call()
        assert seen.count <= limits[name], name


# -- the command ----------------------------------------------------------------------


def run(url: str, tmp_path: Path, *args: str) -> Result:
    env = {"UNESSENTIAL_DATABASE_URL": url, "UNESSENTIAL_DATA_DIR": str(tmp_path / "data")}
    return CliRunner(env=env).invoke(cli, ["-q", "audit", *args])


def test_cli_dropped_table_json_csv(seeded: AuditSeed, tmp_path: Path) -> None:
    result = run(seeded.url, tmp_path, "--dropped", "perl-base", "--all-builds")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["source", "binary", "version", "architecture", "build_id",
                                "field", "relation", "action", "reason", "detail"]
    assert lines[1].split("  ")[0] == "openssl"
    assert "3.0.11-1" in lines[1] and "3.0.13-1" in lines[2] and len(lines) == 3
    assert lines[0].index("relation") == lines[1].index("perl-base (>= 5.10)")  # aligned
    data = json.loads(run(seeded.url, tmp_path, "--dropped", "perl-base", "--json").output)
    assert data == [{"source": "openssl", "binary": "openssl", "version": "3.0.13-1",
                     "architecture": "amd64", "build_id": seeded.builds["openssl"],
                     "field": "Depends", "relation": "perl-base (>= 5.32)",
                     "action": "dropped", "reason": "implicit-essential", "detail": PERL}]
    text = run(seeded.url, tmp_path, "--dropped", "debconf-2.0", "--csv").output
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["source", "binary", "version", "architecture", "build_id", "field",
                        "relation", "action", "reason", "detail"]
    assert [row[1] for row in table[1:]] == ["ca-certificates", "tzdata"]
    assert table[1][6] == DEBCONF_GROUP
    empty = run(seeded.url, tmp_path, "--dropped", "bash")
    assert empty.exit_code == 0 and empty.output == "no binary lost a relation on bash\n"
    only = run(seeded.url, tmp_path, "--dropped", "debconf", "--reason", "recipe", "--json")
    assert json.loads(only.output) == []


def test_cli_reason_json(seeded: AuditSeed, tmp_path: Path) -> None:
    result = run(seeded.url, tmp_path, "--reason", "script-only", "--json")
    assert result.exit_code == 0, result.output
    assert [(r["binary"], r["relation"]) for r in json.loads(result.output)] == [
        ("ca-certificates", DEBCONF_GROUP), ("cron", "adduser"),
        ("cron", "init-system-helpers (>= 1.54~)"), ("tzdata", DEBCONF_GROUP)]
    assert run(seeded.url, tmp_path, "--reason", "bogus").exit_code == 2


def test_cli_package(seeded: AuditSeed, tmp_path: Path) -> None:
    result = run(seeded.url, tmp_path, "--package", "ca-certificates")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (f"ca-certificates 20230311 all (source ca-certificates 20230311, "
                        f"build {seeded.builds['ca-certificates']}, repack, "
                        "Installed-Size 384 -> 384 KiB)")
    assert lines[1].split() == ["field", "relation", "action", "reason", "detail"]
    assert lines[2].startswith(f"Depends  {DEBCONF_GROUP}  dropped  script-only  debconf:")
    assert [line.split() for line in lines[3:]] == [
        ["script", "status", "actions", "shipped"],
        ["postinst", "translated", "ca-bundle", "yes"],
        ["postrm", "translated", "remove-path", "yes"],
        ["config", "translated", "-", "no"]]
    data = json.loads(run(seeded.url, tmp_path, "--package", "foo-tools", "--json").output)
    assert [(s["script"], s["status"], s["actions"], s["shipped"])
            for s in data[0]["scripts"]] == [("postinst", "kept", [], True),
                                            ("prerm", "translated", [], False)]
    assert "control" not in data[0] and data[0]["relations"][0]["action"] == "added"
    rows = list(csv.reader(io.StringIO(
        run(seeded.url, tmp_path, "--package", "foo-tools", "--csv").output)))
    assert rows == [
        ["binary", "version", "architecture", "kind", "name", "value", "action", "reason",
         "detail"],
        ["foo-tools", "1.2-1", "amd64", "relation", "Depends", "perl-base", "added", "recipe",
         "interpreter of the postinst, kept as is by the recipe"],
        ["foo-tools", "1.2-1", "amd64", "relation", "Depends", "perl-base-foo (>= 1.0)",
         "dropped", "recipe", "perl-base-foo: dropped by the recipe"],
        ["foo-tools", "1.2-1", "amd64", "script", "postinst", "kept", "", "", ""],
        ["foo-tools", "1.2-1", "amd64", "script", "prerm", "translated", "", "",
         "no script shipped"]]
    missing = run(seeded.url, tmp_path, "--package", "no-such-binary")
    assert missing.exit_code == EXIT_CODES["not-found"]


def test_cli_summary(seeded: AuditSeed, tmp_path: Path) -> None:
    result = run(seeded.url, tmp_path)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:5] == [
        "metric                         value", "sources                        6",
        "binaries                       8", "failed builds                  1",
        "relations dropped              9"]
    data = json.loads(run(seeded.url, tmp_path, "--summary", "--json").output)
    assert (data["relations_dropped"], data["scripts_kept"], data["installed_size_after"]) \
        == (9, 1, 13161)
    rows = dict(csv.reader(io.StringIO(run(seeded.url, tmp_path, "--csv").output)))
    assert rows["dropped: script-only"] == "4" and rows["metric"] == "value"


def test_cli_usage_errors(seeded: AuditSeed, tmp_path: Path) -> None:
    for args in (["--dropped", "a1", "--package", "b1"], ["--json", "--csv"],
                 ["--fail-on", "essential-in-image"], [str(tmp_path)],
                 ["--fail-on", "essential-in-image", str(tmp_path), "--dropped", "x1"],
                 ["--dropped", "Not_A_Name"]):
        assert run(seeded.url, tmp_path, *args).exit_code == 2, args


# -- the image gate -------------------------------------------------------------------


def gate(tmp_path: Path, image: Path, *args: str, config: Path | None = None) -> Result:
    env = {"UNESSENTIAL_DATA_DIR": str(tmp_path / "data")}
    head = ["--config", str(config)] if config else []
    return CliRunner(env=env).invoke(
        cli, [*head, "-q", "audit", "--fail-on", "essential-in-image", str(image), *args])


CONFIG = ImageConfig(created=1_700_000_000, tag="gate", name="test/gate")


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    """The seed's image root in every format bootstrap writes."""
    root = write_image_root(tmp_path / "root")
    out = {"dir": root}
    out["tar"] = tmp_path / "rootfs.tar"
    write_rootfs_tar(root, out["tar"], mtime=0)
    out["oci"] = tmp_path / "image.oci.tar"
    write_oci_archive(root, CONFIG, out["oci"], mtime=0)
    out["docker"] = tmp_path / "image.docker.tar"
    write_docker_archive(root, CONFIG, out["docker"], mtime=0)
    out["oci-dir"] = tmp_path / "oci-layout"
    write_oci_dir(root, CONFIG, out["oci-dir"], mtime=0)
    return out


@pytest.mark.parametrize("fmt", ["dir", "tar", "oci", "docker", "oci-dir"])
def test_gate_fails_on_essential_package_in_every_format(
        images: dict[str, Path], tmp_path: Path, fmt: str) -> None:
    image = images[fmt]
    (status,) = read_statuses(image)
    assert status.text == IMAGE_STATUS
    result = gate(tmp_path, image, "--no-upstream")
    assert result.exit_code == GATE_EXIT, result.output
    label = {"dir": str(image), "tar": str(image), "oci": f"{image} (gate)",
             "docker": f"{image} (test/gate:gate)", "oci-dir": f"{image} (gate)"}[fmt]
    # libc6 is Priority: required but a library (Section libs): kept, not an offender;
    # oldpkg (config-files only) is not installed
    assert result.stdout.splitlines() == [
        f"{label}: dpkg 1.21.22 (amd64) is implicit-essential: Essential: yes in the "
        "image status"]
    assert result.stderr.strip() == (
        f"unessential: policy error: {image}: 1 package(s) of the implicit-essential "
        "class: dpkg")


def test_gate_json_and_pass(images: dict[str, Path], tmp_path: Path) -> None:
    result = gate(tmp_path, images["oci"], "--no-upstream", "--json")
    assert result.exit_code == GATE_EXIT
    assert json.loads(result.stdout) == {
        "gate": "essential-in-image", "passed": False,
        "images": [{"image": f"{images['oci']} (gate)", "format": "oci", "packages": 4,
                    "upstream": False,
                    "offenders": [{"package": "dpkg", "version": "1.21.22",
                                   "architecture": "amd64", "mark": "Essential: yes",
                                   "where": "image status",
                                   "why": "Essential: yes in the image status"}]}]}
    clean = write_image_root(tmp_path / "clean", IMAGE_STATUS.split("\n\n", 1)[1])
    passed = gate(tmp_path, clean, "--no-upstream")
    assert passed.exit_code == 0, passed.output
    assert passed.stdout == f"{clean}: 3 packages, none of the implicit-essential class\n"
    rows = list(csv.reader(io.StringIO(gate(tmp_path, images["tar"], "--no-upstream",
                                            "--csv").stdout)))
    assert rows == [["image", "package", "version", "architecture", "why"],
                    [str(images["tar"]), "dpkg", "1.21.22", "amd64",
                     "Essential: yes in the image status"]]


def test_gate_refuses_what_is_not_an_image(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert gate(tmp_path, empty, "--no-upstream").exit_code == EXIT_CODES["format"]
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all" * 100)
    assert gate(tmp_path, junk, "--no-upstream").exit_code == EXIT_CODES["format"]
    assert gate(tmp_path, tmp_path / "missing.tar", "--no-upstream").exit_code == \
        EXIT_CODES["not-found"]
    # a status that is a symlink out of the root is read inside the root, not on the host
    escape = tmp_path / "escape"
    (escape / "var/lib/dpkg").mkdir(parents=True)
    (escape / "var/lib/dpkg/status").symlink_to("/var/lib/dpkg/status")
    with pytest.raises(FormatError):
        read_statuses(escape)


def test_gate_checks_oci_blob_digests(images: dict[str, Path]) -> None:
    layout = images["oci-dir"]
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs/sha256" / manifest_digest).read_bytes())
    layer = layout / "blobs/sha256" / manifest["layers"][0]["digest"].split(":")[1]
    data = bytearray(layer.read_bytes())
    data[-9] ^= 0xFF  # the gzip trailer's CRC: the tar still reads, the digest does not
    layer.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="content does not match sha256:"):
        read_statuses(layout)


def _layer(entries: dict[str, str | None]) -> bytes:
    """An uncompressed layer tar: name -> text (None: an empty whiteout file)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, text in entries.items():
            data = (text or "").encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _docker(path: Path, layers: list[bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        names = []
        for number, body in enumerate(layers):
            info = tarfile.TarInfo(f"l{number}/layer.tar")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
            names.append(info.name)
        manifest = json.dumps([{"Config": "c.json", "RepoTags": ["x:1"],
                                "Layers": names}]).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
    return path


def test_gate_reads_the_top_layer_with_whiteouts(tmp_path: Path) -> None:
    clean = IMAGE_STATUS.split("\n\n", 1)[1]
    base = _layer({"var/lib/dpkg/status": IMAGE_STATUS})
    replaced = _docker(tmp_path / "a.tar", [base, _layer({"./var/lib/dpkg/status": clean})])
    assert read_statuses(replaced)[0].text == clean
    unrelated = _docker(tmp_path / "b.tar", [base, _layer({"etc/motd": "hi\n"})])
    assert read_statuses(unrelated)[0].text == IMAGE_STATUS
    for whiteout in ("var/lib/dpkg/.wh.status", "var/lib/.wh.dpkg", "var/lib/dpkg/.wh..wh..opq"):
        gone = _docker(tmp_path / "c.tar", [base, _layer({whiteout: None})])
        with pytest.raises(FormatError, match="no var/lib/dpkg/status"):
            read_statuses(gone)
    opaque_then_new = _docker(tmp_path / "d.tar", [base, _layer(
        {"var/lib/dpkg/.wh..wh..opq": None, "var/lib/dpkg/status": clean})])
    assert read_statuses(opaque_then_new)[0].text == clean


# -- the gate with the upstream index, and on images made by `bootstrap` --------------


UPSTREAM_STATUS = """\
Package: app
Status: install ok installed
Priority: optional
Section: misc
Architecture: all
Version: 1.0-1
Depends: lib-keep1

Package: base-thing
Status: install ok installed
Priority: optional
Section: misc
Architecture: all
Version: 1.0-1
Unessential-Recipe: sha256:0000

Package: lib-keep1
Status: install ok installed
Priority: required
Section: libs
Architecture: all
Version: 1.0-1
"""


@pytest.fixture(scope="module")
def essential_mirror(tmp_path_factory: pytest.TempPathFactory,
                     keys: dict[str, ArchiveKey]) -> Iterator[tuple[str, Path]]:
    """A signed fixture mirror whose index says base-thing is Essential: yes."""
    root = tmp_path_factory.mktemp("gate-mirror")
    archive = FixtureArchive(root=root / "www", key=keys["archive"])
    archive.build_farm(root / "work", ["app"])
    with ArchiveServer(archive.root) as server:
        yield f"{server.url}/debian", archive.key.public_keyring


def test_gate_uses_the_upstream_index(essential_mirror: tuple[str, Path],
                                      tmp_path: Path) -> None:
    mirror, keyring = essential_mirror
    config = tmp_path / "unessential.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[upstream]\nmirror = "{mirror}"\n'
        f'suites = ["fixture"]\ncomponents = ["main"]\nkeyring = ["{keyring}"]\n'
        'architectures = ["amd64"]\napt_sources = []\nretries = 1\nbackoff = 0\n'
        "timeout = 5\n")
    # base-thing was rewritten (no Essential in the image): only upstream says it is
    root = write_image_root(tmp_path / "root", UPSTREAM_STATUS)
    result = gate(tmp_path, root, config=config)
    assert result.exit_code == GATE_EXIT, result.output
    assert result.stdout.splitlines() == [
        f"{root}: base-thing 1.0-1 (all) is implicit-essential: Essential: yes in the "
        "upstream index"]
    offline = gate(tmp_path, root, "--no-upstream", config=config)
    assert offline.exit_code == 0, offline.output
    unreachable = tmp_path / "bad.toml"
    unreachable.write_text(config.read_text().replace(mirror, "http://127.0.0.1:9/debian"))
    assert gate(tmp_path, root, config=unreachable).exit_code == EXIT_CODES["unreachable"]


@pytest.fixture(scope="module")
def bootstrapped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Images made by `unessential bootstrap` from a published archive (not rewritten:
    base-thing keeps Essential: yes in its control, hence in the image's status)."""
    home = tmp_path_factory.mktemp("gate-bootstrap")
    debs = home / "debs"
    debs.mkdir()
    made = [
        make_deb(debs, "base-thing", "1.0-1", extra="Essential: yes\nPriority: required\n"
                                                    "Section: admin\n"),
        make_deb(debs, "libkeep1", "1.0-1", extra="Priority: required\nSection: libs\n"),
        make_deb(debs, "app", "1.0-1", depends="base-thing, libkeep1",
                 extra="Priority: optional\nSection: misc\n"),
    ]
    seed_debs(home / "data", made)
    env = {"UNESSENTIAL_DATA_DIR": str(home / "data"), "SOURCE_DATE_EPOCH": "1700000000"}
    runner = CliRunner(env=env)
    published = runner.invoke(cli, ["-q", "publish", "--date",
                                    "Tue, 14 Nov 2023 22:13:20 +0000"])
    assert published.exit_code == 0, published.output
    out = {}
    for fmt, name in (("dir", "rootfs"), ("oci", "app.oci.tar"), ("docker", "app.docker.tar")):
        out[fmt] = home / name
        result = runner.invoke(cli, ["-q", "bootstrap", "app", "--archive",
                                     str(home / "data" / "public"), "--output", str(out[fmt])])
        assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("fmt", ["dir", "oci", "docker"])
def test_gate_on_bootstrapped_images(bootstrapped: dict[str, Path], tmp_path: Path,
                                     fmt: str) -> None:
    result = gate(tmp_path, bootstrapped[fmt], "--no-upstream", "--json")
    assert result.exit_code == GATE_EXIT, result.output
    (image,) = json.loads(result.stdout)["images"]
    assert image["packages"] == 3 and image["format"] == fmt
    assert [(o["package"], o["why"]) for o in image["offenders"]] == [
        ("base-thing", "Essential: yes in the image status")]
