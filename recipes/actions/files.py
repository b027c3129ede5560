"""Actions on files and directories, conffile moves of dpkg-maintscript-helper included."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from recipes.actions.fields import (
    AbsolutePath,
    Capabilities,
    ChmodMode,
    ConfigFiles,
    Depth,
    FileContent,
    FoundType,
    LinkPattern,
    NamePattern,
    OctalMode,
    OptionalPackageName,
    OptionalPath,
    Owner,
    PatternPath,
    Target,
    Version,
    YesNo,
)
from recipes.actions.model import Action


class MakeDir(Action):
    """Create a directory (mkdir), with its mode and owner."""

    name: Literal["make-dir"] = Field("make-dir", alias="Action")
    path: AbsolutePath = Field(alias="Path")
    mode: OctalMode = Field("", alias="Mode")
    owner: Owner = Field("", alias="Owner")
    group: Owner = Field("", alias="Group")


class RemovePath(Action):
    """Remove a file, an empty directory or (Recursive) a tree; the path may be a glob."""

    name: Literal["remove-path"] = Field("remove-path", alias="Action")
    path: AbsolutePath = Field(alias="Path")
    recursive: YesNo = Field(False, alias="Recursive")


class RemoveFound(Action):
    """Remove what `find PATH [-maxdepth N] [-type T] [-name GLOB] [-lname GLOB] [-empty]
    -delete` finds (ssl-cert's `-lname`, redis' `-type d -empty`, ucf's `-type f |
    xargs rm -f`): PATH itself counts (depth 0), nothing is followed, a directory is
    removed only when it is empty by then (else an error, as find's); nothing where PATH
    is not a directory."""

    name: Literal["remove-found"] = Field("remove-found", alias="Action")
    path: AbsolutePath = Field(alias="Path")
    max_depth: Depth = Field("", alias="Max-Depth")
    type: FoundType = Field("", alias="Type")
    name_pattern: NamePattern = Field("", alias="Name")
    link_pattern: LinkPattern = Field("", alias="Link-Name")
    empty: YesNo = Field(False, alias="Empty")

    @model_validator(mode="after")
    def _selective(self) -> RemoveFound:
        if any(c in self.path for c in "*?[") or not (
                self.type or self.name_pattern or self.link_pattern or self.empty):
            raise ValueError("remove-found takes a plain Path and at least one of Type, "
                             "Name, Link-Name, Empty (not a whole tree: remove-path)")
        return self


class PruneLinks(Action):
    """Remove the symbolic links under a directory that lead to no regular file
    (`find DIR -type l | while read l; do test -f "$l" || rm -f "$l"; done`)."""

    name: Literal["prune-links"] = Field("prune-links", alias="Action")
    path: AbsolutePath = Field(alias="Path")


class MovePath(Action):
    """Rename a path if it exists (mv SOURCE PATH behind a test of SOURCE): a file or
    link at `Path` is replaced, a directory at `Path` receives it (as mv does); nothing
    happens when `Source` is absent."""

    name: Literal["move-path"] = Field("move-path", alias="Action")
    source: AbsolutePath = Field(alias="Source")
    path: AbsolutePath = Field(alias="Path")


class CopyPath(Action):
    """Copy a regular file where it exists (cp -f SOURCE PATH behind a test of SOURCE, as
    ucf's preinst rotates its hash files): a file at `Path` gets the content (keeping its
    mode, or with `Preserve: yes`, cp -p, the source's mode), a directory at `Path`
    receives it, a new file gets the source's mode less the umask 022; nothing happens
    when `Source` is absent."""

    name: Literal["copy-path"] = Field("copy-path", alias="Action")
    source: AbsolutePath = Field(alias="Source")
    path: AbsolutePath = Field(alias="Path")
    preserve: YesNo = Field(False, alias="Preserve")


class SetOwner(Action):
    """chown/chmod of one path, or of each file a pattern in its last component matches
    (`chgrp bind /etc/bind/named.conf*`; none: nothing to do). Mode: octal, or symbolic
    naming its classes (`g+s`, `g+rwx`)."""

    name: Literal["set-owner"] = Field("set-owner", alias="Action")
    path: PatternPath = Field(alias="Path")
    owner: Owner = Field("", alias="Owner")
    group: Owner = Field("", alias="Group")
    mode: ChmodMode = Field("", alias="Mode")


class SetCapability(Action):
    """File capabilities of one executable (setcap), in the two forms maintainer scripts
    use. `Setuid-Fallback: yes` is Debian's idiom (iputils-ping): where the system has
    setcap and it sets `Capabilities`, the setuid bit is cleared; where it has none or
    setcap fails, the file is made setuid instead (chmod u+s). `Remove: yes` drops the
    file's capabilities, where it has any (`getcap F | grep` then `setcap -r F`, a
    failure only reported: iproute2)."""

    name: Literal["set-capability"] = Field("set-capability", alias="Action")
    path: AbsolutePath = Field(alias="Path")
    capabilities: Capabilities = Field("", alias="Capabilities")
    setuid_fallback: YesNo = Field(False, alias="Setuid-Fallback")
    remove: YesNo = Field(False, alias="Remove")

    @model_validator(mode="after")
    def _one_form(self) -> SetCapability:
        if self.remove == bool(self.capabilities) or (self.remove and self.setuid_fallback):
            raise ValueError("set-capability takes Capabilities (with Setuid-Fallback) or "
                             "Remove: yes")
        if not self.remove and not self.setuid_fallback:
            raise ValueError("set-capability with Capabilities needs Setuid-Fallback: yes "
                             "(the only form modelled)")
        return self


class StatOverride(Action):
    """A path's owner and mode recorded in dpkg's stat override database and set
    (dpkg-statoverride --update --add), unless the path has an override already; with
    Remove, the path's override dropped (dpkg-statoverride --remove)."""

    name: Literal["stat-override"] = Field("stat-override", alias="Action")
    path: AbsolutePath = Field(alias="Path")
    owner: Owner = Field("", alias="Owner")
    group: Owner = Field("", alias="Group")
    mode: OctalMode = Field("", alias="Mode")
    remove: YesNo = Field(False, alias="Remove")


class Divert(Action):
    """A diversion in dpkg's database (dpkg-divert --add): the files other packages ship
    at `Path` are unpacked at `Divert-To` (default `Path.distrib`); `Package` holds it
    (default: the package whose script it is); with `Rename`, a file at `Path` moves
    to `Divert-To`. An existing diversion of the same path by the same package to the
    same place is left as is; any other one of `Path` (or to `Divert-To`) is an error,
    as dpkg-divert's clash. With `Remove` (dpkg-divert --remove): the diversion of
    `Path` held by `Package` is dropped (with `Rename`, the file moves back); none is
    nothing to do; one held by another package is an error (dpkg-divert's mismatch)."""

    name: Literal["divert"] = Field("divert", alias="Action")
    path: AbsolutePath = Field(alias="Path")
    divert_to: OptionalPath = Field("", alias="Divert-To")
    package: OptionalPackageName = Field("", alias="Package")
    rename: YesNo = Field(False, alias="Rename")
    remove: YesNo = Field(False, alias="Remove")

    @model_validator(mode="after")
    def _distinct(self) -> Divert:
        if self.divert_to == self.path:
            raise ValueError(f"Divert-To {self.divert_to!r}: a path diverted to itself")
        return self

    def target(self) -> str:
        """Where the diverted files go."""
        return self.divert_to or f"{self.path}.distrib"


class Symlink(Action):
    """Create a symbolic link if missing (ln -s)."""

    name: Literal["symlink"] = Field("symlink", alias="Action")
    path: AbsolutePath = Field(alias="Path")
    target: Target = Field(alias="Target")


class CreateFile(Action):
    """Create a regular file if nothing is at its path (touch; `[ -e F ] || echo ... > F`).

    Never overwrites: a file, directory or symlink (dangling too) at `Path` is left as
    it is, with its mode and owner. The file holds `Content`, line by line, each line
    ending with a newline (no lines: an empty file; a last line without a newline
    cannot be written); missing parent directories are created as `mkdir -p` would
    (mode 0755, as install-config does). `Mode`, `Owner` and `Group` are set only on
    the file this action creates; without `Mode` it gets 0644 (0666 less dpkg's umask
    022 for the rendered sh).
    """

    name: Literal["create-file"] = Field("create-file", alias="Action")
    path: AbsolutePath = Field(alias="Path")
    content: FileContent = Field((), alias="Content")
    mode: OctalMode = Field("", alias="Mode")
    owner: Owner = Field("", alias="Owner")
    group: Owner = Field("", alias="Group")

    def file_text(self) -> str:
        """The file's text: each line of `Content` followed by a newline."""
        return "".join(line + "\n" for line in self.content)


class InstallConfig(Action):
    """Install a default configuration file if missing (ucf SOURCE DEST)."""

    name: Literal["install-config"] = Field("install-config", alias="Action")
    source: AbsolutePath = Field(alias="Source")
    path: AbsolutePath = Field(alias="Path")


class Tmpfiles(Action):
    """Create what a tmpfiles.d file declares (systemd-tmpfiles --create)."""

    name: Literal["tmpfiles"] = Field("tmpfiles", alias="Action")
    config: ConfigFiles = Field((), alias="Config")


# -- dpkg-maintscript-helper: they act on an upgrade from an older version -----------------
class RmConffile(Action):
    """dpkg-maintscript-helper rm_conffile."""

    name: Literal["rm-conffile"] = Field("rm-conffile", alias="Action")
    conffile: AbsolutePath = Field(alias="Conffile")
    prior_version: Version = Field("", alias="Prior-Version")
    package: OptionalPackageName = Field("", alias="Package")


class MvConffile(Action):
    """dpkg-maintscript-helper mv_conffile."""

    name: Literal["mv-conffile"] = Field("mv-conffile", alias="Action")
    old: AbsolutePath = Field(alias="Old")
    new: AbsolutePath = Field(alias="New")
    prior_version: Version = Field("", alias="Prior-Version")
    package: OptionalPackageName = Field("", alias="Package")


class SymlinkToDir(Action):
    """dpkg-maintscript-helper symlink_to_dir."""

    name: Literal["symlink-to-dir"] = Field("symlink-to-dir", alias="Action")
    pathname: AbsolutePath = Field(alias="Pathname")
    old_target: Target = Field(alias="Old-Target")
    prior_version: Version = Field("", alias="Prior-Version")
    package: OptionalPackageName = Field("", alias="Package")


class DirToSymlink(Action):
    """dpkg-maintscript-helper dir_to_symlink."""

    name: Literal["dir-to-symlink"] = Field("dir-to-symlink", alias="Action")
    pathname: AbsolutePath = Field(alias="Pathname")
    new_target: Target = Field(alias="New-Target")
    prior_version: Version = Field("", alias="Prior-Version")
    package: OptionalPackageName = Field("", alias="Package")
