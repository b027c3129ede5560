"""The rewrite engine of one binary package (pure: no Celery, no database).

    .deb in → control rewritten (relations, Essential/Priority, provenance),
              maintainer scripts → `actions` control file + rendered POSIX sh,
              deterministic .deb out, and a change report.

`survey` runs the same analysis without writing, recording flagged scripts instead
of failing, for `rewrite --closure --report`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from archive.debfile import ControlMember, DebFile, read_deb, write_deb
from archive.implicit import MEMBER as IMPLICIT_MEMBER
from archive.implicit import Finding, scan_deb, uses_text
from base.deb822 import format_stanza, iter_stanzas, parse_one
from base.errors import FlaggedScript, FormatError, RewriteError
from recipes.actions import Action, Dropped, Ldconfig, ScriptReport, render_actions_file
from recipes.policy import PACKAGE_NAME, Policy
from recipes.recipe import Recipe
from rewrite.relations import (
    RelationChange,
    Universe,
    add_implicit_use,
    names_in,
    rewrite_relations,
)
from rewrite.render import render_script
from rewrite.translate import Lookup, Untranslatable, translate
from rewrite.translate.debconf import config_sets, set_by
from rewrite.versions import REASON_SIBLING, deb_name, with_versions

SCRIPTS = ("preinst", "postinst", "prerm", "postrm", "config")
DEBCONF_MEMBERS = ("config", "templates")
FIELD_NAME = re.compile(r"[!-9;-~]+")  # deb822: printable ASCII but ':' (and not '#'/'-' first)
VERSION = re.compile(r"[0-9A-Za-z.+~:-]+")
ARCHITECTURE = re.compile(r"[a-z0-9][a-z0-9-]*")
SOURCE = re.compile(r"(?P<name>[a-z0-9][a-z0-9+.-]+)( \((?P<version>[0-9A-Za-z.+~:-]+)\))?")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with control characters escaped (\\x1b ...): safe to print on a terminal."""
    return _CONTROL_CHARS.sub(lambda m: repr(m.group())[1:-1], text)


