"""dpkg's status database (bootstrap.status) through the one deb822 writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from base.deb822 import iter_stanzas, parse_one
from base.errors import FormatError
from bootstrap.confined import ImageRoot
from bootstrap.status import DpkgEntry, status_stanza, status_text, write_database

CONTROL = parse_one(
    "Package: tiny\n"
    "Version: 1.0-1\n"
    "Architecture: amd64\n"
    "Maintainer: Someone <someone@example.org>\n"
    "Installed-Size: 12\n"
    "Depends: libc6 (>= 2.36)\n"
    "Section: misc\n"
    "Priority: optional\n"
    "Description: a tiny package\n"
    " It does little.\n"
    " .\n"
    " Really little.  \n"
)


def test_stanza_as_dpkg_writes_it() -> None:
    entry = DpkgEntry(control=CONTROL, paths=("/.", "/etc", "/etc/tiny.conf"),
                      conffiles=("/etc/tiny.conf", "/etc/gone"),
                      conffile_md5={"/etc/tiny.conf": "0" * 32})
    assert status_stanza(entry) == (
        "Package: tiny\n"
        "Status: install ok installed\n"
        "Version: 1.0-1\n"
        "Architecture: amd64\n"
        "Maintainer: Someone <someone@example.org>\n"
        "Installed-Size: 12\n"
        "Depends: libc6 (>= 2.36)\n"
        "Section: misc\n"
        "Priority: optional\n"
        "Conffiles:\n"
        f" /etc/tiny.conf {'0' * 32}\n"
        " /etc/gone newconffile\n"
        "Description: a tiny package\n"
        " It does little.\n"
        " .\n"
        " Really little.  \n"
    )


def test_status_file_round_trips_and_is_sorted() -> None:
    other = dict(CONTROL, Package="alpha")
    text = status_text([DpkgEntry(control=CONTROL, paths=()),
                        DpkgEntry(control=other, paths=())])
    stanzas = list(iter_stanzas(text))
    assert [s["Package"] for s in stanzas] == ["alpha", "tiny"]
    assert "\n\n" in text and not text.endswith("\n\n")
    for stanza in stanzas:
        assert stanza["Status"] == "install ok installed"
        assert stanza["Description"] == CONTROL["Description"]


@pytest.mark.parametrize("control", [
    # an empty continuation line: it would end the stanza (dpkg refuses it too)
    dict(CONTROL, Description="short\n \nmore"),
    dict(CONTROL, Description="short\nline\r"),
    dict(CONTROL, **{"Bad Name": "x"}),
    dict(CONTROL, **{"version": "2"}),  # "Version" twice, as dpkg compares names
])
def test_a_control_value_it_cannot_write_is_a_format_error_naming_the_package(
        control: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    entries = [DpkgEntry(control=dict(CONTROL, Package="fine"), paths=("/.",)),
               DpkgEntry(control=control, paths=("/.",))]
    with pytest.raises(FormatError) as caught:
        write_database(ImageRoot(root), entries)
    assert caught.value.subject == "tiny"
    assert "dpkg's status" in str(caught.value) and "\n" not in str(caught.value)
    assert list(root.iterdir()) == []  # refused before anything was written
