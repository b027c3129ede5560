"""A config script that only talks to debconf translates to nothing (tzdata's: defaults
read from /etc/localtime, a dialog loop over db_go); one that may change anything else
is left to the normal translation (and its refusal)."""

from __future__ import annotations

import pytest

from rewrite.translate import Untranslatable, translate
from rewrite.translate.debconf_only import DEBCONF_ONLY_REASON

TZDATA_LIKE = """#!/bin/sh
set -e
. /usr/share/debconf/confmodule

convert_timezone()
{
    case "$1" in
        "Universal" | "UTC" | "Zulu")
            echo "Etc/UTC"
            ;;
        *)
            echo "$1"
            ;;
    esac
}

if [ -L "$DPKG_ROOT/etc/localtime" ] ; then
    TIMEZONE="$(readlink "$DPKG_ROOT/etc/localtime")"
    TIMEZONE="$(cd "$DPKG_ROOT/etc" && realpath -m -s "$TIMEZONE")"
    TIMEZONE="${TIMEZONE#/usr/share/zoneinfo/}"
elif [ -e "$DPKG_ROOT/etc/timezone" ]; then
    TIMEZONE="$(head -n 1 "$DPKG_ROOT/etc/timezone")"
fi
TIMEZONE="$(convert_timezone "$TIMEZONE")"
crts=$( (find . -type f -name '*.crt' -print | sed -e 's/^\\.\\///') | sort | uniq)
WANTED=`awk '/^LANG=/ {print $2}' /etc/default/locale 2>/dev/null`
db_set tzdata/Areas "${TIMEZONE%%/*}"
STATE=1
while [ "$STATE" -ge 0 ]; do
    case "$STATE" in
    1) db_input high tzdata/Areas || true ;;
    *) break ;;
    esac
    if db_go; then
        STATE=$((STATE + 1))
    else
        STATE=$((STATE - 1))
    fi
done
exit 0
"""


def test_a_config_script_that_only_asks_translates_to_nothing() -> None:
    result = translate(TZDATA_LIKE, "config", package="demo")
    assert result.actions == []
    assert [(d.what, d.reason) for d in result.dropped] == [
        ("the whole script", DEBCONF_ONLY_REASON)]


def test_only_a_config_script() -> None:
    """A postinst that reads the system the same way is the normal translation's."""
    with pytest.raises(Untranslatable):
        translate(TZDATA_LIKE, "postinst", package="demo")


@pytest.mark.parametrize("line", [
    'echo "$TIMEZONE" > /etc/timezone',  # a write
    "sed -i -e 's/a/b/' /etc/locale.gen",
    "sed --in-place -e 's/a/b/' /etc/locale.gen",
    "X=$(awk 'BEGIN { system(\"touch /x\") }')",
    "awk '{ print > \"/etc/x\" }' /etc/y",
    "find /var/cache/demo -name '*.tmp' -delete",
    "X=$(rm -f /etc/timezone)",  # a change inside a substitution
    "X=`touch /etc/x`",
    "locale-gen",  # a tool outside the readers
    "eval \"$CMD\"",
    "trap 'rm -f /tmp/x' EXIT",
    "$TOOL --query",  # a command named by a variable
    "dpkg -i /tmp/x.deb",
    "cleanup() { rm -rf /var/lib/demo; }\ncleanup",  # a function that writes
    ". /usr/share/demo/helpers.sh",  # another file sourced
])
def test_anything_that_may_change_the_system_is_refused(line: str) -> None:
    text = TZDATA_LIKE.replace("exit 0\n", f"{line}\nexit 0\n")
    with pytest.raises(Untranslatable):
        translate(text, "config", package="demo")
