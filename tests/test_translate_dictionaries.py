"""dictionaries-common's tools, as word lists and ispell dictionaries call them: the
activation of dictionaries-common's trigger (what they do under dpkg)."""

from __future__ import annotations

import pytest

from rewrite.translate import Untranslatable, translate
from rewrite.translate.dictionaries import DICTIONARY_CONFIG_REASON

WAMERICAN_POSTINST = """#!/bin/sh
set -e
. /usr/share/debconf/confmodule
SCRIPT="/usr/sbin/update-default-wordlist"
if [ "$1" = "configure" ] ; then
    if [ -x "$SCRIPT" ]; then
    $SCRIPT  --rebuild
    fi
fi
"""

WAMERICAN_POSTRM = """#!/bin/sh
set -e
rmscript="/usr/sbin/remove-default-wordlist"
case "$1" in abort-install|remove)
    if [ -x $rmscript ]; then
        $rmscript wamerican
    fi
    if [ -e /usr/share/debconf/confmodule ]; then
        . /usr/share/debconf/confmodule
        db_purge
    fi
esac
"""


def _stanzas(text: str, script: str) -> list[dict[str, str]]:
    return [a.stanza() for a in translate(text, script, package="wamerican").actions]


def test_update_and_remove_default_wordlist_activate_the_trigger() -> None:
    assert _stanzas(WAMERICAN_POSTINST, "postinst") == [
        {"Action": "trigger", "Script": "postinst", "On": "configure",
         "Name": "update-default-wordlist"}]
    assert _stanzas(WAMERICAN_POSTRM, "postrm") == [
        {"Action": "trigger", "Script": "postrm", "On": "remove abort-install",
         "Name": "update-default-wordlist"}]


def test_the_ispell_twins() -> None:
    text = ("#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then update-default-ispell; fi\n"
            "if [ \"$1\" = remove ]; then remove-default-ispell iamerican; fi\n")
    assert [(a["On"], a["Name"]) for a in _stanzas(text, "postinst")] == [
        ("configure", "update-default-ispell")]
    assert [(a["On"], a["Name"]) for a in _stanzas(text.replace("configure", "purge"),
                                                  "postrm")] == [
        ("purge", "update-default-ispell"), ("remove", "update-default-ispell")]


@pytest.mark.parametrize("call", [
    "update-default-wordlist --triggered",  # dictionaries-common's own run
    "update-default-wordlist --skip-symlinks",
    "remove-default-wordlist",  # no package
    "remove-default-wordlist a b",
    "remove-default-wordlist Not_A_Package",
])
def test_other_calls_are_refused(call: str) -> None:
    with pytest.raises(Untranslatable) as caught:
        translate(f"#!/bin/sh\nset -e\n{call}\n", "postinst", package="demo")
    assert caught.value.line == 3


ISPELL_CONFIG = """#!/usr/bin/perl -w
use Debconf::Client::ConfModule q(:all);

version ('2.0');

my $class  = "ispell";
my $script = "/usr/share/dictionaries-common/dc-debconf-select.pl";

if ( -e $script ){
    require $script;
    dc_debconf_select($class);
}
"""

WAMERICAN_CONFIG = """#!/usr/bin/perl -w
use Debconf::Client::ConfModule q(:all);

version ('2.0');

my $class          = "wordlist";
my $script         = "/usr/share/dictionaries-common/dc-debconf-select.pl";
my $has_elanguages = "/usr/share/dictionaries-common/elanguages";

# a comment
if ( -e $script && -e $has_elanguages ){
    require $script;
    dc_debconf_select($class);
}
"""


@pytest.mark.parametrize("text", [ISPELL_CONFIG, WAMERICAN_CONFIG])
def test_dictionaries_common_s_config_snippet_translates_to_nothing(text: str) -> None:
    result = translate(text, "config", package="wamerican")
    assert result.actions == []
    assert [(d.what, d.reason) for d in result.dropped] == [
        ("the whole script", DICTIONARY_CONFIG_REASON)]


@pytest.mark.parametrize("text", [
    ISPELL_CONFIG.replace("version ('2.0');", "version ('2.0');\nsystem('rm -rf /etc');"),
    ISPELL_CONFIG.replace("dc-debconf-select.pl", "other.pl"),  # another library
    ISPELL_CONFIG.replace('"ispell"', '"fonts"'),  # not a dictionary class
    ISPELL_CONFIG.replace("require $script;", "require $other;"),
    ISPELL_CONFIG.replace("#!/usr/bin/perl -w", "#!/usr/bin/python3"),
    # another library required first, the variable assigned again after it
    ISPELL_CONFIG.replace('my $script = "', 'my $script = "/usr/share/p/evil.pl";\n'
                          'require $script;\nmy $script = "'),
    ISPELL_CONFIG.replace("require $script;", "require $script;\nrequire $script;"),
])
def test_other_perl_is_refused(text: str) -> None:
    with pytest.raises(Untranslatable):
        translate(text, "config", package="demo")


def test_only_as_a_config_script() -> None:
    with pytest.raises(Untranslatable):
        translate(ISPELL_CONFIG, "postinst", package="demo")
