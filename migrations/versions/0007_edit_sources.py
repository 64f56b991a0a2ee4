"""Edit jobs: zoom, pan, square and vary_region join the job kinds.

An edit's source image and mask travel in the job's request (the JobSpec's `source` and
`edit`), so only the kinds' CHECK constraint changes.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None

_OLD = ("imagine", "upscale", "vary_subtle", "vary_strong", "reroll")
_NEW = (*_OLD, "zoom", "pan", "square", "vary_region")


def _check(kinds: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint(op.f("ck_jobs_kind"), type_="check")
        batch.create_check_constraint("kind", _check(_NEW))


def downgrade() -> None:
    # Edit jobs carry quota ledger rows and children: refuse rather than delete them.
    edits = op.get_bind().execute(
        sa.text("SELECT count(*) FROM jobs WHERE kind IN ('zoom', 'pan', 'square', 'vary_region')")
    )
    if edits.scalar_one():
        raise RuntimeError("cannot downgrade below 0007 while edit jobs exist")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint(op.f("ck_jobs_kind"), type_="check")
        batch.create_check_constraint("kind", _check(_OLD))
