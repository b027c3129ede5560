"""One simple command: dropped (init hooks, debconf, messages), nothing to do, or the
actions of its tool's handler (one module per tool family)."""

from __future__ import annotations

import re
from dataclasses import replace

from pydantic import ValidationError

from recipes.actions import (
    Action,
    AlternativeInstall,
    CreateFile,
    Divert,
    Dropped,
    InstallConfig,
    Ldconfig,
    MakeDir,
    MovePath,
    NodeDirectory,
    RandomSecret,
    RecordTest,
    RemovePath,
    SetOwner,
    StatOverride,
    SystemGroup,
    SystemUser,
    UpdateCache,
    UserInGroup,
    action_error,
)
from recipes.actions.fields import FILE_TESTS, condition_parts, condition_paths
from rewrite.shell import Command
from rewrite.translate import (
    accounts,
    alternatives,
    caches,
    dictionaries,
    dpkg,
    effects,
    files,
    python,
    systemd,
)
from rewrite.translate.conditions import substitution_value
from rewrite.translate.context import (
    SCRIPT_PHASES,
    Ctx,
    Handler,
    Idiom,
    Result,
    Unmodelled,
    Untranslatable,
    assign,
    braces,
    idiom_of,
    quiet,
    word_value,
)
from rewrite.translate.debconf import DEBCONF_REASON, db_get, db_set
from rewrite.translate.effects import affects
from rewrite.translate.systemd import INIT_REASON, INIT_TOOLS
from rewrite.translate.temps import TEMP_REASON, temp_assignment, temp_removal
from rewrite.translate.writes import fold_owner

DROPPED_TOOLS = {
    "update-menus": "Debian menu system: no menus in a container",
    "update-binfmts": "binfmt registration belongs to the host kernel, not the image",
    "ucfr": "ucf's registry of configuration files: not kept in images",
    "update-initramfs": "no initramfs in a container image (it boots no kernel)",
    "update-grub": "no boot loader in a container image",
    "dbus-send": "a message to the running D-Bus daemon: none runs while an image is built",
    "apparmor_parser": "loads an AppArmor profile into the running kernel (the host's)",
    "restorecon": "SELinux relabelling: images carry no SELinux labels",
    "suidregister": "suidmanager's registry (/etc/suid.conf): the package left Debian in "
                    "2007, replaced by dpkg-statoverride",
    "suidunregister": "suidmanager's registry (/etc/suid.conf): the package left Debian in "
                      "2007, replaced by dpkg-statoverride",
}
# actions that only add what is missing, or refresh a cache from the files installed:
# taken behind a test that reads the system, they change nothing where the test would
# have skipped them (a cache is derived data: refreshed, it says what the files say)
ADDITIVE = (CreateFile, InstallConfig, MakeDir, SystemGroup, SystemUser, UserInGroup,
            Ldconfig, UpdateCache, RandomSecret, NodeDirectory)
# `setpriv --reuid man ... -- mandb -pq`, `runuser -u man -- mandb`: the command after
# `--`, run as another user (the actions do what it does, as root)
RUN_AS = {"setpriv", "runuser"}
SCRIPT_POSITIONAL = ("$1", "$2", "$3", "$4")  # a function called with the script's "$@"
MESSAGE_TOOLS = {"echo", "printf"}
NOOP = {"true", ":", "umask"}
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.S)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# tool -> its handler, from every tool family
HANDLERS: dict[str, Handler] = {
    **caches.HANDLERS,
    **dictionaries.HANDLERS,
    **alternatives.HANDLERS,
    **accounts.HANDLERS,
    **dpkg.HANDLERS,
    **python.HANDLERS,
    **files.HANDLERS,
    **systemd.HANDLERS,
}


