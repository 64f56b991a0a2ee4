"""Per-server /train rules: training on or off, and which subjects are allowed (`person` off
by default: a LoRA of a person paints their likeness; docs/training.md "For admins").

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("guilds") as batch:
        batch.add_column(
            sa.Column("train_enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column(
                "train_subjects",
                sa.String(64),
                nullable=False,
                server_default="pet,object,style",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("guilds") as batch:
        batch.drop_column("train_subjects")
        batch.drop_column("train_enabled")
