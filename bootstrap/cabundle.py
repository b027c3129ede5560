"""The ca-bundle action: update-ca-certificates done natively in an image.

Reads and writes through the image's confined writer; what to write comes from the
pure functions of `bootstrap.cacerts` (configuration merge, link names, rehash).
"""

from __future__ import annotations

import stat

from bootstrap.cacerts import (
    BUNDLE,
    CERTS_DIR,
    CONFIG,
    ETC_CERTS,
    LOCAL_DIR,
    DirEntry,
    configured,
    merge_config,
    pem_link_name,
    rehash,
    rehash_reads,
    removed_link_name,
)
from bootstrap.confined import Confinement, ImageRoot

_MAX_DEPTH = 32
_CERT_LIMIT = 1 << 20  # a certificate file larger than this is not read


def update(fs: ImageRoot, *, trust_new: bool) -> str:
    """Run what the postinst's configuration step (with `trust_new`) and
    update-ca-certificates do; return a one-line summary."""
    if trust_new:
        _write_config(fs)
    config = fs.read_text(CONFIG) if _is_file(fs, CONFIG) else ""
    fresh = not config
    fs.makedirs(ETC_CERTS)
    if fresh:
        _clear_links(fs)
    trusted, deselected = configured(config)
    removed = 0
    for name in deselected:
        link = f"{ETC_CERTS}/{removed_link_name(name)}"
        if fs.is_symlink(link):
            fs.remove(link)
            removed += 1
    certificates = [f"{CERTS_DIR}/{name}" for name in trusted
                    if _is_file(fs, f"{CERTS_DIR}/{name}")]
    certificates += sorted(_walk(fs, LOCAL_DIR, follow=True))
    added = 0
    bundle = bytearray()
    for certificate in certificates:
        link = f"{ETC_CERTS}/{pem_link_name(certificate)}"
        if not fs.exists(link) or fs.readlink(link) != certificate:
            if fs.lexists(link) and not fs.is_symlink(link):
                if fs.is_dir(link):
                    raise Confinement(f"{link} is a directory, not a certificate link")
                fs.remove(link)
            fs.symlink(link, certificate, replace=True)
            added += 1
        text = fs.read_bytes(certificate, limit=_CERT_LIMIT)
        bundle += text if not text or text.endswith(b"\n") else text + b"\n"
    if added or removed:
        _remove_dangling(fs, ETC_CERTS)
        _rehash(fs)
    if certificates:
        fs.write_bytes(f"{ETC_CERTS}/{BUNDLE}", bytes(bundle), mode=0o644)
    return (f"{len(certificates)} certificates in {ETC_CERTS}/{BUNDLE}; "
            f"{added} added, {removed} removed")


def _write_config(fs: ImageRoot) -> None:
    available = sorted((path[len(CERTS_DIR) + 1:] for path in _walk(fs, CERTS_DIR,
                                                                   follow=False)),
                       key=lambda name: name.encode("utf-8", "surrogateescape"))
    old = fs.read_text(CONFIG) if _is_file(fs, CONFIG) else None

    def exists(name: str) -> bool:
        return _is_file(fs, f"{CERTS_DIR}/{name}") or _is_file(fs, f"{LOCAL_DIR}/{name}")

    new = merge_config(old, available, exists)
    if old is None:
        fs.write_text(CONFIG, new, mode=0o644)
    elif new != old:
        status = fs.lstat(CONFIG, follow=False)
        mode = stat.S_IMODE(status.st_mode) if status else 0o644
        fs.write_text(f"{CONFIG}.dpkg-old", old, mode=mode)
        fs.write_text(CONFIG, new, mode=0o644)


def _clear_links(fs: ImageRoot) -> None:
    """--fresh: the links into the certificate directories go, then dangling ones."""
    for path in fs.symlinks_under(ETC_CERTS):
        target = fs.readlink(path) or ""
        if target.startswith(CERTS_DIR) or target.startswith(LOCAL_DIR):
            fs.remove(path)
    _remove_dangling(fs, ETC_CERTS)


def _remove_dangling(fs: ImageRoot, directory: str) -> None:
    for path in fs.symlinks_under(directory):
        if not fs.exists(path):
            fs.remove(path)


def _rehash(fs: ImageRoot) -> None:
    entries = []
    for name in fs.listdir(ETC_CERTS):
        path = f"{ETC_CERTS}/{name}"
        data = None
        if rehash_reads(name) and _is_file(fs, path):
            data = fs.read_bytes(path, limit=64 << 20)
        entries.append(DirEntry(name, fs.readlink(path), data))
    removed, created = rehash(entries)
    for name in removed:
        fs.remove(f"{ETC_CERTS}/{name}")
    for name, target in created.items():
        path = f"{ETC_CERTS}/{name}"
        if fs.lexists(path) and not fs.is_symlink(path):
            fs.remove(path, recursive=False)
        fs.symlink(path, target, replace=True)


def _is_file(fs: ImageRoot, path: str) -> bool:
    status = fs.lstat(path, follow=True)
    return status is not None and stat.S_ISREG(status.st_mode)


def _walk(fs: ImageRoot, directory: str, *, follow: bool) -> list[str]:
    """The regular `*.crt` files under `directory` (find [-L] DIR -type f -name '*.crt')."""
    return [path for path, status in fs.tree(directory, follow=follow, depth=_MAX_DEPTH)
            if stat.S_ISREG(status.st_mode) and path.endswith(".crt")]
