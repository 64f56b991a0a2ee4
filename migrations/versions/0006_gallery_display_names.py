"""The web gallery shows names, not ids: a server's name and its members' display names, as
Discord showed them when an image was last shared to the gallery (the bot never lists members,
so a name is only as fresh as its member's latest share).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("guilds") as batch:
        batch.add_column(sa.Column("name", sa.String(length=100), nullable=True))
    op.create_table(
        "member_names",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "user_id", name=op.f("pk_member_names")),
    )


def downgrade() -> None:
    op.drop_table("member_names")
    with op.batch_alter_table("guilds") as batch:
        batch.drop_column("name")
