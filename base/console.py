"""Progress and output: rich bars on a terminal, plain log lines otherwise."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

Advance = Callable[[int], None]


class Reporter:
    """Reports long work: a rich progress bar on a tty, log lines on stderr if not."""

    def __init__(self, *, quiet: bool = False, force_plain: bool | None = None) -> None:
        self.quiet = quiet
        plain = force_plain if force_plain is not None else not sys.stderr.isatty()
        self.plain = plain
        self._console = Console(stderr=True)
        self._progress: Progress | None = None

    def log(self, message: str) -> None:
        if self.quiet:
            return
        if self.plain:
            print(message, file=sys.stderr, flush=True)
        else:
            self._console.print(message, highlight=False)

    @contextmanager
    def task(
        self, description: str, total: int | None = None, unit: str = "bytes"
    ) -> Iterator[Advance]:
        if self.quiet:
            yield lambda n: None
            return
        if self.plain:
            size = f" ({total} {unit})" if total else ""
            print(f"{description}{size} ...", file=sys.stderr, flush=True)
            yield lambda n: None
            print(f"{description}: done", file=sys.stderr, flush=True)
            return
        if self._progress is None:
            columns = (
                [DownloadColumn(), TransferSpeedColumn()] if unit == "bytes"
                else [MofNCompleteColumn()]
            )
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                *columns,
                TimeRemainingColumn(),
                console=self._console,
                transient=True,
            )
            self._progress.start()
        task_id = self._progress.add_task(description, total=total)
        progress = self._progress

        def advance(n: int) -> None:
            progress.advance(task_id, n)

        try:
            yield advance
        finally:
            progress.remove_task(task_id)
            if not progress.tasks:
                progress.stop()
                self._progress = None


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")
