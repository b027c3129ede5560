"""Base utilities of every room: errors with exit codes, console, TOML loading, deb822,
durable atomic writes, the command context. Imports no room."""

__version__ = "0.1.0"
