"""Users and groups: adduser/addgroup, useradd/groupadd, deluser/delgroup/userdel/groupdel."""

from __future__ import annotations

from recipes.actions import (
    Action,
    RemoveGroup,
    RemoveUser,
    ShadowPasswords,
    SystemGroup,
    SystemUser,
    UserInGroup,
)
from rewrite.translate.context import Ctx, Handler, Idiom, Unmodelled, parse_options


def _fixed_ids(opts: dict[str, str], *options: str) -> None:
    """A fixed uid (or a user's fixed gid): not modelled (the actions choose a free id;
    dropping the number would make another account than the original). A group's fixed
    id is system-group's Gid."""
    for option in options:
        if option in opts:
            raise Unmodelled(f"a fixed id ({option} {opts[option]}) is not modelled",
                             Idiom("account with a fixed id"))


def _h_adduser(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], {"--home", "--shell", "--ingroup", "--gecos", "--uid",
                                          "--gid", "--firstuid", "--lastuid", "--comment"})
    name = argv[0]
    system = "--system" in opts
    if name in ("addgroup",) or (name == "adduser" and "--group" in opts and not system):
        _fixed_ids(opts, "--uid")
        if len(rest) != 1:
            raise ValueError("addgroup needs one group name")
        return [SystemGroup(script=ctx.script, on=ctx.phases, group=rest[0],
                            gid=opts.get("--gid", ""))]
    _fixed_ids(opts, "--uid", "--gid")
    if not system:
        if len(rest) == 2:
            return [UserInGroup(script=ctx.script, on=ctx.phases, user=rest[0], group=rest[1])]
        raise ValueError("adduser of a non-system user")
    if len(rest) != 1:
        raise ValueError("adduser --system needs one user name")
    user = rest[0]
    group = opts.get("--ingroup", user if "--group" in opts else "nogroup")
    actions: list[Action] = []
    if "--group" in opts:
        actions.append(SystemGroup(script=ctx.script, on=ctx.phases, group=user))
    actions.append(SystemUser(
        script=ctx.script, on=ctx.phases, user=user, home=opts.get("--home", "/nonexistent"),
        shell=opts.get("--shell", "/usr/sbin/nologin"), group=group,
        gecos=opts.get("--gecos", opts.get("--comment", "")),
        create_home="--no-create-home" not in opts and "--home" in opts,
    ))
    return actions


def _h_useradd(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], {"-d", "--home-dir", "-s", "--shell", "-g", "--gid",
                                          "-c", "--comment", "-u", "--uid", "-G", "--groups"})
    _fixed_ids(opts, "-u", "--uid")
    if "-r" not in opts and "--system" not in opts:
        raise ValueError("useradd of a non-system user")
    if len(rest) != 1:
        raise ValueError("useradd needs one user name")
    return [SystemUser(script=ctx.script, on=ctx.phases, user=rest[0],
                       home=opts.get("-d", opts.get("--home-dir", "/nonexistent")),
                       shell=opts.get("-s", opts.get("--shell", "/usr/sbin/nologin")),
                       group=opts.get("-g", opts.get("--gid", "")),
                       gecos=opts.get("-c", opts.get("--comment", "")),
                       create_home="-m" in opts or "--create-home" in opts)]


def _h_groupadd(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], {"-g", "--gid"})
    if len(rest) != 1:
        raise ValueError("groupadd needs one group name")
    return [SystemGroup(script=ctx.script, on=ctx.phases, group=rest[0],
                        gid=opts.get("-g", opts.get("--gid", "")))]


def _h_shadowconfig(argv: list[str], ctx: Ctx) -> list[Action]:
    if argv[1:] != ["on"]:
        raise ValueError("shadowconfig other than `on`")
    return [ShadowPasswords(script=ctx.script, on=ctx.phases)]


def _h_deluser(argv: list[str], ctx: Ctx) -> list[Action]:
    _, rest = parse_options(argv[1:], set())
    if len(rest) != 1:
        raise ValueError(f"{argv[0]} needs one name")
    if argv[0] in ("delgroup", "groupdel"):
        return [RemoveGroup(script=ctx.script, on=ctx.phases, group=rest[0])]
    return [RemoveUser(script=ctx.script, on=ctx.phases, user=rest[0])]


HANDLERS: dict[str, Handler] = {
    "adduser": _h_adduser, "addgroup": _h_adduser,
    "useradd": _h_useradd, "groupadd": _h_groupadd,
    "deluser": _h_deluser, "delgroup": _h_deluser, "userdel": _h_deluser,
    "groupdel": _h_deluser, "shadowconfig": _h_shadowconfig,
}
