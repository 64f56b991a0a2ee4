"""`describe` (/describe's four prompts) and `edit` (/edit, an instruction-editing model) join
the job kinds. Both in one revision so the two features need no migration of their own.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels = None
depends_on = None

_OLD = (
    "imagine", "upscale", "vary_subtle", "vary_strong", "reroll", "zoom", "pan", "square",
    "vary_region", "train",
)  # fmt: skip
_NEW = (*_OLD, "describe", "edit")


def _check(kinds: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint(op.f("ck_jobs_kind"), type_="check")
        batch.create_check_constraint("kind", _check(_NEW))


def downgrade() -> None:
    found = op.get_bind().execute(
        sa.text("SELECT count(*) FROM jobs WHERE kind IN ('describe', 'edit')")
    )
    if found.scalar_one():
        raise RuntimeError("cannot downgrade below 0012 while describe or edit jobs exist")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint(op.f("ck_jobs_kind"), type_="check")
        batch.create_check_constraint("kind", _check(_OLD))
