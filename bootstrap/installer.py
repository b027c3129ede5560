"""From a signed archive to an installed image root: resolve, fetch, unpack, configure.

No apt, dpkg, chroot or interpreter inside the image: the closure is resolved in
Python over the archive's verified Packages index, every .deb is checked against the
signed hash before it is opened, data.tar is unpacked with `bootstrap.unpack`, the
declarative `actions` are applied by `bootstrap.apply`, and dpkg's database is
written by `bootstrap.status` so that scanners see every package.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from archive.debfile import read_deb
from archive.implicit import MEMBER as IMPLICIT_MEMBER
from archive.implicit import Finding, parse_uses
from archive.settings import UpstreamSettings
from archive.upstream.index import BinaryRecord
from archive.upstream.mirror import Suite, Upstream
from base.console import Reporter
from base.deb822 import parse_one
from base.errors import ConfigError, FormatError
from bootstrap.accounts import NAME, AccountError
from bootstrap.apply import ActionFailed, Applier, Outcome, parse_actions
from bootstrap.confined import Confinement, ImageRoot
from bootstrap.diversions import DIVERSIONS
from bootstrap.identity import Identity, read_identity
from bootstrap.model import InstalledPackage
from bootstrap.paths import PathFilter, dpkg_config
from bootstrap.resolver import Resolution, resolve
from bootstrap.rootpath import OutsideRoot, inside
from bootstrap.status import ARCH_NAME, PACKAGE_NAME, DpkgEntry, md5_of, write_database
from bootstrap.unpack import UnpackedFile, UnpackLimits, unpack_deb
from recipes.actions import Action
from recipes.policy import COMMAND_PATH

MERGED_USR = ("bin", "sbin", "lib")
MERGED_USR_ARCH = {"amd64": ("lib64",), "i386": (), "arm64": (), "armhf": ()}
LIB_ALIASES = ("lib32", "lib64", "libx32", "libo32")
INSTALL_SCRIPTS = ("preinst", "postinst", "config")
#: The dpkg status field that lists a package's unsatisfied implicit uses, one per line:
#: "KIND NEEDS PATH" (read by `audit --fail-on implicit-use`).
UNSATISFIED_FIELD = "Unessential-Unsatisfied-Uses"
#: the image's path filters, as dpkg reads them (a dpkg run later applies them too)
PATHS_CONFIG = "etc/dpkg/dpkg.cfg.d/unessential-paths"


@dataclass
class Request:
    """What to bootstrap, and from where."""

    roots: list[str]
    archive: str  # a directory (published root) or an http(s)/file URL
    suite: str = "stable"
    keyring: Path | None = None
    arch: str = "amd64"
    components: tuple[str, ...] = ("main",)
    merged_usr: bool = True
    with_recommends: bool = False
    allow_devices: bool = False
    mtime: int | None = None  # SOURCE_DATE_EPOCH: clamp of every mtime
    user: str | None = None  # "name" or "name:uid": a non-root account to create
    #: packages every image gets where the archive has them (base-files: the image's
    #: identity, /etc/os-release); one the archive lacks is reported, not an error
    base: tuple[str, ...] = ()
    paths: PathFilter = field(default_factory=PathFilter)  # dpkg's path filters


@dataclass
class Unhandled:
    """A package whose install-time maintainer scripts were not run (no actions)."""

    package: str
    scripts: list[str]
    reason: str


@dataclass(frozen=True)
class UnsatisfiedUse:
    """A file of an installed package that runs a program the image does not hold."""

    package: str
    path: str
    kind: str  # shebang, shell-exec, essential-path
    needs: str
    evidence: str
    provider: str | None  # the package that would provide it (policy), if known
    declared: bool  # the package names the provider in its relations

    def line(self) -> str:
        """One warning line: package, file, what it needs and is missing."""
        hint = f"; {self.provider} provides it" if self.provider else ""
        return (f"{self.package}: {self.path} needs {self.needs}, which the image does not "
                f"hold ({self.kind}: {self.evidence}{hint})")


@dataclass
class Installed:
    root: Path
    resolution: Resolution
    packages: list[InstalledPackage]
    outcomes: list[Outcome] = field(default_factory=list)
    unhandled: list[Unhandled] = field(default_factory=list)
    user: tuple[int, int] | None = None
    archive_url: str = ""
    owners: dict[str, tuple[int, int]] | None = None  # recorded owners (run without root)
    #: implicit run-time uses (the packages' `implicit-uses` members) the image leaves
    #: unsatisfied: the needed program is not in it
    implicit_uses: list[UnsatisfiedUse] = field(default_factory=list)
    #: per package, the paths its .deb ships that the path filters left out
    left_out: dict[str, list[str]] = field(default_factory=dict)
    #: base packages (Request.base) the archive does not have
    missing_base: list[str] = field(default_factory=list)
    identity: Identity | None = None  # the image's os-release, as scanners read it
    path_filters: list[str] = field(default_factory=list)  # the rules, as dpkg writes them


def archive_url(archive: str) -> str:
    if archive.startswith(("http://", "https://", "file:/")):
        return archive.rstrip("/")
    path = Path(archive)
    if not path.is_dir():
        raise ConfigError(archive, "no such archive directory (expected a published root "
                          "or an http(s):// URL)")
    return path.resolve().as_uri()


def archive_keyring(archive: str, keyring: Path | None) -> Path:
    """The keyring that signs the archive: given, or the published root's own export."""
    if keyring is not None:
        if not keyring.is_file():
            raise ConfigError(str(keyring), "no such keyring file")
        return keyring
    if archive.startswith(("http://", "https://")):
        raise ConfigError(archive, "an archive URL needs --keyring (the key its Release is "
                          "signed with)")
    local = Path(archive.removeprefix("file://")) / "archive-keyring.asc"
    if not local.is_file():
        raise ConfigError(str(local), "no archive-keyring.asc in the archive; pass --keyring")
    return local


