"""/etc/shells as debianutils' update-shells leaves it (a pure function of the files).

What the tool does (debianutils 5.7, bookworm), as observed and as its manual says:
the shells packages declare are the lines (up to a '#') of the template
/usr/share/debianutils/shells and of each file of /usr/share/debianutils/shells.d, in
name order, each followed by its real path when the directory part resolves elsewhere
(/bin/sh and /usr/bin/sh on merged /usr); /var/lib/shells.state lists the shells it
added before. The new /etc/shells keeps, from the current one (the template when there
is none), comment and blank lines, declared shells and shells it never added (a local
addition), each shell once; then adds each declared shell that is neither there nor
in the state (a shell the administrator removed stays removed). The state becomes the
declared shells. Lines are read as `read` does: a last line without a newline is not
read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


def _lines(text: str) -> list[str]:
    """The lines `while read` sees: each ended by a newline."""
    return text.split("\n")[:-1]


def _shell(line: str) -> str:
    return line.split("#", 1)[0]


def declared(files: Sequence[str], resolve: Callable[[str], str]) -> list[str]:
    """The declared shells (with repeats), in order: each shell, then its real path
    when that differs (`resolve` maps a directory to the one it resolves to)."""
    shells: list[str] = []
    for text in files:
        for line in _lines(text):
            shell = _shell(line)
            if not shell:
                continue
            shells.append(shell)
            head, _, name = shell.rpartition("/")
            real = f"{resolve(head or '.').rstrip('/')}/{name}" if "/" in shell else shell
            if real != shell:
                shells.append(real)
    return shells


def update_shells(current: str | None, template: str, packaged: Sequence[str],
                  state: str | None, resolve: Callable[[str], str]) -> tuple[str, str]:
    """The new /etc/shells and /var/lib/shells.state.

    `current`: /etc/shells (None when missing); `template`: the template's text;
    `packaged`: the texts of the shells.d files in name order; `state`: the state file
    (None when missing); `resolve`: a directory -> its real path in the system."""
    pkg = declared([template, *packaged], resolve)
    pkg_set = set(pkg)
    added_before = {s for s in (_shell(line) for line in _lines(state or "")) if s}
    kept: list[str] = []
    present: set[str] = set()
    for line in _lines(current if current is not None else template):
        shell = _shell(line)
        if shell and shell not in pkg_set and shell in added_before:
            continue  # added by the tool before, no package declares it any more
        if shell and shell in present:
            continue
        kept.append(line)
        if shell:
            present.add(shell)
    for shell in pkg:
        if shell not in present and shell not in added_before:
            kept.append(shell)
    return "".join(f"{line}\n" for line in kept), "".join(f"{shell}\n" for shell in pkg)