def translate_command(cmd: Command, ctx: Ctx, out: Result) -> None:
    """The actions (or the dropped line) of one simple command; Untranslatable if none."""
    where = ctx.origin(cmd.line)
    text = ctx.source(cmd.line)
    try:
        argv = fields(cmd, ctx)
    except Unmodelled as exc:
        raise Untranslatable(cmd.line, text, str(exc), exc.idiom) from exc
    if not argv and cmd.words and not cmd.redirects and cmd.heredoc is None:
        return  # every word expanded to nothing (`${TRACE:+ echo ...}`): no command
    if not argv:
        raise Untranslatable(cmd.line, text, "a redirection without a command",
                             "redirection without a command")
    if all(_ASSIGNMENT.fullmatch(a) for a in argv):
        if len(argv) == 1 and (_digest_variable(argv[0], ctx)
                               or _diverter_variable(argv[0], ctx)
                               or _owner_variable(argv[0], ctx)):
            return
        if len(cmd.words) == 1 and temp_assignment(cmd.words[0].raw):
            _forget(argv[0].partition("=")[0], ctx)
            ctx.temps.add(argv[0].partition("=")[0])
            out.dropped.append(Dropped(text, TEMP_REASON, where))
            return
        if any("$(" in a or "`" in a for a in argv):
            if not all(substitution_value(w.raw) for w in cmd.words):
                raise Untranslatable(cmd.line, text, "an assignment from a command "
                                     "substitution that may change the system or fail",
                                     "variable assignment from a command substitution")
            for arg in argv:  # `arch=$(dpkg --print-architecture)`: the system's value
                name, _, value = arg.partition("=")
                _forget(name, ctx)
                ctx.unknown.add(name)
                named = _NODE.fullmatch(value)
                if named is not None and ".." not in named.group(1).split("/"):
                    ctx.nodes[name] = named.group(1).rstrip("/") or "/"
            return
        for arg in argv:  # a constant is known from here on; anything else is unknown
            name, _, value = arg.partition("=")
            _forget(name, ctx)
            assign(ctx, name, value, straight=True)
        return
    if _ASSIGNMENT.fullmatch(argv[0]):  # `NAME=ssh ENABLE=yes runit-helper prerm "$@"`
        tool = next(a for a in argv if not _ASSIGNMENT.fullmatch(a))
        if tool.rsplit("/", 1)[-1] in INIT_TOOLS:
            out.dropped.append(Dropped(text, INIT_REASON, where))
            return
        raise Untranslatable(cmd.line, text, "a command run with variables set for it",
                             Idiom("variables set for one command", tool))
    name = written = argv[0]
    if re.fullmatch(r"/(usr/)?s?bin/[A-Za-z0-9_.+-]+", name) or (  # /usr/bin/mandb: the tool
            name.startswith("/") and name.rsplit("/", 1)[1] in INIT_TOOLS):
        name = argv[0] = name.rsplit("/", 1)[1]
    if name in ("local", "export", "unset", "readonly"):
        _declare(cmd, argv, ctx)
        return
    if not quiet(cmd):
        raise Untranslatable(cmd.line, text, "output redirected to a file",
                             Idiom("output redirected to a file by", name))
    if name == "shift":
        _shift(cmd, argv, ctx)
        return
    dashes = [i for i, w in enumerate(cmd.words) if w.value == "--" and not w.expands]
    if name in RUN_AS and dashes and dashes[0] + 1 < len(cmd.words):
        # another user runs it: the same effect here
        translate_command(replace(cmd, words=cmd.words[dashes[0] + 1:]), ctx, out)
        return
    if name in NOOP or (name == "set" and all(re.fullmatch(r"[-+][euxv]+", a) for a in argv[1:])):
        return
    if name in MESSAGE_TOOLS or (name == "cat" and cmd.heredoc is not None and not cmd.redirects):
        return
    if name in (".", "source"):
        if argv[1:] == ["/usr/share/debconf/confmodule"]:
            out.dropped.append(Dropped(text, DEBCONF_REASON, where))
            return
        raise Untranslatable(cmd.line, text, "sources another shell file",
                             Idiom("sources", " ".join(argv[1:2])))
    if name.startswith("db_"):
        if name == "db_get" and len(argv) == 2:
            db_get(argv[1], ctx, cmd.line)
            return
        if name == "db_set" and len(argv) >= 2:
            db_set(argv[1], " ".join(argv[2:]), ctx)
        out.dropped.append(Dropped(text, DEBCONF_REASON, where))
        return
    if name in INIT_TOOLS:
        out.dropped.append(Dropped(text, INIT_REASON, where))
        return
    if temp_removal(argv, ctx):
        out.dropped.append(Dropped(text, TEMP_REASON, where))
        return
    if name in DROPPED_TOOLS:
        out.dropped.append(Dropped(text, DROPPED_TOOLS[name], where))
        return
    if ctx.positional is not None and ctx.positional != list(SCRIPT_POSITIONAL):
        # "$@" in a function: the call's parameters
        argv = [argv[0], *(item for arg in argv[1:] for item in (
            ctx.positional if arg in ("$@", '"$@"') else [arg]))]
    handler = HANDLERS.get(name)
    if handler is None:
        raise Untranslatable(cmd.line, text, f"command {written!r} is not in the vocabulary",
                             Idiom("call of a function the script defines")
                             if name in ctx.functions else Idiom("command", written))
    expanded = [a for a in argv[1:] if "$" in a and a not in ('$@', '"$@"')]
    node = _node_directory(name, argv, expanded, ctx)
    if node is not None:  # `install -d -o U "$dir"`, dir=/var/lib/x/$(uname -n)
        take([node], cmd.line, ctx, out)
        return
    if expanded or any("`" in a for a in argv):
        raise Untranslatable(cmd.line, text, "uses a shell variable or command substitution",
                             Idiom("computed arguments to", name))
    try:
        actions = handler(argv, ctx)
        if fold_owner(actions, ctx, out):
            return
    except ValidationError as exc:  # a value an action refuses (not a name, not absolute)
        raise Untranslatable(cmd.line, text, str(action_error(exc)),
                             Idiom("value an action refuses, from", name)) from exc
    except ValueError as exc:
        raise Untranslatable(cmd.line, text, str(exc),
                             idiom_of(exc, Idiom("unknown form of", name))) from exc
    take(actions, cmd.line, ctx, out)