def upstream_settings(request: Request) -> UpstreamSettings:
    return UpstreamSettings(
        mirror=archive_url(request.archive),
        suites=[request.suite],
        components=list(request.components),
        keyring=[archive_keyring(request.archive, request.keyring)],
        architectures=[request.arch],
        apt_sources=[],
    )


def resolve_request(upstream: Upstream, request: Request) -> tuple[Resolution, dict[str, Suite]]:
    """The closure of the request's roots over the archive's verified Packages."""
    pairs = upstream.packages(request.arch)
    suites = {record.package: suite for suite, record in pairs}
    records = [record for _, record in pairs]
    roots, _ = base_roots(request, set(suites))
    resolution = resolve(records, roots, arch=request.arch,
                         with_recommends=request.with_recommends)
    return resolution, suites


def base_roots(request: Request, names: set[str]) -> tuple[list[str], list[str]]:
    """The roots with the base packages the archive has; and those it lacks."""
    roots = list(request.roots)
    missing = [name for name in request.base if name not in names]
    roots += [name for name in request.base if name in names and name not in roots]
    return roots, missing


def install(request: Request, root: Path, upstream: Upstream, reporter: Reporter) -> Installed:
    """Install the closure of `request` into the empty directory `root`.

    Every change after the unpack goes through `bootstrap.confined` (nothing written
    outside `root`); a path or name from a package that cannot be used raises
    ActionFailed naming the package."""
    try:
        return _install(request, root, upstream, reporter)
    except (Confinement, AccountError) as exc:
        raise ActionFailed(str(exc)) from None


