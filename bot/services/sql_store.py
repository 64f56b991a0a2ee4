"""The bot's Store on the data layer (db/): Postgres in production, SQLite embedded.

One transaction per method; the data layer's repositories do the work, this class only maps
rows to the bot's views (bot/services/ports.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.ports import (
    Account,
    Admission,
    AdmissionStatus,
    DisplayNames,
    GuildConfig,
    JobState,
    JobView,
    Mode,
    NewJob,
    PendingBatch,
    Shared,
    UserPrefs,
)
from db import (
    admission,
    discord_rules,
    gallery,
    gallery_browse,
    guilds,
    jobs,
    members,
    pending,
    queue_view,
    quota,
)
from db.cost import (
    DESCRIBE_COST_MILLI,
    format_credits,
    job_cost_milli,
    train_cost_milli,
    upscale_4x_cost_milli,
)
from db.models import Job
from db.models import JobKind as DbJobKind
from db.plans import PlanLimits
from pipeline.contracts import JobKind, JobResult, JobSpec, UpscaleMode
from prompt.chunks import prompt_chunks
from prompt.request import ImagineParams


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SqlStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        plans: Mapping[str, PlanLimits],
        *,
        default_plan: str,
        relax_enabled: bool,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._sessions = sessions
        self._plans = plans
        self._default_plan = default_plan
        self._relax = relax_enabled
        self._now = clock

    # --- jobs ---------------------------------------------------------------------------
    async def admit(self, new: NewJob) -> Admission:
        spec = new.spec
        submission = admission.Submission(
            job_id=spec.job_id,
            user_id=new.user_id,
            kind=DbJobKind(spec.kind.value),
            request=spec.model_dump(mode="json"),
            cost_milli=_cost_milli(spec),
            interaction_id=new.interaction_id,
            guild_id=new.guild_id,
            channel_id=new.channel_id,
            parent_id=new.parent_id,
            tile_index=spec.source.index if spec.source else None,
        )
        outcome = await admission.admit_in_transaction(
            self._sessions,
            submission,
            self._plans,
            default_plan=self._default_plan,
            relax_enabled=self._relax,
            now=self._now(),
        )
        if isinstance(outcome, admission.OutOfCredits):
            return Admission(
                AdmissionStatus.OUT_OF_CREDITS,
                detail=(
                    f"This needs {format_credits(outcome.needed_milli)} credits and you have "
                    f"{format_credits(outcome.balance_milli)} left. Check /info for when they "
                    "renew."
                ),
            )
        if isinstance(outcome, admission.OverCaps):
            return Admission(
                AdmissionStatus.OVER_CAPS,
                detail=(
                    f"You already have {outcome.active} jobs running or waiting (your plan "
                    f"allows {outcome.limit}). Wait for one to finish, or cancel a queued one "
                    "with its ❌ button."
                ),
            )
        status = (
            AdmissionStatus.CREATED
            if isinstance(outcome, admission.Created)
            else AdmissionStatus.REPLAYED
        )
        job = await self.job(outcome.job_id)
        assert job is not None
        return Admission(status, job)

    async def job(self, job_id: uuid.UUID) -> JobView | None:
        async with self._sessions() as session:
            row = await jobs.get(session, job_id)
            return _view(row) if row is not None else None

    async def queue_position(self, job_id: uuid.UUID) -> int | None:
        async with self._sessions() as session:
            return await queue_view.queue_position(session, job_id)

    async def queue_eta(self, job_id: uuid.UUID, position: int) -> float | None:
        async with self._sessions() as session:
            return await queue_view.queue_eta(session, job_id, position, datetime.now(UTC))

    async def active_jobs(self, user_id: int) -> Sequence[JobView]:
        async with self._sessions() as session:
            return [_view(row) for row in await queue_view.active_jobs(session, user_id)]

    async def existing_upscale(
        self, parent_id: uuid.UUID, index: int | None, mode: UpscaleMode | None
    ) -> JobView | None:
        wanted = mode or UpscaleMode.SUBTLE
        async with self._sessions() as session:
            rows = await queue_view.live_children(session, parent_id, "upscale", index)
        views = [_view(row) for row in rows]
        return next((v for v in views if (v.spec.upscale_mode or wanted) is wanted), None)

    async def shown_publicly(self, job_id: uuid.UUID) -> bool:
        async with self._sessions() as session:
            return await gallery_browse.public_image_of_job(session, job_id) is not None

    async def cancel(self, job_id: uuid.UUID) -> bool:
        async with self._sessions.begin() as session:
            return await jobs.cancel(session, job_id, self._now())

    async def claim_delivery(self, job_id: uuid.UUID) -> bool:
        async with self._sessions.begin() as session:
            return await jobs.mark_posting(session, job_id, self._now())

    async def set_placeholder(self, job_id: uuid.UUID, message_id: int) -> None:
        async with self._sessions.begin() as session:
            await jobs.set_placeholder(session, job_id, message_id)

    async def mark_posted(self, job_id: uuid.UUID, message_id: int | None) -> None:
        async with self._sessions.begin() as session:
            await jobs.mark_posted(session, job_id, self._now(), message_id)

    # --- members ------------------------------------------------------------------------
    async def account(self, user_id: int) -> Account:
        now = self._now()
        async with self._sessions() as session:
            user = await members.get_user(session, user_id)
            plan_name, plan = members.plan_of(user, self._plans, self._default_plan)
            balance = await quota.balance(session, user_id, plan, now)
        prefs = UserPrefs()
        if user is not None:
            prefs = UserPrefs(
                sampler=user.sampler,
                aspect_ratio=user.aspect_ratio,
                model=user.model,
                quality=user.quality,
                remix=user.remix,
                stealth=user.stealth,
                mode=Mode(user.mode),
            )
        return Account(
            user_id=user_id,
            plan=plan_name,
            prefs=prefs,
            credits_left_milli=balance.balance_milli,
            renews_at=_next_period(plan.period, now),
            max_running=plan.max_running,
            max_queued=plan.max_queued,
        )

    async def update_prefs(self, user_id: int, prefs: UserPrefs) -> None:
        changes: members.UserSettingsChange = {
            "sampler": prefs.sampler,
            "aspect_ratio": prefs.aspect_ratio,
            "model": prefs.model,
            "quality": prefs.quality,
            "remix": prefs.remix,
            "stealth": prefs.stealth,
            "mode": prefs.mode.value,
        }
        async with self._sessions.begin() as session:
            await members.update_settings(
                session, user_id, changes, self._default_plan, self._now()
            )

    async def grant(self, user_id: int, credits: int, by: int) -> Account:
        now = self._now()
        async with self._sessions.begin() as session:
            await members.ensure_user(session, user_id, self._default_plan, now)
            user = await members.get_user(session, user_id)
            _, plan = members.plan_of(user, self._plans, self._default_plan)
            await quota.grant(session, user_id, plan, credits * 1000, now, note=f"by {by}")
        return await self.account(user_id)

    async def set_plan(self, user_id: int, plan: str) -> Account:
        async with self._sessions.begin() as session:
            await members.set_plan(
                session, user_id, plan, self._plans, self._default_plan, self._now()
            )
        return await self.account(user_id)

    async def plans(self) -> Sequence[str]:
        return sorted(self._plans)

    async def is_banned(self, guild_id: int, user_id: int) -> bool:
        async with self._sessions() as session:
            return await discord_rules.is_banned(session, guild_id, user_id)

    async def set_banned(self, guild_id: int, user_id: int, banned: bool) -> None:
        async with self._sessions.begin() as session:
            if banned:
                await discord_rules.ban(session, guild_id, user_id, None, self._now())
            else:
                await discord_rules.unban(session, guild_id, user_id)

    # --- guilds -------------------------------------------------------------------------
    async def guild(self, guild_id: int) -> GuildConfig:
        async with self._sessions() as session:
            settings = await guilds.get_settings(session, guild_id)
            everyone = await discord_rules.everyone_can_press(session, guild_id)
        return GuildConfig(
            guild_id=guild_id,
            allowed=settings.allowed,
            everyone_can_press=everyone,
            banned_words=tuple(settings.banned_words),
            gallery_channel_id=settings.gallery_channel_id,
            gallery_public=settings.gallery_public,
            train_enabled=settings.train_enabled,
            train_subjects=tuple(s for s in settings.train_subjects.split(",") if s),
        )

    async def update_guild(self, config: GuildConfig) -> None:
        now = self._now()
        async with self._sessions.begin() as session:
            await guilds.update_settings(
                session,
                config.guild_id,
                {
                    "allowed": config.allowed,
                    "banned_words": list(config.banned_words),
                    "gallery_channel_id": config.gallery_channel_id,
                    "gallery_public": config.gallery_public,
                    "train_enabled": config.train_enabled,
                    "train_subjects": ",".join(config.train_subjects),
                },
                now,
            )
            await discord_rules.set_everyone_can_press(
                session, config.guild_id, config.everyone_can_press, now
            )

    async def save_pending(self, batch: PendingBatch) -> None:
        async with self._sessions.begin() as session:
            await pending.save(
                session,
                batch.token,
                user_id=batch.user_id,
                guild_id=batch.guild_id,
                channel_id=batch.channel_id,
                interaction_id=batch.interaction_id,
                requests=[r.model_dump(mode="json") for r in batch.requests],
                now=batch.created_at,
            )

    async def pending(self, token: uuid.UUID) -> PendingBatch | None:
        async with self._sessions() as session:
            row = await pending.get(session, token)
            if row is None:
                return None
            return PendingBatch(
                token=row.token,
                interaction_id=row.interaction_id,
                user_id=row.user_id,
                guild_id=row.guild_id,
                channel_id=row.channel_id,
                requests=tuple(ImagineParams.model_validate(r) for r in row.requests),
                created_at=row.created_at,
            )

    async def drop_pending(self, token: uuid.UUID, older_than: datetime) -> None:
        async with self._sessions.begin() as session:
            await pending.drop(session, token, older_than)

    async def share(
        self, job_id: uuid.UUID, index: int, user_id: int, names: DisplayNames | None = None
    ) -> Shared:
        async with self._sessions.begin() as session:
            row = await jobs.get(session, job_id)
            assert row is not None
            image = next(i for i in await jobs.images(session, job_id) if i.index == index)
            spec = JobSpec.model_validate(row.request)
            now = self._now()
            shared = await gallery.share(
                session, image.id, row.user_id, row.guild_id, spec.params.prompt, now
            )
            if names is not None and row.guild_id is not None:
                await gallery.record_names(
                    session, row.guild_id, names.guild, row.user_id, names.member, now
                )
        return Shared(shared.created)


def generation_chunks(spec: JobSpec) -> int:
    """The 75-token chunks the worker will encode for this job (priced by db/cost.py)."""
    gen = spec.generation
    texts = [p.text for p in gen.parts] or [gen.prompt]
    return prompt_chunks([*texts, gen.negative_prompt])


def _view(row: Job) -> JobView:
    raw = row.result or {}
    # The safety checker's per-image verdict travels beside the result when one is configured.
    nsfw = tuple(bool(flag) for flag in raw.get("nsfw", ()))
    fields = {k: v for k, v in raw.items() if k in JobResult.model_fields}
    result = JobResult.model_validate(fields) if raw else None
    return JobView(
        id=row.id,
        kind=JobKind(row.kind),
        state=JobState(row.state),
        user_id=row.user_id,
        guild_id=row.guild_id,
        channel_id=row.channel_id or 0,
        spec=JobSpec.model_validate(row.request),
        created_at=row.created_at,
        result=result,
        nsfw=nsfw,
        message_id=row.message_id,
        error=row.error,
        cost_milli=row.cost_milli,
        relaxed=row.relaxed,
    )


def _next_period(period: str, now: datetime) -> datetime:
    """When a day or month period's fresh allowance starts (UTC)."""
    utc = now.astimezone(UTC)
    if period == "day":
        return datetime(utc.year, utc.month, utc.day, tzinfo=UTC) + timedelta(days=1)
    year, month = (utc.year + 1, 1) if utc.month == 12 else (utc.year, utc.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def _cost_milli(spec: JobSpec) -> int:
    """What a job is charged (db/cost.py; docs/engine.md)."""
    gen = spec.generation
    if spec.kind is JobKind.DESCRIBE:
        return DESCRIBE_COST_MILLI  # a caption and a CLIP ranking, no denoising
    if spec.train is not None:  # a training run: its own price (docs/training.md)
        return train_cost_milli(spec.train.steps, spec.train.resolution)
    if spec.upscale_mode is UpscaleMode.PICK:
        return 0  # picking a tile of a pan's grid paints nothing
    if spec.upscale_mode is UpscaleMode.GAN_4X:
        return upscale_4x_cost_milli(gen.width, gen.height)
    cost = job_cost_milli(
        gen.width, gen.height, gen.steps, gen.batch, chunks=generation_chunks(spec)
    )
    if spec.kind is JobKind.EDIT:  # every step also attends to each input image's tokens
        return cost * (1 + edit_inputs(spec))
    return cost


def edit_inputs(spec: JobSpec) -> int:
    """How many images an `edit` job reads (the edited one and references)."""
    return (spec.source is not None) + len(spec.edit.images if spec.edit else ())
