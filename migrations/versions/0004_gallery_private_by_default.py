"""A server's web gallery is private until one of its admins makes it public
(`/admin gallery public`, `nanke admin gallery public GUILD_ID`).

Until now every server was public by default without anyone choosing it, so existing servers
become private too: their admins turn the gallery on again if they want it.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("guilds") as batch:
        batch.alter_column("gallery_public", existing_type=sa.Boolean(), server_default=sa.false())
    op.execute(sa.text("UPDATE guilds SET gallery_public = false"))


def downgrade() -> None:
    with op.batch_alter_table("guilds") as batch:
        batch.alter_column("gallery_public", existing_type=sa.Boolean(), server_default=None)
