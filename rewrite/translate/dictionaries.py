"""dictionaries-common's tools as word lists and ispell dictionaries call them
(wamerican, wbritish, iamerican ...): `update-default-wordlist [--rebuild]`,
`remove-default-wordlist PACKAGE`, and their ispell twins.

Run under dpkg (DPKG_RUNNING_VERSION set), `update-default-CLASS` rebuilds its database
of the class's dictionaries, then activates dictionaries-common's trigger of the same
name (no-await) and exits (`dico_activate_trigger`); the triggered run, in
dictionaries-common's postinst, rebuilds that database again and sets the default links
and the debconf answer. `--rebuild` is documented as a no-op kept for old scripts.
`remove-default-CLASS PACKAGE` only updates debconf's choices (no questions in a
container) and runs `update-default-CLASS`, unless a first-install flag defers it to
dictionaries-common's own run (which the trigger then does: the same recomputation).
So each is the activation of that trigger; where dictionaries-common is not installed
(the scripts test that the tool is there), no package has an interest in it and the
activation changes nothing."""

from __future__ import annotations

import re

from recipes.actions import Action, Trigger
from rewrite.translate.context import Ctx, Handler

_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+")


def _update(klass: str) -> Handler:
    def handler(argv: list[str], ctx: Ctx) -> list[Action]:
        if any(a != "--rebuild" for a in argv[1:]):
            raise ValueError(f"update-default-{klass} with options other than --rebuild")
        return [Trigger(script=ctx.script, on=ctx.phases, trigger=f"update-default-{klass}")]
    return handler


def _remove(klass: str) -> Handler:
    def handler(argv: list[str], ctx: Ctx) -> list[Action]:
        if len(argv) != 2 or not _PACKAGE.fullmatch(argv[1]):
            raise ValueError(f"remove-default-{klass} takes one package name")
        return [Trigger(script=ctx.script, on=ctx.phases, trigger=f"update-default-{klass}")]
    return handler


HANDLERS: dict[str, Handler] = {
    **{f"update-default-{k}": _update(k) for k in ("wordlist", "ispell")},
    **{f"remove-default-{k}": _remove(k) for k in ("wordlist", "ispell")},
}


# dictionaries-common's config snippet (installdeb-wordlist, installdeb-ispell ...; the
# Perl that word lists and dictionaries ship as their config script): it loads the
# library that asks debconf which dictionary of the class is the default and calls it.
# dc-debconf-select.pl only reads the installed dictionaries' info and talks to
# debconf; the answer is dictionaries-common's, whose trigger acts on it.
SELECT_LIBRARY = "/usr/share/dictionaries-common/dc-debconf-select.pl"
DICTIONARY_CONFIG_REASON = ("dictionaries-common's debconf question (the default "
                            "dictionary of the class): no questions in a container")
_PERL_LINES = [
    re.compile(r"use\s+Debconf::Client::ConfModule(\s+q\(:all\)|\s+qw\(:all\))?\s*;"),
    re.compile(r"version\s*\(\s*'[0-9.]+'\s*\)\s*;"),
    re.compile(r'my\s+\$(?P<name>[a-z_]+)\s*=\s*"(?P<value>[A-Za-z0-9_./-]*)"\s*;'),
    re.compile(r"if\s*\(\s*-e\s+\$[a-z_]+(\s*&&\s*-e\s+\$[a-z_]+)?\s*\)\s*\{"),
    re.compile(r"require\s+\$(?P<required>[a-z_]+)\s*;"),
    re.compile(r"dc_debconf_select\s*\(\s*\$(?P<argument>[a-z_]+)\s*\)\s*;"),
    re.compile(r"\}"),
]


def dictionary_config(text: str) -> bool:
    """Whether a Perl config script is dictionaries-common's snippet: every statement
    one of its lines (comments and blank lines aside), the library required being
    dc-debconf-select.pl and the class one of the word lists and dictionaries."""
    values: dict[str, str] = {}
    calls: dict[str, str] = {}  # the variable required, and the one passed
    lines = text.split("\n")
    if not re.fullmatch(r"#!\s*/usr/bin/perl(\s+-w)?\s*", lines[0]):
        return False
    for line in lines[1:]:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = next((m for m in (p.fullmatch(line) for p in _PERL_LINES) if m), None)
        if match is None:
            return False
        groups = match.groupdict()
        if groups.get("name"):
            if groups["name"] in values:
                return False  # (assigned twice: which value does require see?)
            values[groups["name"]] = groups["value"]
        for key in ("required", "argument"):
            if groups.get(key):
                if key in calls:
                    return False  # (one require, one call)
                calls[key] = groups[key]
    return values.get(calls.get("required", "")) == SELECT_LIBRARY and \
        values.get(calls.get("argument", "")) in ("wordlist", "ispell", "aspell", "hunspell")
