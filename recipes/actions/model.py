"""The common model of an action: its name, when it applies, and typed fields.

A concrete action (`recipes.actions.accounts`, `.files`, `.system`) is a subclass with a
`Literal` `name` (the discriminator, written `Action` in deb822) and its fields, each
with the deb822 name as alias and a type of `recipes.actions.fields`. Values are
checked when a model is made, whatever made it (translator, recipe, `actions` file);
a bad one makes a ValidationError whose cause is an `ActionError` (`action_error`
gives it back) with the message the checks have always given.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from recipes.actions.fields import Conditions, Phases, Script, Value

COMMON = ("name", "script", "on", "origin", "only_if")
_UNPREFIXED = ("script", "on", "only_if")  # their messages name no action (as make_action's checks)


class ActionError(ValueError):
    """An action that is not in the vocabulary, lacks a field or has an unsafe value."""


class Action(BaseModel):
    """One declarative action: its name, when it applies (the maintainer script and the
    values of its first argument), its fields (in the subclass) and where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True,
                              validate_by_alias=True)

    name: str = Field(alias="Action")
    script: Script = Field(alias="Script")
    on: Phases = Field(alias="On")
    # tests of paths that must all hold when the script runs for the action to be taken
    only_if: Conditions = Field(default=(), alias="Only-If")
    origin: str = Field(default="", exclude=True)  # "postinst:12": for the report

    @model_validator(mode="before")
    @classmethod
    def _read_values(cls, data: Any) -> Any:
        """Check and type every given value (by deb822 name or attribute name)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for field, alias, value in _values(cls):
            key = alias if alias in data else field if field in data else None
            if key is None:
                continue
            try:
                data[key] = value.parse(data[key], alias)
            except ValueError as exc:
                prefix = "" if field in _UNPREFIXED else f"action {cls.action_name()}: "
                raise ActionError(f"{prefix}{exc}") from None
        return data

    @classmethod
    def action_name(cls) -> str:
        """The name of the action (`Action:` in deb822)."""
        default = cls.model_fields["name"].default
        return default if isinstance(default, str) else cls.__name__

    @classmethod
    def field_names(cls) -> dict[str, str]:
        """The action's own fields: deb822 name -> attribute name, in their order."""
        return {alias: field for field, alias, _ in _values(cls) if field not in COMMON}

    @classmethod
    def field_text(cls, field: str, value: Any) -> str:
        """The deb822 text of `value` for attribute `field`."""
        for name, _, kind in _values(cls):
            if name == field:
                return kind.text(value)
        raise KeyError(field)

    def get(self, key: str) -> str:
        """The deb822 text of field `key` (its default if not given; "" if unknown)."""
        for field, alias, value in _values(type(self)):
            if alias == key and field not in COMMON:
                return value.text(getattr(self, field))
        return ""

    def stanza(self) -> dict[str, str]:
        """The deb822 stanza: Action, Script, On, then the fields given (not empty)."""
        out = {"Action": self.name, "Script": self.script, "On": " ".join(self.on)}
        if self.only_if:
            out["Only-If"] = ", ".join(self.only_if)
        for field, alias, value in _values(type(self)):
            if field not in COMMON and field in self.model_fields_set:
                text = value.text(getattr(self, field))
                if text != "":
                    out[alias] = text
        return out


@cache
def _values(model: type[Action]) -> tuple[tuple[str, str, Value], ...]:
    """(attribute, deb822 name, Value) of each checked field of `model`, in order."""
    out = []
    for field, info in model.model_fields.items():
        value = next((m for m in info.metadata if isinstance(m, Value)), None)
        if value is not None:
            out.append((field, info.alias or field, value))
    return tuple(out)


def _model_named(title: str) -> type[Action] | None:
    todo = list(Action.__subclasses__())
    while todo:
        model = todo.pop()
        if model.__name__ == title:
            return model
        todo.extend(model.__subclasses__())
    return None


def action_error(exc: ValidationError) -> ActionError:
    """The ActionError that a ValidationError of an action model stands for."""
    errors = exc.errors()
    for error in errors:
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, ActionError):
            return cause
    model = _model_named(exc.title)
    name = model.action_name() if model is not None else exc.title
    aliases = {field: alias for field, alias, _ in _values(model)} if model else {}

    def keys(kind: str) -> list[str]:
        return [aliases.get(str(e["loc"][0]), str(e["loc"][0]))
                for e in errors if e["type"] == kind and e["loc"]]

    if unknown := keys("extra_forbidden"):
        return ActionError(f"action {name}: unknown field(s) {', '.join(sorted(unknown))}")
    if missing := keys("missing"):
        return ActionError(f"action {name}: missing field(s) {', '.join(missing)}")
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    return ActionError(f"action {name}: {where + ': ' if where else ''}{first['msg']}")
