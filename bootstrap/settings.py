"""Typed settings of images: `[bootstrap]` in the configuration.

    [bootstrap]
    base = ["base-files"]          # in every image, where the archive has it
    exclude_docs = true            # the documentation filter (bootstrap.paths.DOCS)
    exclude_charsets = true        # glibc's iconv modules (bootstrap.paths.CHARSETS)
    path_filters = ["path-exclude=/usr/share/zoneinfo/right/*"]   # then these, in order
    compression = "gzip"           # layers of OCI / docker images: gzip or zstd
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bootstrap.paths import CHARSETS, DOCS, FilterError, PathFilter, parse_rule

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789+-.")


class BootstrapSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base: list[str] = Field(
        default_factory=lambda: ["base-files"],
        description="packages every image gets where the archive has them: base-files "
        "gives it its identity (/etc/os-release) for scanners")
    exclude_docs: bool = Field(
        default=False, description="leave out manual pages, Info, docs but copyright, "
        "message catalogs (as `--exclude-docs`)")
    exclude_charsets: bool = Field(
        default=False, description="leave out glibc's iconv modules (as "
        "`--exclude-charsets`)")
    path_filters: list[str] = Field(
        default_factory=list, description="dpkg path filters, in order: "
        "path-exclude=GLOB / path-include=GLOB")
    compression: Literal["gzip", "zstd"] = Field(
        default="gzip", description="layer compression of OCI / docker images")

    @field_validator("base")
    @classmethod
    def _base(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name or name[0] not in _NAME_CHARS - set("+-.") \
                    or set(name) - _NAME_CHARS:
                raise ValueError(f"{name!r} is not a package name")
        return value

    @field_validator("path_filters")
    @classmethod
    def _filters(cls, value: list[str]) -> list[str]:
        for text in value:
            try:
                parse_rule(text)
            except FilterError as exc:
                raise ValueError(str(exc)) from None
        return value

    def path_filter(self, exclude_docs: bool = False, extra: tuple[str, ...] = (),
                    exclude_charsets: bool = False) -> PathFilter:
        """The documentation and charset filters (when asked here or by the caller),
        then the configured rules, then `extra` (the command line's), in that order."""
        texts = [*(DOCS if exclude_docs or self.exclude_docs else ()),
                 *(CHARSETS if exclude_charsets or self.exclude_charsets else ()),
                 *self.path_filters, *extra]
        return PathFilter.parse(texts)
