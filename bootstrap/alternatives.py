"""update-alternatives' administrative files (/var/lib/dpkg/alternatives/<name>).

The format, as dpkg's update-alternatives reads and writes it: the mode (`auto` or
`manual`), the master link, then pairs of lines (slave name, slave link) ended by an
empty line; then per choice its path, its priority and one line per slave (the slave's
path, empty when the choice has none), ended by an empty line.

Pure functions: bootstrap reads an existing file to keep the choices a system already
has when it registers new ones, and writes the merged file back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MODES = ("auto", "manual")


@dataclass
class AdminFile:
    """One alternative's administrative state."""

    mode: str
    link: str
    slaves: list[tuple[str, str]] = field(default_factory=list)  # (name, link)
    # (path, priority, {slave name: slave path})
    choices: list[tuple[str, int, dict[str, str]]] = field(default_factory=list)


def parse_admin(text: str, name: str) -> AdminFile:
    """Read the administrative file of alternative `name`; ValueError if malformed."""
    lines = text.split("\n")

    def line(index: int) -> str:
        if index >= len(lines):
            raise ValueError(f"alternative {name}: administrative file ends early")
        return lines[index]

    mode = line(0)
    if mode not in MODES:
        raise ValueError(f"alternative {name}: mode {mode!r} is not auto or manual")
    link = line(1)
    if not link.startswith("/"):
        raise ValueError(f"alternative {name}: link {link!r} is not an absolute path")
    admin = AdminFile(mode, link)
    index = 2
    while line(index):
        slave, slave_link = line(index), line(index + 1)
        if not slave_link.startswith("/"):
            raise ValueError(f"alternative {name}: slave {slave!r} link {slave_link!r} is "
                             "not an absolute path")
        admin.slaves.append((slave, slave_link))
        index += 2
    index += 1
    while index < len(lines) and lines[index]:
        path, priority = line(index), line(index + 1)
        try:
            value = int(priority)
        except ValueError:
            raise ValueError(f"alternative {name}: priority {priority!r} of {path} is not "
                             "an integer") from None
        paths = [line(index + 2 + i) for i in range(len(admin.slaves))]
        admin.choices.append((path, value, {slave: p for (slave, _), p
                                            in zip(admin.slaves, paths, strict=True) if p}))
        index += 2 + len(admin.slaves)
    return admin


def render_admin(admin: AdminFile) -> str:
    """The administrative file's text (slaves by name, choices by path)."""
    slaves = sorted(admin.slaves)
    lines = [admin.mode, admin.link]
    for slave, slave_link in slaves:
        lines += [slave, slave_link]
    lines.append("")
    for path, priority, given in sorted(admin.choices, key=lambda c: c[0]):
        lines += [path, str(priority)]
        lines += [given.get(slave, "") for slave, _ in slaves]
    lines.append("")
    return "\n".join(lines) + "\n"
