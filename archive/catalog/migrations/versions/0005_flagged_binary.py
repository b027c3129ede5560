"""Binaries of a build that were not produced because the engine flagged a maintainer
script (the build's other binaries are published).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flagged_binary",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("build_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("architecture", sa.String(32), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["build_id"], ["build.id"],
                                name=op.f("fk_flagged_binary_build_id_build"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flagged_binary")),
        sa.UniqueConstraint("build_id", "name", "architecture",
                            name=op.f("uq_flagged_binary_build_id_name_architecture")),
    )
    op.create_index(op.f("ix_flagged_binary_name"), "flagged_binary", ["name"])


def downgrade() -> None:
    op.drop_index(op.f("ix_flagged_binary_name"), table_name="flagged_binary")
    op.drop_table("flagged_binary")