def take(actions: list[Action], line: int, ctx: Ctx, out: Result) -> None:
    """Add the actions of the statement at `line` where the tests around it allow (the
    tests they carry as `Only-If`); Untranslatable where they cannot be kept apart."""
    where = ctx.origin(line)
    text = ctx.source(line)
    if ctx.reads and not all(isinstance(a, ADDITIVE) for a in actions):
        raise Untranslatable(line, text, "a change behind a test that reads the system "
                             "(grep, getent ...): it would be made whether or not the test "
                             "holds (only what adds a missing file, directory or account is)",
                             "change behind a test that reads the system")
    owners = [a for a in actions if isinstance(a, SetOwner | StatOverride)
              and not getattr(a, "remove", False)]
    if ctx.guarded and owners:
        holding = ctx.holding()
        # (behind tests of its own path only, the change is the same whatever they find;
        # a test of the stat override database is carried all the same)
        if holding is not None and (  # taken where the same tests hold
                any(a.path not in ctx.guard_paths for a in owners) or any(
                    isinstance(a, SetOwner) and not _existence(test) for a in owners
                    for test in holding)):
            _record(actions, line, ctx, out)
            actions = [a.model_copy(update={"only_if": holding}) for a in actions]
            out.actions += [a.model_copy(update={"origin": where}) for a in actions]
            ctx.ran(effects.of_all(actions))
            return
        if any(a.path not in ctx.guard_paths for a in owners):
            raise Untranslatable(line, text, "an owner or mode change behind a test of the "
                                 "system (of another path): it would be made whether or not "
                                 "the test holds",
                                 "owner or mode change behind a test of the system")
    if ctx.guarded and not ctx.attach and any(isinstance(a, RemovePath | MovePath)
                                              for a in actions):
        # a removal behind a test (`[ -f flag ] && rm -rf /var/log/x`): made only where
        # the same tests hold; taken as it is behind a test of its own path only
        # (`[ -e F ] && rm F`) where the tests cannot be carried
        holding = ctx.holding()
        if holding:
            actions = [a.model_copy(update={"only_if": (*a.only_if, *holding)})
                       if isinstance(a, RemovePath | MovePath) else a for a in actions]
        elif holding is None and (ctx.unlisted or any(
                not _existence(test) for test, _ in ctx.conditions) or any(
                isinstance(a, RemovePath | MovePath) and not _tested(a.path, ctx.guard_paths)
                and not (isinstance(a, MovePath) and _tested(a.source, ctx.guard_paths))
                for a in actions)):
            raise Untranslatable(line, text, "a removal behind a test of the system "
                                 "(of another path): it would be made whether or not the "
                                 "test holds", "removal behind a test of the system")
    if ctx.guarded and not ctx.attach and any(_database(a) for a in actions):
        # a diversion or the removal of a stat override behind a test (`[ "$diverter" =
        # dash ] && dpkg-divert --remove`): made only where the same tests hold
        holding = ctx.holding()
        if holding is None:
            raise Untranslatable(line, text, "a change of dpkg's database behind a test of "
                                 "the system it cannot carry",
                                 "diversion behind a test of the system"
                                 if any(isinstance(a, Divert) for a in actions) else
                                 "stat override removal behind a test of the system")
        actions = [a.model_copy(update={"only_if": (*a.only_if, *holding)})
                   if _database(a) else a for a in actions]
    if ctx.guarded and not ctx.attach and any(isinstance(a, AlternativeInstall)
                                              for a in actions):
        # `[ -e P ] && update-alternatives --install L N P ...`: where P is missing,
        # update-alternatives fails; the tests around it carried where one is of P
        holding = ctx.holding()
        actions = [a.model_copy(update={"only_if": (*a.only_if, *holding)})
                   if holding and isinstance(a, AlternativeInstall) and any(
                       a.path in condition_paths(t) for t in holding) else a
                   for a in actions]
    if ctx.attach:  # (a case on a file's md5): the actions carry the tests
        holding = ctx.holding()
        if holding is None:
            raise Untranslatable(line, text, "a change behind a test of a file's md5 "
                                 "and another test of the system", Idiom(
                                     "change behind a test of a file's md5 and another test"))
        actions = [a.model_copy(update={"only_if": (*a.only_if, *holding)}) for a in actions]
    _record(actions, line, ctx, out)
    ctx.ran(effects.of_all(actions))  # what a test found missing may exist from now on
    for action in actions:
        if isinstance(action, Ldconfig | UpdateCache) and out.actions and \
                out.actions[-1].stanza() == action.stanza():
            continue  # the same refresh right after itself (both branches of an if)
        out.actions.append(action.model_copy(update={"origin": where}))


