"""Apply the declarative actions of installed packages to an image, with no interpreter.

A fresh install runs each package's `preinst install` actions before its files are
unpacked, and after every package is unpacked the `postinst configure` actions in
install order (dpkg configures dependencies first); then the `triggered` actions of
packages whose triggers were activated. Every action gets an outcome:

- applied: done in the image;
- not-needed: only meaningful on an upgrade or a removal (conffile moves, purges);
- skipped: deliberately not done, with why (caches, byte-compilation);
- failed: impossible (e.g. a missing user) — the bootstrap stops with that outcome.

Each action model of `recipes.actions` has one apply function, an `Applier` method
registered by `@applies(Model)` in `APPLY` and found by the type of the action.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bootstrap import cabundle, tmpfiles
from bootstrap.accounts import AccountError, Accounts
from bootstrap.alternatives import AdminFile, parse_admin, render_admin
from bootstrap.capabilities import XATTR, capability_xattr
from bootstrap.conditions import holds
from bootstrap.confined import Confinement, ImageRoot
from bootstrap.diversions import DIVERSIONS, Diversion, clash, parse_diversions, render_diversions
from bootstrap.nss import add_last as nss_add_last
from bootstrap.nss import remove as nss_remove
from bootstrap.pam import TYPES as PAM_TYPES
from bootstrap.pam import parse_profile, profile_names
from bootstrap.pam import update as pam_update
from bootstrap.shells import update_shells
from bootstrap.statoverrides import parse_statoverrides, render_statoverrides
from recipes.actions import (
    Action,
    AlternativeInstall,
    AlternativeRemove,
    CaBundle,
    CopyPath,
    CreateFile,
    DirToSymlink,
    Divert,
    Fail,
    InfoDir,
    InstallConfig,
    Ldconfig,
    MakeDir,
    MovePath,
    MvConffile,
    NodeDirectory,
    NssService,
    PamAuthUpdate,
    PruneLinks,
    PythonClean,
    PythonCompile,
    RandomSecret,
    RecordTest,
    RemoveFound,
    RemoveGroup,
    RemovePath,
    RemoveUser,
    RmConffile,
    SetCapability,
    SetOwner,
    ShadowPasswords,
    StatOverride,
    Symlink,
    SymlinkToDir,
    SystemGroup,
    SystemIdentity,
    SystemUser,
    Sysusers,
    Tmpfiles,
    Trigger,
    UpdateCache,
    UpdateShells,
    UserInGroup,
    read_actions_file,
)
from recipes.actions.fields import STATOVERRIDES
from recipes.actions.modes import changed_mode, is_symbolic

# An apply function: (applier, package, action) -> (status, detail).
ApplyFunction = Callable[["Applier", str, Any], tuple[str, str]]
F = TypeVar("F", bound=ApplyFunction)

# The apply function of each action model (`applies` fills it in).
APPLY: dict[type[Action], ApplyFunction] = {}


def applies(*models: type[Action]) -> Callable[[F], F]:
    """Register the decorated method as the apply function of `models`."""

    def register(function: F) -> F:
        for model in models:
            if model in APPLY:
                raise RuntimeError(f"two apply functions for {model.action_name()}")
            APPLY[model] = function
        return function

    return register


#: where ldconfig keeps its auxiliary cache (under the root it runs for)
AUX_CACHE_DIR = "/var/cache/ldconfig"


@dataclass(frozen=True)
class Outcome:
    package: str
    action: str
    script: str
    status: str  # applied, not-needed, skipped, failed
    detail: str = ""


class ActionFailed(RuntimeError):
    """An action that cannot be applied to the image."""


def parse_actions(text: str) -> list[Action]:
    """The actions of an `actions` control file."""
    return read_actions_file(text)


@dataclass
class _Alternative:
    link: str
    choices: list[tuple[str, int, list[tuple[str, str, str]]]] = field(default_factory=list)
    mode: str = "auto"  # "manual": an administrator's choice, kept while it exists


class Applier:
    """Applies actions to the image at `root`; `finish()` writes what is collected."""

    def __init__(self, root: Path, *, log: Callable[[str], None] = lambda _: None) -> None:
        self.root = root
        self.fs = ImageRoot(root)
        self.accounts = Accounts(self.fs)
        self.log = log
        self.outcomes: list[Outcome] = []
        self.alternatives: dict[str, _Alternative] = {}
        self.activated: set[str] = set()
        self.ldconfig = False
        # package -> conffile -> the md5 dpkg records for it (its md5 as unpacked), for
        # `Only-If: dpkg-md5`; a package not yet unpacked has none
        self.conffiles: dict[str, dict[str, str]] = {}
        # (package, script) -> the tests its record-test actions recorded, by flag name
        self.flags: dict[tuple[str, str], dict[str, bool]] = {}
        # without root, owners cannot be set on disk: they are recorded for the image
        # writers (path relative to the root -> (uid, gid)); None when running as root
        self.owners: dict[str, tuple[int, int]] | None = None if os.geteuid() == 0 else {}

    def chown(self, image_path: str, uid: int, gid: int) -> None:
        """Set (as root) or record (without root) the owner of `image_path` in the image."""
        if self.owners is None:
            self.fs.chown(image_path, uid, gid)
            return
        name = self.fs.canonical(image_path).lstrip("/")
        old = self.owners.get(name, (0, 0))
        self.owners[name] = (old[0] if uid == -1 else uid, old[1] if gid == -1 else gid)

    # -- entry points --------------------------------------------------------------
    def run(self, package: str, action: Action) -> Outcome:
        apply = APPLY.get(type(action))
        flags = self.flags.setdefault((package, action.script), {})
        try:
            failing = next((c for c in action.only_if
                            if not holds(self.fs, c, self.conffiles, flags)), None)
            if isinstance(action, RecordTest):  # (false where a test fails)
                flags[action.flag] = failing is None
                status, detail = "applied", f"flag {action.flag}: " + (
                    "the tests hold" if failing is None else f"{failing!r} does not hold")
            elif failing is not None:
                status, detail = "not-needed", f"Only-If {failing!r} does not hold"
            elif apply is None:  # pragma: no cover - every model has one (test_action_vocabulary)
                status, detail = "skipped", "no installer support"
            else:
                status, detail = apply(self, package, action)
        except (AccountError, Confinement, OSError, ValueError) as exc:
            cause = f"{exc.filename}: {exc.strerror}" if isinstance(exc, OSError) \
                and exc.filename and exc.strerror else str(exc)
            raise ActionFailed(f"{package}: {action.script} action {action.name}: {cause}") \
                from None
        outcome = Outcome(package, action.name, action.script, status, detail)
        self.outcomes.append(outcome)
        return outcome

    def finish(self) -> None:
        """Alternatives links, the ld.so cache and the account files."""
        for name in sorted(self.alternatives):
            self._write_alternative(name, self.alternatives[name])
        self.accounts.save()
        if self.ldconfig:
            self._run_ldconfig()

    # -- helpers -------------------------------------------------------------------
    def _owner(self, owner: str, group: str) -> tuple[int, int]:
        uid = self.accounts.uid(owner) if owner else -1
        gid = self.accounts.gid(group) if group else -1
        return uid, gid

    # -- users and groups -------------------------------------------------------------
    @applies(SystemGroup)
    def _system_group(self, package: str, action: SystemGroup) -> tuple[str, str]:
        gid = self.accounts.add_fixed_group(action.group, int(action.gid)) if action.gid \
            else self.accounts.add_group(action.group)
        return "applied", f"group {action.group} ({gid})"

    @applies(ShadowPasswords)
    def _shadow_passwords(self, package: str, action: ShadowPasswords) -> tuple[str, str]:
        self.accounts.shadow_on()
        return "applied", "shadow passwords on"

    @applies(SystemUser)
    def _system_user(self, package: str, action: SystemUser) -> tuple[str, str]:
        name = action.user
        uid, gid = self.accounts.add_user(
            name, home=action.home, shell=action.shell, group=action.group,
            gecos=action.gecos)
        home = action.home
        if action.create_home and home != "/nonexistent":
            _absolute(home, "Home")
            self.fs.makedirs(home)
            self.chown(home, uid, gid)
        return "applied", f"user {name} ({uid}:{gid})"

    @applies(UserInGroup)
    def _user_in_group(self, package: str, action: UserInGroup) -> tuple[str, str]:
        self.accounts.add_member(action.user, action.group)
        return "applied", f"{action.user} in {action.group}"

    def _config_file(self, kind: str, name: str) -> str | None:
        """A sysusers.d or tmpfiles.d file as systemd's tools find it: an absolute path,
        or a name looked up in /etc, /run, /usr/local/lib and /usr/lib's KIND."""
        if "/" in name:
            path = _absolute(name, "Config")
            return path if _regular(self.fs.lstat(path)) else None
        for directory in ("/etc", "/run", "/usr/local/lib", "/usr/lib"):
            if _regular(self.fs.lstat(f"{directory}/{kind}/{name}")):
                return f"{directory}/{kind}/{name}"
        return None

    def _sysusers_file(self, name: str) -> str:
        found = self._config_file("sysusers.d", name)
        if found is None:
            raise ValueError(f"no sysusers.d file {name!r} in the image")
        return found

    @applies(Sysusers)
    def _sysusers(self, package: str, action: Sysusers) -> tuple[str, str]:
        if not action.config:
            return "skipped", "no Config given"
        text = "".join(self.fs.read_text(self._sysusers_file(name)) + "\n"
                       for name in action.config)
        made = []
        lines = [words for words in map(_split_sysusers, text.splitlines()) if words]
        # as systemd-sysusers: the groups first, then the users, then memberships
        for words in sorted(lines, key=lambda w: {"g": 0, "u": 1}.get(w[0], 2)):
            line = " ".join(words)
            if len(words) < 2:
                raise ValueError(f"sysusers.d line {line.strip()!r}: no name")
            kind, name = words[0], words[1]
            ident = words[2] if len(words) > 2 else "-"
            number, _, primary = ident.partition(":")  # `u sync 4:65534`: uid:group
            uid = int(number) if number.isdigit() and len(number) < 10 else None
            if kind == "g":
                self.accounts.sysusers_group(name, uid)
            elif kind == "u":
                gecos = words[3] if len(words) > 3 and words[3] != "-" else ""
                home = words[4] if len(words) > 4 and words[4] != "-" else "/"
                shell = words[5] if len(words) > 5 and words[5] != "-" else \
                    ("/bin/sh" if uid == 0 else "/usr/sbin/nologin")
                self.accounts.sysusers_user(name, uid, primary or None, gecos=gecos,
                                            home=home, shell=shell)
            elif kind == "m":
                self.accounts.sysusers_group(ident, None)
                self.accounts.add_member(name, ident)
            else:
                continue  # (r: ranges of ids, which the allocation here does not use)
            made.append(f"{kind} {name}")
        return "applied", ", ".join(made) or "nothing declared"

    # -- files ---------------------------------------------------------------------
    @applies(MakeDir)
    def _make_dir(self, package: str, action: MakeDir) -> tuple[str, str]:
        path = _absolute(action.path, "Path")
        self.fs.makedirs(path)
        self._set(path, action.owner, action.group, action.mode)
        return "applied", path

    @applies(SetOwner)
    def _set_owner(self, package: str, action: SetOwner) -> tuple[str, str]:
        path = _absolute(action.path, "Path")
        if any(c in path for c in "*?["):  # (a pattern in the last component, as sh's)
            directory, pattern = path.rsplit("/", 1)
            names = sorted(name for name in self.fs.listdir(directory or "/")
                           if fnmatch.fnmatchcase(name, pattern) and not name.startswith("."))
            for name in names:
                self._set(f"{directory}/{name}", action.owner, action.group, action.mode)
            return ("applied", ", ".join(f"{directory}/{n}" for n in names)) if names else \
                ("not-needed", f"nothing matches {path}")
        if not self.fs.exists(path):
            raise ValueError(f"{path} does not exist in the image")
        self._set(path, action.owner, action.group, action.mode)
        return "applied", path

    def _set(self, path: str, owner: str, group: str, mode: str) -> None:
        if owner or group:
            uid, gid = self._owner(owner, group)
            self.chown(path, uid, gid)
        if mode and is_symbolic(mode):  # (`g+s`: from the mode the file has)
            status = self.fs.lstat(path)
            if status is None:
                raise ValueError(f"{path} does not exist in the image")
            self.fs.chmod(path, changed_mode(mode, status.st_mode,
                                             directory=stat.S_ISDIR(status.st_mode)))
        elif mode:
            if not _MODE.fullmatch(mode):
                raise ValueError(f"Mode {mode!r} is not an octal mode")
            self.fs.chmod(path, int(mode, 8))

    @applies(Fail)
    def _fail(self, package: str, action: Fail) -> tuple[str, str]:
        where = f" at {action.origin}" if action.origin else ""
        raise ValueError(f"the script fails{where} (exit {action.status})"
                         + (f": {action.message}" if action.message else ""))

    @applies(RecordTest)
    def _record_test(self, package: str, action: RecordTest) -> tuple[str, str]:
        # (`run` records the flag: its Only-If is what it records, not a precondition)
        raise AssertionError("record-test is applied by Applier.run")  # pragma: no cover

    @applies(StatOverride)
    def _stat_override(self, package: str, action: StatOverride) -> tuple[str, str]:
        path = _absolute(action.path, "Path")
        table = self._statoverrides()
        if action.remove:
            if table.pop(path, None) is None:
                return "not-needed", f"{path} has no stat override"
            self._write_statoverrides(table)
            return "applied", f"stat override of {path} removed"
        if path in table:
            return "not-needed", f"{path} has a stat override already"
        if not (action.owner and action.group and action.mode):
            raise ValueError(f"stat override of {path} without an owner, a group and a mode")
        if not _MODE.fullmatch(action.mode):
            raise ValueError(f"Mode {action.mode!r} is not an octal mode")
        table[path] = f"{action.owner} {action.group} {int(action.mode, 8):o}"
        self._write_statoverrides(table)
        if self.fs.exists(path):  # --update
            self._set(path, action.owner, action.group, action.mode)
        return "applied", f"{path}: {table[path]}"

    def _statoverrides(self) -> dict[str, str]:
        """dpkg's stat override database: path -> "owner group mode"."""
        if not self.fs.lexists(_STATOVERRIDE):
            return {}
        return parse_statoverrides(self.fs.read_text(_STATOVERRIDE, strict=True))

    def _write_statoverrides(self, table: dict[str, str]) -> None:
        self.fs.write_text(_STATOVERRIDE, render_statoverrides(table), mode=0o644,
                           strict=True)

    @applies(Divert)
    def _divert(self, package: str, action: Divert) -> tuple[str, str]:
        path = _absolute(action.path, "Path")
        target = _absolute(action.target(), "Divert-To")
        holder = action.package or package
        table = self.diversions()
        if action.remove:
            existing = table.get(path)
            if existing is None:
                return "not-needed", f"{path} is not diverted"
            if existing.holder != holder:
                raise ValueError(f"the diversion of {path} is held by {existing.holder}, not "
                                 f"{holder} (dpkg-divert: mismatch on package)")
            if action.divert_to and existing.to != target:
                raise ValueError(f"{path} is diverted to {existing.to}, not {target} "
                                 "(dpkg-divert: mismatch on divert-to)")
            del table[path]
            self._divert_rename(existing.to, path, action.rename)
            self.fs.write_text(DIVERSIONS, render_diversions(table), strict=True)
            return "applied", f"diversion of {path} by {holder} removed"
        if table.get(path) == Diversion(target, holder):
            return "not-needed", f"{path} is diverted to {target} by {holder} already"
        why = clash(table, path, target, holder)
        if why:
            raise ValueError(why)
        self._divert_rename(path, target, action.rename)
        table[path] = Diversion(target, holder)
        self.fs.write_text(DIVERSIONS, render_diversions(table), strict=True)
        return "applied", f"{path} diverted to {target} by {holder}"

    def diversions(self) -> dict[str, Diversion]:
        """dpkg's diversion database: diverted path -> (divert-to, holder)."""
        if not self.fs.lexists(DIVERSIONS):
            return {}
        return parse_diversions(self.fs.read_text(DIVERSIONS, strict=True))

    def _divert_rename(self, source: str, target: str, rename: bool) -> None:
        """dpkg-divert --rename: the file at `source` moves to `target` (an error where
        both are there)."""
        if not rename or not self.fs.lexists(source):
            return
        if self.fs.lexists(target):
            raise ValueError(f"renaming {source} to {target} would overwrite {target} "
                             "(dpkg-divert: rename involves overwriting)")
        self.fs.rename(source, target)

    @applies(RemovePath)
    def _remove_path(self, package: str, action: RemovePath) -> tuple[str, str]:
        path = _absolute(action.path, "Path")
        try:
            if not self.fs.remove(path, recursive=action.recursive):
                return "not-needed", f"{path} is absent"
        except OSError as error:
            if error.errno != errno.ENOTEMPTY:
                raise
            return "not-needed", f"{path} is a directory that is not empty (rmdir)"
        return "applied", path

    @applies(MovePath)
    def _move_path(self, package: str, action: MovePath) -> tuple[str, str]:
        source = _absolute(action.source, "Source")
        path = _absolute(action.path, "Path")
        if not self.fs.rename(source, path):
            return "not-needed", f"{source} is absent"
        return "applied", f"{source} -> {path}"

    @applies(CopyPath)
    def _copy_path(self, package: str, action: CopyPath) -> tuple[str, str]:
        source = _absolute(action.source, "Source")
        path = _absolute(action.path, "Path")
        status = self.fs.lstat(source)
        if not _regular(status):
            return "not-needed", f"{source} is not a regular file"
        assert status is not None
        if self.fs.is_dir(path):
            path = f"{path.rstrip('/')}/{source.rsplit('/', 1)[1]}"
        existing = self.fs.lstat(path)
        if action.preserve:
            self.fs.copy(source, path)
        else:
            mode = stat.S_IMODE(existing.st_mode) if _regular(existing) and existing else \
                stat.S_IMODE(status.st_mode) & 0o755
            self.fs.write_bytes(path, self.fs.read_bytes(source), mode=mode)
        return "applied", f"{source} copied to {path}"

    @applies(Symlink)
    def _symlink(self, package: str, action: Symlink) -> tuple[str, str]:
        path = _absolute(action.path, "Path")
        if self.fs.lexists(path):
            return "not-needed", f"{path} exists"
        self.fs.symlink(path, action.target)
        return "applied", f"{path} -> {action.target}"

    @applies(CreateFile)
    def _create_file(self, package: str, action: CreateFile) -> tuple[str, str]:
        path = _absolute(action.path, "Path")
        if self.fs.lexists(path):
            return "not-needed", f"{path} exists"
        if action.mode and not _MODE.fullmatch(action.mode):
            raise ValueError(f"Mode {action.mode!r} is not an octal mode")
        mode = int(action.mode, 8) if action.mode else 0o644
        self.fs.write_bytes(path, action.file_text().encode("utf-8"), mode=mode)
        self._set(path, action.owner, action.group, action.mode)  # chown clears set-id bits
        return "applied", path

    @applies(InstallConfig)
    def _install_config(self, package: str, action: InstallConfig) -> tuple[str, str]:
        path = _absolute(action.path, "Path")
        if self.fs.lexists(path):
            return "not-needed", f"{path} exists"
        self.fs.copy(_absolute(action.source, "Source"), path)
        return "applied", path

    # -- system state --------------------------------------------------------------
    @applies(AlternativeInstall)
    def _alternative_install(self, package: str, action: AlternativeInstall) -> tuple[str, str]:
        name = _alternative_name(action.alternative)
        link = _absolute(action.link, "Link")
        path = _absolute(action.path, "Path")
        priority = action.priority
        if isinstance(priority, bool) or not isinstance(priority, int) or \
                not re.fullmatch(r"-?[0-9]{1,9}", str(priority)):
            raise ValueError(f"alternative {name}: Priority {priority!r} is not an integer")
        entry = self.alternatives.get(name)
        if entry is None:
            entry = self.alternatives[name] = self._registered(name, link)
        if entry.link != link:
            raise ValueError(f"alternative {name}: link {link} differs from {entry.link}")
        slaves = []
        for slave in action.slaves:
            if len(slave) != 3:
                raise ValueError(f"alternative {name}: slave {slave!r} is not LINK NAME PATH")
            slave_link, slave_name, slave_path = slave
            slaves.append((_absolute(slave_link, "slave link"), _alternative_name(slave_name),
                           _absolute(slave_path, "slave path")))
        entry.choices = [c for c in entry.choices if c[0] != path]  # registered again
        entry.choices.append((path, priority, slaves))
        return "applied", f"{name}: {action.path} ({action.priority})"

    def _registered(self, name: str, link: str) -> _Alternative:
        """The alternative as the system already has it (its administrative file), so
        that registering a choice keeps the others; empty on a fresh image."""
        admin_path = f"/var/lib/dpkg/alternatives/{name}"
        if not self.fs.lexists(admin_path):
            return _Alternative(link)
        admin = parse_admin(self.fs.read_text(admin_path, strict=True), name)
        links = dict(admin.slaves)
        return _Alternative(admin.link, [
            (path, priority, [(links[slave], slave, slave_path)
                              for slave, slave_path in sorted(given.items())])
            for path, priority, given in admin.choices], admin.mode)

    def _write_alternative(self, name: str, entry: _Alternative) -> None:
        present = [c for c in entry.choices if self.fs.lexists(c[0])]
        if not present:
            return
        path, _, slaves = max(present, key=lambda c: (c[1], c[0]))
        if entry.mode == "manual":  # the administrator's choice stays while it exists
            current = self.fs.readlink(f"/etc/alternatives/{name}")
            chosen = [c for c in present if c[0] == current]
            if chosen:
                path, _, slaves = chosen[0]
        self._link(entry.link, f"/etc/alternatives/{name}")
        self._link(f"/etc/alternatives/{name}", path)
        slave_names: dict[str, str] = {}
        for choice in entry.choices:
            for link, slave, _ in choice[2]:
                slave_names.setdefault(slave, link)
        for link, slave, slave_path in slaves:
            if self.fs.lexists(slave_path):
                self._link(link, f"/etc/alternatives/{slave}")
                self._link(f"/etc/alternatives/{slave}", slave_path)
        # the administrative file of update-alternatives, so that it takes over later
        admin = AdminFile(entry.mode, entry.link, sorted(slave_names.items()), [
            (choice_path, priority, {slave: p for _, slave, p in choice_slaves})
            for choice_path, priority, choice_slaves in entry.choices])
        self.fs.write_text(f"/var/lib/dpkg/alternatives/{name}", render_admin(admin),
                           strict=True)

    def _link(self, link: str, target: str) -> None:
        if self.fs.lexists(link) and not self.fs.is_symlink(link):
            raise ActionFailed(f"alternative link {link} exists and is not a symlink")
        self.fs.symlink(link, target, replace=True)

    @applies(Ldconfig)
    def _ldconfig(self, package: str, action: Ldconfig) -> tuple[str, str]:
        self.ldconfig = True
        return "applied", "the ld.so cache is written once at the end"

    def _run_ldconfig(self) -> None:
        tool = shutil.which("ldconfig") or ("/sbin/ldconfig" if os.path.exists(
            "/sbin/ldconfig") else None)
        if tool is None or os.geteuid() != 0:
            self.log("ld.so cache not written (needs the host's ldconfig, as root); the "
                     "dynamic loader still searches its default directories")
            return
        if not self.fs.lexists("/etc/ld.so.conf"):
            # libc-bin's file; the image has only ld.so.conf.d/ from libc6
            self.fs.write_text("/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n")
        had_dir = self.fs.lexists(AUX_CACHE_DIR)
        try:
            subprocess.run([tool, "-i", "-r", str(self.root)], check=True,
                           capture_output=True, text=True)
        except subprocess.CalledProcessError as exc:
            raise ActionFailed(f"ldconfig -r {self.root}: {exc.stderr.strip()}") from None
        # its auxiliary cache holds the inodes and ctimes of this run's files: never the
        # same twice (an image must be), and only a speed-up of the next ldconfig run
        if self.fs.lexists(f"{AUX_CACHE_DIR}/aux-cache"):
            self.fs.remove(f"{AUX_CACHE_DIR}/aux-cache")
        if not had_dir and self.fs.is_dir(AUX_CACHE_DIR):
            with contextlib.suppress(OSError):  # not empty: something else is in it
                self.fs.remove(AUX_CACHE_DIR)

    @applies(CaBundle)
    def _ca_bundle(self, package: str, action: CaBundle) -> tuple[str, str]:
        return "applied", cabundle.update(self.fs, trust_new=action.trust_new)

    @applies(RemoveFound)
    def _remove_found(self, package: str, action: RemoveFound) -> tuple[str, str]:
        top = _absolute(action.path, "Path")
        status = self.fs.lstat(top, follow=False)
        if status is None or not stat.S_ISDIR(status.st_mode):
            return "not-needed", f"{top} is not a directory"
        limit = int(action.max_depth) if action.max_depth else 99
        removed = self._found(top, 0, limit, action)
        if not removed:
            return "not-needed", f"nothing found under {top}"
        return "applied", f"{len(removed)} removed under {top}"

    def _found(self, path: str, depth: int, limit: int, action: RemoveFound) -> list[str]:
        """find's -delete (which implies -depth): what is inside a directory first, then
        the directory, each tested as it is then."""
        status = self.fs.lstat(path, follow=False)
        if status is None:
            return []
        removed: list[str] = []
        if stat.S_ISDIR(status.st_mode) and depth < limit:
            for name in self.fs.listdir(path):
                removed += self._found(f"{path.rstrip('/')}/{name}", depth + 1, limit, action)
        kind = "d" if stat.S_ISDIR(status.st_mode) else "l" if stat.S_ISLNK(status.st_mode) \
            else "f" if stat.S_ISREG(status.st_mode) else "?"
        base = path.rstrip("/").rsplit("/", 1)[-1] or "/"
        if action.type and kind != action.type or action.name_pattern and \
                not fnmatch.fnmatchcase(base, action.name_pattern):
            return removed
        if action.link_pattern and (kind != "l" or not fnmatch.fnmatchcase(
                self.fs.readlink(path) or "", action.link_pattern)):
            return removed
        children = self.fs.listdir(path) if kind == "d" else []
        if action.empty and (children if kind == "d" else kind != "f" or status.st_size):
            return removed
        if kind == "d" and children:
            raise ValueError(f"find cannot delete {path}: the directory is not empty")
        self.fs.remove(path)
        return [*removed, path]

    @applies(PruneLinks)
    def _prune_links(self, package: str, action: PruneLinks) -> tuple[str, str]:
        directory = _absolute(action.path, "Path")
        pruned = [path for path in self.fs.symlinks_under(directory)
                  if not _regular(self.fs.lstat(path, follow=True))]
        for path in pruned:
            self.fs.remove(path)
        if not pruned:
            return "not-needed", f"no dangling link under {directory}"
        return "applied", f"{len(pruned)} dangling links under {directory} removed"

    @applies(Trigger)
    def _trigger(self, package: str, action: Trigger) -> tuple[str, str]:
        self.activated.add(action.trigger)
        return "applied", f"activated {action.trigger}"

    # -- deliberately not done -----------------------------------------------------
    @applies(PythonCompile)
    def _python_compile(self, package: str, action: PythonCompile) -> tuple[str, str]:
        return "skipped", "byte-code is compiled by the image's python on first import"

    @applies(SetCapability)
    def _set_capability(self, package: str, action: SetCapability) -> tuple[str, str]:
        path = action.path
        if action.remove:
            removed = self.fs.remove_xattr(path, XATTR)
            return ("applied", f"capabilities of {path} removed") if removed else \
                ("not-needed", f"{path} has no capabilities")
        status = self.fs.lstat(path)
        if status is None:
            raise ValueError(f"{path} does not exist")
        mode = stat.S_IMODE(status.st_mode)
        if self._in_image("setcap"):  # as the script: only where the system has setcap
            try:
                self.fs.set_xattr(path, XATTR, capability_xattr(action.capabilities))
            except OSError:
                pass  # (a filesystem without them: setuid, as setcap's failure gives)
            else:
                self.fs.chmod(path, mode & ~stat.S_ISUID)
                return "applied", f"{path}: {action.capabilities}"
        self.fs.chmod(path, mode | stat.S_ISUID)
        return "applied", f"{path}: setuid (no setcap in the image)"

    def _in_image(self, tool: str) -> bool:
        """Whether the image has an executable `tool` where a root shell finds it."""
        for directory in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin",
                          "/sbin", "/bin"):
            status = self.fs.lstat(f"{directory}/{tool}")
            if status is not None and stat.S_ISREG(status.st_mode) and \
                    status.st_mode & 0o111:
                return True
        return False

    @applies(UpdateCache)
    def _update_cache(self, package: str, action: UpdateCache) -> tuple[str, str]:
        return "skipped", f"{action.kind} cache: built by its own tool when present"

    @applies(UpdateShells)
    def _update_shells(self, package: str, action: UpdateShells) -> tuple[str, str]:
        template, declared = "/usr/share/debianutils/shells", "/usr/share/debianutils/shells.d"
        etc, state = "/etc/shells", "/var/lib/shells.state"
        current = self.fs.read_text(etc) if self.fs.exists(etc) else None
        if current is None and not self.fs.is_file(template):
            raise ValueError(f"neither {etc} nor {template} exists")
        packaged = [self.fs.read_text(f"{declared}/{name}")
                    for name in sorted(self.fs.listdir(declared))
                    if self.fs.is_file(f"{declared}/{name}")] if self.fs.is_dir(declared) else []
        source = etc if current is not None else template
        source_status = self.fs.lstat(source)
        mode = stat.S_IMODE(source_status.st_mode) if source_status is not None else 0o644
        old_state = self.fs.read_text(state) if self.fs.exists(state) else None
        state_status = self.fs.lstat(state) if old_state is not None else None

        def resolve(directory: str) -> str:
            try:
                return self.fs.canonical(directory)
            except (OSError, Confinement):
                return directory

        shells, recorded = update_shells(
            current, self.fs.read_text(template) if self.fs.is_file(template) else "",
            packaged, old_state, resolve)
        self.fs.write_text(etc, shells, mode=mode)
        self.fs.write_text(state, recorded, mode=stat.S_IMODE(state_status.st_mode)
                           if state_status is not None else 0o644)
        return "applied", f"{etc}: {len(shells.splitlines())} lines"

    @applies(PamAuthUpdate)
    def _pam_auth_update(self, package: str, action: PamAuthUpdate) -> tuple[str, str]:
        configs, templates = "/usr/share/pam-configs", "/usr/share/pam"
        names = profile_names(sorted(self.fs.listdir(configs))) \
            if self.fs.is_dir(configs) else []
        profiles = {name: parse_profile(name, self.fs.read_text(f"{configs}/{name}"))
                    for name in names if self.fs.is_file(f"{configs}/{name}")}
        shipped = {kind: self.fs.read_text(f"{templates}/common-{kind}")
                   for kind in PAM_TYPES if self.fs.is_file(f"{templates}/common-{kind}")}
        if len(shipped) < len(PAM_TYPES):
            return "skipped", f"{templates}: libpam-runtime's templates are not installed"
        saved = {kind: self.fs.read_text(f"/var/lib/pam/{kind}") for kind in PAM_TYPES
                 if self.fs.is_file(f"/var/lib/pam/{kind}")}
        current = {kind: self.fs.read_text(f"/etc/pam.d/common-{kind}") for kind in PAM_TYPES
                   if self.fs.is_file(f"/etc/pam.d/common-{kind}")}
        seen = set(self.fs.read_text("/var/lib/pam/seen").split()) \
            if self.fs.is_file("/var/lib/pam/seen") else set()
        written = pam_update(profiles, shipped, saved if len(saved) == len(PAM_TYPES) and
                             len(current) == len(PAM_TYPES) else None, seen, current,
                             force=action.force, remove=action.remove)
        if written is None:
            return "not-needed", "no state in /var/lib/pam and no --force: nothing written"
        for path in written.backups:
            self.fs.copy(f"/{path}", f"/{path}.pam-old")
        self.fs.makedirs("/var/lib/pam")
        for path, text in written.files.items():
            self.fs.write_text(f"/{path}", text, mode=0o644)
        return "applied", f"/etc/pam.d/common-*: {len(profiles)} profiles"

    @applies(SystemIdentity)
    def _system_identity(self, package: str, action: SystemIdentity) -> tuple[str, str]:
        return "skipped", (f"{action.kind}: made by the system that runs the image (its "
                           "copies would share it)")

    @applies(RandomSecret)
    def _random_secret(self, package: str, action: RandomSecret) -> tuple[str, str]:
        return "skipped", (f"{action.path}: a secret made by the system that runs the image "
                           "(its copies would share it)")

    @applies(NodeDirectory)
    def _node_directory(self, package: str, action: NodeDirectory) -> tuple[str, str]:
        return "skipped", (f"{action.path}/NODE: named after the node of the system that "
                           "runs the image, not the build's")

    @applies(NssService)
    def _nss_service(self, package: str, action: NssService) -> tuple[str, str]:
        conf = "/etc/nsswitch.conf"
        if not self.fs.is_file(conf):
            return "not-needed", f"{conf} does not exist"
        text = self.fs.read_text(conf)
        changed = nss_remove(text, action.databases, action.service) if action.remove \
            else nss_add_last(text, action.databases, action.service)
        if changed == text:
            return "not-needed", f"{conf}: {action.service} already as wanted"
        status = self.fs.lstat(conf)
        self.fs.write_text(conf, changed, mode=stat.S_IMODE(status.st_mode)
                           if status is not None else 0o644)
        return "applied", f"{conf}: {action.service} " + \
            ("removed" if action.remove else f"added to {' '.join(action.databases)}")

    @applies(InfoDir)
    def _info_dir(self, package: str, action: InfoDir) -> tuple[str, str]:
        return "skipped", "no Info reader in the image"

    @applies(Tmpfiles)
    def _tmpfiles(self, package: str, action: Tmpfiles) -> tuple[str, str]:
        lines = []
        for name in action.config:  # (a missing file: systemd-tmpfiles fails, `|| true`)
            found = self._config_file("tmpfiles.d", name)
            if found is not None:
                lines += tmpfiles.parse(self.fs.read_text(found))
        made = tmpfiles.create(self.fs, lines, self.accounts.uid, self.accounts.gid)
        return ("applied", ", ".join(made)) if made else ("not-needed", "nothing to create")

    # -- nothing to do on a fresh install --------------------------------------------
    @applies(RmConffile, MvConffile, SymlinkToDir, DirToSymlink)
    def _upgrade_only(self, package: str, action: Action) -> tuple[str, str]:
        return "not-needed", "only acts on an upgrade from an older version"

    @applies(RemoveUser, RemoveGroup, AlternativeRemove, PythonClean)
    def _removal_only(self, package: str, action: Action) -> tuple[str, str]:
        return "not-needed", "only acts on removal or purge"

