"""update-alternatives."""

from __future__ import annotations

from recipes.actions import Action, AlternativeInstall, AlternativeRemove
from rewrite.translate.context import Ctx, Handler


def _h_update_alternatives(argv: list[str], ctx: Ctx) -> list[Action]:
    args = [a for a in argv[1:] if a not in ("--quiet", "--verbose")]
    if args[:1] == ["--install"]:
        if len(args) < 5:
            raise ValueError("update-alternatives --install needs link, name, path, priority")
        link, name, path, priority = args[1:5]
        slaves = []
        rest = args[5:]
        while rest:
            if rest[0] != "--slave" or len(rest) < 4:
                raise ValueError(f"unexpected update-alternatives argument {rest[0]!r}")
            slaves.append(" ".join(rest[1:4]))
            rest = rest[4:]
        # priority and slaves as the deb822 text: checked as an `actions` file's would be
        return [AlternativeInstall(
            script=ctx.script, on=ctx.phases, alternative=name, link=link, path=path,
            priority=priority, slaves="\n" + "\n".join(slaves) if slaves else "")]
    if args[:1] == ["--remove"] and len(args) == 3:
        return [AlternativeRemove(script=ctx.script, on=ctx.phases, alternative=args[1],
                                  path=args[2])]
    if args[:1] == ["--auto"] and len(args) == 2:
        return []  # a fresh image has every alternative in auto mode already
    if args[:1] == ["--remove-all"] and len(args) == 2:
        return [AlternativeRemove(script=ctx.script, on=ctx.phases, alternative=args[1],
                                  path="*")]
    raise ValueError("an update-alternatives call the engine does not know")


HANDLERS: dict[str, Handler] = {"update-alternatives": _h_update_alternatives}
