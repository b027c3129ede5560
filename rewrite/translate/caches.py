"""Caches and indexes: ldconfig, update-ca-certificates, install-info, update-shells,
pam-auth-update, and the tools of the `update-cache` kinds (mime, desktop, icons,
glib-schemas, fonts, man, hwdb)."""

from __future__ import annotations

from recipes.actions import (
    Action,
    CaBundle,
    InfoDir,
    Ldconfig,
    PamAuthUpdate,
    SystemIdentity,
    UpdateCache,
    UpdateShells,
)
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


def _h_pam_auth_update(argv: list[str], ctx: Ctx) -> list[Action]:
    """`pam-auth-update [--root DIR] --package [--force] [--remove NAME...]`."""
    args, force, remove = argv[1:], False, []
    while args:
        word = args.pop(0)
        if word == "--root" and args and args[0] == "":
            args.pop(0)  # ($DPKG_ROOT: the image's root)
        elif word == "--force":
            force = True
        elif word == "--remove":
            while args and not args[0].startswith("--"):
                remove.append(args.pop(0))
        elif word != "--package":
            raise ValueError(f"pam-auth-update {word} (only --package, --force, --remove "
                             "are modelled)")
    if "--package" not in argv and not remove:
        raise ValueError("pam-auth-update without --package asks its questions")
    return [PamAuthUpdate(script=ctx.script, on=ctx.phases, force=force, remove=tuple(remove))]


def _h_hwdb(argv: list[str], ctx: Ctx) -> list[Action]:
    """`systemd-hwdb [--usr] update`, `udevadm hwdb --update`: the hardware database."""
    args = [a for a in argv[1:] if a not in ("--usr", "--strict", "-s")]
    if args not in (["update"], ["hwdb", "--update"], ["hwdb", "-u"]):
        raise ValueError(f"{argv[0]} {' '.join(argv[1:])} (only the update is modelled)")
    return [UpdateCache(script=ctx.script, on=ctx.phases, kind="hwdb")]


def _h_journalctl(argv: list[str], ctx: Ctx) -> list[Action]:
    """`journalctl [--root=$DPKG_ROOT] --update-catalog`: the journal's message catalog."""
    if [a for a in argv[1:] if a not in ("", "--root=")] != ["--update-catalog"]:
        raise ValueError(f"journalctl {' '.join(argv[1:])} (only --update-catalog is modelled)")
    return [UpdateCache(script=ctx.script, on=ctx.phases, kind="journal-catalog")]


# the commands that make a system's identity or secret, as maintainer scripts run them
IDENTITY_COMMANDS = {
    ("systemd-machine-id-setup",): "machine-id",
    ("dbus-uuidgen", "--ensure"): "dbus-machine-id",
    ("make-ssl-cert", "generate-default-snakeoil"): "snakeoil-certificate",
    ("rndc-confgen", "-a"): "rndc-key",
}


def _h_identity(argv: list[str], ctx: Ctx) -> list[Action]:
    words = tuple(a for a in argv if a not in ("", "--root="))  # (${DPKG_ROOT:+--root=...})
    kind = IDENTITY_COMMANDS.get(words)
    if kind is None:
        known = ", ".join(" ".join(command) for command in IDENTITY_COMMANDS)
        raise ValueError(f"{' '.join(argv)} (only {known} are modelled)")
    return [SystemIdentity(script=ctx.script, on=ctx.phases, kind=kind)]


def _h_cache(argv: list[str], ctx: Ctx) -> list[Action]:
    _, rest = parse_options(argv[1:], {"-t"})
    return [UpdateCache(script=ctx.script, on=ctx.phases, kind=CACHE_TOOLS[argv[0]],
                        path=rest[0] if rest else "")]


HANDLERS: dict[str, Handler] = {
    "ldconfig": _h_ldconfig,
    "update-ca-certificates": _h_update_ca,
    "install-info": _h_install_info,
    "update-shells": _h_update_shells,
    "pam-auth-update": _h_pam_auth_update,
    "systemd-hwdb": _h_hwdb,
    "udevadm": _h_hwdb,
    "journalctl": _h_journalctl,
    **{command[0]: _h_identity for command in IDENTITY_COMMANDS},
    **{tool: _h_cache for tool in CACHE_TOOLS},
}
