"""Building Debian source packages in an isolated, network-less chroot (see chroot.py)."""

from worker.build.chroot import (
    BUILD_RECIPE_VERSION,
    BuildEnv,
    BuildResult,
    build_source,
    ensure_base,
    parse_dsc_files,
)

__all__ = [
    "BUILD_RECIPE_VERSION",
    "BuildEnv",
    "BuildResult",
    "build_source",
    "ensure_base",
    "parse_dsc_files",
]
