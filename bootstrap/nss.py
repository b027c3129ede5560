"""/etc/nsswitch.conf as dh_installnss's maintainer-script snippets (dh-nss 1.7) leave it
(pure functions of the text).

Adding a service in position last (its postinst): unless a line of one of the databases
already names the service before any comment (`^DB:[^#]*\\s(SVC)(\\s|#|$)`), each line of
each database gets it appended (` SVC`), or inserted before its comment (`#` becomes
` SVC #`). Removing it (its postrm): on each line of each database, the service and a
`[STATUS=action]` that follows it are taken out, before the comment on a line that has
one, anywhere on a line that has none, until nothing more matches; each database as one
sed run of its own does, in the order given.
"""

from __future__ import annotations

import re
from collections.abc import Sequence


def add_last(conf: str, databases: Sequence[str], service: str) -> str:
    """`conf` with `service` appended to each of `databases` (see the module)."""
    svc = re.escape(service)
    for database in databases:
        if re.search(rf"^{re.escape(database)}:[^#\n]*\s({svc})(?=\s|#|$)", conf, re.M):
            return conf
    out = conf
    for database in databases:
        db = re.escape(database)
        lines = out.split("\n")
        for index, line in enumerate(lines):
            if re.match(rf"{db}:\s[^#]*$", line):
                lines[index] = f"{line} {service}"
            elif re.match(rf"{db}:\s.*#", line):
                lines[index] = line.replace("#", f" {service} #", 1)
        out = "\n".join(lines)
    return out


def remove(conf: str, databases: Sequence[str], service: str) -> str:
    """`conf` with `service` taken out of each of `databases` (see the module)."""
    svc = re.escape(service)
    status = r"\[!?[A-Za-z]+=[A-Za-z]+\]"
    out = conf
    for database in databases:
        db = re.escape(database)
        lines = out.split("\n")
        for index, line in enumerate(lines):
            for guard, pattern, replace in (
                    (rf"{db}:\s.*#", rf"(^[^#]+)\s({svc})\s+{status}(\s|#)", r"\1\3"),
                    (rf"{db}:\s.*#", rf"(^[^#]+)\s({svc})(\s|#)", r"\1\3"),
                    (rf"{db}:\s[^#]*$", rf"\s({svc})\s+{status}(\s|$)", r"\2"),
                    (rf"{db}:\s[^#]*$", rf"\s({svc})(\s|$)", r"\2")):
                while re.match(guard, line):  # (sed's `:a ... t a` loop)
                    changed = re.sub(pattern, replace, line)
                    if changed == line:
                        break
                    line = changed
            lines[index] = line
        out = "\n".join(lines)
    return out
