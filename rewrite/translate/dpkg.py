"""dpkg's helpers: dpkg-maintscript-helper, dpkg-statoverride, dpkg-divert, dpkg-trigger."""

from __future__ import annotations

from recipes.actions import (
    Action,
    DirToSymlink,
    Divert,
    MvConffile,
    RmConffile,
    StatOverride,
    SymlinkToDir,
    Trigger,
)
from rewrite.translate.context import Ctx, Handler, parse_options

# dpkg-maintscript-helper command -> (its action, the fields of its arguments)
MAINTSCRIPT: dict[str, tuple[type[Action], tuple[str, ...]]] = {
    "rm_conffile": (RmConffile, ("conffile",)),
    "mv_conffile": (MvConffile, ("old", "new")),
    "symlink_to_dir": (SymlinkToDir, ("pathname", "old_target")),
    "dir_to_symlink": (DirToSymlink, ("pathname", "new_target")),
}


def _h_maintscript(argv: list[str], ctx: Ctx) -> list[Action]:
    args = argv[1:]
    if "--" in args:
        args = args[: args.index("--")]
    if not args or args[0] not in MAINTSCRIPT:
        raise ValueError("a dpkg-maintscript-helper command the engine does not know")
    model, fields = MAINTSCRIPT[args[0]]
    values = dict(zip(fields, args[1:], strict=False))
    extra = args[1 + len(fields):]
    if len(extra) > 2:
        raise ValueError("too many dpkg-maintscript-helper arguments")
    if extra:
        values["prior_version"] = extra[0]
    if len(extra) > 1:
        values["package"] = extra[1]
    return [model(script=ctx.script, on=ctx.phases, **values)]


def _h_statoverride(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], set())
    unknown = [o for o in opts if o not in ("--add", "--remove", "--update", "--quiet",
                                            "--force", "--force-all", "--force-statoverride-add",
                                            "--force-statoverride-remove")]
    if unknown:
        raise ValueError(f"dpkg-statoverride option {unknown[0]} is not modelled")
    if "--add" in opts and len(rest) == 4:
        if "--update" not in opts:
            raise ValueError("dpkg-statoverride --add without --update (the override would "
                             "apply at the next unpack only) is not modelled")
        owner, group, mode, path = rest
        return [StatOverride(script=ctx.script, on=ctx.phases, path=path, owner=owner,
                             group=group, mode=mode)]
    if "--remove" in opts and len(rest) == 1:
        return [StatOverride(script=ctx.script, on=ctx.phases, path=rest[0], remove=True)]
    raise ValueError("a dpkg-statoverride call the engine does not know")


_DIVERT_FLAGS = {"--add", "--remove", "--rename", "--no-rename", "--quiet"}


def _h_divert(argv: list[str], ctx: Ctx) -> list[Action]:
    """`dpkg-divert [--package P] [--rename|--no-rename] [--divert TO] [--add|--remove]
    PATH` (without --package, dpkg-divert takes the package whose script runs it, from
    DPKG_MAINTSCRIPT_PACKAGE; the default is --no-rename and --add)."""
    opts, rest = parse_options(argv[1:], {"--package", "--divert"})
    unknown = [o for o in opts if o not in _DIVERT_FLAGS | {"--package", "--divert"}]
    if unknown:  # --local, --list, --listpackage, --truename, --admindir ...
        raise ValueError(f"dpkg-divert option {unknown[0]} is not modelled")
    if len(rest) != 1 or ("--add" in opts and "--remove" in opts) or \
            ("--rename" in opts and "--no-rename" in opts):
        raise ValueError("a dpkg-divert call the engine does not know (one path, --add or "
                         "--remove)")
    return [Divert(script=ctx.script, on=ctx.phases, path=rest[0],
                   divert_to=opts.get("--divert", ""), package=opts.get("--package", ""),
                   rename="--rename" in opts, remove="--remove" in opts)]


def _h_trigger(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], set())
    if len(rest) != 1:
        raise ValueError("dpkg-trigger needs one trigger name")
    return [Trigger(script=ctx.script, on=ctx.phases, trigger=rest[0],
                    wait="--no-await" not in opts)]


HANDLERS: dict[str, Handler] = {
    "dpkg-maintscript-helper": _h_maintscript,
    "dpkg-statoverride": _h_statoverride,
    "dpkg-trigger": _h_trigger,
    "dpkg-divert": _h_divert,
}
