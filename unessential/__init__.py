"""unessential: Debian without the essential set, for containers."""

__version__ = "0.1.0"
