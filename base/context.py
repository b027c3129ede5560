"""What every command gets: its own settings section (loaded lazily) and a reporter.

The command-line shell (`unessential/`) aggregates the sections of every room into one
configuration and hands a loader to `AppContext`; a room's command asks only for what
it owns (`app.section(PublishSettings)`), the data directory and the catalog's URL.
Nothing here knows the rooms: this module sits at the bottom of the import order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import click

if TYPE_CHECKING:
    from base.console import Reporter

T = TypeVar("T")


class Configuration(Protocol):
    """The loaded configuration as rooms see it."""

    @property
    def data_dir(self) -> Path: ...

    @property
    def effective_database_url(self) -> str: ...

    @property
    def broker_url(self) -> str | None: ...

    def section(self, kind: type[T]) -> T:
        """The settings section of type `kind` (each room owns one type)."""
        ...


Loader = Callable[[Path | None], Configuration]


@dataclass
class AppContext:
    config_path: Path | None = None
    quiet: bool = False
    loader: Loader | None = field(default=None, repr=False)
    _configuration: Configuration | None = field(default=None, repr=False)

    @property
    def configuration(self) -> Configuration:
        if self._configuration is None:
            if self.loader is None:
                raise RuntimeError("no configuration loader: commands run under the "
                                   "`unessential` command-line shell")
            self._configuration = self.loader(self.config_path)
        return self._configuration

    @property
    def data_dir(self) -> Path:
        return self.configuration.data_dir

    @property
    def database_url(self) -> str:
        """The catalog's SQLAlchemy URL (SQLite under the data dir unless configured)."""
        return self.configuration.effective_database_url

    @property
    def broker_url(self) -> str | None:
        return self.configuration.broker_url

    def section(self, kind: type[T]) -> T:
        return self.configuration.section(kind)

    def reporter(self) -> Reporter:
        from base.console import Reporter  # rich: only for the commands that report

        return Reporter(quiet=self.quiet)


pass_app = click.make_pass_decorator(AppContext, ensure=True)
