"""Per-source recipes (`recipes/<source>.toml`): what the policy alone does not cover.

A recipe is optional; most source packages need none. Every key is optional:

```toml
# recipes/ca-certificates.toml
binaries = ["ca-certificates"]    # only these binary packages of the source are produced
                                  # (top level, before any table; see below)

[binary.ca-certificates]          # per binary package built from the source
drop = ["openssl"]                # relations dropped (reason "recipe"), by package name
keep = ["debianutils"]            # relations never dropped, whatever the policy says
add-depends = ["foo (>= 1.0)"]    # relations added to Depends (reason "recipe")

[debconf]                         # answers to debconf questions (booleans: true/false)
"ca-certificates/trust_new_crts" = "yes"

[[lines]]                         # a script line the engine does not know, and its meaning
binary = "ca-certificates"        # optional: default every binary of the source
script = "postinst"               # optional: default every script (required with actions)
match = "^update-ca-certificates( --fresh)?$"   # re.fullmatch on the stripped line
actions = [{ action = "ca-bundle", on = ["configure"] }]
# ... or, instead of actions:
# ignore = "why dropping this line is safe"

[source]                          # a source of our own: patches, built from source
patches = ["fix-path.patch"]      # under <recipes dir>/patches/<source>/, in order
changelog = "Use /usr/bin/env-free paths."   # our changelog entry's text

[scripts.ca-certificates.postinst]  # a whole maintainer script of one binary
keep = true                         # keep it as is ...
interpreter = "bash"                # ... and add the interpreter it needs to Depends
# ... or replace it entirely:
# reason = "why the actions do what the script did"
# actions = [{ action = "ca-bundle", on = ["configure", "triggered"] }]
```

`binaries` restricts what a build of the source produces: only the binary packages it
names are fetched (repack) or kept from the build (source build); the others are
skipped and the build log says so. Without it, every binary of the source is produced.
A name that the source does not build upstream (repack) or that the build did not
produce (source build) fails the build with that name. It keeps a campaign to what an
image needs: e.g. glibc builds libc-bin, locales, nscd, ... whose scripts need
recipes of their own, while a python3 image needs only libc6. A recipe that names, in
`[binary.X]`, `[scripts.X]` or a `[[lines]]` `binary`, a package left out by its
`binaries` is refused (that configuration could never apply).

`closures/<package>.txt` lists the source packages of the rewritten dependency closure of
a package, one per line (`load_closure`), for campaigns such as
`rebuild --repack $(grep -v '^#' recipes/closures/python3.txt)`.

An action is an inline table with `action` (a name of the vocabulary in
`recipes.actions`), `on` (the script arguments it applies to) and the action's fields,
spelled as in the `actions` control file or in snake/kebab case (`prior-version`).

Everything is checked at load time: action names, fields and phases, regexes, that a
line mapping has exactly one of `actions`/`ignore`, that a script override either keeps
(with an interpreter) or replaces (with a reason), script names, package names (in
`binaries` too: non-empty, no duplicates) and relation syntax. An error is one line:
`RecipeError("<file>:<line>", "key '<key>': ...")`. A recipe's effect is identified by
`recipe_digest(policy, recipe)`.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from debian.deb822 import PkgRelation
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from base.errors import RecipeError
from base.tomlload import describe_validation_error, locate, located_error, parse_toml
from recipes.actions import SCRIPTS, Action, ActionError, make_action
from recipes.policy import PACKAGE_NAME, Policy, canonical_json, policy_digest

RECIPES_DIR = Path(__file__).parent
RESERVED = frozenset({"policy", "expected"})  # the policy and the expected differences

if TYPE_CHECKING:
    Relation = PkgRelation.ParsedRelation  # one alternative, as python-debian gives it
else:
    Relation = dict


def split_relations(text: str) -> list[list[Relation]]:
    """Parse a relation field into OR-groups (python-debian), skipping empty entries."""
    groups: list[list[Relation]] = []
    if not text.strip():
        return groups
    for group in PkgRelation.parse_relations(text):
        alternatives = [alt for alt in group if alt["name"].strip()]
        if alternatives:
            groups.append(alternatives)
    return groups


def parse_relations_strictly(text: str) -> list[list[Relation]]:
    """Like `split_relations`, but ValueError on anything python-debian cannot parse."""
    groups = split_relations(text)
    if not groups:
        raise ValueError(f"no relation in {text!r}")
    for group in groups:
        for alternative in group:
            if not PACKAGE_NAME.fullmatch(alternative["name"]):
                raise ValueError(
                    f"cannot parse relation {alternative['name']!r} in {text!r} "
                    "(expected e.g. 'foo (>= 1.0) | bar')"
                )
    return groups


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class BinaryOverride(_Strict):
    """`[binary.<name>]`: relation changes for one binary package."""

    drop: list[str] = Field(default_factory=list)
    keep: list[str] = Field(default_factory=list)
    add_depends: list[str] = Field(default_factory=list, alias="add-depends")


class LineMapping(_Strict):
    """`[[lines]]`: what a script line the engine does not know means."""

    binary: str | None = None
    script: str | None = None
    match: str
    actions: list[dict[str, Any]] | None = None
    ignore: str | None = None
    _pattern: re.Pattern[str] | None = PrivateAttr(default=None)
    _built: tuple[Action, ...] = PrivateAttr(default=())

    def applies_to(self, binary: str, script: str) -> bool:
        return self.binary in (None, binary) and self.script in (None, script)

    def matches(self, line: str) -> bool:
        """Whether the stripped script `line` matches (re.fullmatch) this mapping."""
        pattern = self._pattern or re.compile(self.match)
        return pattern.fullmatch(line.strip()) is not None

    @property
    def built_actions(self) -> tuple[Action, ...]:
        """The validated actions (empty for an `ignore` mapping)."""
        return self._built


class ScriptOverride(_Strict):
    """`[scripts.<binary>.<script>]`: keep a whole script as is, or replace it."""

    keep: bool = False
    interpreter: str | None = None
    reason: str | None = None
    actions: list[dict[str, Any]] | None = None
    _built: tuple[Action, ...] = PrivateAttr(default=())

    @property
    def replaces(self) -> bool:
        return self.actions is not None

    @property
    def built_actions(self) -> tuple[Action, ...]:
        """The validated replacement actions (empty when the script is kept)."""
        return self._built


class SourceChange(_Strict):
    """`[source]`: changes to the source package itself, built as a source of our own.

    `patches`: file names under `<recipes dir>/patches/<source>/`, applied in order (a
    quilt series appended to the source's own for a 3.0 (quilt) source, applied with
    `patch -p1` otherwise); `changelog`: the text of the changelog entry of our version.
    """

    patches: list[str] = Field(default_factory=list)
    changelog: str = ""
    _paths: tuple[Path, ...] = PrivateAttr(default=())
    _digests: tuple[str, ...] = PrivateAttr(default=())

    @property
    def paths(self) -> tuple[Path, ...]:
        """The patch files, resolved and read when the recipe was loaded."""
        return self._paths

    @property
    def digests(self) -> tuple[str, ...]:
        """SHA256 of each patch's bytes, as loaded (part of the recipe digest)."""
        return self._digests


