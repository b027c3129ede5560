"""Caches and indexes: ldconfig, update-ca-certificates, install-info, and the tools of
the `update-cache` kinds (mime, desktop, icons, glib-schemas, fonts, man)."""

from __future__ import annotations

from recipes.actions import Action, CaBundle, InfoDir, Ldconfig, UpdateCache, UpdateShells
from rewrite.translate.context import Ctx, Handler, parse_options

CACHE_TOOLS = {
    "update-mime-database": "mime", "update-desktop-database": "desktop",
    "gtk-update-icon-cache": "icons", "update-icon-caches": "icons",
    "glib-compile-schemas": "glib-schemas", "fc-cache": "fonts", "mandb": "man",
}


def _h_ldconfig(argv: list[str], ctx: Ctx) -> list[Action]:
    return [Ldconfig(script=ctx.script, on=ctx.phases)]


def _h_update_ca(argv: list[str], ctx: Ctx) -> list[Action]:
    return [CaBundle(script=ctx.script, on=ctx.phases)]


def _h_install_info(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], {"--section", "--info-dir", "--dir-file"})
    if not rest:
        raise ValueError("install-info without a file")
    remove = "--remove" in opts or "--delete" in opts
    return [InfoDir(script=ctx.script, on=ctx.phases, file=rest[-1], remove=remove)]


def _h_update_shells(argv: list[str], ctx: Ctx) -> list[Action]:
    if argv[1:]:
        raise ValueError("update-shells with options (only the plain call is modelled)")
    return [UpdateShells(script=ctx.script, on=ctx.phases)]


def _h_cache(argv: list[str], ctx: Ctx) -> list[Action]:
    _, rest = parse_options(argv[1:], {"-t"})
    return [UpdateCache(script=ctx.script, on=ctx.phases, kind=CACHE_TOOLS[argv[0]],
                        path=rest[0] if rest else "")]


HANDLERS: dict[str, Handler] = {
    "ldconfig": _h_ldconfig,
    "update-ca-certificates": _h_update_ca,
    "install-info": _h_install_info,
    "update-shells": _h_update_shells,
    **{tool: _h_cache for tool in CACHE_TOOLS},
}