_MODE = re.compile(r"0?[0-7]{3,4}")
_STATOVERRIDE = STATOVERRIDES
#: update-alternatives' names: no slash, no blanks, not '.' or '..'
_ALTERNATIVE = re.compile(r"[^/\s\x00-\x1f\x7f]{1,255}")


def _absolute(path: str, what: str) -> str:
    """`path` if it is an absolute image path with no '..' component and no control
    character; ValueError otherwise (it came from a package's control data)."""
    if not path.startswith("/") or any(part == ".." for part in path.split("/")) \
            or any(ord(char) < 32 or char == "\x7f" for char in path):
        raise ValueError(f"{what} {path!r} is not an absolute path without '..'")
    return path


def _alternative_name(name: str) -> str:
    if not _ALTERNATIVE.fullmatch(name) or name in (".", ".."):
        raise ValueError(f"alternative name {name!r} is not a plain name (no '/', blanks)")
    return name


def _regular(status: os.stat_result | None) -> bool:
    return status is not None and stat.S_ISREG(status.st_mode)


def _split_sysusers(line: str) -> list[str]:
    """The words of one sysusers.d line (double quotes group words); [] for comments."""
    line = line.strip()
    if not line or line.startswith("#"):
        return []
    words: list[str] = []
    current = ""
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char.isspace() and not quoted:
            if current:
                words.append(current)
            current = ""
        else:
            current += char
    if current:
        words.append(current)
    return words if len(words) >= 2 else []