def _install(request: Request, root: Path, upstream: Upstream, reporter: Reporter) -> Installed:
    resolution, suites = resolve_request(upstream, request)
    for record in resolution.packages:
        _check_record(record)
    url = archive_url(request.archive)
    debs: list[tuple[BinaryRecord, Path]] = []
    with reporter.task("fetch (verified)", len(resolution.packages), unit="packages") as step:
        for record in resolution.packages:
            debs.append((record, upstream.deb_path(suites[record.package], record)))
            step(1)
    root.mkdir(parents=True, exist_ok=True)
    fs = ImageRoot(root)
    _skeleton(fs, request)
    applier = Applier(root, log=reporter.log)
    installed = Installed(root, resolution, [], archive_url=url)
    installed.missing_base = base_roots(request, set(suites))[1]
    for name in installed.missing_base:
        reporter.log(f"warning: {name} is not in the archive: the image has no identity "
                     "(/etc/os-release), scanners will not know its distribution")
    entries: list[DpkgEntry] = []
    configure: list[tuple[str, list[Action]]] = []
    interests: list[tuple[str, list[str], list[Action]]] = []
    uses: list[tuple[str, list[Finding]]] = []
    aliases = _aliases(request) if request.merged_usr else None
    limits = UnpackLimits(allow_devices=request.allow_devices)
    with reporter.task("unpack", len(debs), unit="packages") as step:
        for record, deb_path in debs:
            deb = read_deb(deb_path)
            control = _control(deb.members, record)
            actions = _actions(deb.members, record.package)
            uses.append((record.package, _implicit_uses(deb.members, record.package)))
            for action in actions:
                if action.script == "preinst" and "install" in action.on:
                    applier.run(record.package, action)
            try:
                diverted = _diverted(applier, record.package)
                left_out: list[str] = []
                files = unpack_deb(deb_path, root, limits=limits, mtime=request.mtime,
                                   aliases=aliases, diversions=diverted,
                                   paths=request.paths, left_out=left_out)
            except FormatError as exc:  # name the package, not the cache file
                raise type(exc)(f"{record.package} ({record.filename})", exc.cause) from None
            if applier.owners is not None:  # (a diverted file, where it went)
                _record_owners(applier.owners, [replace(f, path=diverted.get(f.path, f.path))
                                                for f in files], aliases or {})
            configure.append((record.package, actions))
            triggers = deb.members.get("triggers")
            if triggers is not None:
                interests.append((record.package, _interests(triggers.data), actions))
            _check_scripts(installed, record.package, deb.members, control, actions)
            conffiles = _lines(deb.members.get("conffiles"))
            if left_out:  # a conffile the filters left out is not the package's here
                gone = set(left_out)
                conffiles = [path for path in conffiles if path not in gone]
            applier.conffiles[record.package] = {p: md5_of(fs, p) for p in conffiles}
            if left_out:
                installed.left_out[record.package] = left_out
            entries.append(DpkgEntry(
                control=control, paths=tuple(f.path for f in files),
                md5sums=without_paths(_text(deb.members.get("md5sums")), left_out),
                conffiles=tuple(conffiles), triggers=_text(triggers)))
            installed.packages.append(_installed(record, control, url,
                                                 suites[record.package].entry.suite,
                                                 len(left_out)))
            step(1)
    if request.merged_usr:
        _late_lib_links(fs)
    for package, actions in configure:
        for action in actions:
            if action.script in ("config", "postinst") and "configure" in action.on:
                applier.run(package, action)
    _run_triggers(applier, interests, entries)
    if request.user:
        installed.user = _add_user(applier, request.user)
    applier.finish()
    installed.outcomes = applier.outcomes
    installed.owners = applier.owners
    installed.implicit_uses = unsatisfied_uses(root, uses)
    entries = [DpkgEntry(_with_unsatisfied(e.control, installed.implicit_uses), e.paths,
                         e.md5sums, e.conffiles, {p: md5_of(fs, p) for p in e.conffiles},
                         e.triggers)
               for e in entries]
    write_database(fs, entries)
    installed.identity = read_identity(fs)
    installed.path_filters = request.paths.texts
    if request.paths:
        fs.makedirs("etc/dpkg/dpkg.cfg.d", strict=True)
        fs.write_text(PATHS_CONFIG, dpkg_config(request.paths.rules), strict=True)
    return installed


def without_paths(md5sums: str, left_out: Sequence[str]) -> str:
    """A package's md5sums without the files the path filters left out (so that
    debsums and `dpkg --verify` check what the image holds)."""
    if not left_out:
        return md5sums
    gone = {path.lstrip("/") for path in left_out}
    kept = [line for line in md5sums.splitlines(keepends=True)
            if line.rstrip("\n").partition("  ")[2].lstrip("/") not in gone]
    return "".join(kept)


def _diverted(applier: Applier, package: str) -> dict[str, str]:
    """Where dpkg's diversions send `package`'s files (those held by other packages)."""
    try:
        table = applier.diversions()
    except (ValueError, OSError) as exc:
        raise ActionFailed(f"{package}: cannot read {DIVERSIONS}: {exc}") from None
    return {path: d.to for path, d in table.items() if d.holder != package}