# a path named after the node: a directory, then the node name (`$(uname -n)`, `hostname`)
_NODE = re.compile(r"(/[A-Za-z0-9_.+/-]*/)(?:\$\(\s*(?:uname -n|hostname)\s*\)|"
                   r"`\s*(?:uname -n|hostname)\s*`)")
_NODE_PLACEHOLDER = "/_ue_node_"


def _node_directory(name: str, argv: list[str], expanded: list[str],
                    ctx: Ctx) -> NodeDirectory | None:
    """`install -d [-o U] [-g G] [-m M] "$dir"` or `mkdir [-p] "$dir"` of one directory
    named after the node (a variable assigned `/var/lib/x/$(uname -n)`): a node-directory
    action; None for anything else."""
    if name not in ("install", "mkdir") or len(expanded) != 1:
        return None
    variable = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", expanded[0])
    if variable is None or variable.group(1) not in ctx.nodes:
        return None
    handler = HANDLERS[name]
    try:
        made = handler([_NODE_PLACEHOLDER if a == expanded[0] else a for a in argv], ctx)
    except ValueError:
        return None
    if len(made) != 1 or not isinstance(made[0], MakeDir) or \
            made[0].path != _NODE_PLACEHOLDER:
        return None
    directory = made[0]
    if (directory.owner or directory.group or directory.mode) and \
            not ctx.missing(f"{ctx.nodes[variable.group(1)].rstrip('/')}/$(uname -n)"):
        return None  # (install -d sets them on a directory that exists, too)
    return NodeDirectory(**{"Script": ctx.script, "On": ctx.phases,
                            "Path": ctx.nodes[variable.group(1)], "Owner": directory.owner,
                            "Group": directory.group, "Mode": directory.mode})


def _database(action: Action) -> bool:
    """A diversion, or the removal of a stat override."""
    return isinstance(action, Divert) or isinstance(action, StatOverride) and action.remove


def _record(actions: list[Action], line: int, ctx: Ctx, out: Result) -> None:
    """Before actions that turn a test around them (the removal of the stat override
    the if found), a record-test action keeps what that test read, for the actions
    after them behind it (`flag NAME`, Ctx.holding)."""
    made = effects.of_all(actions)
    for test, count in ctx.conditions:
        if (test, count) in ctx.flags or condition_parts(test)[1] == "flag":
            continue
        paths = condition_paths(test)
        if any(affects(before, path) for before in ctx.effects[count:] for path in paths):
            continue  # turned already by a command the engine cannot record before
        if any(affects(made, path) for path in paths):
            name = f"t{len(ctx.flags) + 1}"
            ctx.flags[test, count] = name
            # (for every argument of the script: the test only reads, and where the
            # change that turns it does not run, the value it reads is the same)
            out.actions.append(RecordTest(**{
                "Script": ctx.script, "On": SCRIPT_PHASES[ctx.script], "Name": name,
                "Only-If": (test,), "origin": ctx.origin(line)}))


