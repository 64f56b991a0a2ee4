"""Region editor links: one row per "Draw the region…" link (issued, submitted once, admitted).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels = None
depends_on = None

# JSONB on Postgres, JSON text on SQLite (as db.base.JsonDoc).
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "region_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("image_index", sa.SmallInteger(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("shapes", JSON_DOC, nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("new_job_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('issued', 'submitted', 'admitting', 'queued', 'refused')",
            name=op.f("ck_region_links_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_region_links")),
    )
    op.create_index("ix_region_links_state", "region_links", ["state"])


def downgrade() -> None:
    op.drop_index("ix_region_links_state", table_name="region_links")
    op.drop_table("region_links")