PATCH_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")


class Recipe(_Strict):
    """One source package's recipe; see the module docstring for the schema."""

    binaries: list[str] | None = None
    source: SourceChange | None = None
    binary: dict[str, BinaryOverride] = Field(default_factory=dict)
    debconf: dict[str, str] = Field(default_factory=dict)
    lines: list[LineMapping] = Field(default_factory=list)
    scripts: dict[str, dict[str, ScriptOverride]] = Field(default_factory=dict)
    _origin: str = PrivateAttr(default="recipe")

    @field_validator("debconf", mode="before")
    @classmethod
    def _debconf_booleans(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: ("true" if v else "false") if isinstance(v, bool) else v
                for k, v in value.items()
            }
        return value

    @property
    def origin(self) -> str:
        """The file it was loaded from (for messages and action origins)."""
        return self._origin

    def produces(self, binary: str) -> bool:
        """Whether a build of the source produces binary package `binary` (`binaries`)."""
        return self.binaries is None or binary in self.binaries

    def binary_override(self, binary: str) -> BinaryOverride | None:
        return self.binary.get(binary)

    def script_override(self, binary: str, script: str) -> ScriptOverride | None:
        return self.scripts.get(binary, {}).get(script)

    def line_mappings_for(self, binary: str, script: str) -> list[LineMapping]:
        """The `[[lines]]` mappings that apply to one script of one binary, in file order."""
        return [mapping for mapping in self.lines if mapping.applies_to(binary, script)]

    def interpreters(self, binary: str) -> dict[str, str]:
        """Script name -> interpreter relation, for the scripts of `binary` kept as is."""
        return {
            script: override.interpreter
            for script, override in self.scripts.get(binary, {}).items()
            if override.keep and override.interpreter
        }

    def debconf_answer(self, question: str) -> str | None:
        return self.debconf.get(question)


