"""Where each gallery entry was posted on Discord, so /gallery remove can delete that post.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gallery_entries") as batch:
        batch.add_column(sa.Column("post_channel_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("post_message_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gallery_entries") as batch:
        batch.drop_column("post_message_id")
        batch.drop_column("post_channel_id")
