"""What a publish lists of a binary, recorded when the worker stores it: the MD5, SHA1
and SHA512 of the .deb (SHA256, size and control are there already) and its file list
for Contents, so that the publisher renders its indices without reading the .deb.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("binary_package") as batch:
        batch.add_column(sa.Column("md5", sa.String(32), nullable=True))
        batch.add_column(sa.Column("sha1", sa.String(40), nullable=True))
        batch.add_column(sa.Column("sha512", sa.String(128), nullable=True))
        batch.add_column(sa.Column("contents", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("binary_package") as batch:
        for column in ("contents", "sha512", "sha1", "md5"):
            batch.drop_column(column)