def read_control(path: Path, deb: DebFile | None = None) -> dict[str, str]:
    """The control stanza of a .deb, checked: one deb822 stanza, a Debian package name
    (policy 5.6.1), a version, an architecture and a Source naming a package.

    FormatError (one line, control characters escaped) for anything else: these values
    name files and reach messages and the terminal."""
    deb = deb if deb is not None else read_deb(path)
    subject = printable(str(path))
    member = deb.members.get("control")
    if member is None:
        raise FormatError(subject, "no control file in control.tar")
    try:
        control = parse_one(member.data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(subject, f"control file does not parse: {exc}") from exc
    for key in control:
        if not FIELD_NAME.fullmatch(key) or key[0] in "#-":
            raise FormatError(subject, f"control file: {key!r} is not a field name")
    package = control.get("Package", "")
    if not PACKAGE_NAME.fullmatch(package):
        raise FormatError(subject, f"control file: Package {package!r} is not a package "
                          "name (lower case letters, digits, + - .; at least two characters)")
    checks = (("Version", VERSION, "a version"), ("Architecture", ARCHITECTURE,
                                                    "an architecture"))
    for key, pattern, what in checks:
        if key in control and not pattern.fullmatch(control[key]):
            raise FormatError(subject, f"control file: {key} {control[key]!r} is not {what}")
    if "Source" in control and not SOURCE.fullmatch(control["Source"]):
        raise FormatError(subject, f"control file: Source {control['Source']!r} is not "
                          "'NAME' or 'NAME (VERSION)'")
    return control


def source_of(control: dict[str, str]) -> str:
    """The source package name of a checked control stanza."""
    return control.get("Source", control["Package"]).split(" ")[0]


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH (0 when unset): RewriteError unless seconds since the epoch."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return 0
    if not value.isascii() or not value.isdigit() or len(value) > 11:
        raise RewriteError("SOURCE_DATE_EPOCH", f"expected seconds since the epoch (a "
                           f"non-negative integer), got {printable(repr(value))}")
    return int(value)


@dataclass
class RewriteReport:
    """What changed in one binary package; the worker stores it in the catalog."""

    package: str
    version: str  # the version written (ours when the build marks versions)
    architecture: str
    source: str
    input: str
    input_sha256: str
    recipe_digest: str
    original_version: str = ""  # Debian's (the input's)
    relations: list[RelationChange] = field(default_factory=list)
    scripts: list[ScriptReport] = field(default_factory=list)
    removed_members: list[str] = field(default_factory=list)
    #: run-time uses of the essential set found in the package's files (archive.implicit)
    implicit_uses: list[Finding] = field(default_factory=list)
    #: files the scan did not read (too large), and why
    unscanned: list[str] = field(default_factory=list)
    output: str = ""
    output_sha256: str = ""

    @property
    def flagged(self) -> list[ScriptReport]:
        return [s for s in self.scripts if s.status == "flagged"]

    def as_dict(self) -> dict[str, object]:
        return {
            "package": self.package, "version": self.version,
            "original_version": self.original_version,
            "architecture": self.architecture, "source": self.source,
            "input": self.input, "input_sha256": self.input_sha256,
            "output": self.output, "output_sha256": self.output_sha256,
            "recipe_digest": self.recipe_digest,
            "relations": [
                {"field": c.field, "relation": c.relation, "action": c.action,
                 "reason": c.reason, "detail": c.detail}
                for c in self.relations
            ],
            "scripts": [
                {"script": s.script, "status": s.status, "original_sha256": s.original_sha256,
                 "problem": s.problem,
                 "fails": {phase: {"exit": code, "origin": origin}
                           for phase, (code, origin) in s.fails.items()},
                 "actions": [{**a.stanza(), "Origin": a.origin} for a in s.actions],
                 "dropped": [{"what": d.what, "reason": d.reason, "origin": d.origin}
                             for d in s.dropped]}
                for s in self.scripts
            ],
            "removed_members": self.removed_members,
            "implicit_uses": [
                {"path": u.path, "kind": u.kind, "needs": u.needs, "evidence": u.evidence,
                 "provider": u.provider, "declared": u.declared}
                for u in self.implicit_uses
            ],
            "unscanned": self.unscanned,
        }


def _answers(deb: DebFile, recipe: Recipe | None) -> dict[str, str]:
    answers: dict[str, str] = {}
    templates = deb.members.get("templates")
    if templates is not None:
        try:
            for stanza in iter_stanzas(templates.data.decode("utf-8", "replace")):
                if "Template" in stanza:
                    answers[stanza["Template"]] = stanza.get("Default", "").split("\n")[0]
        except ValueError:
            pass
    config = deb.members.get("config")
    if config is not None:  # what the config script sets is not the template's default
        sets = config_sets(config.data.decode("utf-8", "replace"))
        answers = {q: a for q, a in answers.items() if not set_by(q, sets)}
    if recipe is not None:
        answers.update(recipe.debconf)
    return answers


def _script_report(
    deb: DebFile, name: str, package: str, recipe: Recipe | None, answers: dict[str, str]
) -> ScriptReport:
    member = deb.members[name]
    text = member.data.decode("utf-8", "replace")
    digest = hashlib.sha256(member.data).hexdigest()
    override = recipe.script_override(package, name) if recipe is not None else None
    if override is not None and override.keep:
        return ScriptReport(name, digest, "kept", problem=f"kept as is by the recipe "
                            f"(needs {override.interpreter or 'its interpreter'})")
    if override is not None:
        actions = [a.model_copy(update={"origin": f"recipe:{name}"})
                   for a in override.built_actions]
        return ScriptReport(name, digest, "translated", actions=actions,
                            dropped=[Dropped(f"{name} (whole script)",
                                             f"recipe: {override.reason}", f"{name}:1")])
    lookup = _lookup(recipe, package) if recipe is not None else None
    try:
        result = translate(text, name, package=package, answers=answers, lookup=lookup)
        if name == "postinst" and "triggered" in result.fails and _interests(deb):
            code, origin = result.fails["triggered"]
            line = int(origin.rsplit(":", 1)[1])
            raise Untranslatable(line, text.split("\n")[line - 1].strip(),
                                 f"the script fails (exit {code}) on triggered, and the "
                                 "package has trigger interests")
    except Untranslatable as exc:
        problem = f"{package}: {name}:{exc.line}: {printable(exc.reason)}"
        if exc.text:
            shown = printable(" ".join(exc.text.split()))
            problem += f": {shown[:157] + '...' if len(shown) > 160 else shown}"
        return ScriptReport(name, digest, "flagged", problem=problem)
    return ScriptReport(name, digest, "translated", actions=result.actions, dropped=result.dropped,
                        fails=dict(result.fails))


def _interests(deb: DebFile) -> bool:
    """Whether the package's `triggers` file declares an interest (postinst triggered)."""
    member = deb.members.get("triggers")
    if member is None:
        return False
    return any(line.split("#", 1)[0].split()[:1] in (["interest"], ["interest-await"],
                                                      ["interest-noawait"])
               for line in member.data.decode("utf-8", "replace").splitlines())


def _lookup(recipe: Recipe, package: str) -> Lookup:
    """The recipe's `[[lines]]` mappings as the translator's lookup function."""

    def lookup(script: str, line: str) -> tuple[list[Action], str] | None:
        for mapping in recipe.line_mappings_for(package, script):
            if mapping.matches(line):
                return list(mapping.built_actions), mapping.ignore or ""
        return None

    return lookup


def _trigger_actions(deb: DebFile) -> list[Action]:
    member = deb.members.get("triggers")
    if member is None:
        return []
    out: list[Action] = []
    for number, line in enumerate(member.data.decode("utf-8", "replace").splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if words[:2] in (["activate-noawait", "ldconfig"], ["activate", "ldconfig"]):
            out.append(Ldconfig(script="postinst", on=("configure",),
                                origin=f"triggers:{number}"))
    return out


def analyse(
    path: Path,
    *,
    universe: Universe,
    policy: Policy,
    recipe: Recipe | None,
    recipe_digest: str,
    versions: Mapping[str, tuple[str, str]] | None = None,
) -> tuple[DebFile, dict[str, str], RewriteReport]:
    """Read and analyse a .deb: the new control fields and the report (nothing written).

    `versions` (binary name -> (Debian's version, ours), for every binary of the build,
    `rewrite.versions`) gives the package its new version, and the relations that pin a
    sibling's exact version the sibling's new one; without it the version is kept."""
    deb = read_deb(path)
    control = read_control(path, deb)
    package = control["Package"]
    version = control.get("Version", "")
    report = RewriteReport(
        package=package, version=version, architecture=control.get("Architecture", ""),
        source=source_of(control), input=str(path),
        input_sha256=hashlib.sha256(path.read_bytes()).hexdigest(), recipe_digest=recipe_digest,
        original_version=version,
    )
    answers = _answers(deb, recipe)
    for name in SCRIPTS:
        if name in deb.members:
            report.scripts.append(_script_report(deb, name, package, recipe, answers))
    translated = all(s.status == "translated" for s in report.scripts)
    override = recipe.binary_override(package) if recipe is not None else None
    interpreters = recipe.interpreters(package) if recipe is not None else None
    fields, changes = rewrite_relations(control, universe, policy, override, translated,
                                        interpreters=interpreters)
    report.relations = changes
    scan = scan_deb(deb, policy.implicit_use)
    report.unscanned = scan.skipped
    report.implicit_uses = _declare_uses(fields, scan.uses, package, policy, report.relations)
    if versions is not None:
        try:
            pinned = with_versions(fields, versions)
        except (KeyError, ValueError) as exc:
            raise RewriteError(printable(str(path)),
                               f"{package}: cannot give it its version: "
                               f"{printable(str(exc))}") from exc
        report.version = fields["Version"]
        report.relations += [
            RelationChange(p.field, p.relation, "pinned", REASON_SIBLING,
                           f"was {p.before}: the sibling is published as {p.relation}")
            for p in pinned]
    return deb, fields, report


#: Uses named in the detail of one added relation (the report and the catalog list all).
_DETAIL_USES = 3


def _declare_uses(fields: dict[str, str], uses: list[Finding], package: str, policy: Policy,
                  changes: list[RelationChange]) -> list[Finding]:
    """Add `Depends: provider` (reason implicit-use) for the uses the policy says to
    declare; every use, marked declared when the package's relations name its provider
    (or it provides the need itself)."""
    rules = policy.implicit_use
    wanted: dict[str, list[Finding]] = {}
    for use in uses:
        if (use.provider is not None and use.provider != package
                and rules.decision(use.kind, use.needs) == "declare"):
            wanted.setdefault(use.provider, []).append(use)
    for provider, needing in wanted.items():
        detail = "; ".join(f"{u.path} needs {u.needs} ({u.kind}: {u.evidence})"
                           for u in needing[:_DETAIL_USES])
        if len(needing) > _DETAIL_USES:
            detail += f"; and {len(needing) - _DETAIL_USES} more"
        change = add_implicit_use(fields, provider, detail)
        if change is not None:
            changes.append(change)
    named = names_in(fields) | {package}
    return [replace(u, declared=u.provider is not None and u.provider in named) for u in uses]


def _control_text(fields: dict[str, str], report: RewriteReport) -> str:
    """The rewritten control stanza (ValueError if a value cannot be written: a carriage
    return). A blank continuation line, as the reader may return it, is written ".";
    the values of the control file keep their order."""
    out = dict(fields)
    out.pop("Essential", None)
    if out.get("Priority") in ("required", "important", "standard"):
        out["Priority"] = "optional"
    out["Unessential-Recipe"] = report.recipe_digest
    out["Unessential-Original"] = f"{report.input_sha256}"
    return format_stanza(
        (key, "\n".join(line if index == 0 or line.strip() else "."
                        for index, line in enumerate(value.split("\n"))))
        for key, value in out.items())


def rewrite(
    path: Path,
    out_dir: Path,
    *,
    universe: Universe,
    policy: Policy,
    recipe: Recipe | None,
    recipe_digest: str,
    mtime: int | None = None,
    versions: Mapping[str, tuple[str, str]] | None = None,
) -> RewriteReport:
    """Rewrite one .deb into `out_dir`; RewriteError if a script line is not covered.

    With `versions` (see `analyse`) the output is named after its new version
    (``name_version_arch.deb``); without, it keeps the input's name."""
    subject = printable(str(path))
    if mtime is None:
        mtime = source_date_epoch()
    deb, fields, report = analyse(path, universe=universe, policy=policy, recipe=recipe,
                                  recipe_digest=recipe_digest, versions=versions)
    target = out_dir / (path.name if report.version == report.original_version else
                        deb_name(report.package, report.version, report.architecture))
    if target.exists() and path.exists() and target.samefile(path):
        raise RewriteError(subject, "the output directory is the directory of the input: "
                           "the rewritten package would replace it (choose another --out)")
    flagged = report.flagged
    if flagged:
        raise FlaggedScript(subject, flagged[0].problem, package=report.package,
                            version=report.original_version, architecture=report.architecture)
    members = dict(deb.members)
    actions: list[Action] = []
    for script in report.scripts:
        if script.status == "kept":
            continue  # the recipe keeps it as is (its interpreter is added to Depends)
        del members[script.script]
        if script.script == "config":
            continue
        actions += script.actions
        try:
            rendered = render_script(script.script, script.actions, package=report.package,
                                     fails={p: code for p, (code, _) in script.fails.items()})
        except ValueError as exc:
            raise RewriteError(subject, f"{report.package}: {script.script}: cannot render: "
                               f"{printable(str(exc))}") from exc
        if rendered is not None:
            members[script.script] = ControlMember(script.script, rendered.encode(), 0o755)
    for name in DEBCONF_MEMBERS:
        if name in members and name != "config":
            del members[name]
            report.removed_members.append(name)
    if "config" in deb.members:
        report.removed_members.append("config")
    actions += _trigger_actions(deb)
    members.pop(IMPLICIT_MEMBER, None)  # an earlier rewrite's list: this one replaces it
    if report.implicit_uses:
        members[IMPLICIT_MEMBER] = ControlMember(
            IMPLICIT_MEMBER, uses_text(report.implicit_uses).encode(), 0o644)
    if actions:
        members["actions"] = ControlMember("actions", render_actions_file(actions).encode(),
                                           0o644)
    try:
        control = _control_text(fields, report)
    except ValueError as exc:
        raise FormatError(subject, f"control file: {printable(str(exc))}") from exc
    members["control"] = ControlMember("control", control.encode(), 0o644)
    out = DebFile(members=members, data_name=deb.data_name, data=deb.data,
                  control_name=deb.control_name)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_deb(out, target, mtime=mtime)
    report.output = str(target)
    report.output_sha256 = hashlib.sha256(target.read_bytes()).hexdigest()
    return report
