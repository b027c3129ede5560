"""Catalog migrations, one file per revision; never edit a released one."""
