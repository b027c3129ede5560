"""Celery tasks: thin wrappers around `worker.pipeline`."""

from __future__ import annotations

from typing import Any

from celery import Task

from worker.celery_app import app, current_settings
from worker.pipeline import RETRYABLE, InProgressElsewhere, give_up, run_build, worker_name


@app.task(bind=True, name="unessential.rebuild", acks_late=True, reject_on_worker_lost=True)
def rebuild(self: Task, build_id: int) -> dict[str, Any]:
    """Rebuild (or repack) the source of build row `build_id` and record the result."""
    settings = current_settings()
    try:
        outcome = run_build(build_id, settings, worker=worker_name(),
                            task_id=self.request.id or "")
    except InProgressElsewhere as exc:
        raise self.retry(exc=exc, countdown=settings.worker.lease, max_retries=None) from exc
    except RETRYABLE as exc:
        if self.request.retries >= settings.worker.retries:
            give_up(build_id, settings, str(exc))
            return {"build_id": build_id, "status": "failed", "detail": str(exc)}
        delay = settings.worker.retry_backoff * 2 ** self.request.retries
        raise self.retry(exc=exc, countdown=delay) from exc
    return outcome.as_dict()