def _forget(name: str, ctx: Ctx) -> None:
    """What the engine knew of variable `name` (its value, the md5 it held): reassigned."""
    ctx.vars.pop(name, None)
    ctx.digests.pop(name, None)
    ctx.owners.pop(name, None)
    ctx.nodes.pop(name, None)
    ctx.recorded.pop(name, None)
    ctx.diverters.pop(name, None)
    ctx.temps.discard(name)


def _existence(test: str) -> bool:
    """Whether an `Only-If` test is one of a path's existence or type (not its content)."""
    return condition_parts(test)[1] in FILE_TESTS


def _tested(path: str, tested: frozenset[str]) -> bool:
    """Whether a test around the removal of `path` was of that path, a path inside it or
    its directory (`[ -d /var/lib/x ] && rm -rf /var/lib/x/*`)."""
    base = path.rstrip("/*") or "/"
    return any(t == base or t.startswith(base + "/") or base.startswith(t.rstrip("/") + "/")
               for t in tested)


def fields(cmd: Command, ctx: Ctx) -> list[str]:
    """The command's arguments as the shell passes them: an unquoted expansion with a
    known value is split at blanks (and gives no argument when empty); an assignment
    word is not split."""
    argv: list[str] = []
    for word in cmd.words:
        value = word_value(word, ctx)
        if not _ASSIGNMENT.fullmatch(value) and len(expanded := braces(word, value, ctx)) > 1:
            argv += expanded  # bash: `rm -f /var/log/mysql.{log,err}`
            continue
        if word.expands and not word.quoted and "$" not in value and "`" not in value \
                and not _ASSIGNMENT.fullmatch(value):
            argv += value.split()
        else:
            argv.append(value)
    return argv


_DIGEST = re.compile(
    r"""(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?:\$\(|`)\s*md5sum\s+(?P<q>"?)(?P<path>/[^\s|;&<>$`'"]+)(?P=q)\s*\|\s*"""
    r"""(?:sed\s+(?:-e\s+)?'s/ \.\*//'|cut\s+(?:-f\s*1\s+-d\s*' '|-d\s*' '\s+-f\s*1)|"""
    r"""awk\s+'\{\s*print \$1\s*\}')\s*(?:\)|`)""")


# name="$(dpkg-query -W -f='${Conffiles}' PKG | sed -n -e "\\' FILE ' { s/ obsolete$//;
# s/.* //; p }")": the md5 dpkg records for FILE among PKG's conffiles (the wiki's
# rm_conffile snippet, debhelper's old conffile handling)
_RECORDED = re.compile(
    r"""(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?:\$\(|`)\s*dpkg-query\s+(?:-W|--show)\s+"""
    r"""(?:-f|--showformat)[= ]?'\$\{Conffiles\}'\s+(?P<package>[a-z0-9][a-z0-9+.-]+)\s*\|"""
    r"""\s*sed\s+-n\s+(?:-e\s+)?"\\'\^? (?P<path>/[^\s|;&<>$`'"\\]+) '\s*\{\s*"""
    r"""s/ obsolete\$//;\s*s/\.\* //;?\s*p;?\s*\}"\s*(?:\)|`)""")


# name=$(ls -ln FILE | awk '{print $3}'): FILE's numeric owner (ls lists a directory's
# entries instead: `Only-If: owner` holds for no directory)
_OWNER = re.compile(
    r"""(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<q>"?)(?:\$\(|`)\s*ls\s+-(?:ln|nl)\s+"""
    r"""(?P<p>"?)(?P<path>/[^\s|;&<>$`'"*?\[,]+)(?P=p)(?:\s+2>\s*/dev/null)?\s*\|\s*"""
    r"""awk\s+'\{\s*print \$3;?\s*\}'\s*(?:\)|`)(?P=q)""")


def _owner_variable(arg: str, ctx: Ctx) -> bool:
    """Whether `arg` assigns a path's numeric owner as `ls -ln` lists it: remembered as
    such (its value at this point)."""
    match = _OWNER.fullmatch(arg.replace("\\\n", " "))
    if match is None or ".." in match.group("path").split("/") or not ctx.straight:
        return False  # (behind a test: after it, the value may be another's)
    _forget(match.group("name"), ctx)
    ctx.owners[match.group("name")] = (match.group("path"), len(ctx.effects))
    return True


