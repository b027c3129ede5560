"""Derived versions: the counter and mark of a build's version, the counters of each
source version (unique), Debian's version of each binary, relations pinned to a
sibling's new version, and source files a build made.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "action IN ('dropped', 'added')"
_NEW = "action IN ('dropped', 'added', 'pinned')"


def upgrade() -> None:
    with op.batch_alter_table("build") as batch:
        batch.add_column(sa.Column("version_counter", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("version_mark", sa.String(16), nullable=True))
        batch.add_column(sa.Column("source_version", sa.String(255), nullable=True))
    with op.batch_alter_table("binary_package") as batch:
        batch.add_column(sa.Column("original_version", sa.String(255), nullable=True))
    with op.batch_alter_table("relation_change") as batch:
        batch.drop_constraint(op.f("ck_relation_change_action"), type_="check")
        batch.create_check_constraint(op.f("ck_relation_change_action"), sa.text(_NEW))
    op.create_table(
        "source_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("build_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["build_id"], ["build.id"],
                                name=op.f("fk_source_file_build_id_build"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_file")),
        sa.UniqueConstraint("build_id", "name", name=op.f("uq_source_file_build_id_name")),
    )
    op.create_table(
        "version_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("counter", sa.Integer(), nullable=False),
        sa.Column("recipe_digest", sa.String(128), nullable=False),
        sa.Column("env_digest", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True),
                  server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version_counter")),
        sa.UniqueConstraint("source", "version", "counter",
                            name=op.f("uq_version_counter_source_version_counter")),
    )


def downgrade() -> None:
    op.drop_table("version_counter")
    op.drop_table("source_file")
    op.execute(sa.text("DELETE FROM relation_change WHERE action = 'pinned'"))
    with op.batch_alter_table("relation_change") as batch:
        batch.drop_constraint(op.f("ck_relation_change_action"), type_="check")
        batch.create_check_constraint(op.f("ck_relation_change_action"), sa.text(_OLD))
    with op.batch_alter_table("binary_package") as batch:
        batch.drop_column("original_version")
    with op.batch_alter_table("build") as batch:
        batch.drop_column("source_version")
        batch.drop_column("version_mark")
        batch.drop_column("version_counter")
