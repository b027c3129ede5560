"""Actions from field values (recipes, the `actions` control file) and back to text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from base.deb822 import format_stanzas, iter_stanzas
from recipes.actions.fields import PHASES, SCRIPTS
from recipes.actions.model import Action, ActionError, action_error
from recipes.actions.vocabulary import MODELS, VOCABULARY


def _canonical(key: str) -> str:
    return "-".join(part.capitalize() for part in key.replace("_", "-").split("-"))


def make_action(
    name: str,
    script: str,
    on: tuple[str, ...] | list[str],
    values: Mapping[str, Any] | None = None,
    origin: str = "",
) -> Action:
    """Build a validated action from the text of its fields, keyed by their deb822 name
    (`Prior-Version`) or spelled `prior_version`; ActionError says what is wrong."""
    model = MODELS.get(name)
    if model is None:
        raise ActionError(f"unknown action {name!r} (known: {', '.join(sorted(MODELS))})")
    if script not in SCRIPTS:
        raise ActionError(f"unknown maintainer script {script!r}")
    bad = [phase for phase in on if phase not in PHASES]
    if bad:
        raise ActionError(f"unknown script argument(s) {', '.join(bad)}")
    required, optional = VOCABULARY[name]
    given = {_canonical(k): str(v) for k, v in (values or {}).items()}
    conditions = given.pop("Only-If", "")
    unknown = sorted(set(given) - set(required) - set(optional))
    if unknown:
        raise ActionError(f"action {name}: unknown field(s) {', '.join(unknown)}")
    missing = [key for key in required if not given.get(key)]
    if missing:
        raise ActionError(f"action {name}: missing field(s) {', '.join(missing)}")
    try:
        return model.model_validate({"Script": script, "On": tuple(on), **given,
                                     "Only-If": conditions, "origin": origin})
    except ValidationError as exc:
        raise action_error(exc) from None


def action_from_stanza(stanza: Mapping[str, str]) -> Action:
    """Read one stanza of an `actions` control file."""
    values = {k: v for k, v in stanza.items() if k not in ("Action", "Script", "On")}
    return make_action(
        stanza.get("Action", ""), stanza.get("Script", ""), stanza.get("On", "").split(), values
    )


def read_actions_file(text: str) -> list[Action]:
    """The actions of an `actions` control file (ActionError, ValueError if malformed)."""
    return [action_from_stanza(stanza) for stanza in iter_stanzas(text)]


def render_actions_file(actions: Iterable[Action]) -> str:
    """The deb822 `actions` control file (deterministic: order as given)."""
    return format_stanzas(action.stanza() for action in actions)