def load_recipe(source: str, recipes_dir: Path | None = None) -> Recipe | None:
    """The recipe of source package `source`, or None if it has none."""
    if not PACKAGE_NAME.fullmatch(source):
        raise RecipeError(source, "not a source package name")
    if source in RESERVED:
        return None
    path = (recipes_dir or RECIPES_DIR) / f"{source}.toml"
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(str(path), f"cannot read: {exc}") from exc
    recipe = parse_recipe(text, str(path))
    if recipe.source is not None:
        _load_patches(recipe.source, path.parent / "patches" / source, str(path))
    return recipe


def _load_patches(change: SourceChange, folder: Path, origin: str) -> None:
    """Resolve and read the patches of `[source]`; RecipeError naming the recipe."""
    if not change.patches:
        raise RecipeError(origin, "key 'source.patches': expected at least one patch file "
                          f"(under {folder})")
    if len(set(change.patches)) != len(change.patches):
        raise RecipeError(origin, "key 'source.patches': a patch is listed twice")
    paths, digests = [], []
    for name in change.patches:
        if not PATCH_NAME.fullmatch(name):
            raise RecipeError(origin, f"key 'source.patches': {name!r} is not a plain file "
                              "name (letters, digits, . _ + -)")
        path = folder / name
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                raise RecipeError(origin, f"key 'source.patches': {path} is not a regular file")
            data = path.read_bytes()
        except OSError as exc:
            raise RecipeError(origin, f"key 'source.patches': cannot read {path}: "
                              f"{exc.strerror or exc}") from exc
        if not data.strip():
            raise RecipeError(origin, f"key 'source.patches': {path} is empty")
        paths.append(path)
        digests.append(hashlib.sha256(data).hexdigest())
    change._paths = tuple(paths)
    change._digests = tuple(digests)


def load_closure(name: str, recipes_dir: Path | None = None) -> list[str]:
    """The source packages listed in `closures/<name>.txt` (one per line, `#` comments).

    RecipeError("<file>:<line>", ...) for a line that is not a source package name or
    is listed twice; RecipeError(<file>, ...) if there is no such list."""
    if not PACKAGE_NAME.fullmatch(name):
        raise RecipeError(name, "not a package name")
    path = (recipes_dir or RECIPES_DIR) / "closures" / f"{name}.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(str(path), f"cannot read: {exc}") from exc
    sources: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        word = line.split("#", 1)[0].strip()
        if not word:
            continue
        if not PACKAGE_NAME.fullmatch(word):
            raise RecipeError(f"{path}:{number}", f"{word!r} is not a source package name")
        if word in sources:
            raise RecipeError(f"{path}:{number}", f"{word!r} is listed twice")
        sources.append(word)
    return sources


