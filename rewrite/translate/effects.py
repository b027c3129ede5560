"""What an action may change on the system, for what the walk knows about paths: a path
that a test found missing is still missing, and a test of a path (an action's
`Only-If`) still has the value it had, while no action run since may have changed it.

Each action's effect is a set of paths it may change, a path ending with "/" standing
for that directory and anything under it (the directories that a creation makes on the
way are listed too), or None when it may change any path (a python byte-compilation,
a trigger, a dpkg-maintscript-helper operation); a removal by a glob may change
the tree under the directory before the glob's first pattern.
"""

from __future__ import annotations

from collections.abc import Iterable

from recipes.actions import (
    Action,
    AlternativeInstall,
    AlternativeRemove,
    CaBundle,
    CopyPath,
    CreateFile,
    Divert,
    InfoDir,
    InstallConfig,
    Ldconfig,
    MakeDir,
    MovePath,
    NodeDirectory,
    PamAuthUpdate,
    RandomSecret,
    RecordTest,
    RemoveFound,
    RemoveGroup,
    RemovePath,
    RemoveUser,
    SetCapability,
    SetOwner,
    ShadowPasswords,
    StatOverride,
    Symlink,
    SystemGroup,
    SystemIdentity,
    SystemUser,
    UpdateCache,
    UpdateShells,
    UserInGroup,
)
from recipes.actions.fields import STATOVERRIDES

ACCOUNTS = ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow")
CACHES = {"man": "/var/cache/man", "fonts": "/var/cache/fontconfig", "mime": "/usr/share/mime",
          "desktop": "/usr/share/applications", "icons": "/usr/share/icons",
          "glib-schemas": "/usr/share/glib-2.0/schemas", "hwdb": "/usr/lib/udev/hwdb.bin",
          "journal-catalog": "/var/lib/systemd/catalog/database"}


# what each kind of system identity makes
IDENTITY_PATHS = {"machine-id": "/etc/machine-id", "dbus-machine-id": "/var/lib/dbus/",
                  "snakeoil-certificate": "/etc/ssl/", "rndc-key": "/etc/bind/rndc.key"}


def _with_parents(path: str) -> set[str]:
    """`path` and the directories above it (a creation may make them)."""
    out = set()
    path = path.rstrip("/") or "/"
    while path != "/":
        out.add(path)
        path = path.rsplit("/", 1)[0] or "/"
    return out


def _tree(path: str) -> str:
    return (path.rstrip("/") or "") + "/"


def _plain(path: str) -> bool:
    return not any(c in path for c in "*?[")


def _glob_root(path: str) -> str:
    """The tree a glob's matches are in: `/var/cache/apparmor/*/x` -> /var/cache/apparmor/."""
    head = path[:min(path.index(c) for c in "*?[" if c in path)]
    return head.rsplit("/", 1)[0] + "/"


def roots(action: Action) -> frozenset[str] | None:
    """The roots of what `action` may change (see the module's docstring)."""
    if isinstance(action, MakeDir | CreateFile | InstallConfig | Symlink):
        return frozenset(_with_parents(action.path)) if _plain(action.path) else None
    if isinstance(action, StatOverride):  # (the database; --update: the path)
        return frozenset({STATOVERRIDES, action.path.rstrip("/") or "/"}) \
            if _plain(action.path) else None
    if isinstance(action, SetOwner):
        return frozenset({action.path.rstrip("/") or "/"}) if _plain(action.path) else None
    if isinstance(action, RecordTest):
        return frozenset()
    if isinstance(action, RandomSecret):
        return frozenset(_with_parents(action.path))
    if isinstance(action, NodeDirectory):
        return frozenset({_tree(action.path), *_with_parents(action.path)})
    if isinstance(action, RemovePath):  # (a glob: the directory before its first pattern)
        return frozenset({_tree(action.path) if _plain(action.path) else _glob_root(action.path)})
    if isinstance(action, CopyPath):
        return frozenset({_tree(action.path), *_with_parents(action.path)})
    if isinstance(action, RemoveFound):
        return frozenset({_tree(action.path)})
    if isinstance(action, SetCapability):
        return frozenset({action.path})
    if isinstance(action, Divert):  # (the database; with Rename, both paths)
        return frozenset({"/var/lib/dpkg/diversions", action.path, action.target()})
    if isinstance(action, MovePath):
        return frozenset({_tree(action.source), _tree(action.path),
                          *_with_parents(action.path)})
    if isinstance(action, Ldconfig):
        return frozenset({"/etc/ld.so.cache"})
    if isinstance(action, CaBundle):
        return frozenset({"/etc/ssl/certs/", "/etc/ca-certificates.conf"})
    if isinstance(action, UpdateShells):
        return frozenset({"/etc/shells", "/var/lib/shells.state"})
    if isinstance(action, SystemIdentity):
        return frozenset({IDENTITY_PATHS[action.kind]})
    if isinstance(action, PamAuthUpdate):
        return frozenset({"/etc/pam.d/", "/var/lib/pam/"})
    if isinstance(action, InfoDir):
        return frozenset({"/usr/share/info/dir"})
    if isinstance(action, UpdateCache):
        root = action.path or CACHES.get(action.kind)
        return frozenset({_tree(root)}) if root and _plain(root) else None
    if isinstance(action, SystemGroup | UserInGroup | RemoveGroup | RemoveUser |
                  ShadowPasswords):
        return frozenset(ACCOUNTS)
    if isinstance(action, SystemUser):
        home = _with_parents(action.home) if action.create_home else set()
        return frozenset({*ACCOUNTS, *home})
    if isinstance(action, AlternativeInstall | AlternativeRemove):
        link = {action.link} if isinstance(action, AlternativeInstall) else set()
        return frozenset({"/etc/alternatives/", "/var/lib/dpkg/alternatives/", *link})
    return None


def of_all(actions: Iterable[Action]) -> frozenset[str] | None:
    """The roots of what any of `actions` may change (None: any path)."""
    out: set[str] = set()
    for action in actions:
        made = roots(action)
        if made is None:
            return None
        out |= made
    return frozenset(out)


def affects(made: frozenset[str] | None, path: str) -> bool:
    """Whether a change of these paths may change what a test of `path` finds."""
    if made is None:
        return True
    path = path.rstrip("/") or "/"
    return any(path == root or (root.endswith("/") and (path + "/").startswith(root))
               for root in made)
