"""dh_installnss's snippets (dh-nss 1.7) as `nss-service` actions: the original postinst
and postrm, the rendered sh and bootstrap's native edit, run on the same
/etc/nsswitch.conf variants, leave the same file."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bootstrap.apply import Applier
from rewrite.render import render_script
from rewrite.translate import Untranslatable, translate

FIXTURES = Path(__file__).parent / "fixtures" / "nss"  # dh_installnss 1.7's snippets
PREINST = (FIXTURES / "preinst").read_text()
POSTINST = (FIXTURES / "postinst").read_text()
REMOVE_ONE = (FIXTURES / "postrm-one").read_text()  # one database: DB
POSTRM = "#!/bin/sh\nset -e\n" + REMOVE_ONE.replace("DB", "passwd") + \
    REMOVE_ONE.replace("DB", "group")

CONFS = [
    "passwd:         files\ngroup:          files\nshadow:         files\n",
    "passwd:  files # local\ngroup:   files systemd\nhosts: files dns\n",
    "passwd: files demo\ngroup: files\n",  # named already: nothing added
    "passwd: files demo [NOTFOUND=return] other\ngroup: demo files # x demo\n",
    "hosts: files\n",
]


def _run(script: str, text: str, root: Path, arg: str, env: dict[str, str]) -> None:
    path = root.parent / "script"
    path.write_text(text)
    done = subprocess.run(["dash", str(path), arg], capture_output=True, text=True,
                          timeout=60, env={"PATH": os.environ["PATH"], "DPKG_ROOT": str(root),
                                           "DPKG_MAINTSCRIPT_PACKAGE": "libnss-demo", **env})
    assert done.returncode == 0, (script, done.stderr)


@pytest.mark.skipif(shutil.which("dash") is None, reason="needs dash")
@pytest.mark.parametrize("conf", CONFS)
def test_dh_installnss_snippets_behave_like_the_originals(tmp_path: Path, conf: str) -> None:
    results = {name: translate(text, name, package="libnss-demo")
               for name, text in (("preinst", PREINST), ("postinst", POSTINST),
                                  ("postrm", POSTRM))}
    assert [a.name for a in results["postinst"].actions] == ["nss-service", "remove-path"]
    assert {a.name for a in results["postrm"].actions} == {"nss-service"}
    rendered = {name: render_script(name, r.actions, package="libnss-demo")
                for name, r in results.items()}
    seen: dict[str, list[str]] = {}
    for way in ("original", "rendered", "native"):
        root = tmp_path / way / "root"
        (root / "etc").mkdir(parents=True)
        (root / "etc/nsswitch.conf").write_text(conf)
        states = []
        for name, arg, original in (("preinst", "install", PREINST),
                                    ("postinst", "configure", POSTINST),
                                    ("postrm", "remove", POSTRM)):
            if way == "native":
                applier = Applier(root)
                for action in results[name].actions:
                    if arg in action.on:
                        applier.run("libnss-demo", action)
            else:
                text = original if way == "original" else rendered[name]
                assert text is not None
                _run(name, text, root, arg, {"DPKG_MAINTSCRIPT_PACKAGE_INSTCOUNT": "0"})
            states.append((root / "etc/nsswitch.conf").read_text())
            assert not (root / "etc/nsswitch.conf.nss.libnss-demo-will-install").exists() \
                or name == "preinst"
        seen[way] = states
    assert seen["original"] == seen["rendered"] == seen["native"]
    if conf == CONFS[0]:
        assert "passwd:         files demo\n" in seen["native"][1]


def test_other_shapes_are_not_the_unit() -> None:
    """Another position (first) is not read as the unit: the sed is refused."""
    other = POSTINST.replace("s/$/ demo/", "s/files/demo files/")
    with pytest.raises(Untranslatable):
        translate(other, "postinst", package="libnss-demo")
