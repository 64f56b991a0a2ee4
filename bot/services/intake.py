"""Intake: parse → moderate → hold quota + insert job (one transaction) → enqueue.

Admission and enqueueing are two steps: the cog shows the job's status message (so delivery
can edit it) between them, and a job admitted but never released is published again by the
pipeline's reconciler.

Every rejection before the insert costs the member nothing. Admission is idempotent on the
interaction id, so a replayed interaction (gateway resume) returns the jobs it already made."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from bot.services.errors import (
    BannedWord,
    CannotCancel,
    GuildNotAllowed,
    InvalidPrompt,
    JobNotFound,
    MemberBanned,
    OutOfCredits,
    OverCaps,
    StaleButton,
)
from bot.services.moderation import find_banned_word
from bot.services.permissions import check_can_press
from bot.services.ports import (
    Account,
    Admission,
    AdmissionStatus,
    Enqueuer,
    GuildConfig,
    JobView,
    Mode,
    NewJob,
    Resolver,
    Store,
)
from pipeline.contracts import JobKind, JobSpec, UpscaleMode
from prompt import PromptError, parse_prompt
from prompt.request import ImagineParams

# More jobs than this from one /imagine asks the member to confirm first.
CONFIRM_ABOVE = 4
_PENDING_TTL_S = 15 * 60
_GUILD_CACHE_S = 30.0
# Admissions in flight at once: each is a short transaction (one user's are serialised by the
# database anyway); bounding them keeps a burst from taking every pooled connection.
ADMISSION_CONCURRENCY = 4


@dataclass(frozen=True)
class Requester:
    """Who asked, where, and through which Discord interaction."""

    interaction_id: int
    user_id: int
    guild_id: int | None
    channel_id: int


@dataclass(frozen=True)
class Queued:
    job: JobView
    position: int | None
    replayed: bool = False


@dataclass(frozen=True)
class IntakeResult:
    queued: tuple[Queued, ...] = ()
    # Set when the request needs a confirmation click before anything is charged.
    confirm_token: UUID | None = None
    pending_count: int = 0
    # A batch that stopped part-way (credits or caps ran out), said to the member.
    note: str | None = None


@dataclass
class _Pending:
    who: Requester
    params: tuple[ImagineParams, ...]
    created: float = field(default_factory=time.monotonic)


class IntakeService:
    def __init__(
        self,
        *,
        store: Store,
        enqueuer: Enqueuer,
        resolver: Resolver,
        resolve_errors: tuple[type[Exception], ...] = (),
        admission_concurrency: int = ADMISSION_CONCURRENCY,
    ) -> None:
        self._store = store
        self._enqueuer = enqueuer
        self._resolver = resolver
        self._resolve_errors = resolve_errors
        self._admitting = asyncio.Semaphore(admission_concurrency)
        self._pending: dict[UUID, _Pending] = {}
        self._guilds: dict[int, tuple[GuildConfig, float]] = {}

    # --- checks shared by every entry point -------------------------------------------
    async def guild_config(self, guild_id: int | None) -> GuildConfig | None:
        """A guild's settings, cached briefly: /imagine reads them before its 3 s defer."""
        if guild_id is None:
            return None
        hit = self._guilds.get(guild_id)
        if hit is not None and time.monotonic() - hit[1] < _GUILD_CACHE_S:
            return hit[0]
        config = await self._store.guild(guild_id)
        self._guilds[guild_id] = (config, time.monotonic())
        return config

    def forget_guild(self, guild_id: int) -> None:
        """Called after an admin changes a guild's settings in this process."""
        self._guilds.pop(guild_id, None)

    async def check_member(self, who: Requester) -> tuple[Account, GuildConfig | None]:
        guild = await self.guild_config(who.guild_id)
        _check_guild(guild)
        await self._check_ban(who)
        return await self._store.account(who.user_id), guild

    async def _check_ban(self, who: Requester) -> None:
        # Bans are per server: an admin bans a member from Nanke in their own server.
        if who.guild_id is not None and await self._store.is_banned(who.guild_id, who.user_id):
            raise MemberBanned(_BANNED)

    def parse(self, text: str) -> list[ImagineParams]:
        if not _is_text(text):
            raise InvalidPrompt(
                _sentence("the prompt holds characters that are not valid text; type it again")
            )
        try:
            return parse_prompt(text)
        except PromptError as exc:
            raise InvalidPrompt(_sentence(exc.message), exc.flag) from None

    # --- /imagine ----------------------------------------------------------------------
    async def validate(self, who: Requester, text: str) -> list[ImagineParams]:
        """Everything that can be checked before deferring: the prompt and the guild's rules."""
        requests = self.parse(text)
        guild = await self.guild_config(who.guild_id)
        _check_guild(guild)
        if guild is not None and (word := find_banned_word(text, guild.banned_words)):
            raise BannedWord(word)
        return requests

    async def submit(self, who: Requester, requests: Sequence[ImagineParams]) -> IntakeResult:
        """Admit validated requests, or ask for a confirmation when they are many."""
        account, _ = await self.check_member(who)
        _check_account(account)
        if len(requests) > CONFIRM_ABOVE:
            self._drop_expired()
            token = uuid.uuid4()
            self._pending[token] = _Pending(who, tuple(requests))
            return IntakeResult(confirm_token=token, pending_count=len(requests))
        return await self._admit_all(who, account, requests)

    async def imagine(self, who: Requester, text: str) -> IntakeResult:
        """validate + submit + release, for callers with no message to show in between."""
        result = await self.submit(who, await self.validate(who, text))
        await self.release(result.queued)
        return result

    async def release(self, queued: Sequence[Queued]) -> None:
        """Hand newly admitted jobs to the workers (a replayed job was handed over before)."""
        for item in queued:
            if not item.replayed:
                await self._enqueuer.enqueue(item.job)

    def check_confirm(self, token: UUID, presser: Requester) -> None:
        """The in-memory part of `confirm`: cheap enough to run before acknowledging."""
        self._pending_for(token, presser)

    def _pending_for(self, token: UUID, presser: Requester) -> _Pending:
        self._drop_expired()
        pending = self._pending.get(token)
        if pending is None:
            raise StaleButton(
                "This confirmation has expired (or the bot restarted). Run /imagine again."
            )
        check_can_press(
            presser_id=presser.user_id, author_id=pending.who.user_id, everyone_allowed=False
        )
        return pending

    async def confirm(self, token: UUID, presser: Requester) -> IntakeResult:
        pending = self._pending_for(token, presser)
        account, _ = await self.check_member(pending.who)
        # Keys derive from the original interaction, so a double click admits nothing twice.
        result = await self._admit_all(pending.who, account, pending.params)
        self._pending.pop(token, None)
        return result

    async def _admit_all(
        self, who: Requester, account: Account, requests: Sequence[ImagineParams]
    ) -> IntakeResult:
        queued: list[Queued] = []
        for index, params in enumerate(requests):
            job_id = uuid.uuid4()
            spec = self._resolve(
                functools.partial(self._resolver.imagine, job_id, params, account.prefs)
            )
            new = NewJob(
                interaction_id=who.interaction_id if index == 0 else None,
                user_id=who.user_id,
                guild_id=who.guild_id,
                channel_id=who.channel_id,
                spec=spec,
                relax=account.prefs.mode is Mode.RELAX,
            )
            try:
                admitted = await self._admit(new)
            except (OutOfCredits, OverCaps) as exc:
                if not queued:
                    raise
                note = f"Queued {len(queued)} of {len(requests)}: {exc.message}"
                return IntakeResult(queued=tuple(queued), note=note)
            queued.append(admitted)
            if admitted.replayed:
                break  # a replayed interaction: its batch was admitted the first time
        return IntakeResult(queued=tuple(queued))

    async def _admit(self, new: NewJob) -> Queued:
        async with self._admitting:
            admission = await self._store.admit(new)
        job = _admitted_job(admission)
        created = admission.status is AdmissionStatus.CREATED
        return Queued(job, await self._store.queue_position(job.id), replayed=not created)

    def _resolve(self, make: Callable[[], JobSpec]) -> JobSpec:
        """Resolution errors (unknown model or LoRA…) are the member's to fix, like parsing."""
        try:
            return make()
        except self._resolve_errors as exc:
            raise InvalidPrompt(_sentence(str(exc))) from None

    # --- buttons -----------------------------------------------------------------------
    async def follow_up(
        self,
        who: Requester,
        parent_id: UUID,
        kind: JobKind,
        index: int | None = None,
        upscale_mode: UpscaleMode | None = None,
        remix_prompt: str | None = None,
    ) -> Queued:
        """U/V/🔄 and the post-upscale buttons: a new job derived from a finished one."""
        parent, guild = await self.job_for_presser(parent_id, who)
        account, _ = await self.check_member(who)
        params = None
        if remix_prompt is not None:
            parsed = self.parse(remix_prompt)
            if guild is not None and (word := find_banned_word(remix_prompt, guild.banned_words)):
                raise BannedWord(word)
            params = parsed[0]
        if parent.result is None:
            raise JobNotFound("That job has no images yet; wait for it to finish.")
        source_key = None
        if index is not None:
            if not 1 <= index <= len(parent.result.image_keys):
                raise JobNotFound(f"That job has no image {index}.")
            source_key = parent.result.image_keys[index - 1]
        job_id = uuid.uuid4()
        spec = self._resolve(
            lambda: self._resolver.follow_up(
                job_id,
                parent.spec,
                kind,
                index,
                source_key,
                upscale_mode=upscale_mode,
                params=params,
                prefs=account.prefs,
            )
        )
        new = NewJob(
            interaction_id=who.interaction_id,
            user_id=who.user_id,
            guild_id=who.guild_id,
            channel_id=who.channel_id,
            spec=spec,
            relax=account.prefs.mode is Mode.RELAX,
            parent_id=parent.id,
        )
        return await self._admit(new)

    async def job_for_presser(
        self, job_id: UUID, who: Requester
    ) -> tuple[JobView, GuildConfig | None]:
        job = await self._store.job(job_id)
        if job is None:
            raise JobNotFound("That job no longer exists.")
        guild = await self.guild_config(who.guild_id)
        check_can_press(
            presser_id=who.user_id,
            author_id=job.user_id,
            everyone_allowed=guild is not None and guild.everyone_can_press,
        )
        return job, guild

    async def cancel(self, job_id: UUID, who: Requester) -> JobView:
        await self.job_for_presser(job_id, who)
        if not await self._store.cancel(job_id):
            raise CannotCancel("This job has already started, so it can no longer be cancelled.")
        cancelled = await self._store.job(job_id)
        assert cancelled is not None
        return cancelled

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for token in [t for t, p in self._pending.items() if now - p.created > _PENDING_TTL_S]:
            del self._pending[token]


