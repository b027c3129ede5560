"""`unessential verify`: is a rewritten package equivalent to Debian's?

Where it lives, and why: the comparison is pure and belongs with the engine it proves
(`rewrite/verify/`: systems, snapshots, comparison, the A/B harness), but system (C)
is installed the way `bootstrap` installs (its unpacker, its action applier, its dpkg
database writer), and `rewrite` may not import `bootstrap` (the layers go base <-
recipes <- archive <- rewrite, and bootstrap stands beside rewrite). `audit` may
import both, so the orchestration is here: it resolves the packages over the
upstream mirror, builds the base, and passes bootstrap's native installer to the
harness as a function. Running `unessential bootstrap` as a subprocess against a
signed archive of the rewritten .debs was the other way; it builds an image from
nothing, not on the base the other two systems share, so its tree could not be
compared path by path with theirs.

(C) follows `bootstrap.installer`: `preinst install` actions, then the safe unpack
of each package (merged-/usr aliases), then `postinst configure` actions in order,
the `triggered` actions of packages whose triggers were hit, `finish()` (accounts,
alternatives, ld.so cache), and dpkg's status and info files for the new packages.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from debian.debian_support import version_compare

from archive.debfile import read_deb
from archive.upstream.index import BinaryRecord
from archive.upstream.mirror import Suite, Upstream
from base.deb822 import parse_one
from base.errors import FormatError, UnessentialError
from bootstrap.apply import Applier, parse_actions
from bootstrap.confined import ImageRoot
from bootstrap.installer import LIB_ALIASES, MERGED_USR, _interests, _run_triggers
from bootstrap.status import (
    ADMIN,
    DpkgEntry,
    md5_of,
    status_stanza,
    write_info,
    write_interests,
)
from bootstrap.unpack import UnpackLimits, unpack_deb
from recipes.actions import Action
from rewrite.closure import closure
from rewrite.verify.harness import Log, Subject

_by_version = functools.cmp_to_key(version_compare)


def install_native(root: Path, debs: Sequence[Path], log: Log) -> None:
    """Install rewritten .debs into the system at `root` as bootstrap does: actions
    applied natively, nothing executed; dpkg's database extended with them."""
    fs = ImageRoot(root)
    applier = Applier(root, log=log)
    aliases = {name: f"usr/{name}" for name in (*MERGED_USR, *LIB_ALIASES)}
    entries: list[DpkgEntry] = []
    configure: list[tuple[str, list[Action]]] = []
    interests: list[tuple[str, list[str], list[Action]]] = []
    for path in debs:
        deb = read_deb(path)
        try:
            control = parse_one(deb.members["control"].data.decode("utf-8"))
        except (KeyError, ValueError, UnicodeDecodeError) as exc:
            raise FormatError(str(path), f"unreadable control file: {exc}") from None
        package = control["Package"]
        member = deb.members.get("actions")
        actions = parse_actions(member.data.decode("utf-8")) if member is not None else []
        for action in actions:
            if action.script == "preinst" and "install" in action.on:
                applier.run(package, action)
        files = unpack_deb(path, root, limits=UnpackLimits(), aliases=aliases)
        configure.append((package, actions))
        triggers = deb.members.get("triggers")
        if triggers is not None:
            interests.append((package, _interests(triggers.data), actions))
        conffiles = deb.members.get("conffiles")
        md5sums = deb.members.get("md5sums")
        entries.append(DpkgEntry(
            control=control, paths=tuple(f.path for f in files),
            md5sums=md5sums.data.decode("utf-8", "replace") if md5sums else "",
            conffiles=tuple(line.strip() for line in
                            (conffiles.data.decode("utf-8", "replace") if conffiles else "")
                            .splitlines() if line.strip()),
            triggers=triggers.data.decode("utf-8", "replace") if triggers else ""))
    for package, actions in configure:
        for action in actions:
            if action.script in ("config", "postinst") and "configure" in action.on:
                applier.run(package, action)
    _run_triggers(applier, interests, entries)
    applier.finish()
    _extend_database(fs, entries)


def _extend_database(fs: ImageRoot, entries: list[DpkgEntry]) -> None:
    """Add `entries` to the system's dpkg database (status stanzas, info files)."""
    entries = [DpkgEntry(e.control, e.paths, e.md5sums, e.conffiles,
                         {p: md5_of(fs, p) for p in e.conffiles}, e.triggers) for e in entries]
    names = {e.name for e in entries}
    status = fs.read_text(f"{ADMIN}/status", strict=True) if fs.lexists(f"{ADMIN}/status") \
        else ""
    kept = [block for block in status.split("\n\n") if block.strip()
            and not any(line == f"Package: {name}" for line in block.splitlines()
                        for name in names)]
    stanzas = [block.strip("\n") + "\n" for block in kept]
    stanzas += [status_stanza(e) for e in entries]
    fs.write_text(f"{ADMIN}/status", "\n".join(stanzas), strict=True)
    for entry in entries:
        write_info(fs, entry.info_name, entry)
    write_interests(fs, entries)


