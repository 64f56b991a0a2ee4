"""The scheduler (#18): each member's last start (round-robin key), the queued-jobs and relax
usage indexes the claim reads, and the workers' heartbeat table (what each GPU serves and has
loaded).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on Postgres, JSON text on SQLite (as db.base.JsonDoc).
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_jobs_queued",
        "jobs",
        ["relaxed", "created_at"],
        postgresql_where=sa.text("state = 'queued'"),
        sqlite_where=sa.text("state = 'queued'"),
    )
    op.create_index("ix_jobs_user_id_started_at", "jobs", ["user_id", "started_at"])
    op.create_table(
        "workers",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("serves", JSON_DOC, nullable=False),
        sa.Column("loaded", JSON_DOC, nullable=False),
        sa.Column("memory_budget_mb", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loads", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_workers")),
    )


def downgrade() -> None:
    op.drop_table("workers")
    op.drop_index("ix_jobs_user_id_started_at", table_name="jobs")
    op.drop_index("ix_jobs_queued", table_name="jobs")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("last_started_at")
