"""An upload of a build is imported once: a unique index over the imported rows.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IMPORTED = sa.text("status = 'imported'")


def upgrade() -> None:
    op.create_index("ux_upload_imported_build", "upload", ["build_id"], unique=True,
                    sqlite_where=IMPORTED, postgresql_where=IMPORTED)


def downgrade() -> None:
    op.drop_index("ux_upload_imported_build", table_name="upload")
