"""A config script that only talks to debconf translates to nothing (tzdata's: defaults
read from /etc/localtime, a dialog loop over db_go); one that may change anything else
is left to the normal translation (and its refusal)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from archive.debfile import read_deb
from rewrite.engine import _answers
from rewrite.translate import Untranslatable, translate
from rewrite.translate.debconf import config_sets, set_by
from rewrite.translate.debconf_only import DEBCONF_ONLY_REASON
from tests.fixtures.debs import make_deb

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
dpkg --compare-versions "$2" lt-nl "1.10.2-1~" || true
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
    "X=-i\ndpkg $X /tmp/x.deb",  # the action from a variable
    "cleanup() { rm -rf /var/lib/demo; }\ncleanup",  # a function that writes
    ". /usr/share/demo/helpers.sh",  # another file sourced
    # (a review's cases)
    "db_cleanup() { rm -f /etc/x; }\ndb_cleanup",  # the script's own db_ function
    "f() { rm -f /etc/x; }\nf\nf() { :; }",  # redefined: which body ran?
    "if true; then cat() { rm -f /etc/x; }; fi\ncat /etc/y",  # defined in a block
    "cat() { rm -f /etc/x; }\n\"cat\" /etc/y",  # quoted: still the function
    "sed -n 'w /etc/passwd' /etc/y",
    "sed 'e rm -rf /' /etc/y",
    "awk -f /tmp/prog.awk /etc/y",
    "X=-delete\nfind /etc/demo $X",  # an option from a variable
    "hostname newname",
    "X=$(echo a\\)b; rm -f /etc/important)",  # an escaped parenthesis
])
def test_anything_that_may_change_the_system_is_refused(line: str) -> None:
    text = TZDATA_LIKE.replace("exit 0\n", f"{line}\nexit 0\n")
    with pytest.raises(Untranslatable):
        translate(text, "config", package="demo")


def test_what_the_config_script_sets_is_no_template_default() -> None:
    """tzdata's config sets tzdata/Areas and tzdata/Zones/$AREA from the system: the
    postinst reading them gets no template default (a recipe must answer)."""
    names = config_sets(TZDATA_LIKE + 'db_set "tzdata/Zones/$AREA" "$ZONE"\n'
                        "  db_set 'demo/quoted' x\n")
    assert names == ["tzdata/Areas", "tzdata/Zones/$", "demo/quoted"]
    assert set_by("tzdata/Zones/Europe", names) and set_by("tzdata/Areas", names)
    assert not set_by("tzdata/Zones", names) and not set_by("tzdata/other", names)


def test_answers_leave_out_what_the_config_script_sets(tmp_path: Path) -> None:
    deb = make_deb(tmp_path, "demo", "1.0", scripts={"config": TZDATA_LIKE})
    build = tmp_path / "t"
    subprocess.run(["dpkg-deb", "-R", str(deb), str(build)], check=True)
    (build / "DEBIAN/templates").write_text(
        "Template: tzdata/Areas\nType: select\nDefault: Europe\nDescription: a\n\n"
        "Template: demo/other\nType: string\nDefault: kept\nDescription: b\n")
    subprocess.run(["dpkg-deb", "-b", str(build), str(deb)], check=True,
                   capture_output=True)
    assert _answers(read_deb(deb), None) == {"demo/other": "kept"}


def test_db_set_in_the_script_is_what_db_get_reads() -> None:
    text = ("#!/bin/sh\nset -e\n. /usr/share/debconf/confmodule\ndb_set demo/q yes\n"
            "db_get demo/q\nif [ \"$RET\" = yes ]; then mkdir -p /var/lib/demo; fi\n"
            "db_set demo/q \"$(cat /etc/demo)\"\ndb_get demo/q\n")
    with pytest.raises(Untranslatable, match="no answer"):  # the second: the system's
        translate(text, "postinst", package="demo", answers={"demo/q": "no"})
    first = text.rsplit("db_set", 1)[0]
    assert [a.stanza()["Path"] for a in translate(
        first, "postinst", package="demo", answers={"demo/q": "no"}).actions] == [
        "/var/lib/demo"]


def test_db_set_behind_a_test_of_the_system_leaves_the_answer_unknown() -> None:
    text = ("#!/bin/sh\nset -e\n. /usr/share/debconf/confmodule\n"
            "if [ -f /etc/p.conf ]; then db_set p/enable false; fi\n"
            "db_get p/enable\nif [ \"$RET\" = true ]; then mkdir -p /var/lib/p; fi\n")
    with pytest.raises(Untranslatable, match="no answer"):
        translate(text, "postinst", package="demo", answers={"p/enable": "true"})
    in_a_case = text.replace("if [ -f /etc/p.conf ]; then db_set p/enable false; fi",
                             'case "$1" in configure) db_set p/enable true ;; esac')
    assert [a.stanza()["Path"] for a in translate(
        in_a_case, "postinst", package="demo", answers={"p/enable": "no"}).actions] == [
        "/var/lib/p"]
