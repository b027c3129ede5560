"""update-alternatives' administrative files: read, merged, written back as dpkg does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bootstrap.alternatives import AdminFile, parse_admin, render_admin

PAGER = """auto
/usr/bin/pager
pager.1.gz
/usr/share/man/man1/pager.1.gz

/bin/more
50

/usr/bin/less
77
/usr/share/man/man1/less.1.gz

"""


def test_a_file_dpkg_wrote_reads_and_renders_byte_identical() -> None:
    admin = parse_admin(PAGER, "pager")
    assert admin.mode == "auto" and admin.link == "/usr/bin/pager"
    assert admin.slaves == [("pager.1.gz", "/usr/share/man/man1/pager.1.gz")]
    assert admin.choices == [("/bin/more", 50, {}),
                             ("/usr/bin/less", 77,
                              {"pager.1.gz": "/usr/share/man/man1/less.1.gz"})]
    assert render_admin(admin) == PAGER


@pytest.mark.skipif(not Path("/var/lib/dpkg/alternatives").is_dir(),
                    reason="no update-alternatives database on this host")
def test_every_file_of_this_host_round_trips() -> None:
    files = sorted(Path("/var/lib/dpkg/alternatives").iterdir())
    for path in files:
        text = path.read_text()
        assert render_admin(parse_admin(text, path.name)) == text, path


@pytest.mark.parametrize(("text", "problem"), [
    ("", "mode '' is not auto or manual"),
    ("sometimes\n/usr/bin/x\n\n\n", "mode 'sometimes'"),
    ("auto\nrelative\n\n\n", "link 'relative' is not an absolute path"),
    ("auto\n/usr/bin/x\nx.1\nrel\n\n\n", "slave 'x.1' link 'rel'"),
    ("auto\n/usr/bin/x\n\n/usr/bin/y\nhigh\n\n", "priority 'high' of /usr/bin/y"),
    ("auto\n/usr/bin/x\nx.1\n/usr/share/x.1\n\n/usr/bin/y\n5", "ends early"),
])
def test_a_malformed_file_is_refused_with_the_alternative_named(text: str,
                                                                 problem: str) -> None:
    with pytest.raises(ValueError, match="alternative x: ") as caught:
        parse_admin(text, "x")
    assert problem in str(caught.value)


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-", min_size=1, max_size=8)
paths = names.map(lambda n: f"/usr/bin/{n}")


@given(mode=st.sampled_from(["auto", "manual"]), link=paths,
       slaves=st.dictionaries(names, paths, max_size=3),
       choices=st.dictionaries(paths, st.integers(-1000, 1000), max_size=4),
       data=st.data())
def test_what_is_rendered_reads_back(mode: str, link: str, slaves: dict[str, str],
                                     choices: dict[str, int], data: st.DataObject) -> None:
    admin = AdminFile(mode, link, sorted(slaves.items()))
    for path, priority in sorted(choices.items()):
        given_slaves = data.draw(st.dictionaries(st.sampled_from(sorted(slaves)), paths,
                                                 max_size=3)) if slaves else {}
        admin.choices.append((path, priority, given_slaves))
    text = render_admin(admin)
    assert parse_admin(text, "x") == admin
    assert render_admin(parse_admin(text, "x")) == text


def system_with_pager(tmp_path: Path, mode: str = "auto") -> Path:
    """A system where dpkg registered /bin/more as the pager (priority 50)."""
    root = tmp_path / "root"
    for folder in ("bin", "usr/bin", "etc/alternatives", "var/lib/dpkg/alternatives",
                   "usr/share/man/man1"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "bin" / "more").write_text("more\n")
    (root / "usr" / "bin" / "less").write_text("less\n")
    (root / "etc" / "alternatives" / "pager").symlink_to("/bin/more")
    (root / "usr" / "bin" / "pager").symlink_to("/etc/alternatives/pager")
    (root / "var/lib/dpkg/alternatives/pager").write_text(
        f"{mode}\n/usr/bin/pager\n\n/bin/more\n50\n\n")
    return root


def register_less(root: Path) -> None:
    from bootstrap.apply import Applier
    from recipes.actions import make_action

    applier = Applier(root)
    applier.run("less", make_action(
        "alternative-install", "postinst", ["configure"],
        {"name": "pager", "link": "/usr/bin/pager", "path": "/usr/bin/less",
         "priority": "77"}))
    applier.finish()


def test_registering_a_choice_keeps_the_ones_the_system_has(tmp_path: Path) -> None:
    """Bootstrap's actions applied onto a system (verify's system C): the choices dpkg
    registered before stay in the administrative file, as update-alternatives keeps them."""
    root = system_with_pager(tmp_path)
    register_less(root)
    assert (root / "var/lib/dpkg/alternatives/pager").read_text() == \
        "auto\n/usr/bin/pager\n\n/bin/more\n50\n/usr/bin/less\n77\n\n"
    assert os.readlink(root / "etc/alternatives/pager") == "/usr/bin/less"  # the best


def test_a_manual_choice_stays(tmp_path: Path) -> None:
    root = system_with_pager(tmp_path, mode="manual")
    register_less(root)
    assert (root / "var/lib/dpkg/alternatives/pager").read_text().startswith("manual\n")
    assert os.readlink(root / "etc/alternatives/pager") == "/bin/more"


def test_a_malformed_administrative_file_fails_the_action(tmp_path: Path) -> None:
    from bootstrap.apply import ActionFailed

    root = system_with_pager(tmp_path)
    (root / "var/lib/dpkg/alternatives/pager").write_text("auto\n/usr/bin/pager\n\n/x\nhi\n")
    with pytest.raises(ActionFailed, match="alternative pager: priority 'hi'"):
        register_less(root)
