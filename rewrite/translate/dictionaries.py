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
