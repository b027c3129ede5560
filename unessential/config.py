"""The effective configuration: one TOML file plus environment overrides.

Lookup order of the file: `--config`, `$UNESSENTIAL_CONFIG`, `./unessential.toml`,
then `<user config dir>/unessential/config.toml`. A missing file is fine unless it was
named explicitly. `UNESSENTIAL_DATABASE_URL`, `UNESSENTIAL_BROKER_URL` and
`UNESSENTIAL_DATA_DIR` override the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from archive.publish_settings import PublishSettings, root_problem
from archive.settings import UpstreamSettings
from base.errors import ConfigError
from base.tomlload import describe_validation_error, located_error, read_toml
from bootstrap.settings import BootstrapSettings
from worker.settings import WorkerSettings

T = TypeVar("T")

ENV_OVERRIDES = {
    "UNESSENTIAL_DATABASE_URL": "database_url",
    "UNESSENTIAL_BROKER_URL": "broker_url",
    "UNESSENTIAL_DATA_DIR": "data_dir",
}


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("unessential"))


class Settings(BaseModel):
    """Top-level configuration; each room owns its section."""

    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite under data_dir"
    )
    broker_url: str | None = Field(
        default=None, description="Celery broker; default: a local queue under data_dir"
    )
    upstream: UpstreamSettings = Field(default_factory=UpstreamSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)
    bootstrap: BootstrapSettings = Field(default_factory=BootstrapSettings)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            make_url(value)
        except ArgumentError as exc:
            raise ValueError(
                "expected a SQLAlchemy URL such as postgresql+psycopg://host/db"
            ) from exc
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value:
            raise ValueError("expected a Celery broker URL such as redis://127.0.0.1:6379/0")
        return value

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'catalog.sqlite'}"

    def section(self, kind: type[T]) -> T:
        """The one section of type `kind` (a room asks for its own, never the whole)."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            if type(value) is kind:
                return value
        raise KeyError(f"no settings section of type {kind.__name__}")


class LoadedSettings(BaseModel):
    settings: Settings
    source: Path | None
    overrides: list[str]


def find_config_file(explicit: Path | None) -> tuple[Path | None, bool]:
    """Return (path, named_explicitly)."""
    if explicit is not None:
        return explicit, True
    env = os.environ.get("UNESSENTIAL_CONFIG")
    if env:
        return Path(env), True
    local = Path("unessential.toml")
    if local.is_file():
        return local, False
    user = Path(platformdirs.user_config_dir("unessential")) / "config.toml"
    if user.is_file():
        return user, False
    return None, False


def load_settings(explicit: Path | None = None) -> LoadedSettings:
    """Load, override from the environment and validate the configuration."""
    path, named = find_config_file(explicit)
    raw: dict[str, Any] = {}
    text = ""
    if path is not None:
        if not path.is_file():
            if named:
                raise ConfigError(str(path), "configuration file does not exist")
        else:
            text, raw = read_toml(path, ConfigError)
    overrides = []
    for env, key in ENV_OVERRIDES.items():
        value = os.environ.get(env)
        if value:
            raw[key] = value
            overrides.append(env)
    origin = str(path) if path is not None and path.is_file() else "configuration"
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        loc = exc.errors()[0]["loc"]
        env_names = [e for e, k in ENV_OVERRIDES.items() if loc and loc[0] == k and e in overrides]
        if env_names:
            raise describe_validation_error(exc, f"${env_names[0]}", "", ConfigError) from exc
        raise describe_validation_error(exc, origin, text, ConfigError) from exc
    problem = root_problem(settings.publish.effective_root(settings.data_dir),
                           settings.data_dir)
    if problem is not None:
        if settings.publish.root is None:  # the default root: data_dir is what is odd
            raise ConfigError(origin, f"data_dir {settings.data_dir}: publish root {problem}")
        raise located_error(ConfigError, text, origin, ("publish", "root"),
                            f"{settings.publish.root} {problem}")
    return LoadedSettings(
        settings=settings, source=path if path and path.is_file() else None, overrides=overrides
    )
