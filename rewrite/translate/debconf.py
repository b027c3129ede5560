"""debconf: its questions are dropped; `db_get` reads the recipe's (or template's) answer."""

from __future__ import annotations

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
