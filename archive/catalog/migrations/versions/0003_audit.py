"""Audit: what each rewrite started from (control, sizes), relation names, images.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = re.compile(r"\s*([a-z0-9][a-z0-9+.-]*)")


def upgrade() -> None:
    with op.batch_alter_table("binary_package") as batch:
        batch.add_column(sa.Column("original_sha256", sa.String(64), nullable=True))
        batch.add_column(sa.Column("original_control", sa.Text(), nullable=True))
        batch.add_column(sa.Column("control", sa.Text(), nullable=True))
        batch.add_column(sa.Column("installed_size", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("original_installed_size", sa.BigInteger(), nullable=True))
        batch.create_index(op.f("ix_binary_package_name"), ["name"])
    with op.batch_alter_table("relation_change") as batch:
        batch.add_column(sa.Column("relation_name", sa.String(255), nullable=True))
        batch.create_index(op.f("ix_relation_change_relation_name"), ["relation_name"])
        batch.create_index(op.f("ix_relation_change_reason"), ["reason"])
    table = sa.table("relation_change", sa.column("id", sa.Integer),
                     sa.column("relation", sa.Text), sa.column("relation_name", sa.String))
    connection = op.get_bind()
    for row_id, relation in connection.execute(sa.select(table.c.id, table.c.relation)):
        match = _NAME.match(relation or "")
        if match:
            connection.execute(table.update().where(table.c.id == row_id)
                               .values(relation_name=match.group(1)))
    op.create_table(
        "image",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("roots", sa.Text(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("digest", sa.String(128), nullable=True),
        sa.Column("archive", sa.Text(), nullable=False),
        sa.Column("suite", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True),
                  server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.Column("installed_size", sa.BigInteger(), nullable=False),
        sa.Column("upstream_count", sa.Integer(), nullable=True),
        sa.Column("upstream_installed_size", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image")),
    )
    op.create_table(
        "image_package",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("architecture", sa.String(32), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("installed_size", sa.BigInteger(), nullable=False),
        sa.Column("depends", sa.Text(), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["image.id"],
                                name=op.f("fk_image_package_image_id_image"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_package")),
        sa.UniqueConstraint("image_id", "name", "architecture",
                            name=op.f("uq_image_package_image_id_name_architecture")),
    )
    op.create_index(op.f("ix_image_package_name"), "image_package", ["name"])


def downgrade() -> None:
    op.drop_index(op.f("ix_image_package_name"), table_name="image_package")
    op.drop_table("image_package")
    op.drop_table("image")
    with op.batch_alter_table("relation_change") as batch:
        batch.drop_index(op.f("ix_relation_change_reason"))
        batch.drop_index(op.f("ix_relation_change_relation_name"))
        batch.drop_column("relation_name")
    with op.batch_alter_table("binary_package") as batch:
        batch.drop_index(op.f("ix_binary_package_name"))
        batch.drop_column("original_installed_size")
        batch.drop_column("installed_size")
        batch.drop_column("control")
        batch.drop_column("original_control")
        batch.drop_column("original_sha256")
