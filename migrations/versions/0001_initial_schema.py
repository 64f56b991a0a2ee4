"""Initial schema: guilds, users, jobs, images, quota balances + ledger, gallery.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 23:22:50.123325
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on Postgres, JSON text on SQLite (as db.base.JsonDoc).
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('guilds',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('allowed', sa.Boolean(), nullable=False),
    sa.Column('gallery_channel_id', sa.BigInteger(), nullable=True),
    sa.Column('gallery_public', sa.Boolean(), nullable=False),
    sa.Column('banned_words', JSON_DOC, nullable=False),
    sa.Column('nsfw_policy', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("nsfw_policy IN ('block', 'allow')", name=op.f('ck_guilds_nsfw_policy')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_guilds'))
    )
    op.create_table('users',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('plan', sa.String(length=32), nullable=False),
    sa.Column('sampler', sa.String(length=32), nullable=True),
    sa.Column('aspect_ratio', sa.String(length=16), nullable=True),
    sa.Column('model', sa.String(length=64), nullable=True),
    sa.Column('quality', sa.Float(), nullable=True),
    sa.Column('remix', sa.Boolean(), nullable=False),
    sa.Column('stealth', sa.Boolean(), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("mode IN ('fast', 'relax')", name=op.f('ck_users_mode')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users'))
    )
    op.create_table('jobs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('request', JSON_DOC, nullable=False),
    sa.Column('parent_id', sa.Uuid(), nullable=True),
    sa.Column('tile_index', sa.SmallInteger(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('relaxed', sa.Boolean(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=200), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cost_milli', sa.Integer(), nullable=False),
    sa.Column('quota_period', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('result', JSON_DOC, nullable=True),
    sa.Column('guild_id', sa.BigInteger(), nullable=True),
    sa.Column('channel_id', sa.BigInteger(), nullable=True),
    sa.Column('interaction_id', sa.BigInteger(), nullable=True),
    sa.Column('message_id', sa.BigInteger(), nullable=True),
    sa.Column('posting_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('imagine', 'upscale', 'vary_subtle', 'vary_strong', 'reroll')", name=op.f('ck_jobs_kind')),
    sa.CheckConstraint("state <> 'running' OR (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)", name=op.f('ck_jobs_running_has_lease')),
    sa.CheckConstraint("state IN ('queued', 'running', 'succeeded', 'posted', 'failed', 'cancelled')", name=op.f('ck_jobs_state')),
    sa.CheckConstraint('attempts >= 0 AND attempts <= max_attempts', name=op.f('ck_jobs_attempts')),
    sa.CheckConstraint('cost_milli >= 0', name=op.f('ck_jobs_cost')),
    sa.CheckConstraint('tile_index BETWEEN 1 AND 4', name=op.f('ck_jobs_tile_index')),
    sa.ForeignKeyConstraint(['parent_id'], ['jobs.id'], name=op.f('fk_jobs_parent_id_jobs')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_jobs_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('interaction_id', name=op.f('uq_jobs_interaction_id'))
    )
    op.create_index('ix_jobs_parent_id', 'jobs', ['parent_id'], unique=False)
    op.create_index('ix_jobs_state_lease_expires_at', 'jobs', ['state', 'lease_expires_at'], unique=False)
    op.create_index('ix_jobs_user_id_state', 'jobs', ['user_id', 'state'], unique=False)
    op.create_table('quota_balances',
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('period_key', sa.String(length=16), nullable=False),
    sa.Column('allowance_milli', sa.BigInteger(), nullable=False),
    sa.Column('balance_milli', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('balance_milli >= 0', name=op.f('ck_quota_balances_balance_not_negative')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_quota_balances_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', 'period_key', name=op.f('pk_quota_balances'))
    )
    op.create_table('images',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('index', sa.SmallInteger(), nullable=False),
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('"index" BETWEEN 1 AND 4', name=op.f('ck_images_index')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_images_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_images')),
    sa.UniqueConstraint('job_id', 'index', name=op.f('uq_images_job_id_index'))
    )
    op.create_table('quota_ledger',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('job_id', sa.Uuid(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('amount_milli', sa.BigInteger(), nullable=False),
    sa.Column('period_key', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("job_id IS NOT NULL OR kind IN ('allowance', 'grant', 'adjust')", name=op.f('ck_quota_ledger_job_required')),
    sa.CheckConstraint("kind IN ('allowance', 'hold', 'settle', 'refund', 'grant', 'adjust')", name=op.f('ck_quota_ledger_kind')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_quota_ledger_job_id_jobs')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_quota_ledger_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quota_ledger')),
    sa.UniqueConstraint('job_id', 'kind', name=op.f('uq_quota_ledger_job_id_kind'))
    )
    op.create_index('ix_quota_ledger_user_id_period_key', 'quota_ledger', ['user_id', 'period_key'], unique=False)
    op.create_index('uq_quota_ledger_job_outcome', 'quota_ledger', ['job_id'], unique=True, postgresql_where=sa.text("kind IN ('settle', 'refund')"), sqlite_where=sa.text("kind IN ('settle', 'refund')"))
    op.create_table('gallery_entries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('image_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('guild_id', sa.BigInteger(), nullable=True),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('like_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('like_count >= 0', name=op.f('ck_gallery_entries_like_count')),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], name=op.f('fk_gallery_entries_image_id_images'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_gallery_entries_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gallery_entries')),
    sa.UniqueConstraint('image_id', name=op.f('uq_gallery_entries_image_id'))
    )
    op.create_index('ix_gallery_entries_guild_id_created_at', 'gallery_entries', ['guild_id', 'created_at'], unique=False)
    op.create_index('ix_gallery_entries_guild_id_like_count', 'gallery_entries', ['guild_id', 'like_count'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # Full-text search on prompts; SQLite searches with LIKE instead.
        op.create_index('ix_gallery_entries_prompt_fts', 'gallery_entries', [sa.literal_column("to_tsvector('english', prompt)")], unique=False, postgresql_using='gin')
    op.create_index('ix_gallery_entries_user_id_created_at', 'gallery_entries', ['user_id', 'created_at'], unique=False)
    op.create_table('gallery_likes',
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['gallery_entries.id'], name=op.f('fk_gallery_likes_entry_id_gallery_entries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_gallery_likes_user_id_users')),
    sa.PrimaryKeyConstraint('entry_id', 'user_id', name=op.f('pk_gallery_likes'))
    )


def downgrade() -> None:
    op.drop_table('gallery_likes')
    op.drop_index('ix_gallery_entries_user_id_created_at', table_name='gallery_entries')
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index('ix_gallery_entries_prompt_fts', table_name='gallery_entries')
    op.drop_index('ix_gallery_entries_guild_id_like_count', table_name='gallery_entries')
    op.drop_index('ix_gallery_entries_guild_id_created_at', table_name='gallery_entries')
    op.drop_table('gallery_entries')
    op.drop_index('uq_quota_ledger_job_outcome', table_name='quota_ledger', postgresql_where=sa.text("kind IN ('settle', 'refund')"), sqlite_where=sa.text("kind IN ('settle', 'refund')"))
    op.drop_index('ix_quota_ledger_user_id_period_key', table_name='quota_ledger')
    op.drop_table('quota_ledger')
    op.drop_table('images')
    op.drop_table('quota_balances')
    op.drop_index('ix_jobs_user_id_state', table_name='jobs')
    op.drop_index('ix_jobs_state_lease_expires_at', table_name='jobs')
    op.drop_index('ix_jobs_parent_id', table_name='jobs')
    op.drop_table('jobs')
    op.drop_table('users')
    op.drop_table('guilds')
