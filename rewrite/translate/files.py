"""Files: mkdir, rm, rmdir, chown, chmod, ln -s, and ucf (a default configuration file)."""

from __future__ import annotations

from recipes.actions import Action, InstallConfig, MakeDir, RemovePath, SetOwner, Symlink
from rewrite.translate.context import Ctx, Handler, parse_options


def _h_mkdir(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], {"-m", "--mode"})
    if not rest:
        raise ValueError("mkdir without a directory")
    mode = opts.get("-m", opts.get("--mode", ""))
    return [MakeDir(script=ctx.script, on=ctx.phases, path=p, mode=mode) for p in rest]


def _h_rm(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], set())
    flags = "".join(k.lstrip("-") for k in opts)
    recursive = "r" in flags or "R" in flags or "--recursive" in opts
    if not rest:
        raise ValueError("rm without a path")
    for path in rest:
        if not path.startswith("/") or path.rstrip("/*") in ("", "/etc", "/usr", "/var"):
            raise ValueError(f"refuses to remove {path!r}")
    return [RemovePath(script=ctx.script, on=ctx.phases, path=p, recursive=recursive)
            for p in rest]


def _h_rmdir(argv: list[str], ctx: Ctx) -> list[Action]:
    _, rest = parse_options(argv[1:], set())
    return [RemovePath(script=ctx.script, on=ctx.phases, path=p, recursive=False)
            for p in rest]


def _h_chown(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], set())
    if len(rest) < 2 or any(k in opts for k in ("-R", "--recursive")):
        raise ValueError("chown of several or recursive paths")
    owner, group = _owner_group(rest[0])
    return [SetOwner(script=ctx.script, on=ctx.phases, path=p, owner=owner, group=group)
            for p in rest[1:]]


def _owner_group(spec: str) -> tuple[str, str]:
    """chown's OWNER[:GROUP] (the legacy OWNER.GROUP only when there is no ':')."""
    separator = ":" if ":" in spec else "." if "." in spec else ""
    if not separator:
        return spec, ""
    owner, _, group = spec.partition(separator)
    if not group and owner:
        raise ValueError(f"chown {spec!r} (the owner's login group) is not modelled")
    if not owner and not group:
        raise ValueError(f"chown {spec!r} changes nothing")
    return owner, group


def _h_chmod(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], set())
    if len(rest) < 2 or opts:
        raise ValueError("chmod with options")
    return [SetOwner(script=ctx.script, on=ctx.phases, path=p, mode=rest[0])
            for p in rest[1:]]


def _h_ln(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], set())
    flags = "".join(k.lstrip("-") for k in opts)
    if "s" not in flags or len(rest) != 2:
        raise ValueError("ln other than ln -s TARGET LINK")
    return [Symlink(script=ctx.script, on=ctx.phases, target=rest[0], path=rest[1])]


def _h_ucf(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], {"--debconf-ok", "--src-dir", "--sum-file"})
    if "--purge" in opts:
        return []
    if len(rest) != 2:
        raise ValueError("ucf other than ucf SOURCE DEST")
    return [InstallConfig(script=ctx.script, on=ctx.phases, source=rest[0], path=rest[1])]


HANDLERS: dict[str, Handler] = {
    "mkdir": _h_mkdir, "rm": _h_rm, "rmdir": _h_rmdir,
    "chown": _h_chown, "chmod": _h_chmod,
    "ln": _h_ln, "ucf": _h_ucf,
}
