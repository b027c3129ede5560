"""Shapes a first reading translated unsoundly (a review of the engine's record-test,
owner, mountpoint, kernel-path, pattern and node-directory readings): each is refused
now, or translated with the tests it needs."""

from __future__ import annotations

import pytest

from rewrite.translate import Untranslatable, translate

PRE = '#!/bin/sh\nset -e\nif [ "$1" = configure ]; then\n'
POST = "fi\n"


@pytest.mark.parametrize("body", [
    # an else behind a test of the running kernel is no fallback to drop
    "  if [ -d /sys/fs/selinux ]; then\n    :\n  else\n    rm -f /var/lib/x/.stamp\n"
    "  fi\n",
    # nor one behind a mount point the engine cannot name
    '  if mountpoint -q "$DATADIR"; then\n    echo mounted\n  else\n'
    "    rm -rf /srv/x/cache\n  fi\n",
    # a recorded test does not keep a later branch apart from an earlier one's removal
    "  if [ -e /etc/foo.conf ]; then\n"
    "    if dpkg-statoverride --list /etc/foo.conf >/dev/null; then\n"
    "      rm -f /etc/foo.conf\n      dpkg-statoverride --remove /etc/foo.conf\n"
    "    else\n      chown foo /etc/foo.conf\n      chmod 640 /etc/foo.conf\n    fi\n  fi\n",
    # sh's `.*` finds `.` and `..` too
    "  chmod g+w /var/lib/x/.*\n",
    # an owner read behind a test: after it, the value may be another's
    "  uid=0\n  if [ -e /etc/foo.key ]; then\n"
    "    uid=$(ls -ln /etc/foo.key | awk '{print $3}')\n  fi\n"
    '  if [ "$uid" = 0 ]; then\n    chown foo /var/lib/foo\n  fi\n',
    # unquoted, an empty owner makes another test
    "  uid=$(ls -ln /etc/foo.key | awk '{print $3}')\n"
    "  if [ $uid != 0 ]; then\n    chown foo /var/lib/foo\n  fi\n",
    # install -d sets owner and mode on a node's directory that exists, too
    "  dir=/var/lib/varnish/$(uname -n)\n"
    '  install -d -o varnishlog -g varnish -m 0750 "$dir"\n',
])
def test_refused(body: str) -> None:
    with pytest.raises(Untranslatable):
        translate(PRE + body + POST, "postinst", package="demo")


def test_an_owner_compared_with_another_spelling_of_zero_is_not_root() -> None:
    """`[ "$uid" = 00 ]` never holds (ls prints 0): not `owner F 0`."""
    text = (PRE + "  uid=$(ls -ln /etc/foo.key | awk '{print $3}')\n"
            '  if [ "$uid" = 00 ]; then\n    chown foo /var/lib/foo\n  fi\n' + POST)
    try:
        actions = translate(text, "postinst", package="demo").actions
    except Untranslatable:
        return
    assert all("owner /etc/foo.key 0" not in a.only_if for a in actions)


def test_an_alternative_behind_a_test_of_its_path_carries_it() -> None:
    """procps' check_alternatives: `[ -e P ] && update-alternatives --install L N P`
    (update-alternatives fails where P is missing)."""
    text = ('#!/bin/sh\nset -e\ncheck() {\n  if [ -e "$2/$1".procps ]; then\n'
            '    update-alternatives --install "$2/$1" "$1" "$2/$1".procps 50\n  fi\n}\n'
            'case "$1" in\n  configure)\n    check uptime /usr/bin\n    ;;\nesac\n')
    (alternative,) = translate(text, "postinst", package="demo").actions
    assert alternative.name == "alternative-install"
    assert alternative.only_if == ("-e /usr/bin/uptime.procps",)


def test_a_node_directory_behind_its_own_test_translates() -> None:
    text = (PRE + "  dir=/var/lib/varnish/$(uname -n)\n"
            '  if ! [ -d "$dir" ]; then\n'
            '    install -d -o varnish -g varnish "$dir"\n  fi\n' + POST)
    (made,) = translate(text, "postinst", package="demo").actions
    assert made.name == "node-directory"
