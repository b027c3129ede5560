"""Catalog tables as typed SQLAlchemy declarative models.

Portable types only (no PostgreSQL-specific types), every constraint named by an
explicit naming convention so names are identical on SQLite and PostgreSQL, and
timestamps stored as UTC and always returned timezone-aware.

The schema itself is created by the migrations; `tests/test_catalog.py` checks that these
models and the migrations agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BUILD_ORIGINS = ("source-build", "repack")
BUILD_STATUSES = ("queued", "building", "done", "failed")
RELATION_ACTIONS = ("dropped", "added", "pinned")  # pinned: a sibling's new version (0006)
SCRIPT_NAMES = ("preinst", "postinst", "prerm", "postrm", "config", "triggers")
# an implicit run-time use of the essential set found in a package's data (0004)
IMPLICIT_KINDS = ("shebang", "shell-exec", "essential-path")

SHA256_LEN = 64
NAME_LEN = 255
SUITE_LEN = 64
DIGEST_LEN = 128


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored as UTC, read back with tzinfo=UTC on any backend.

    SQLite has no time zones (it keeps the naive UTC text); PostgreSQL keeps a
    `timestamp with time zone`. Naive datetimes are refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError(f"naive datetime {value.isoformat()}: give it a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SourcePackage(Base):
    """A Debian source package as fetched (and verified) from upstream."""

    __tablename__ = "source_package"
    __table_args__ = (UniqueConstraint("name", "version", "suite"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    version: Mapped[str] = mapped_column(String(NAME_LEN))
    suite: Mapped[str] = mapped_column(String(SUITE_LEN))
    dsc_sha256: Mapped[str] = mapped_column(String(SHA256_LEN))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )

    builds: Mapped[list[Build]] = relationship(back_populates="source_package")

    def __repr__(self) -> str:
        return f"<SourcePackage {self.name} {self.version} ({self.suite})>"


class Build(Base):
    """One build attempt of a source package with one recipe in one build environment."""

    __tablename__ = "build"
    __table_args__ = (
        CheckConstraint(_in("status", BUILD_STATUSES), name="status"),
        CheckConstraint(_in("origin", BUILD_ORIGINS), name="origin"),
        Index("ix_build_lookup", "source_package_id", "recipe_digest", "env_digest"),
        Index("ix_build_campaign", "campaign"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_package_id: Mapped[int] = mapped_column(ForeignKey("source_package.id"))
    recipe_digest: Mapped[str] = mapped_column(String(DIGEST_LEN))
    env_digest: Mapped[str] = mapped_column(String(DIGEST_LEN))
    origin: Mapped[str] = mapped_column(String(16), default="source-build")
    status: Mapped[str] = mapped_column(
        String(16), default="queued", server_default=text("'queued'")
    )
    worker: Mapped[str | None] = mapped_column(String(NAME_LEN))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    log: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )
    campaign: Mapped[str | None] = mapped_column(String(64))
    task_id: Mapped[str | None] = mapped_column(String(NAME_LEN))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # the counter of our version mark (1.0-1ue<N>), one per build identity of a source
    # version; None for builds before marking (0006)
    version_counter: Mapped[int | None] = mapped_column(Integer)
    version_mark: Mapped[str | None] = mapped_column(String(16))  # the letters (0006)
    #: the architecture the build is for (0007); None: a build from before, made for
    #: the farm's one architecture of the time
    architecture: Mapped[str | None] = mapped_column(String(32))
    # the version of the source this build publishes when it is not the upstream's
    # (a recipe's patches make a source of our own); None: the upstream source (0006)
    source_version: Mapped[str | None] = mapped_column(String(NAME_LEN))
    #: a source build's .buildinfo (0011), as dpkg-buildpackage wrote it
    buildinfo: Mapped[str | None] = mapped_column(Text)

    source_package: Mapped[SourcePackage] = relationship(back_populates="builds")
    binaries: Mapped[list[BinaryPackage]] = relationship(
        back_populates="build", cascade="all, delete-orphan", passive_deletes=True
    )
    source_files: Mapped[list[SourceFile]] = relationship(
        back_populates="build", cascade="all, delete-orphan", passive_deletes=True
    )
    flagged: Mapped[list[FlaggedBinary]] = relationship(
        back_populates="build", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<Build {self.id} {self.status}>"


class BinaryPackage(Base):
    """A .deb produced by a build (or repacked from upstream)."""

    __tablename__ = "binary_package"
    __table_args__ = (
        UniqueConstraint("build_id", "name", "architecture"),
        Index("ix_binary_package_name", "name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    build_id: Mapped[int] = mapped_column(ForeignKey("build.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    version: Mapped[str] = mapped_column(String(NAME_LEN))
    architecture: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(SHA256_LEN))
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(1024))
    # what the rewrite started from and made (0003): for `diff` and the size figures
    original_sha256: Mapped[str | None] = mapped_column(String(SHA256_LEN))
    original_control: Mapped[str | None] = mapped_column(Text)
    control: Mapped[str | None] = mapped_column(Text)
    installed_size: Mapped[int | None] = mapped_column(BigInteger)  # KiB, ours
    original_installed_size: Mapped[int | None] = mapped_column(BigInteger)  # KiB, upstream
    original_version: Mapped[str | None] = mapped_column(String(NAME_LEN))  # Debian's (0006)
    # what a publish lists, recorded with the .deb (0010): its other digests, and the
    # paths of its data.tar (newline-separated, without "./") for Contents
    md5: Mapped[str | None] = mapped_column(String(32))
    sha1: Mapped[str | None] = mapped_column(String(40))
    sha512: Mapped[str | None] = mapped_column(String(128))
    contents: Mapped[str | None] = mapped_column(Text)

    build: Mapped[Build] = relationship(back_populates="binaries")
    relation_changes: Mapped[list[RelationChange]] = relationship(
        back_populates="binary", cascade="all, delete-orphan", passive_deletes=True
    )
    script_rewrites: Mapped[list[ScriptRewrite]] = relationship(
        back_populates="binary", cascade="all, delete-orphan", passive_deletes=True
    )
    implicit_uses: Mapped[list[ImplicitUse]] = relationship(
        back_populates="binary", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<BinaryPackage {self.name} {self.version} {self.architecture}>"


class VersionCounter(Base):
    """The counters of our version mark of one source version (0006): each build identity
    (recipe digest, environment digest) gets one, a new one is always one more than the
    highest, and (source, version, counter) is unique, so two planners never give
    different builds one version."""

    __tablename__ = "version_counter"
    __table_args__ = (UniqueConstraint("source", "version", "counter"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(NAME_LEN))
    version: Mapped[str] = mapped_column(String(NAME_LEN))
    counter: Mapped[int] = mapped_column(Integer)
    recipe_digest: Mapped[str] = mapped_column(String(DIGEST_LEN))
    env_digest: Mapped[str] = mapped_column(String(DIGEST_LEN))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )


class SourceFile(Base):
    """A file of a source package a build made (a recipe's patches applied: its .dsc,
    its Debian tarball), kept in the artifact store by SHA256 (0006)."""

    __tablename__ = "source_file"
    __table_args__ = (UniqueConstraint("build_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    build_id: Mapped[int] = mapped_column(ForeignKey("build.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    sha256: Mapped[str] = mapped_column(String(SHA256_LEN))
    size: Mapped[int] = mapped_column(BigInteger)

    build: Mapped[Build] = relationship(back_populates="source_files")

    def __repr__(self) -> str:
        return f"<SourceFile {self.name}>"


class RelationChange(Base):
    """A relation dropped from (or added to) a binary's control fields, and why."""

    __tablename__ = "relation_change"
    __table_args__ = (
        CheckConstraint(_in("action", RELATION_ACTIONS), name="action"),
        Index("ix_relation_change_binary_id", "binary_id"),
        Index("ix_relation_change_relation", "relation"),
        Index("ix_relation_change_relation_name", "relation_name"),
        Index("ix_relation_change_reason", "reason"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    binary_id: Mapped[int] = mapped_column(ForeignKey("binary_package.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(32))
    relation: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    # the package the relation names (its first alternative), for indexed lookups (0003)
    relation_name: Mapped[str | None] = mapped_column(String(NAME_LEN))

    binary: Mapped[BinaryPackage] = relationship(back_populates="relation_changes")

    def __repr__(self) -> str:
        return f"<RelationChange {self.action} {self.field}: {self.relation}>"


class ScriptRewrite(Base):
    """A maintainer script of a binary, as shipped and as rewritten."""

    __tablename__ = "script_rewrite"
    __table_args__ = (
        CheckConstraint(_in("script", SCRIPT_NAMES), name="script"),
        UniqueConstraint("binary_id", "script"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    binary_id: Mapped[int] = mapped_column(ForeignKey("binary_package.id", ondelete="CASCADE"))
    script: Mapped[str] = mapped_column(String(16))
    original_sha256: Mapped[str] = mapped_column(String(SHA256_LEN))
    original: Mapped[str] = mapped_column(Text)
    actions: Mapped[str] = mapped_column(Text)
    rendered: Mapped[str | None] = mapped_column(Text)

    binary: Mapped[BinaryPackage] = relationship(back_populates="script_rewrites")

    def __repr__(self) -> str:
        return f"<ScriptRewrite {self.script} {self.original_sha256[:12]}>"


class Publication(Base):
    """A signed Release of a suite of the rebuilt archive."""

    __tablename__ = "publication"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    suite: Mapped[str] = mapped_column(String(SUITE_LEN))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    release_sha256: Mapped[str] = mapped_column(String(SHA256_LEN))
    key_fingerprint: Mapped[str] = mapped_column(String(SHA256_LEN))
    snapshot: Mapped[str | None] = mapped_column(String(NAME_LEN))

    def __repr__(self) -> str:
        return f"<Publication {self.suite} {self.published_at.isoformat()}>"


class Image(Base):
    """An image assembled by `bootstrap`: what was asked, what it holds, where it went."""

    __tablename__ = "image"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    roots: Mapped[str] = mapped_column(Text)  # the packages asked for, space-separated
    output: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str | None] = mapped_column(String(DIGEST_LEN))
    archive: Mapped[str] = mapped_column(Text)
    suite: Mapped[str] = mapped_column(String(SUITE_LEN))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )
    installed_size: Mapped[int] = mapped_column(BigInteger, default=0)  # KiB
    # the same roots resolved over the upstream mirror (essentials not implied), if known
    upstream_count: Mapped[int | None] = mapped_column(Integer)
    upstream_installed_size: Mapped[int | None] = mapped_column(BigInteger)

    packages: Mapped[list[ImagePackage]] = relationship(
        back_populates="image", cascade="all, delete-orphan", passive_deletes=True,
        order_by="ImagePackage.name",
    )

    def __repr__(self) -> str:
        return f"<Image {self.id} {self.name}>"


class ImagePackage(Base):
    """One package installed in an image, with the relations that pulled it in."""

    __tablename__ = "image_package"
    __table_args__ = (
        UniqueConstraint("image_id", "name", "architecture"),
        Index("ix_image_package_name", "name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("image.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    version: Mapped[str] = mapped_column(String(NAME_LEN))
    architecture: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(NAME_LEN))
    sha256: Mapped[str] = mapped_column(String(SHA256_LEN))
    installed_size: Mapped[int] = mapped_column(BigInteger, default=0)  # KiB
    depends: Mapped[str] = mapped_column(Text, default="")  # Pre-Depends, Depends
    why: Mapped[str] = mapped_column(Text, default="")  # chain from a root, " -> "

    image: Mapped[Image] = relationship(back_populates="packages")

    def __repr__(self) -> str:
        return f"<ImagePackage {self.name} {self.version}>"


class FlaggedBinary(Base):
    """A binary of a build that was not produced: the engine flagged one of its
    maintainer scripts (the build's other binaries are published) (0005)."""

    __tablename__ = "flagged_binary"
    __table_args__ = (
        UniqueConstraint("build_id", "name", "architecture"),
        Index("ix_flagged_binary_name", "name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    build_id: Mapped[int] = mapped_column(ForeignKey("build.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    version: Mapped[str] = mapped_column(String(NAME_LEN))
    architecture: Mapped[str] = mapped_column(String(32))
    problem: Mapped[str] = mapped_column(Text)  # the engine's one-line reason

    build: Mapped[Build] = relationship(back_populates="flagged")


class ImplicitUse(Base):
    """A file of a binary that uses a program of the essential set without a relation
    (Policy lets packages do so): a shebang interpreter, a shell run by an ELF program,
    an absolute path of an essential program in a script (0004)."""

    __tablename__ = "implicit_use"
    __table_args__ = (
        CheckConstraint(_in("kind", IMPLICIT_KINDS), name="kind"),
        Index("ix_implicit_use_binary_id", "binary_id"),
        Index("ix_implicit_use_kind", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    binary_id: Mapped[int] = mapped_column(ForeignKey("binary_package.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)  # the file in the package, e.g. /usr/bin/foo
    kind: Mapped[str] = mapped_column(String(32))
    needs: Mapped[str] = mapped_column(Text)  # what it runs, e.g. /usr/bin/env, /bin/sh
    evidence: Mapped[str] = mapped_column(Text)  # e.g. "#!/usr/bin/env python3"
    provider: Mapped[str | None] = mapped_column(String(NAME_LEN))  # a package providing it
    declared: Mapped[bool] = mapped_column(Boolean, default=False)  # relation added (policy)

    binary: Mapped[BinaryPackage] = relationship(back_populates="implicit_uses")

    def __repr__(self) -> str:
        return f"<ImplicitUse {self.kind} {self.path} needs {self.needs}>"


class Survey(Base):
    """One coverage survey of the rewrite engine over a set of upstream packages (0004)."""

    __tablename__ = "survey"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )
    scope: Mapped[str] = mapped_column(Text)  # e.g. "closure python3 haproxy"
    suite: Mapped[str] = mapped_column(String(SUITE_LEN))
    architecture: Mapped[str] = mapped_column(String(32))
    policy_digest: Mapped[str] = mapped_column(String(SHA256_LEN))
    packages: Mapped[int] = mapped_column(Integer, default=0)
    with_scripts: Mapped[int] = mapped_column(Integer, default=0)  # packages with scripts
    scripts: Mapped[int] = mapped_column(Integer, default=0)
    translated: Mapped[int] = mapped_column(Integer, default=0)  # scripts, by the engine
    by_recipe: Mapped[int] = mapped_column(Integer, default=0)  # scripts, by a recipe
    flagged: Mapped[int] = mapped_column(Integer, default=0)  # scripts

    package_rows: Mapped[list[SurveyPackage]] = relationship(
        back_populates="survey", cascade="all, delete-orphan", passive_deletes=True,
        order_by="SurveyPackage.package",
    )
    lines: Mapped[list[SurveyLine]] = relationship(
        back_populates="survey", cascade="all, delete-orphan", passive_deletes=True,
    )

    def __repr__(self) -> str:
        return f"<Survey {self.id} {self.scope}>"


class SurveyPackage(Base):
    """What a survey found for one package."""

    __tablename__ = "survey_package"
    __table_args__ = (UniqueConstraint("survey_id", "package", "architecture"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"))
    package: Mapped[str] = mapped_column(String(NAME_LEN))
    version: Mapped[str] = mapped_column(String(NAME_LEN))
    architecture: Mapped[str] = mapped_column(String(32))
    scripts: Mapped[int] = mapped_column(Integer, default=0)
    translated: Mapped[int] = mapped_column(Integer, default=0)
    by_recipe: Mapped[int] = mapped_column(Integer, default=0)
    flagged: Mapped[int] = mapped_column(Integer, default=0)

    survey: Mapped[Survey] = relationship(back_populates="package_rows")


class SurveyLine(Base):
    """A maintainer-script line the engine could not translate, with its idiom."""

    __tablename__ = "survey_line"
    __table_args__ = (
        Index("ix_survey_line_survey_id", "survey_id"),
        Index("ix_survey_line_idiom", "idiom"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"))
    package: Mapped[str] = mapped_column(String(NAME_LEN))
    script: Mapped[str] = mapped_column(String(16))
    idiom: Mapped[str] = mapped_column(String(NAME_LEN))  # e.g. "command touch"
    line: Mapped[str] = mapped_column(Text)

    survey: Mapped[Survey] = relationship(back_populates="lines")


UPLOAD_STATUSES = ("imported", "rejected")


class UploadRecord(Base):
    """An upload the publisher's intake took in or refused (0008): which build it said
    it was, from which worker directory, signed by whom, and why it was refused."""

    __tablename__ = "upload"
    __table_args__ = (
        CheckConstraint(_in("status", UPLOAD_STATUSES), name="status"),
        Index("ix_upload_build_id", "build_id"),
        # a build's upload is imported once, even by two intakes at the same time (0009)
        Index("ux_upload_imported_build", "build_id", unique=True,
              sqlite_where=text("status = 'imported'"),
              postgresql_where=text("status = 'imported'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    build_id: Mapped[int | None] = mapped_column(Integer)  # as claimed (may not exist)
    changes: Mapped[str] = mapped_column(String(NAME_LEN))  # worker/build/name.changes
    signer: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )
