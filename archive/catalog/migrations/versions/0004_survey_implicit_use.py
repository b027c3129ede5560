"""Surveys of the rewrite engine's coverage, implicit run-time uses of the essential set.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "implicit_use",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("binary_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("needs", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("provider", sa.String(255), nullable=True),
        sa.Column("declared", sa.Boolean(), nullable=False),
        sa.CheckConstraint("kind IN ('shebang', 'shell-exec', 'essential-path')",
                           name=op.f("ck_implicit_use_kind")),
        sa.ForeignKeyConstraint(["binary_id"], ["binary_package.id"],
                                name=op.f("fk_implicit_use_binary_id_binary_package"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_implicit_use")),
    )
    op.create_index(op.f("ix_implicit_use_binary_id"), "implicit_use", ["binary_id"])
    op.create_index(op.f("ix_implicit_use_kind"), "implicit_use", ["kind"])
    op.create_table(
        "survey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True),
                  server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("suite", sa.String(64), nullable=False),
        sa.Column("architecture", sa.String(32), nullable=False),
        sa.Column("policy_digest", sa.String(64), nullable=False),
        sa.Column("packages", sa.Integer(), nullable=False),
        sa.Column("with_scripts", sa.Integer(), nullable=False),
        sa.Column("scripts", sa.Integer(), nullable=False),
        sa.Column("translated", sa.Integer(), nullable=False),
        sa.Column("by_recipe", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey")),
    )
    op.create_table(
        "survey_package",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("package", sa.String(255), nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("architecture", sa.String(32), nullable=False),
        sa.Column("scripts", sa.Integer(), nullable=False),
        sa.Column("translated", sa.Integer(), nullable=False),
        sa.Column("by_recipe", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["survey_id"], ["survey.id"],
                                name=op.f("fk_survey_package_survey_id_survey"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_package")),
        sa.UniqueConstraint("survey_id", "package", "architecture",
                            name=op.f("uq_survey_package_survey_id_package_architecture")),
    )
    op.create_table(
        "survey_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("package", sa.String(255), nullable=False),
        sa.Column("script", sa.String(16), nullable=False),
        sa.Column("idiom", sa.String(255), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["survey_id"], ["survey.id"],
                                name=op.f("fk_survey_line_survey_id_survey"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_line")),
    )
    op.create_index(op.f("ix_survey_line_survey_id"), "survey_line", ["survey_id"])
    op.create_index(op.f("ix_survey_line_idiom"), "survey_line", ["idiom"])


def downgrade() -> None:
    op.drop_index(op.f("ix_survey_line_idiom"), table_name="survey_line")
    op.drop_index(op.f("ix_survey_line_survey_id"), table_name="survey_line")
    op.drop_table("survey_line")
    op.drop_table("survey_package")
    op.drop_table("survey")
    op.drop_index(op.f("ix_implicit_use_kind"), table_name="implicit_use")
    op.drop_index(op.f("ix_implicit_use_binary_id"), table_name="implicit_use")
    op.drop_table("implicit_use")