_BANNED = "You are banned from using Nanke here. Ask a server admin."
_NO_CREDITS = (
    "You are out of credits for now. Check /info for when they renew, or switch to relax mode "
    "in /settings if this server allows it."
)


def _sentence(message: str) -> str:
    return f"{message[:1].upper()}{message[1:]} (nothing was charged)"


def _is_text(text: str) -> bool:
    """False for a lone surrogate (a broken emoji half), which no database can store."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_account(account: Account) -> None:
    if account.credits_left_milli <= 0 and account.prefs.mode is not Mode.RELAX:
        raise OutOfCredits(_NO_CREDITS)


def _check_guild(guild: GuildConfig | None) -> None:
    if guild is not None and not guild.allowed:
        raise GuildNotAllowed(
            "Nanke is not enabled on this server. A server admin can enable it with /admin allow."
        )


def _admitted_job(admission: Admission) -> JobView:
    if admission.status is AdmissionStatus.OUT_OF_CREDITS:
        raise OutOfCredits(admission.detail or _NO_CREDITS)
    if admission.status is AdmissionStatus.OVER_CAPS:
        raise OverCaps(
            admission.detail
            or "You have too many jobs running or waiting. Wait for one to finish, or cancel a "
            "queued one with its ❌ button."
        )
    assert admission.job is not None
    return admission.job
