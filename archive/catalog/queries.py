"""Small typed queries on the catalog, shared by the commands and the audit."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.catalog.models import BinaryPackage, RelationChange, SourcePackage
from base.errors import CatalogError

_PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9+.\-]+")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789+.-")


def add_source(
    session: Session, name: str, version: str, suite: str, dsc_sha256: str
) -> SourcePackage:
    """Get or create the source package (name, version, suite).

    A source already recorded with another .dsc digest is an error: the same version
    of a package cannot have two different contents.
    """
    query = select(SourcePackage).where(
        SourcePackage.name == name,
        SourcePackage.version == version,
        SourcePackage.suite == suite,
    )
    source = session.scalars(query).one_or_none()
    if source is None:
        try:
            with session.begin_nested():
                source = SourcePackage(
                    name=name, version=version, suite=suite, dsc_sha256=dsc_sha256
                )
                session.add(source)
        except IntegrityError:  # recorded concurrently since our select
            source = session.scalars(query).one()
    if source.dsc_sha256 != dsc_sha256:
        raise CatalogError(
            f"source {name} {version} ({suite})",
            f"already recorded with .dsc sha256 {source.dsc_sha256}, not {dsc_sha256}",
        )
    return source


def dropped_relations(session: Session, relation_name: str) -> list[tuple[str, str, str, str, str]]:
    """Relations on package `relation_name` dropped from binaries, with the reason.

    Matches relations whose text starts with the package name followed by anything that
    cannot continue a package name: 'perl-base' matches 'perl-base', 'perl-base (>= 5.36)'
    and 'perl-base:any', not 'perl-base-foo'.

    Returns (binary name, binary version, field, relation, reason) sorted by binary.
    """
    if not _PACKAGE_NAME.fullmatch(relation_name):
        raise ValueError(f"not a Debian package name: {relation_name!r}")
    # Package names have no LIKE wildcards; the exact boundary (and case, which
    # SQLite's LIKE ignores) is checked below, identically on every backend.
    rows = session.execute(
        select(
            BinaryPackage.name,
            BinaryPackage.version,
            RelationChange.field,
            RelationChange.relation,
            RelationChange.reason,
        )
        .join(RelationChange.binary)
        .where(
            RelationChange.action == "dropped",
            RelationChange.relation.like(f"{relation_name}%"),
        )
        .order_by(
            BinaryPackage.name,
            BinaryPackage.version,
            RelationChange.field,
            RelationChange.relation,
            RelationChange.id,
        )
    ).all()
    result: list[tuple[str, str, str, str, str]] = []
    for name, version, field, relation, reason in rows:
        if not relation.startswith(relation_name):
            continue
        rest = relation[len(relation_name) :]
        if rest and rest[0] in _NAME_CHARS:
            continue
        result.append((name, version, field, relation, reason))
    return result


_FIRST_NAME = re.compile(r"\s*([a-z0-9][a-z0-9+.-]*)")


def relation_name(relation: str) -> str | None:
    """The package a relation names (its first alternative): 'perl-base (>= 5) | x' → perl-base."""
    match = _FIRST_NAME.match(relation)
    return match.group(1) if match else None
