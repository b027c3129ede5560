"""dpkg's records of trigger interests (triggers/File, triggers/NAME), written by
bootstrap and verify's native install as dpkg writes them when it unpacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.confined import Confinement, ImageRoot
from bootstrap.status import ADMIN, DpkgEntry, interests, write_interests

MAN_DB = """# comment
interest-noawait /usr/share/man
interest-noawait /opt/man
interest ldconfig
interest-await /usr/lib/demo
activate-noawait other
"""


def entry(name: str, triggers: str, **control: str) -> DpkgEntry:
    return DpkgEntry(control={"Package": name, **control}, paths=(), triggers=triggers)


def test_interests_in_dpkgs_formats() -> None:
    files, explicit = interests([entry("man-db", MAN_DB),
                                 entry("libx", "interest-noawait ldconfig\n",
                                       **{"Multi-Arch": "same", "Architecture": "amd64"})])
    assert files == ["/usr/share/man man-db/noawait", "/opt/man man-db/noawait",
                     "/usr/lib/demo man-db"]
    assert explicit == {"ldconfig": ["man-db", "libx:amd64/noawait"]}


def test_write_keeps_other_packages_and_replaces_its_own(tmp_path: Path) -> None:
    triggers = tmp_path / ADMIN.lstrip("/") / "triggers"
    triggers.mkdir(parents=True)
    (triggers / "File").write_text("/usr/share/debianutils/shells.d debianutils/noawait\n"
                                   "/usr/old man-db/noawait\n")
    (triggers / "ldconfig").write_text("libc-bin\n")
    write_interests(ImageRoot(tmp_path), [entry("man-db", MAN_DB)])
    assert (triggers / "File").read_text() == (
        "/usr/share/debianutils/shells.d debianutils/noawait\n"
        "/usr/share/man man-db/noawait\n/opt/man man-db/noawait\n/usr/lib/demo man-db\n")
    assert (triggers / "ldconfig").read_text() == "libc-bin\nman-db\n"


@pytest.mark.parametrize("name", ["../escape", "File", "Lock", ".hidden", "a/b"])
def test_a_trigger_name_that_is_no_plain_name_is_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / ADMIN.lstrip("/") / "triggers").mkdir(parents=True)
    with pytest.raises(Confinement, match="trigger name"):
        write_interests(ImageRoot(tmp_path), [entry("evil", f"interest {name}\n")])
    assert sorted(p.name for p in (tmp_path / ADMIN.lstrip("/") / "triggers").iterdir()) == []