def _digest_variable(arg: str, ctx: Ctx) -> bool:
    """Whether `arg` assigns a file's md5 (`name="$(md5sum FILE | sed -e 's/ .*//')"`, or
    `| cut -d' ' -f1`, `| awk '{print $1}'`) or the md5 dpkg records for a conffile: the
    variable is remembered as such (where the file exists; its value at this point)."""
    text = arg.replace("\\\n", " ")
    match = _DIGEST.fullmatch(text)
    recorded = _RECORDED.fullmatch(text) if match is None else None
    found = match or recorded
    if found is None or ".." in found.group("path").split("/"):
        return False
    name = found.group("name")
    _forget(name, ctx)
    if recorded is not None:
        ctx.recorded[name] = (recorded.group("path"), recorded.group("package"))
    else:
        ctx.digests[name] = (found.group("path"), len(ctx.effects))
    return True


_DIVERTER = re.compile(
    r"""(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<q>"?)(?:\$\(|`)\s*dpkg-divert\s+--listpackage\s+"""
    r"""(?P<p>"?)(?P<path>/[^\s|;&<>$`'"*?\[]+)(?P=p)(?:\s+2>\s*/dev/null)?\s*(?:\)|`)(?P=q)""")


def _diverter_variable(arg: str, ctx: Ctx) -> bool:
    """Whether `arg` assigns the package that diverts a path (`diverter=$(dpkg-divert
    --listpackage /bin/sh)`): remembered as such (its value at this point)."""
    found = _DIVERTER.fullmatch(arg)
    if found is None or ".." in found.group("path").split("/"):
        return False
    name = found.group("name")
    _forget(name, ctx)
    ctx.diverters[name] = (found.group("path"), len(ctx.effects))
    return True


def _shift(cmd: Command, argv: list[str], ctx: Ctx) -> None:
    """`shift [N]` in a function's body (its own list, not in a block): the call's
    positional parameters lose their first N."""
    text = ctx.source(cmd.line)
    if ctx.positional is None:
        raise Untranslatable(cmd.line, text, "shift of the script's own arguments",
                             Idiom("command", "shift"))
    if not ctx.top or len(argv) > 2 or not re.fullmatch(r"[0-9]*", "".join(
            argv[1:])):
        raise Untranslatable(cmd.line, text, "shift inside a block or of a computed count",
                             Idiom("command", "shift"))
    count = int(argv[1]) if len(argv) == 2 else 1
    if count > len(ctx.positional):
        raise Untranslatable(cmd.line, text, "shift of more parameters than the call has "
                             "(the shell stops the script)", Idiom("command", "shift"))
    del ctx.positional[:count]


def _declare(cmd: Command, argv: list[str], ctx: Ctx) -> None:
    """local, export, unset, readonly: what each does to the variables the engine knows
    (a `local` is restored when its function returns)."""
    name = argv[0]
    text = ctx.source(cmd.line)
    digest = name == "local" and len(argv) == 2 and ctx.saved is not None and \
        _digest_variable(argv[1], ctx)
    if digest:  # `local md5="$(md5sum F | sed -e 's/ .*//')"`: restored when it returns
        variable = argv[1].partition("=")[0]
        ctx.saved.setdefault(variable, ctx.vars.get(variable))  # type: ignore[union-attr]
        return
    if any("$(" in a or "`" in a for a in argv):
        raise Untranslatable(cmd.line, text, "an assignment from a command substitution",
                             "variable assignment from a command substitution")
    if name == "local" and ctx.saved is None:
        raise Untranslatable(cmd.line, text, "local outside a function",
                             "local outside a function")
    for arg in argv[1:]:
        if arg.startswith("-"):
            raise Untranslatable(cmd.line, text, f"{name} with options", Idiom(name, "options"))
        variable, equals, value = arg.partition("=")
        if not _NAME.fullmatch(variable):
            raise Untranslatable(cmd.line, text, f"{name} of something that is not a name",
                                 Idiom(name, "of a computed name"))
        if name == "local" and ctx.saved is not None and variable not in ctx.saved:
            ctx.saved[variable] = ctx.vars.get(variable)
        if equals:
            assign(ctx, variable, value, straight=True)
        elif name == "unset":
            assign(ctx, variable, "", straight=True)
        elif name == "local":
            ctx.vars.pop(variable, None)  # dash keeps the outer value: not modelled