def _record_owners(owners: dict[str, tuple[int, int]], files: Sequence[UnpackedFile],
                   aliases: dict[str, str]) -> None:
    """The owners the archive gives, for a run without root (files are the user's)."""
    for item in files:
        if (item.uid, item.gid) == (0, 0) or item.path == "/.":
            continue
        head, _, rest = item.path.lstrip("/").partition("/")
        name = f"{aliases[head]}/{rest}" if head in aliases and rest else \
            aliases.get(head, head) if not rest else f"{head}/{rest}"
        owners[name.rstrip("/")] = (item.uid, item.gid)


def _aliases(request: Request) -> dict[str, str]:
    return {name: f"usr/{name}" for name in (*MERGED_USR, *LIB_ALIASES)}


def _skeleton(fs: ImageRoot, request: Request) -> None:
    """The directories every image has, and the merged-/usr links."""
    for name, mode in (("usr", 0o755), ("etc", 0o755), ("var", 0o755), ("tmp", 0o1777),
                       ("root", 0o700), ("var/lib/dpkg", 0o755), ("var/tmp", 0o1777),
                       ("run", 0o755), ("home", 0o755)):
        fs.makedirs(name, strict=True)
        fs.chmod(name, mode)
    if request.merged_usr:
        for name in (*MERGED_USR, *MERGED_USR_ARCH.get(request.arch, ())):
            fs.makedirs(f"usr/{name}", strict=True)
            fs.symlink(name, f"usr/{name}")


def _late_lib_links(fs: ImageRoot) -> None:
    for name in LIB_ALIASES:
        if fs.is_dir(f"usr/{name}") and not fs.lexists(name):
            fs.symlink(name, f"usr/{name}")


def _check_record(record: BinaryRecord) -> None:
    """A package name and architecture from the signed index that can name files."""
    if not PACKAGE_NAME.fullmatch(record.package):
        raise FormatError(repr(record.package), "not a valid package name in the archive's "
                          "Packages index")
    if not ARCH_NAME.fullmatch(record.architecture):
        raise FormatError(record.package, f"architecture {record.architecture!r} is not valid")


def _control(members: dict[str, Any], record: BinaryRecord) -> dict[str, str]:
    """The control fields of a fetched package, which must be the package indexed."""
    subject = f"{record.package} ({record.filename})"
    try:
        control = parse_one(members["control"].data.decode("utf-8"))
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        raise FormatError(subject, f"unreadable control file: {exc}") from None
    for key, expected in (("Package", record.package), ("Version", record.version),
                          ("Architecture", record.architecture)):
        if control.get(key) != expected:
            raise FormatError(subject, f"control file says {key}: "
                              f"{control.get(key, '')!r}, the signed index {expected!r}")
    return control


def _text(member: object) -> str:
    data = getattr(member, "data", None)
    return data.decode("utf-8", "replace") if data is not None else ""


def _lines(member: object) -> list[str]:
    return [line.strip() for line in _text(member).splitlines() if line.strip()]


