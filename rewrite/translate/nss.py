"""dh_installnss's snippets (dh-nss 1.7), understood as units: the postinst's `sed -i` of
/etc/nsswitch.conf behind `! grep -q -E -e '^DB:[^#]*\\s(SVC)(\\s|#|$)' ...` (a service
added in position last to databases) and the postrm's `sed -E -i ... -e ':a ...'` (the
service taken out of one database, on remove and purge of the last instance) become
`nss-service` actions. Only those exact shapes: any other position, a condition or a
line more, and the walk goes on as for any other statement."""

from __future__ import annotations

import re

from recipes.actions import NssService
from rewrite.shell import If
from rewrite.translate.context import Ctx

_NSS = '"/etc/nsswitch.conf"'
_NAME = r"[A-Za-z0-9_-]+"
_GREP = re.compile(rf"-e '\^(?P<db>{_NAME}):\[\^#\]\*\\s\((?P<svc>{_NAME})\)\(\\s\|#\|\$\)'")
_ADD = re.compile(
    rf"sed -E -i {_NSS} -e '/\^(?P<db>{_NAME}):\\s\[\^#\]\*\$/ s/\$/ (?P<svc>{_NAME})/' "
    rf"-e '/\^(?P=db):\\s\.\*#/ s/#/ (?P=svc) #/'")
_STATUS = r"\\\[!\?\[A-Za-z\]\+=\[A-Za-z\]\+\\\]"
_REMOVE = re.compile(
    rf"if \{{ \[ \"\$1\" = \"remove\" \] \|\| \[ \"\$1\" = \"purge\" \] ; \}} && "
    rf"\[ -e {_NSS} \] && \[ \"\$DPKG_MAINTSCRIPT_PACKAGE_INSTCOUNT\" -eq 0 \] ; then "
    rf"sed -E -i {_NSS} "
    rf"-e ':a /\^(?P<db>{_NAME}):\\s\.\*#/ s/\(\^\[\^#\]\+\)\\s\((?P<svc>{_NAME})\)\\s\+"
    rf"{_STATUS}\(\\s\|#\)/\\1\\3/g ; t a' "
    rf"-e ':b /\^(?P=db):\\s\.\*#/ s/\(\^\[\^#\]\+\)\\s\((?P=svc)\)\(\\s\|#\)/\\1\\3/g ; t b' "
    rf"-e ':c /\^(?P=db):\\s\[\^#\]\*\$/ s/\\s\((?P=svc)\)\\s\+{_STATUS}\(\\s\|\$\)/\\2/g ; "
    rf"t c' "
    rf"-e ':d /\^(?P=db):\\s\[\^#\]\*\$/ s/\\s\((?P=svc)\)\(\\s\|\$\)/\\2/g ; t d' fi")


def _text(node: If, ctx: Ctx) -> str:
    """The block's lines as one line: comments out, `${DPKG_ROOT}` empty, line
    continuations joined, blanks collapsed."""
    lines = [line for line in ctx.lines[node.line - 1:(node.end or node.line)]
             if not line.strip().startswith("#")]
    text = "\n".join(lines).replace("\\\n", " ").replace("${DPKG_ROOT}", "")
    return re.sub(r"\s+", " ", text).strip()


def nss_unit(node: If, ctx: Ctx) -> NssService | None:
    """The action of a dh_installnss block (the inner `if ! grep ...; then sed ...; fi`
    of its postinst, or its postrm's whole if), or None."""
    text = _text(node, ctx)
    removal = _REMOVE.fullmatch(text)
    if removal is not None:
        on = tuple(p for p in ctx.phases if p in ("remove", "purge"))
        return NssService(script=ctx.script, on=on, databases=(removal.group("db"),),
                          service=removal.group("svc"), remove=True) if on else None
    head = re.fullmatch(rf"if ! grep -q -E (?P<tests>(?:{_GREP.pattern} )+){_NSS} ; "
                        r"then (?P<body>.*) fi", text)
    if head is None or len(node.branches) != 1 or node.orelse:
        return None
    tested = [(m.group("db"), m.group("svc")) for m in _GREP.finditer(head.group("tests"))]
    body = head.group("body").strip()
    added = [(m.group("db"), m.group("svc")) for m in _ADD.finditer(body)]
    if not added or _ADD.sub("", body).strip() or sorted(added) != sorted(tested) or \
            len({svc for _, svc in added}) != 1:
        return None
    return NssService(script=ctx.script, on=ctx.phases,
                      databases=tuple(db for db, _ in added), service=added[0][1])
