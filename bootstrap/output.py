"""Where an installed root goes: a directory, a tar, an OCI layout (tar), a docker-archive.

Every output appears whole or not at all: a directory is assembled beside its final
name and renamed into place; files are written by the writers of `bootstrap.oci` and
`bootstrap.layer` through a temporary file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from base.errors import InstallError
from bootstrap.model import ImageConfig

FORMATS = ("dir", "tar", "oci", "docker")


def guess_format(output: Path) -> str:
    """The format an output name suggests: .oci.tar → oci, .docker.tar → docker, ..."""
    name = output.name
    if name.endswith((".oci.tar", ".oci")):
        return "oci"
    if name.endswith((".docker.tar", ".docker")):
        return "docker"
    if name.endswith(".tar"):
        return "tar"
    return "dir"


def check_target(output: Path, fmt: str, force: bool) -> None:
    """Refuse an output that is in the way (unless `force`) or whose parent is missing."""
    if not output.parent.is_dir():
        raise InstallError(str(output), f"directory {output.parent} does not exist")
    if not output.exists() and not output.is_symlink():
        return
    if fmt == "dir" and output.is_dir() and not output.is_symlink() \
            and not any(output.iterdir()):
        return
    if not force:
        raise InstallError(str(output), "exists (pass --force to replace it)")


def work_dir(output: Path) -> Path:
    """A private directory beside `output` (same file system: renames are atomic)."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))


def write_output(root: Path, output: Path, fmt: str, config: ImageConfig,
                 mtime: int | None) -> str:
    """Write the installed `root` as `fmt` to `output`; a digest or '' (dir)."""
    if fmt == "dir":
        aside = None
        if output.exists() or output.is_symlink():  # replaced: moved aside, then removed
            aside = output.with_name(f".{output.name}.old-{os.getpid()}")
            output.rename(aside)
        root.rename(output)
        if aside is not None:
            if aside.is_dir() and not aside.is_symlink():
                shutil.rmtree(aside)
            else:
                aside.unlink()
        return ""
    from bootstrap.layer import write_rootfs_tar
    from bootstrap.oci import write_docker_archive, write_oci_archive

    if fmt == "tar":
        return write_rootfs_tar(root, output, mtime=mtime).digest
    if fmt == "oci":
        return write_oci_archive(root, config, output, mtime=mtime)
    if fmt == "docker":
        return write_docker_archive(root, config, output, mtime=mtime)
    raise InstallError(str(output), f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
