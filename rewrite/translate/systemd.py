"""Init systems: their hooks are dropped (no init in a container); systemd's tmpfiles
and sysusers become actions."""

from __future__ import annotations

from recipes.actions import Action, Sysusers, Tmpfiles
from rewrite.translate.context import Ctx, Handler, parse_options

INIT_TOOLS = {"deb-systemd-helper", "deb-systemd-invoke", "invoke-rc.d", "update-rc.d",
              "systemctl", "start-stop-daemon", "service", "initctl", "runit-helper"}
INIT_PATHS = ("/etc/init.d/", "/run/systemd", "/lib/systemd/system", "/etc/init/")
INIT_REASON = "init-system hook: no init system in a container"


def _h_systemd_files(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], set())
    if argv[0] == "systemd-tmpfiles":
        if "--create" not in opts:
            raise ValueError("systemd-tmpfiles other than --create")
        return [Tmpfiles(script=ctx.script, on=ctx.phases, config=" ".join(rest))]
    return [Sysusers(script=ctx.script, on=ctx.phases, config=" ".join(rest))]


HANDLERS: dict[str, Handler] = {
    "systemd-tmpfiles": _h_systemd_files, "systemd-sysusers": _h_systemd_files,
}
