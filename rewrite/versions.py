"""Version marking: the versions of the binaries we publish beside Debian's (pure).

A rebuilt binary gets Debian's version with a mark appended: letters and a counter,
``1.0-1`` → ``1.0-1ue1``, as Ubuntu appends ``ubuntu1``. In dpkg's order (Debian
policy 5.6.12) the end of a version sorts before a letter, and a letter before any
other character but ``~``, so

    1.0-1 < 1.0-1ue1 < 1.0-1ue2 < 1.0-1+b1 < 1.0-1+deb12u1 < 1.0-2

Our build replaces Debian's same version in a sources list holding both archives,
the counter grows with each new build of the same version (recipe, policy or build
environment changed), and every later Debian upload (a binNMU ``+bN``, a stable or
security update ``+debNuN``, a new revision) sorts above it: apt follows Debian's
updates until we rebuild them (`status --outdated`). A mark starting with ``+``
(``+ue1``) would sort above ``+b1`` and ``+deb12u1`` (``u`` after ``b`` and ``d``)
and hide Debian's security updates behind an older build: it is refused.

Relations between the binaries of one build that name a sibling's exact version
(``= ${binary:Version}``, ``<= ${binary:Version}``; Pre-Depends, Depends,
Recommends, Suggests, Enhances) follow the sibling's new version, so the binaries of
one build install together, with dpkg and with bootstrap. Provides keep Debian's
versions: ``Provides: foo-abi (= ${binary:Version})`` says which upstream build the
package is compatible with, and a package of Debian's that depends on
``foo-abi (= X)`` must still find it in our rebuild of X (as must a sibling that names
the virtual package). Breaks, Conflicts and Replaces are kept: their versions name
Debian's history (``<< X`` still means "older than this upload", since X < our X +
mark), and a build never breaks its own siblings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from debian.debian_support import Version

from base.errors import FormatError, RewriteError
from recipes.recipe import split_relations
from rewrite.relations import render_groups as _render

#: the default mark of our binaries' versions (letters only; see the module text)
DEFAULT_MARK = "ue"
MARK = re.compile(r"[a-z]{1,16}")
PINNED_FIELDS = ("Pre-Depends", "Depends", "Recommends", "Suggests", "Enhances")
REASON_SIBLING = "sibling-version"
_EXACT = ("=", "<=")


def check_mark(mark: str) -> str:
    """`mark` if it is 1-16 lower-case letters; ValueError (why) if not."""
    if not MARK.fullmatch(mark):
        raise ValueError(
            f"version mark {mark!r}: expected 1-16 lower-case letters (a mark with '+', "
            "'.' or a digit first would sort above Debian's later binNMUs and security "
            "updates, e.g. 1.0-1+ue1 > 1.0-1+deb12u1)")
    return mark


def marked(version: str, mark: str, counter: int) -> str:
    """Debian's `version` with our mark and counter (``1.0-1`` → ``1.0-1ue1``)."""
    check_mark(mark)
    if counter < 1:
        raise ValueError(f"version counter {counter}: expected 1 or more")
    Version(version)  # ValueError if it is not a Debian version
    return f"{version}{mark}{counter}"


def mark_versions(debs: Iterable[Path], mark: str, counter: int, *, keep: str | None = None
                  ) -> dict[str, tuple[str, str]]:
    """Binary name -> (Debian's version, ours) for the .debs of one build (reads their
    control files: FormatError if one is unreadable or has no valid version;
    RewriteError if two files name one package with different versions). A binary whose
    version is `keep` (built from a source of our own: already its version) keeps it."""
    from rewrite.engine import printable, read_control

    versions: dict[str, tuple[str, str]] = {}
    for deb in debs:
        control = read_control(deb)
        name, version = control["Package"], control.get("Version", "")
        old = versions.get(name)
        if old is not None and old[0] != version:
            raise RewriteError(printable(str(deb)), f"{name} is given with two versions: "
                               f"{old[0]} and {version}")
        try:
            versions[name] = (version, version if version == keep else
                              marked(version, mark, counter))
        except ValueError as exc:
            raise FormatError(printable(str(deb)), f"{name}: cannot mark its version: "
                              f"{printable(str(exc))}") from exc
    return versions


def deb_name(package: str, version: str, architecture: str) -> str:
    """The conventional file name of a binary package (the epoch is not in it)."""
    return f"{package}_{version.partition(':')[2] or version}_{architecture}.deb"


def source_field(control: Mapping[str, str]) -> tuple[str, str]:
    """(source name, source version) of a binary's control stanza: the Source field's,
    defaulting to the package's own name and version (policy 5.6.1)."""
    text = control.get("Source", "").strip()
    name, _, rest = text.partition(" ")
    version = rest.strip().removeprefix("(").removesuffix(")").strip()
    return (name or control["Package"]), (version or control["Version"])


@dataclass(frozen=True)
class Pinned:
    """One relation whose version was set to a sibling's new version."""

    field: str
    relation: str  # as written now
    before: str  # as it was


def with_versions(fields: dict[str, str], versions: Mapping[str, tuple[str, str]]
                  ) -> list[Pinned]:
    """Give the control stanza `fields` its new Version, a Source naming the source
    version, and sibling relations that follow the siblings' new versions (in place).

    `versions`: binary name -> (Debian's version, ours) for every binary of the build;
    the stanza's own package must be in it. Unchanged fields keep their exact text."""
    package = fields["Package"]
    before, after = versions[package]
    if fields.get("Version") != before:
        raise ValueError(f"{package}: Version {fields.get('Version')!r} is not {before!r}")
    if after == before:
        return []
    source, source_version = source_field(fields)
    _set_source(fields, f"{source} ({source_version})")
    fields["Version"] = after
    pinned: list[Pinned] = []
    for name in PINNED_FIELDS:
        if name in fields:
            pinned += _pin(fields, name, versions)
    return pinned


def _set_source(fields: dict[str, str], value: str) -> None:
    if "Source" in fields:
        fields["Source"] = value
        return
    items = list(fields.items())
    items.insert(1 if items and items[0][0] == "Package" else 0, ("Source", value))
    fields.clear()
    fields.update(items)


def _pin(fields: dict[str, str], name: str, versions: Mapping[str, tuple[str, str]]
         ) -> list[Pinned]:
    groups = split_relations(fields[name])
    pinned: list[Pinned] = []
    changed = False
    for group in groups:
        for alternative in group:
            target = versions.get(alternative["name"])
            wanted = alternative.get("version")
            if target is None or wanted is None:
                continue
            operator, version = wanted
            if operator not in _EXACT or version != target[0] or target[0] == target[1]:
                continue
            before = _render([[alternative]])
            alternative["version"] = (operator, target[1])
            pinned.append(Pinned(name, _render([[alternative]]), before))
            changed = True
    if changed:
        fields[name] = _render(groups)
    return pinned
