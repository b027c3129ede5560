"""Builds: campaign, Celery task id and heartbeat (for redelivery after a lost worker).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("build") as batch:
        batch.add_column(sa.Column("campaign", sa.String(64), nullable=True))
        batch.add_column(sa.Column("task_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(op.f("ix_build_campaign"), ["campaign"])


def downgrade() -> None:
    with op.batch_alter_table("build") as batch:
        batch.drop_index(op.f("ix_build_campaign"))
        batch.drop_column("heartbeat_at")
        batch.drop_column("task_id")
        batch.drop_column("campaign")
