"""Maintainer scripts → declarative actions (pure functions).

Walks the tree of `rewrite.shell` with what is known at each point: which
values of `$1` reach it (narrowed by `case "$1"` and `[ "$1" = ... ]`), the debconf
answers, and the recipe's mappings. Each simple command becomes actions from the
vocabulary of `recipes.actions` (typed models), or a `Dropped` entry with its reason
(init-system hooks, debconf questions, messages). Anything else raises `Untranslatable`
with the line and its `Idiom` (the kind of line, for the survey): the engine never
guesses.

Modules: `script` (the entry point, `translate`), `walk` (statements, for each script
argument), `conditions`, `exits`, `commands` (one simple command), `context` (what the
walk knows; results), and one module per tool family, each with its `HANDLERS`:
`accounts` (adduser, useradd, groupadd, deluser ...), `alternatives`
(update-alternatives), `caches` (ldconfig, update-ca-certificates, install-info,
update-mime-database ...), `dpkg` (dpkg-maintscript-helper, dpkg-statoverride,
dpkg-trigger), `files` (mkdir, rm, chown, chmod, ln, ucf), `python` (py3compile,
py3clean), `systemd` (init hooks dropped; systemd-tmpfiles, systemd-sysusers) and
`debconf`.
"""

from rewrite.translate.caches import CACHE_TOOLS
from rewrite.translate.commands import DROPPED_TOOLS, HANDLERS, MESSAGE_TOOLS, NOOP
from rewrite.translate.conditions import GUARD_TOOLS, Cond
from rewrite.translate.context import (
    INSTALL_PHASES,
    SCRIPT_PHASES,
    Handler,
    Idiom,
    Lookup,
    Result,
    Unmodelled,
    Untranslatable,
)
from rewrite.translate.debconf import DEBCONF_REASON
from rewrite.translate.dpkg import MAINTSCRIPT
from rewrite.translate.script import translate
from rewrite.translate.systemd import INIT_PATHS, INIT_REASON, INIT_TOOLS
from rewrite.translate.walk import MAPPED_EXIT, UNREACHABLE, Flow

__all__ = [
    "CACHE_TOOLS", "DEBCONF_REASON", "DROPPED_TOOLS", "GUARD_TOOLS", "HANDLERS",
    "INIT_PATHS", "INIT_REASON", "INIT_TOOLS", "INSTALL_PHASES", "MAINTSCRIPT", "MAPPED_EXIT",
    "MESSAGE_TOOLS", "NOOP", "SCRIPT_PHASES", "UNREACHABLE", "Cond", "Flow", "Handler",
    "Idiom", "Lookup", "Result", "Unmodelled", "Untranslatable", "translate",
]
