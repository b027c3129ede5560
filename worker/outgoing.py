"""A worker's signed upload of one build (issue 18): its files and a `.changes` signed
with the worker's own key, in an outgoing directory, ready to be sent.

The worker key (ed25519, sign-only) is made on first use under
`<data_dir>/keys/worker`, a GNUPGHOME of its own: never the archive's signing key,
which stays on the publisher. The directory appears complete or not at all: files are
written into a temporary directory beside it, the `.changes` last, then renamed.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

from archive.changes import Upload, changes_text
from archive.signing import KeyInfo, SigningKeys
from base.errors import StorageError


def worker_keys(data_dir: Path) -> SigningKeys:
    return SigningKeys(data_dir / "keys" / "worker")


def worker_key(keys: SigningKeys) -> KeyInfo:
    """The worker's signing key, made on first use (named after the host)."""
    return keys.ensure_default(f"unessential worker {socket.gethostname()}")


def changes_name(upload: Upload) -> str:
    version = upload.version.split(":", 1)[-1]
    arch = next((a for a in upload.architectures if a not in ("all", "source")), "all")
    return f"{upload.source}_{version}_{arch}.changes"


def write_upload(upload: Upload, files: dict[str, Path], outgoing: Path,
                 keys: SigningKeys) -> Path:
    """`outgoing/<build id>/`: the files of `upload` (by name, from `files`) and its
    signed `.changes`; the directory, renamed into place once complete."""
    missing = sorted({item.name for item in upload.files} - set(files))
    if missing:
        raise StorageError(str(outgoing), f"no file for {', '.join(missing)}")
    signed = keys.clearsign(changes_text(upload).encode(), [worker_key(keys).fingerprint])
    target = outgoing / str(upload.build_id)
    outgoing.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{upload.build_id}.", dir=outgoing))
    try:
        for item in upload.files:
            shutil.copyfile(files[item.name], work / item.name)
        (work / changes_name(upload)).write_bytes(signed)
        for path in work.iterdir():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        if target.exists():
            shutil.rmtree(target)
        os.replace(work, target)
    except OSError as exc:
        raise StorageError(str(target), f"cannot write the upload: {exc.strerror or exc}") \
            from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target / changes_name(upload)
