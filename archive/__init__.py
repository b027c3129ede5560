"""The APT repository format in both directions, and the SQL catalog.

`archive.upstream` reads a Debian mirror (verified); `archive.catalog` is the SQL
catalog. This room imports no Celery.
"""
