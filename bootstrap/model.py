"""Plain records shared by the bootstrap stages (install, status, SBOM, image writers)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class InstalledPackage:
    """One package installed into an image, and where it came from."""

    name: str
    version: str
    architecture: str
    source: str  # source package name (Package if the index names none)
    source_version: str
    sha256: str  # of the .deb, as verified against the signed index
    size: int  # of the .deb
    filename: str  # pool path in the archive
    archive: str  # base URL of the archive, e.g. file:///srv/public or http://host/
    suite: str  # e.g. stable
    installed_size: int = 0  # KiB, from Installed-Size
    homepage: str = ""
    maintainer: str = ""
    description: str = ""  # the first (synopsis) line
    md5: str = ""  # of the .deb, when the index lists it
    sha512: str = ""
    left_out: int = 0  # files and links of the .deb the path filters left out
    source_field: str = ""  # the control's Source field as is ("glibc (2.36-9)"), or ""


@dataclass(frozen=True)
class ImageConfig:
    """The run-time configuration of an OCI / docker image."""

    architecture: str = "amd64"  # OCI/GOARCH spelling (amd64, arm64, ...)
    variant: str = ""  # the OCI platform variant (arm64: v8, armhf: v7), "" for none
    compression: str = "gzip"  # of an OCI image's layer: gzip (any reader) or zstd
    os: str = "linux"
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
    user: str = ""  # "" = root; else "name", "uid" or "uid:gid"
    workdir: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    created: int = 0  # seconds since the epoch (SOURCE_DATE_EPOCH)
    tag: str = "latest"  # reference name in the OCI index / docker RepoTags
    name: str = "unessential/image"  # repository part of the docker RepoTags entry
