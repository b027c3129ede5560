"""set-capability: the capability text and xattr against the real setcap, the rendered sh
and bootstrap alike (with and without setcap in the image), the translation of
iputils-ping's and iproute2's postinst, and the equivalence snapshot seeing them."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from bootstrap.apply import Applier
from bootstrap.capabilities import XATTR, capability_xattr
from recipes.actions import Action, make_action
from recipes.actions.capabilities import parse_capabilities
from rewrite.render import render_script
from rewrite.translate import Untranslatable, translate
from rewrite.verify.snapshot import entry_of

SETCAP = shutil.which("setcap") or "/usr/sbin/setcap"
DASH = shutil.which("dash") or "/bin/dash"
needs_setcap = pytest.mark.skipif(not os.path.exists(SETCAP) or os.geteuid() != 0,
                                  reason="setcap (libcap2-bin) as root")

# bookworm's iputils-ping postinst (3:20221126-1+deb12u1), as shipped
PING = """#!/bin/sh

set -e

PROGRAM=$(dpkg-divert --truename /bin/ping)

if [ "$1" = configure ]; then
    # If we have setcap installed, try setting cap_net_raw+ep,
    # which allows us to install our binaries without the setuid
    # bit.
    if command -v setcap > /dev/null; then
        if setcap cap_net_raw+ep $PROGRAM; then
            chmod u-s $PROGRAM
        else
            echo "Setcap failed on $PROGRAM, falling back to setuid" >&2
            chmod u+s $PROGRAM
        fi
    else
        echo "Setcap is not installed, falling back to setuid" >&2
        chmod u+s $PROGRAM
    fi
fi

exit 0
"""

# bookworm's iproute2 postinst (6.1.0-3), its configure part
IPROUTE2 = """#!/bin/sh

set -e

. /usr/share/debconf/confmodule

case "$1" in
    configure)
        if command -v setcap > /dev/null; then
            db_get iproute2/setcaps

            # Allow dpkg-reconfigure to remove caps
            if test "$RET" = "true"; then
                if ! setcap "cap_dac_override,cap_sys_admin,cap_net_admin=ep" /bin/ip; then
                   echo "Setcap failed on /bin/ip, ip vrf exec will not be runnable by non-root" >&2
                fi
            else
                # setcap -r fails if the xattr is not present
                if getcap /bin/ip | grep -qs "/bin/ip"; then
                    if ! setcap "-r" /bin/ip; then
                       echo "Setcap -r failed on /bin/ip, could not remove capabilities" >&2
                    fi
                fi
            fi
        fi
    ;;
esac

