"""debconf: its questions are dropped; `db_get` reads the recipe's (or template's) answer."""

from __future__ import annotations

import re

from rewrite.translate.context import Ctx, Untranslatable

DEBCONF_REASON = "debconf: no questions in a container (answers come from the recipe)"


def db_get(question: str, ctx: Ctx, line: int) -> None:
    """`db_get QUESTION`: $RET holds its answer from here on."""
    if "$" in question:
        raise Untranslatable(line, ctx.source(line), "db_get of a computed question name",
                             "db_get of a computed question name")
    if question not in ctx.answers:
        raise Untranslatable(line, ctx.source(line),
                             f"debconf question {question} has no answer (recipe or template)",
                             "debconf question without an answer")
    ctx.ret["RET"] = ctx.answers[question]


def db_set(question: str, value: str, ctx: Ctx) -> None:
    """`db_set QUESTION VALUE`: a later `db_get` of it reads VALUE where both are known
    and the call always runs; else the question has no answer the engine knows from
    here on."""
    if ctx.guarded:  # (behind a test of the system: set or not, the engine cannot say)
        value = "$"
    if "$" in question or "`" in question:
        prefix = question[:min(i for i in (question.find("$"), question.find("`")) if i >= 0)]
        for known in [q for q in ctx.answers if q.startswith(prefix)]:
            del ctx.answers[known]
    elif "$" in value or "`" in value:
        ctx.answers.pop(question, None)
    else:
        ctx.answers[question] = value


_DB_SET = re.compile(r"""(?:^|[\s;&|(){}`])db_set\s+(["']?)([^\s"';&|)]+)\1""", re.M)


def config_sets(text: str) -> list[str]:
    """The questions a config script sets answers of (`db_set QUESTION VALUE`): those
    are not the templates' defaults when the postinst reads them. A name computed from
    a variable (`db_set "tzdata/Zones/$AREA" ...`) gives the part before it, ending in
    `$`: every question it starts."""
    names = []
    for match in _DB_SET.finditer(text):
        name = match.group(2)
        names.append(name[:name.index("$") + 1] if "$" in name else name)
    return names


def set_by(question: str, names: list[str]) -> bool:
    """Whether one of `config_sets`' names is `question` (or a prefix of it, ending in
    `$`)."""
    return any(question == n or n.endswith("$") and question.startswith(n[:-1])
               for n in names)