def parse_recipe(text: str, origin: str) -> Recipe:
    """Parse and validate recipe `text`; `origin` (the file) names it in errors."""
    raw = parse_toml(text, origin, RecipeError)
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as exc:
        raise describe_validation_error(exc, origin, text, RecipeError) from exc
    _Checker(recipe, text, origin).check()
    recipe._origin = origin
    return recipe


def recipe_digest(policy: Policy, recipe: Recipe | None) -> str:
    """sha256 identifying what is changed: the policy plus the recipe (if any)."""
    dumped = recipe.model_dump(mode="json", by_alias=True) if recipe else None
    if dumped is not None and dumped.get("binaries") is None:
        # a recipe without `binaries` keeps the digest it had before the key existed
        dumped.pop("binaries", None)
    if dumped is not None and dumped.get("source") is None:
        dumped.pop("source", None)  # likewise for `[source]`
    elif recipe is not None and recipe.source is not None and dumped is not None:
        dumped["source"]["patch_sha256"] = list(recipe.source.digests)  # the bytes count
    data = {"policy": policy_digest(policy), "recipe": dumped}
    return hashlib.sha256(canonical_json(data)).hexdigest()


def build_action(spec: Mapping[str, Any], script: str, origin: str = "") -> Action:
    """One action from its recipe inline table; ActionError says what is wrong."""
    values = dict(spec)
    name = values.pop("action", None)
    if not isinstance(name, str) or not name:
        raise ActionError("missing 'action' (the name of an action of the vocabulary)")
    on = values.pop("on", None)
    if on is None:
        raise ActionError(f"action {name}: missing 'on' (script arguments, e.g. [\"configure\"])")
    if not isinstance(on, list) or not on or not all(isinstance(p, str) for p in on):
        raise ActionError(f"action {name}: 'on' must be a non-empty list of strings")
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ActionError(f"action {name}: field {key} must be a string")
    return make_action(name, script, on, values, origin=origin)