def _actions(members: dict[str, Any], package: str) -> list[Action]:
    member = members.get("actions")
    if member is None:
        return []
    try:
        return parse_actions(member.data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        from base.errors import FormatError

        raise FormatError(package, f"bad actions control file: {exc}") from None


def _implicit_uses(members: dict[str, Any], package: str) -> list[Finding]:
    member = members.get(IMPLICIT_MEMBER)
    if member is None:
        return []
    try:
        return parse_uses(member.data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(package, f"bad {IMPLICIT_MEMBER} control file: {exc}") from None


def present(root: Path, needs: str) -> bool:
    """Whether the image below `root` holds an executable file `needs` (a path, through
    the image's own symlinks, or a bare command found in PATH); never looks outside."""
    paths = [needs] if "/" in needs else [f"{folder}/{needs}" for folder in COMMAND_PATH]
    for path in paths:
        try:
            found = inside(root, path)
            if found.is_file() and not found.is_symlink() and found.stat().st_mode & 0o111:
                return True
        except (OutsideRoot, OSError):
            continue
    return False


def unsatisfied_uses(root: Path, uses: Sequence[tuple[str, Sequence[Finding]]]
                     ) -> list[UnsatisfiedUse]:
    """The uses whose needed program the installed image below `root` does not hold."""
    cache: dict[str, bool] = {}
    out = []
    for package, found in uses:
        for use in found:
            if use.needs not in cache:
                cache[use.needs] = present(root, use.needs)
            if not cache[use.needs]:
                out.append(UnsatisfiedUse(package, use.path, use.kind, use.needs,
                                          use.evidence, use.provider, use.declared))
    return out


def _with_unsatisfied(control: dict[str, str] | Any,
                      uses: Sequence[UnsatisfiedUse]) -> dict[str, str]:
    """The status stanza's fields, with the package's unsatisfied uses listed."""
    name = control.get("Package")
    lines = [f"{u.kind} {u.needs} {u.path}" for u in uses if u.package == name]
    fields = {k: v for k, v in control.items() if k != UNSATISFIED_FIELD}
    if lines:
        fields[UNSATISFIED_FIELD] = "\n" + "\n".join(lines)
    return fields


def _check_scripts(installed: Installed, package: str, members: dict[str, Any],
                   control: dict[str, str], actions: Sequence[Action]) -> None:
    present = [s for s in INSTALL_SCRIPTS if s in members]
    if not present:
        return
    if "Unessential-Recipe" not in control:
        installed.unhandled.append(Unhandled(package, present, "not rewritten by unessential: "
                                             "its maintainer scripts were not run"))
        return
    covered = {a.script for a in actions}
    kept = [s for s in present if s not in covered and s != "config"]
    if kept:
        installed.unhandled.append(Unhandled(package, kept, "kept as is by its recipe: "
                                             "not run (it needs an interpreter)"))


def _interests(data: bytes) -> list[str]:
    names = []
    for line in data.decode("utf-8", "replace").splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) == 2 and words[0] in ("interest", "interest-await", "interest-noawait"):
            names.append(words[1])
    return names


def _run_triggers(applier: Applier, interests: list[tuple[str, list[str], list[Action]]],
                  entries: list[DpkgEntry]) -> None:
    """Run `triggered` actions of packages whose file or explicit triggers were hit."""
    paths = [p for e in entries for p in e.paths]
    for package, names, actions in interests:
        hit = any(name in applier.activated
                  or (name.startswith("/") and any(p == name or p.startswith(name + "/")
                                                   for p in paths))
                  for name in names)
        if not hit:
            continue
        for action in actions:
            if action.script == "postinst" and "triggered" in action.on:
                applier.run(package, action)


def parse_user(spec: str) -> tuple[str, int]:
    """`--user NAME[:UID]`: the name (adduser's rule) and the uid (default 1000)."""
    name, _, number = spec.partition(":")
    if not NAME.fullmatch(name) or (number and not (number.isdigit() and
                                                    1 <= int(number) < 2**31 - 1)):
        raise ConfigError("--user", f"expected NAME or NAME:UID (a name like 'app', a uid "
                          f"from 1), got {spec!r}")
    return name, int(number) if number else 1000


def _add_user(applier: Applier, spec: str) -> tuple[int, int]:
    name, uid = parse_user(spec)
    uid, gid = applier.accounts.add_login(name, uid)
    home = f"/home/{name}"
    applier.fs.makedirs(home)
    applier.chown(home, uid, gid)
    applier.fs.chmod(home, 0o750)
    return uid, gid


def _installed(record: BinaryRecord, control: dict[str, str], url: str,
               suite: str, left_out: int = 0) -> InstalledPackage:
    fields = record.fields
    description = control.get("Description", "").split("\n", 1)[0]
    return InstalledPackage(
        name=record.package, version=record.version, architecture=record.architecture,
        source=record.source, source_version=record.source_version, sha256=record.sha256,
        size=record.size, filename=record.filename, archive=url, suite=suite,
        installed_size=int(control.get("Installed-Size", "0") or 0),
        homepage=control.get("Homepage", ""), maintainer=control.get("Maintainer", ""),
        description=description, md5=fields.get("MD5sum", ""),
        sha512=fields.get("SHA512", ""), left_out=left_out,
        source_field=control.get("Source", "").strip())


Log = Callable[[str], None]