# ----------------------------------------------------------------------- subjects


@dataclass
class Plan:
    """What to verify, resolved over the upstream mirror."""

    subjects: list[Subject] = field(default_factory=list)
    in_base: list[str] = field(default_factory=list)  # names the base already has
    unavailable: dict[str, str] = field(default_factory=dict)  # name -> why not fetched


def _order(records: list[BinaryRecord]) -> list[BinaryRecord]:
    """Dependencies first (cycles broken by name), as an installer configures them."""
    by_name = {r.package: r for r in records}
    done: list[BinaryRecord] = []
    seen: set[str] = set()

    def visit(name: str, stack: set[str]) -> None:
        if name in seen or name in stack or name not in by_name:
            return
        stack.add(name)
        record = by_name[name]
        for fieldname in ("Pre-Depends", "Depends"):
            for group in record.fields.get(fieldname, "").split(","):
                for alt in group.split("|"):
                    dep = alt.strip().split(" ")[0].split("(")[0].split(":")[0]
                    if dep in by_name:
                        visit(dep, stack)
                        break
        stack.discard(name)
        seen.add(name)
        done.append(record)

    for name in sorted(by_name):
        visit(name, set())
    return done


def plan(upstream: Upstream, names: list[str], base_packages: set[str], *,
         with_closure: bool, upgrade: bool, reinstall: bool = True) -> Plan:
    """Subjects for `names` (or every package of their closure): each is the package
    and what its upstream closure adds to the base, deps first; the previous version
    on the mirror, if any, for the upgrade. A package the base has is reinstalled
    (when `reinstall`), alone: its closure is in the base too."""
    pairs = upstream.packages()
    records = [record for _, record in pairs]
    # each record with the suite it came from (by identity: the same version may be in
    # two suites, e.g. bookworm and bookworm-security, at other paths of other mirrors)
    suites: dict[int, Suite] = {id(r): s for s, r in pairs}
    wanted = [r.package for r in closure(records, names)] if with_closure else list(names)
    by_package: dict[str, list[BinaryRecord]] = {}
    by_source: dict[str, list[BinaryRecord]] = {}
    for record in records:
        by_package.setdefault(record.package, []).append(record)
        by_source.setdefault(record.source, []).append(record)
    out = Plan()

    def path_of(record: BinaryRecord) -> Path:
        suite = suites[id(record)]
        return upstream.deb_path(suite, record)

    for name in wanted:
        if name in base_packages:
            out.in_base.append(name)
            if not reinstall:
                continue
            record = max(by_package.get(name, []), key=lambda r: _by_version(r.version))
            try:
                out.subjects.append(Subject(name, [path_of(record)], version=record.version,
                                            in_base=True))
            except UnessentialError as exc:
                out.unavailable[name] = str(exc)
            continue
        members = [r for r in closure(records, [name]) if r.package not in base_packages]
        ordered = _order(members)
        target = next(r for r in ordered if r.package == name)
        try:
            subject = Subject(name, [path_of(r) for r in ordered], version=target.version)
            if upgrade:
                older = sorted((r for r in by_package[name]
                                if r.architecture == target.architecture
                                and version_compare(r.version, target.version) < 0),
                               key=lambda r: _by_version(r.version))
                if older:
                    subject.previous = [path_of(older[-1])]
                    subject.previous += [path_of(r) for r in _siblings(
                        by_package, ordered, target, older[-1])]
                    in_base = [max(by_package[p], key=lambda r: _by_version(r.version))
                               for p in sorted({r.package for r in by_source[target.source]
                                                if r.package in base_packages})]
                    for old in _siblings(by_package, in_base, target, older[-1]):
                        subject.previous.append(path_of(old))
                        subject.companions.append(path_of(next(
                            r for r in in_base if r.package == old.package)))
        except UnessentialError as exc:  # one package's download, not the whole run
            out.unavailable[name] = str(exc)
            continue
        out.subjects.append(subject)
    return out


def _siblings(by_package: dict[str, list[BinaryRecord]], members: list[BinaryRecord],
              target: BinaryRecord, previous: BinaryRecord) -> list[BinaryRecord]:
    """The previous release of the closure's other packages built from the target's
    source (python3.11-minimal depends on libpython3.11-minimal (= its version)): their
    records of the source version `previous` was built from, so the old release
    installs as a whole."""
    found: list[BinaryRecord] = []
    for member in members:
        if member.package == target.package or member.source != target.source:
            continue
        older = [r for r in by_package.get(member.package, [])
                 if r.architecture == member.architecture and r.source == previous.source
                 and r.source_version == previous.source_version
                 and version_compare(r.version, member.version) < 0]
        if older:
            found.append(max(older, key=lambda r: _by_version(r.version)))
    return found