exit 0
"""

TEXTS = ["cap_net_raw+ep", "cap_dac_override,cap_sys_admin,cap_net_admin=ep",
         "cap_net_raw=p cap_chown+i", "cap_bpf+ep", "CAP_NET_BIND_SERVICE=+eip",
         "cap_net_raw,cap_chown+p cap_chown-p", "all=p cap_sys_admin-p"]


@needs_setcap
@pytest.mark.parametrize("text", TEXTS)
def test_the_xattr_is_the_one_setcap_writes(tmp_path: Path, text: str) -> None:
    target = tmp_path / "tool"
    shutil.copy("/bin/true", target)
    subprocess.run([SETCAP, text, str(target)], check=True)
    assert capability_xattr(text) == os.getxattr(target, XATTR)


@pytest.mark.parametrize(("text", "message", "setcap_refuses"), [
    ("", "no capabilities", False), ("cap_nope+ep", "unknown capability", True),
    ("cap_net_raw", "not a capability clause", True),
    ("cap_net_raw=p cap_chown+ie", "effective", True),
    ("cap_net_raw+ep;rm", "not a capability clause", True),
    ("cap_net_raw-p", "no capability", False),  # (setcap writes an empty set: pointless)
])
def test_texts_setcap_refuses_are_refused(tmp_path: Path, text: str, message: str,
                                          setcap_refuses: bool) -> None:
    with pytest.raises(ValueError, match=message):
        parse_capabilities(text)
    if setcap_refuses and os.path.exists(SETCAP) and os.geteuid() == 0:
        target = tmp_path / "tool"  # (a copy: never the host's files)
        shutil.copy("/bin/true", target)
        assert subprocess.run([SETCAP, text, str(target)], capture_output=True,
                              check=False).returncode != 0


def _ping(root: Path) -> Path:
    (root / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy("/bin/true", root / "bin/ping")
    (root / "bin/ping").chmod(0o755)
    return root / "bin/ping"


def _fallback() -> Action:
    return make_action("set-capability", "postinst", ("configure",),
                       {"Path": "/bin/ping", "Capabilities": "cap_net_raw+ep",
                        "Setuid-Fallback": "yes"})


def _run(root: Path, action: Action, path: str) -> None:
    text = render_script("postinst", [action], package="iputils-ping")
    assert text is not None
    script = root.parent / "postinst.sh"
    script.write_text(text)
    subprocess.run([DASH, str(script), "configure"], check=True, timeout=60,
                   env={"PATH": path, "DPKG_ROOT": str(root)})


@needs_setcap
def test_with_setcap_the_file_gets_capabilities_and_no_setuid(tmp_path: Path) -> None:
    shell, native = tmp_path / "shell", tmp_path / "native"
    for root in (shell, native):
        _ping(root).chmod(0o4755)
    (native / "usr/sbin").mkdir(parents=True)
    shutil.copy(SETCAP, native / "usr/sbin/setcap")  # the image has setcap
    _run(shell, _fallback(), os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"))
    applier = Applier(native)
    assert applier.run("iputils-ping", _fallback()).status == "applied"
    for root in (shell, native):
        ping = root / "bin/ping"
        assert stat.S_IMODE(ping.stat().st_mode) == 0o755
        assert os.getxattr(ping, XATTR) == capability_xattr("cap_net_raw+ep")


def test_without_setcap_the_file_is_made_setuid(tmp_path: Path) -> None:
    shell, native = tmp_path / "shell", tmp_path / "native"
    for root in (shell, native):
        _ping(root)
    tools = tmp_path / "tools"  # a PATH with chmod and no setcap
    tools.mkdir()
    (tools / "chmod").symlink_to(shutil.which("chmod") or "/bin/chmod")
    _run(shell, _fallback(), str(tools))
    Applier(native).run("iputils-ping", _fallback())
    for root in (shell, native):
        ping = root / "bin/ping"
        assert stat.S_IMODE(ping.stat().st_mode) == 0o4755
        with pytest.raises(OSError):
            os.getxattr(ping, XATTR)


@needs_setcap
def test_removal_drops_capabilities_where_there_are_some(tmp_path: Path) -> None:
    remove = make_action("set-capability", "postinst", ("configure",),
                         {"Path": "/bin/ping", "Remove": "yes"})
    shell, native = tmp_path / "shell", tmp_path / "native"
    for root in (shell, native):
        subprocess.run([SETCAP, "cap_net_raw+ep", str(_ping(root))], check=True)
    _run(shell, remove, os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"))
    applier = Applier(native)
    assert applier.run("iputils-ping", remove).status == "applied"
    for root in (shell, native):
        with pytest.raises(OSError):
            os.getxattr(root / "bin/ping", XATTR)
    assert applier.run("iputils-ping", remove).status == "not-needed"
    _run(shell, remove, os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"))  # no error


def test_iputils_ping_postinst_is_translated() -> None:
    (action,) = translate(PING, "postinst", package="iputils-ping").actions
    assert action.stanza() == {
        "Action": "set-capability", "Script": "postinst", "On": "configure",
        "Path": "/bin/ping", "Capabilities": "cap_net_raw+ep", "Setuid-Fallback": "yes"}


@pytest.mark.parametrize("change", [
    ("            chmod u-s $PROGRAM\n", ""),  # squid's: nothing done where it worked
    ("chmod u+s $PROGRAM\n    fi\nfi", "chmod 4755 $PROGRAM\n    fi\nfi"),
    ("setcap cap_net_raw+ep", "setcap cap_net_raw+e"),  # effective only: setcap refuses it
])
def test_other_setcap_shapes_are_refused(change: tuple[str, str]) -> None:
    with pytest.raises(Untranslatable):
        translate(PING.replace(*change), "postinst", package="iputils-ping")


def test_iproute2_postinst_is_translated_with_the_templates_answer() -> None:
    (action,) = translate(IPROUTE2, "postinst", package="iproute2",
                          answers={"iproute2/setcaps": "false"}).actions
    assert (action.name, action.get("Path"), action.get("Remove")) == (
        "set-capability", "/bin/ip", "yes")
    with pytest.raises(Untranslatable):  # true: setcap whose failure is only reported
        translate(IPROUTE2, "postinst", package="iproute2",
                  answers={"iproute2/setcaps": "true"})


@needs_setcap
def test_the_equivalence_snapshot_sees_capabilities(tmp_path: Path) -> None:
    plain = _ping(tmp_path / "a")
    capable = _ping(tmp_path / "b")
    subprocess.run([SETCAP, "cap_net_raw+ep", str(capable)], check=True)
    left, right = entry_of(str(plain), plain.lstat()), entry_of(str(capable), capable.lstat())
    assert left.differs(right) == ["capabilities"]
    assert "capabilities:01000002" in right.describe()
