"""Intake: parse → moderate → hold quota + insert job (one transaction) → enqueue.

Admission and enqueueing are two steps: the cog shows the job's status message (so delivery
can edit it) between them, and a job admitted but never released is published again by the
pipeline's reconciler.

Every rejection before the insert costs the member nothing. Admission is idempotent on the
interaction id, so a replayed interaction (gateway resume) returns the jobs it already made."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

from bot.services.access import Access, texts_of
from bot.services.admission_checks import (
    admitted_job,
    batch_job_id,
    check_account,
    check_guild,
)
from bot.services.errors import (
    CannotCancel,
    InvalidPrompt,
    JobNotFound,
    OutOfCredits,
    OverCaps,
    StaleButton,
)
from bot.services.intake_types import IntakeResult, Queued, Requester
from bot.services.lora_lookup import LoraLookup, with_stored_loras
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
    PendingBatch,
    Resolver,
    Store,
)
from bot.services.prompt_checks import (
    check_image_urls,
    keep_control_image,
    parse_request,
    sentence,
)
from pipeline.contracts import EditSpec, JobKind, JobSpec, UpscaleMode
from pipeline.image_urls import FetchPolicy
from pipeline.job_images import with_stored
from prompt.request import ImageRef, ImagineParams

# More jobs than this from one /imagine asks the member to confirm first.
CONFIRM_ABOVE = 4
_PENDING_TTL = timedelta(minutes=15)
# Admissions in flight at once: each is a short transaction (one user's are serialised by the
# database anyway); bounding them keeps a burst from taking every pooled connection.
ADMISSION_CONCURRENCY = 4


class IntakeService:
    def __init__(
        self,
        *,
        store: Store,
        enqueuer: Enqueuer,
        resolver: Resolver,
        resolve_errors: tuple[type[Exception], ...] = (),
        admission_concurrency: int = ADMISSION_CONCURRENCY,
        image_policy: FetchPolicy | None = None,
        loras: LoraLookup | None = None,
    ) -> None:
        self._loras = loras
        self._store = store
        self._enqueuer = enqueuer
        self._resolver = resolver
        self._resolve_errors = resolve_errors
        self._admitting = asyncio.Semaphore(admission_concurrency)
        self.access = Access(store)
        self._upscaling: dict[tuple[UUID, int, str], asyncio.Lock] = {}
        self._image_policy = image_policy or FetchPolicy()

    # --- checks shared by every entry point -------------------------------------------
    async def guild_config(self, guild_id: int | None) -> GuildConfig | None:
        return await self.access.guild_config(guild_id)

    def forget_guild(self, guild_id: int) -> None:
        self.access.forget_guild(guild_id)

    async def check_member(self, who: Requester) -> tuple[Account, GuildConfig | None]:
        # Bans are per server: an admin bans a member from Nanke in their own server.
        guild = await self.access.check_place(who.place)
        return await self._store.account(who.user_id), guild

    def parse(
        self, text: str, attached: tuple[ImageRef, ...] = (), control: ImageRef | None = None
    ) -> list[ImagineParams]:
        return parse_request(text, attached, self._image_policy, control)

    def check_image_url(self, url: str) -> ImageRef:
        """An image URL the worker will fetch, checked without the network (InvalidPrompt)."""
        try:
            ref = ImageRef(url=url)
        except ValueError:
            shown = url if len(url) <= 80 else url[:79] + "…"
            raise InvalidPrompt(sentence(f"{shown!r} is not an https:// image URL")) from None
        check_image_urls([ImagineParams(prompt="", parts=(), images=(ref,))], self._image_policy)
        return ref

    # --- /imagine ----------------------------------------------------------------------
    async def validate(
        self,
        who: Requester,
        text: str,
        attached: tuple[ImageRef, ...] = (),
        control: ImageRef | None = None,
    ) -> list[ImagineParams]:
        """Everything that can be checked before deferring: the prompt and the guild's rules.
        `attached`: the member's stored images (image prompts beside the text); `control`:
        the stored image of the prompt's --cn."""
        requests = self.parse(text, attached, control)
        guild = await self.guild_config(who.guild_id)
        check_guild(guild)
        # Each expanded prompt and negative prompt: `go{re,ld}` is checked as "gore" and "gold".
        Access.check_words((guild,), [text, *texts_of(requests)])
        return [await self.stored_loras(who, params) for params in requests]

    async def stored_loras(self, who: Requester, params: ImagineParams) -> ImagineParams:
        return await with_stored_loras(self._loras, who.user_id, who.guild_id, params)

    async def check_guild_allows(self, who: Requester) -> None:
        """The guild's rule that needs no prompt (/blend has none): Nanke is enabled here."""
        check_guild(await self.guild_config(who.guild_id))

    async def submit(self, who: Requester, requests: Sequence[ImagineParams]) -> IntakeResult:
        """Admit validated requests, or ask for a confirmation when they are many."""
        account, _ = await self.check_member(who)
        check_account(account)
        if len(requests) > CONFIRM_ABOVE:
            # Kept in the database, not in memory: the ✅ still works after a bot restart.
            token = uuid.uuid4()
            batch = PendingBatch(
                token=token,
                interaction_id=who.interaction_id,
                user_id=who.user_id,
                guild_id=who.guild_id,
                channel_id=who.channel_id,
                requests=tuple(requests),
                created_at=datetime.now(UTC),
            )
            await self._store.save_pending(batch)
            return IntakeResult(confirm_token=token, pending_count=len(requests))
        return await self._admit_all(who, account, requests)

    async def imagine(self, who: Requester, text: str) -> IntakeResult:
        """validate + submit + release, for callers with no message to show in between."""
        result = await self.submit(who, await self.validate(who, text))
        await self.release(result.queued)
        return result

    async def admit_one(self, who: Requester, make: Callable[[UUID], JobSpec]) -> Queued:
        """One job a command builds itself (/describe): the member's checks, then admission
        like /imagine's (credits, caps, idempotent on the interaction)."""
        account, _ = await self.check_member(who)
        check_account(account)
        spec = self._resolve(functools.partial(make, batch_job_id(who.interaction_id, 0)))
        new = NewJob(
            interaction_id=who.interaction_id,
            user_id=who.user_id,
            guild_id=who.guild_id,
            channel_id=who.channel_id,
            spec=spec,
            relax=account.prefs.mode is Mode.RELAX,
        )
        return await self.admit(new)

    async def release(self, queued: Sequence[Queued]) -> None:
        """Hand newly admitted jobs to the workers (a replayed job was handed over before)."""
        for item in queued:
            if not item.replayed:
                await self._enqueuer.enqueue(item.job)

    async def check_confirm(self, token: UUID, presser: Requester) -> None:
        """The cheap part of `confirm` (one read): run before acknowledging."""
        await self._pending_for(token, presser)

    async def _pending_for(self, token: UUID, presser: Requester) -> PendingBatch:
        pending = await self._store.pending(token)
        expired = pending is not None and datetime.now(UTC) - pending.created_at > _PENDING_TTL
        if pending is None or expired:
            raise StaleButton(
                "This confirmation has expired (after 15 minutes). Run /imagine again."
            )
        check_can_press(
            presser_id=presser.user_id, author_id=pending.user_id, everyone_allowed=False
        )
        return pending

    async def confirm(self, token: UUID, presser: Requester) -> IntakeResult:
        pending = await self._pending_for(token, presser)
        who = Requester(
            pending.interaction_id, pending.user_id, pending.guild_id, pending.channel_id
        )
        account, _ = await self.check_member(who)
        # Job ids derive from the original interaction, so a double click admits nothing twice.
        result = await self._admit_all(who, account, pending.requests)
        await self._store.drop_pending(token, datetime.now(UTC) - _PENDING_TTL)
        return result

    async def _admit_all(
        self, who: Requester, account: Account, requests: Sequence[ImagineParams]
    ) -> IntakeResult:
        queued, notes = list[Queued](), dict[str, None]()  # notes: once each, in order
        for index, params in enumerate(requests):
            job_id = batch_job_id(who.interaction_id, index)
            spec = self._resolve(
                functools.partial(self._resolver.imagine, job_id, params, account.prefs)
            )
            notes.update(dict.fromkeys(spec.notes))  # what the model's family changed
            new = NewJob(
                interaction_id=who.interaction_id if index == 0 else None,
                user_id=who.user_id,
                guild_id=who.guild_id,
                channel_id=who.channel_id,
                spec=spec,
                relax=account.prefs.mode is Mode.RELAX,
            )
            try:
                admitted = await self.admit(new)
            except (OutOfCredits, OverCaps) as exc:
                if not queued:
                    raise
                note = f"Queued {len(queued)} of {len(requests)}: {exc.message}"
                return IntakeResult(queued=tuple(queued), note="\n".join([note, *notes]))
            # A replayed interaction finds each job of its batch by its id (the first also by
            # the interaction): jobs a failure mid-batch left uncreated are created now.
            queued.append(admitted)
        return IntakeResult(queued=tuple(queued), note="\n".join(notes) or None)

    async def admit(self, new: NewJob) -> Queued:
        """One job, admitted: every entry point's last step (/edit resolves its own)."""
        async with self._admitting:
            admission = await self._store.admit(new)
        return await self.admitted(admission)

    async def admitted(self, admission: Admission) -> Queued:
        """The job and its place in line; refusals as the member's errors."""
        job = admitted_job(admission)
        created = admission.status is AdmissionStatus.CREATED
        return Queued(job, await self._store.queue_position(job.id), replayed=not created)

    def _resolve(self, make: Callable[[], JobSpec]) -> JobSpec:
        """Resolution errors (unknown model or LoRA…) are the member's to fix, like parsing."""
        try:
            return make()
        except self._resolve_errors as exc:
            raise InvalidPrompt(sentence(str(exc))) from None

    # --- buttons -----------------------------------------------------------------------
    async def follow_up(
        self,
        who: Requester,
        parent_id: UUID,
        kind: JobKind,
        index: int | None = None,
        upscale_mode: UpscaleMode | None = None,
        remix_prompt: str | None = None,
        edit: EditSpec | None = None,
    ) -> Queued:
        """U/V/🔄 and the post-upscale buttons: a new job derived from a finished one.

        Authorized on the parent's guild and author wherever it is pressed (bot/services/
        access.py); the new job belongs to that guild and is posted where it was pressed. An
        upscale of a tile that already has one returns that job (`reused`), uncharged."""
        parent, _ = await self.access.job_for(parent_id, who.place)
        params = None
        texts: list[str | None] = [parent.spec.params.prompt, parent.spec.params.negative_prompt]
        if remix_prompt is not None:
            parsed = self.parse(remix_prompt)
            texts = texts_of(parsed)
            params = await self.stored_loras(who, parsed[0])
            params = keep_control_image(params, parent.spec.generation.control)
        await self.check_words(parent, who, texts)
        result = parent.result
        if result is None:
            raise JobNotFound("That job has no images yet; wait for it to finish.")
        # The images its run fetched are stored: reuse them, never fetch a URL again.
        parent = replace(parent, spec=with_stored(parent.spec, result.fetched))
        source_key = None
        if index is not None:
            if not 1 <= index <= len(result.image_keys):
                raise JobNotFound(f"That job has no image {index}.")
            source_key = result.image_keys[index - 1]
        if kind is not JobKind.UPSCALE or params is not None:
            return await self._derive(
                who, parent, kind, index, source_key, upscale_mode, params, edit
            )
        # One upscale per tile and mode: a second press (or a double click) shows the first.
        key = (parent.id, index or 0, (upscale_mode or UpscaleMode.SUBTLE).value)
        async with self._upscaling.setdefault(key, asyncio.Lock()):
            existing = await self._store.existing_upscale(parent.id, index, upscale_mode)
            if existing is not None:
                position = await self._store.queue_position(existing.id)
                return Queued(existing, position, replayed=True, reused=True)
            return await self._derive(who, parent, kind, index, source_key, upscale_mode, None)

    async def _derive(
        self,
        who: Requester,
        parent: JobView,
        kind: JobKind,
        index: int | None,
        source_key: str | None,
        upscale_mode: UpscaleMode | None,
        params: ImagineParams | None,
        edit: EditSpec | None = None,
    ) -> Queued:
        account = await self._store.account(who.user_id)
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
                edit=edit,
            )
        )
        new = NewJob(
            interaction_id=who.interaction_id,
            user_id=who.user_id,
            # The job's guild governs its follow-ups (bans, words, buttons) wherever pressed.
            guild_id=parent.guild_id,
            channel_id=who.channel_id,
            spec=spec,
            relax=account.prefs.mode is Mode.RELAX,
            parent_id=parent.id,
        )
        return await self.admit(new)

    async def check_words(
        self, parent: JobView, who: Requester, texts: list[str | None] | None = None
    ) -> None:
        """The banned words of the job's guild (and of the server pressed in) against the
        follow-up's prompt: the parent's, or the remix text. Cheap: buttons run it before
        acknowledging, so a refusal is private."""
        if texts is None:
            texts = [parent.spec.params.prompt, parent.spec.params.negative_prompt]
        home = await self.guild_config(parent.guild_id)
        place = await self.guild_config(who.guild_id) if who.guild_id != parent.guild_id else None
        Access.check_words((home, place), texts)

    async def job_for_presser(
        self, job_id: UUID, who: Requester, *, showing: bool = False
    ) -> tuple[JobView, GuildConfig | None]:
        return await self.access.job_for(job_id, who.place, showing=showing)

    async def cancel(self, job_id: UUID, who: Requester) -> JobView:
        await self.job_for_presser(job_id, who)
        if not await self._store.cancel(job_id):
            raise CannotCancel("This job has already started, so it can no longer be cancelled.")
        cancelled = await self._store.job(job_id)
        assert cancelled is not None
        return cancelled
