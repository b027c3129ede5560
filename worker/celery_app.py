"""The Celery application of the rebuild farm.

Embedded default (no `broker_url`): kombu's `filesystem://` transport under
`<data_dir>/queue/` and a SQLite result backend — no server. Farm: `broker_url` is
Redis (broker and result backend) and `database_url` PostgreSQL; any number of
`unessential worker` processes on any number of hosts.

Tasks are acknowledged late and rejected (requeued) when the process running them is
lost, so a killed worker hands its build to another one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery

from worker.settings import FarmSettings

app = Celery("unessential", include=["worker.tasks"])
_settings: FarmSettings | None = None


def embedded(settings: FarmSettings) -> bool:
    return not settings.broker_url


def queue_dir(settings: FarmSettings) -> Path:
    return settings.data_dir / "queue"


def celery_config(settings: FarmSettings) -> dict[str, Any]:
    worker = settings.worker
    config: dict[str, Any] = {
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_default_queue": worker.queue,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_extended": True,
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "task_track_started": True,
    }
    if embedded(settings):
        folder = queue_dir(settings)
        messages = folder / "messages"
        processed = folder / "processed"
        control = folder / "control"
        for path in (messages, processed, control):
            path.mkdir(parents=True, exist_ok=True)
        config |= {
            "broker_url": "filesystem://",
            "broker_transport_options": {
                "data_folder_in": str(messages),
                "data_folder_out": str(messages),
                "data_folder_processed": str(processed),
                "control_folder": str(control),
                "store_processed": False,
                # a worker takes one message at a time (prefetch 1): the interval is
                # what a queued build may wait between two builds
                "polling_interval": 0.02,
            },
            "result_backend": f"db+sqlite:///{folder / 'results.sqlite'}",
        }
    else:
        config |= {
            "broker_url": settings.broker_url,
            "broker_transport_options": {"visibility_timeout": worker.visibility_timeout},
            "result_backend": settings.broker_url
            if str(settings.broker_url).startswith(("redis://", "rediss://")) else None,
            "result_backend_transport_options": {
                "visibility_timeout": worker.visibility_timeout
            },
        }
    return config


def configure(settings: FarmSettings) -> Celery:
    """Point the app at the broker and result backend the settings name."""
    global _settings
    _settings = settings
    app.conf.update(celery_config(settings))
    return app


def current_settings() -> FarmSettings:
    if _settings is None:
        raise RuntimeError("the Celery app is not configured (worker.celery_app.configure)")
    return _settings
