"""Where each gallery entry was posted on Discord, so /gallery remove can delete that post;
and the >4-job /imagine batches waiting for their ✅, so a restart keeps them.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on Postgres, JSON text on SQLite (as db.base.JsonDoc).
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gallery_entries") as batch:
        batch.add_column(sa.Column("post_channel_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("post_message_id", sa.BigInteger(), nullable=True))
    op.create_table(
        "pending_batches",
        sa.Column("token", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("interaction_id", sa.BigInteger(), nullable=False),
        sa.Column("requests", JSON_DOC, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_pending_batches")),
    )


def downgrade() -> None:
    op.drop_table("pending_batches")
    with op.batch_alter_table("gallery_entries") as batch:
        batch.drop_column("post_message_id")
        batch.drop_column("post_channel_id")
