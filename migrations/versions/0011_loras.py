"""Trained LoRAs: the `loras` table, and `train` joins the job kinds.

A member's LoRA is private to them (`published` false) until a server admin publishes it with
the member's consent (`consent`). Names are unique per owner, and among a server's published
LoRAs.

Revision ID: 0011
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0008"
branch_labels = None
depends_on = None

_OLD = (
    "imagine", "upscale", "vary_subtle", "vary_strong", "reroll", "zoom", "pan", "square",
    "vary_region",
)  # fmt: skip
_NEW = (*_OLD, "train")


def _check(kinds: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint(op.f("ck_jobs_kind"), type_="check")
        batch.create_check_constraint("kind", _check(_NEW))
    op.create_table(
        "loras",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("base_model", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("published", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("consent", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("ck_loras_size")),
        sa.CheckConstraint("NOT published OR consent", name=op.f("ck_loras_published_consent")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_loras_owner_id_users")),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_loras_job_id_jobs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loras")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_loras_owner_id_name")),
    )
    op.create_index(
        "ix_loras_published_name",
        "loras",
        ["guild_id", "name"],
        unique=True,
        postgresql_where=sa.text("published"),
        sqlite_where=sa.text("published"),
    )


def downgrade() -> None:
    trains = op.get_bind().execute(sa.text("SELECT count(*) FROM jobs WHERE kind = 'train'"))
    if trains.scalar_one():
        raise RuntimeError("cannot downgrade below 0011 while training jobs exist")
    op.drop_index("ix_loras_published_name", table_name="loras")
    op.drop_table("loras")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint(op.f("ck_jobs_kind"), type_="check")
        batch.create_check_constraint("kind", _check(_OLD))