class _Checker:
    """The checks pydantic's types cannot express, each located at its key."""

    def __init__(self, recipe: Recipe, text: str, origin: str) -> None:
        self.recipe = recipe
        self.text = text
        self.origin = origin

    def fail(self, loc: Sequence[str | int], problem: str) -> RecipeError:
        return located_error(RecipeError, self.text, self.origin, loc, problem)

    def origin_of(self, loc: Sequence[str | int]) -> str:
        return locate(self.text, Path(self.origin).name, loc)

    def check(self) -> None:
        for name, override in self.recipe.binary.items():
            self.package(("binary", name), name)
            self.binary(("binary", name), override)
        for question in self.recipe.debconf:
            if "/" not in question:
                raise self.fail(
                    ("debconf", question), "expected a question name such as 'package/question'"
                )
        for index, mapping in enumerate(self.recipe.lines):
            self.line(("lines", index), mapping)
        for name, scripts in self.recipe.scripts.items():
            self.package(("scripts", name), name)
            for script, script_override in scripts.items():
                self.script_name(("scripts", name, script), script)
                self.script(("scripts", name, script), script, script_override)
        self.binaries()

    def package(self, loc: tuple[str | int, ...], name: str) -> None:
        if not PACKAGE_NAME.fullmatch(name):
            raise self.fail(loc, f"{name!r} is not a package name")

    def binaries(self) -> None:
        """`binaries`: package names, at least one, each once; nothing else names others."""
        names = self.recipe.binaries
        if names is None:
            return
        if not names:
            raise self.fail(("binaries",), "name at least one binary package of the source "
                            "(or leave the key out to produce them all)")
        seen: set[str] = set()
        for index, name in enumerate(names):
            self.package(("binaries", index), name)
            if name in seen:
                raise self.fail(("binaries", index), f"{name!r} is listed twice")
            seen.add(name)
        named: list[tuple[tuple[str | int, ...], str]] = [
            *((("binary", name), name) for name in self.recipe.binary),
            *((("scripts", name), name) for name in self.recipe.scripts),
            *((("lines", index, "binary"), mapping.binary)
              for index, mapping in enumerate(self.recipe.lines) if mapping.binary),
        ]
        for loc, name in named:
            if name not in seen:
                raise self.fail(loc, f"{name!r} is not in 'binaries' (never produced, so "
                                "this can never apply)")

    def script_name(self, loc: tuple[str | int, ...], script: str) -> None:
        if script not in SCRIPTS:
            raise self.fail(
                loc, f"unknown maintainer script {script!r} (known: {', '.join(SCRIPTS)})"
            )

    def binary(self, loc: tuple[str | int, ...], override: BinaryOverride) -> None:
        for key in ("drop", "keep"):
            for index, name in enumerate(getattr(override, key)):
                self.package((*loc, key, index), name)
        both = sorted(set(override.drop) & set(override.keep))
        if both:
            raise self.fail((*loc, "keep"), f"{', '.join(both)}: both dropped and kept")
        for index, relation in enumerate(override.add_depends):
            try:
                parse_relations_strictly(relation)
            except ValueError as exc:
                raise self.fail((*loc, "add-depends", index), str(exc)) from exc

    def line(self, loc: tuple[str | int, ...], mapping: LineMapping) -> None:
        if mapping.binary is not None:
            self.package((*loc, "binary"), mapping.binary)
        if mapping.script is not None:
            self.script_name((*loc, "script"), mapping.script)
        try:
            pattern = re.compile(mapping.match)
        except re.error as exc:
            raise self.fail((*loc, "match"), f"not a valid regular expression: {exc}") from exc
        mapping._pattern = pattern
        if (mapping.actions is None) == (mapping.ignore is None):
            raise self.fail(loc, "give exactly one of 'actions' or 'ignore'")
        if mapping.ignore is not None and not mapping.ignore.strip():
            raise self.fail((*loc, "ignore"), "say why dropping the line is safe")
        if mapping.actions is not None:
            if mapping.script is None:
                raise self.fail(loc, "a mapping with actions must name its 'script'")
            mapping._built = self.actions((*loc, "actions"), mapping.actions, mapping.script)

    def script(self, loc: tuple[str | int, ...], script: str, override: ScriptOverride) -> None:
        if override.keep and override.actions is not None:
            raise self.fail(loc, "give either keep = true or actions (a replacement), not both")
        if not override.keep and override.actions is None:
            raise self.fail(loc, "give keep = true (with an interpreter) or actions and a reason")
        if override.keep:
            if not override.interpreter:
                raise self.fail(
                    loc, "a script kept as is needs its 'interpreter' package (e.g. \"bash\")"
                )
            try:
                groups = parse_relations_strictly(override.interpreter)
            except ValueError as exc:
                raise self.fail((*loc, "interpreter"), str(exc)) from exc
            if len(groups) != 1:
                raise self.fail((*loc, "interpreter"), "name one package (one relation)")
            return
        if override.interpreter is not None:
            raise self.fail((*loc, "interpreter"), "only a script kept as is has an interpreter")
        if not (override.reason or "").strip():
            raise self.fail(loc, "replacing a script needs a 'reason'")
        assert override.actions is not None
        override._built = self.actions((*loc, "actions"), override.actions, script)

    def actions(
        self, loc: tuple[str | int, ...], specs: list[dict[str, Any]], script: str
    ) -> tuple[Action, ...]:
        built = []
        for index, spec in enumerate(specs):
            where = (*loc, index)
            try:
                built.append(build_action(spec, script, origin=f"recipe {self.origin_of(where)}"))
            except ActionError as exc:
                raise self.fail(where, str(exc)) from exc
        return tuple(built)
