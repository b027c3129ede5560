"""What every command gets: the configuration (loaded lazily) and a reporter."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click

from unessential.config import LoadedSettings, Settings, load_settings
from unessential.console import Reporter


@dataclass
class AppContext:
    config_path: Path | None = None
    quiet: bool = False
    _loaded: LoadedSettings | None = field(default=None, repr=False)

    @property
    def loaded(self) -> LoadedSettings:
        if self._loaded is None:
            self._loaded = load_settings(self.config_path)
        return self._loaded

    @property
    def settings(self) -> Settings:
        return self.loaded.settings

    def reporter(self) -> Reporter:
        return Reporter(quiet=self.quiet)


pass_app = click.make_pass_decorator(AppContext, ensure=True)
