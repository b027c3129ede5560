"""unessential: Debian without the essential set, for containers.

This package is the command-line shell: it registers every room's commands and
aggregates their settings. Nothing imports it.
"""

from base import __version__

__all__ = ["__version__"]
