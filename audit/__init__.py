"""Audit: which packages lost which dependencies, and why (queries, diff, report)."""
