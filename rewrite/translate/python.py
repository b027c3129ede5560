"""Python byte-code: py3compile, py3clean and pyclean (as dh_python3 writes them), and
pypy3compile, pypy3clean (dh_pypy)."""

from __future__ import annotations

from recipes.actions import Action, PythonClean, PythonCompile
from rewrite.translate.context import Ctx, Handler, parse_options


def _h_py3compile(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], {"-p", "--package", "-V", "-X"})
    package = opts.get("-p", opts.get("--package", ""))
    if not package:
        raise ValueError("py3compile without -p PACKAGE")
    return [PythonCompile(script=ctx.script, on=ctx.phases, package=package,
                          dirs=" ".join(rest), interpreter=_interpreter(argv[0]))]


def _h_py3clean(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], {"-p", "--package", "-V"})
    package = opts.get("-p", opts.get("--package", ""))
    if not package:
        raise ValueError(f"{argv[0]} without -p PACKAGE")
    return [PythonClean(script=ctx.script, on=ctx.phases, package=package,
                        interpreter=_interpreter(argv[0]))]


def _interpreter(tool: str) -> str:
    return "pypy3" if tool.startswith("pypy3") else "python3"


HANDLERS: dict[str, Handler] = {
    "py3compile": _h_py3compile, "py3clean": _h_py3clean, "pyclean": _h_py3clean,
    "pypy3compile": _h_py3compile, "pypy3clean": _h_py3clean,
}
