"""Initial catalog: sources, builds, binaries, relation changes, script rewrites, publications.

Revision ID: 0001
Revises:
Create Date: 2024-11-24

Written by hand; constraint names follow models.NAMING_CONVENTION.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("CURRENT_TIMESTAMP")


def timestamp(name: str, nullable: bool, server_default: sa.TextClause | None = None):
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=nullable, server_default=server_default
    )


def upgrade() -> None:
    op.create_table(
        "source_package",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("suite", sa.String(64), nullable=False),
        sa.Column("dsc_sha256", sa.String(64), nullable=False),
        timestamp("created_at", nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_package")),
        sa.UniqueConstraint(
            "name", "version", "suite", name=op.f("uq_source_package_name_version_suite")
        ),
    )

    op.create_table(
        "build",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_package_id", sa.Integer(), nullable=False),
        sa.Column("recipe_digest", sa.String(128), nullable=False),
        sa.Column("env_digest", sa.String(128), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default=sa.text("'queued'")),
        sa.Column("worker", sa.String(255), nullable=True),
        timestamp("started_at", nullable=True),
        timestamp("finished_at", nullable=True),
        sa.Column("log", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        timestamp("created_at", nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_build")),
        sa.ForeignKeyConstraint(
            ["source_package_id"],
            ["source_package.id"],
            name=op.f("fk_build_source_package_id_source_package"),
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'building', 'done', 'failed')", name=op.f("ck_build_status")
        ),
        sa.CheckConstraint("origin IN ('source-build', 'repack')", name=op.f("ck_build_origin")),
    )
    op.create_index(
        "ix_build_lookup", "build", ["source_package_id", "recipe_digest", "env_digest"]
    )

    op.create_table(
        "binary_package",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("build_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("architecture", sa.String(32), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("filename", sa.String(1024), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_binary_package")),
        sa.ForeignKeyConstraint(
            ["build_id"],
            ["build.id"],
            name=op.f("fk_binary_package_build_id_build"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "build_id",
            "name",
            "architecture",
            name=op.f("uq_binary_package_build_id_name_architecture"),
        ),
    )

    op.create_table(
        "relation_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("binary_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("relation", sa.Text(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relation_change")),
        sa.ForeignKeyConstraint(
            ["binary_id"],
            ["binary_package.id"],
            name=op.f("fk_relation_change_binary_id_binary_package"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "action IN ('dropped', 'added')", name=op.f("ck_relation_change_action")
        ),
    )
    op.create_index("ix_relation_change_binary_id", "relation_change", ["binary_id"])
    op.create_index("ix_relation_change_relation", "relation_change", ["relation"])

    op.create_table(
        "script_rewrite",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("binary_id", sa.Integer(), nullable=False),
        sa.Column("script", sa.String(16), nullable=False),
        sa.Column("original_sha256", sa.String(64), nullable=False),
        sa.Column("original", sa.Text(), nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("rendered", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_script_rewrite")),
        sa.ForeignKeyConstraint(
            ["binary_id"],
            ["binary_package.id"],
            name=op.f("fk_script_rewrite_binary_id_binary_package"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("binary_id", "script", name=op.f("uq_script_rewrite_binary_id_script")),
        sa.CheckConstraint(
            "script IN ('preinst', 'postinst', 'prerm', 'postrm', 'config', 'triggers')",
            name=op.f("ck_script_rewrite_script"),
        ),
    )

    op.create_table(
        "publication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("suite", sa.String(64), nullable=False),
        timestamp("published_at", nullable=False),
        sa.Column("release_sha256", sa.String(64), nullable=False),
        sa.Column("key_fingerprint", sa.String(64), nullable=False),
        sa.Column("snapshot", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publication")),
    )


def downgrade() -> None:
    op.drop_table("publication")
    op.drop_table("script_rewrite")
    op.drop_index("ix_relation_change_relation", table_name="relation_change")
    op.drop_index("ix_relation_change_binary_id", table_name="relation_change")
    op.drop_table("relation_change")
    op.drop_table("binary_package")
    op.drop_index("ix_build_lookup", table_name="build")
    op.drop_table("build")
    op.drop_table("source_package")
