"""The rebuild pipeline and its Celery wiring (fetch, build, rewrite, record).

Empty until the rebuild-farm issue.
"""
