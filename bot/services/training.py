"""/train, /models and ❌ on a training run: the Discord-free use case (docs/training.md).

/train checks everything it can before anything is charged, in this order: the server's rules
(Nanke enabled, banned words in the name and trigger, the subject allowed), the member's plan
(training included, LoRA count and size), the name (valid, not taken), the base model, then the
pictures (count, format, size, decodable, ≥ 512 px after EXIF rotation, duplicates dropped).
Then one admission holds the training price and inserts the `train` job; the `loras` row is
inserted right after (it reserves the name; the LoRA becomes usable when the job succeeds).
"""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from PIL import Image

from bot.services.access import Access
from bot.services.errors import (
    CannotCancel,
    InvalidPrompt,
    NankeError,
    NotYourJob,
    StaleButton,
)
from bot.services.intake import IntakeService, Queued, Requester, batch_job_id
from bot.services.ports import AdmissionStatus, ImageStore, JobView, NewJob, Store, UserPrefs
from bot.services.train_progress import TrainProgress
from db.cost import format_credits, train_cost_milli, train_refund_milli
from db.loras import TrainPlan as LoraPlan
from db.models import JobState
from inference.errors import BadRequestError, UnknownModelError
from inference.stored_loras import lora_key
from inference.train_config import (
    MAX_IMAGES,
    MIN_IMAGES,
    Subject,
    build_request,
    estimated_gpu_seconds,
)
from inference.train_images import MAX_BYTES, check_images
from pipeline.contracts import JobKind, JobSpec
from pipeline.image_intake import reference_key
from pipeline.train_contract import TrainJob
from prompt.request import ImagineParams, PromptPart

# Subjects a server allows until its admin says otherwise: `person` trains a model of a real
# person's likeness (docs/training.md "For admins").
DEFAULT_SUBJECTS = ("pet", "object", "style")
STORED_SIDE = 2048  # pictures are kept at most this long side (training uses ≤ 1024)
SAMPLE_STEPS = 20  # the 4 samples at the end
PENDING_S = 15 * 60  # how long ▶ Start training waits


@dataclass(frozen=True)
class StoredLora:
    id: uuid.UUID
    owner_id: int
    guild_id: int | None
    name: str
    base_model: str
    subject: str
    trigger: str
    size_bytes: int
    storage_key: str
    created_at: datetime | None = None
    job_id: uuid.UUID | None = None
    published: bool = False
    consent: bool = False
    ready: bool = True


class TrainPlan(LoraPlan, Protocol):
    """What /train needs of a plan beyond the LoRA limits (db.settings.PlanSettings)."""

    @property
    def train_minutes(self) -> int: ...
    @property
    def train_preview_every(self) -> int: ...


class LoraStore(Protocol):
    """The `loras` table and the training run's cancel (bot/services/sql_training.py)."""

    async def lookup(self, user_id: int, guild_id: int | None, name: str) -> StoredLora | None: ...
    async def mine(self, user_id: int) -> Sequence[StoredLora]: ...
    async def delete(self, user_id: int, name: str) -> StoredLora | None: ...
    async def set_consent(self, user_id: int, name: str, consent: bool) -> bool: ...
    async def publish(self, guild_id: int, owner_id: int, name: str) -> str: ...
    async def refusal(self, user_id: int, plan: TrainPlan) -> str | None: ...
    async def name_taken(self, user_id: int, name: str) -> bool: ...
    async def reserve(self, lora: StoredLora) -> bool: ...
    async def set_size(self, job_id: uuid.UUID, size_bytes: int) -> None: ...
    async def cancel_running(
        self, job_id: uuid.UUID, user_id: int, refund_milli: int
    ) -> int | None: ...


@runtime_checkable
class Deletes(Protocol):
    async def delete(self, key: str) -> None: ...


class TrainResolver(Protocol):
    def train_target(self, model: str | None) -> Any: ...
    def imagine(self, job_id: uuid.UUID, params: ImagineParams, prefs: UserPrefs) -> JobSpec: ...


@dataclass(frozen=True)
class Prepared:
    token: uuid.UUID  # the ▶ Start training button's
    summary: str  # what it will do: model, pictures, steps, estimated time, price
    notes: tuple[str, ...]  # dropped duplicates


@dataclass(frozen=True)
class _Pending:
    who: Requester
    request: Any
    keys: tuple[str, ...]
    at: float


class TrainingService:
    def __init__(
        self,
        *,
        intake: IntakeService,
        store: Store,
        loras: LoraStore,
        images: ImageStore,
        resolver: TrainResolver,
        plans: Mapping[str, Any],
        progress: TrainProgress,
    ) -> None:
        self._intake = intake
        self._store = store
        self.loras = loras
        self._images = images
        self._resolver = resolver
        self._plans = plans
        self.progress = progress
        # Checked, stored runs waiting for ▶ (in memory: after a restart, /train again).
        self._pending: dict[uuid.UUID, _Pending] = {}

    async def check(
        self, who: Requester, name: str, subject: str, trigger: str | None, steps: int | None
    ) -> Any:
        """Everything but the pictures (cheap: run before deferring). The TrainRequest."""
        guild = await self._intake.guild_config(who.guild_id)
        await self._intake.check_guild_allows(who)
        Access.check_words((guild,), [name, trigger])
        try:
            subj = Subject(subject)
        except ValueError:
            raise InvalidPrompt(_nothing("subject must be person, pet, object or style")) from None
        if guild is not None and not guild.train_enabled:
            raise InvalidPrompt("Training LoRAs is turned off on this server. Nothing was charged.")
        allowed = guild.train_subjects if guild is not None else DEFAULT_SUBJECTS
        if subj.value not in allowed:
            if subj is Subject.PERSON:
                raise InvalidPrompt(
                    "Training on photos of a person is off on this server (a server admin can "
                    "allow it with /admin training): a LoRA of someone's likeness can paint "
                    "them in any situation. Nothing was charged."
                )
            raise InvalidPrompt(
                f"This server does not allow training on `{subj}`. Nothing was charged."
            )
        account, _ = await self._intake.check_member(who)
        plan = self._plan(account.plan)
        refusal = await self.loras.refusal(who.user_id, plan)
        if refusal is not None:
            raise InvalidPrompt(_nothing(f"You cannot train now: {refusal}"))
        try:
            target = self._resolver.train_target(account.prefs.model)
            request = build_request(
                name,
                target.model,
                target.family,
                subject=subj,
                trigger=trigger,
                steps=steps,
                resolution=target.resolution,
                sample_steps=SAMPLE_STEPS,
            )
        except (BadRequestError, UnknownModelError) as exc:
            raise InvalidPrompt(_nothing(str(exc))) from None
        if await self.loras.name_taken(who.user_id, request.name):
            raise InvalidPrompt(
                _nothing(
                    f"You already have a LoRA called `{request.name}`: pick another name, or "
                    "delete it with /models delete first"
                )
            )
        return request

    async def prepare(
        self, who: Requester, request: Any, files: Sequence[tuple[str, bytes]]
    ) -> Prepared:
        """Check the pictures and store them; nothing is charged yet: the member reads what
        will run (`summary`) and presses ▶ Start training (`begin`)."""
        if not MIN_IMAGES <= len(files) <= MAX_IMAGES:
            raise InvalidPrompt(_nothing(f"attach {MIN_IMAGES}-{MAX_IMAGES} pictures"))
        try:
            checked = await asyncio.to_thread(check_images, list(files))
        except BadRequestError as exc:
            raise InvalidPrompt(_nothing(str(exc))) from None
        keys = tuple([await self._store_picture(image) for image in checked.images])
        token = uuid.uuid4()
        self._pending[token] = _Pending(who, request, keys, time.monotonic())
        return Prepared(token, self.summary(request, len(keys)), tuple(checked.notes))

    def check_pending(self, token: uuid.UUID, presser: Requester) -> None:
        """Before acknowledging ▶: the run is still waiting, and it is the presser's."""
        self._drop_stale()
        pending = self._pending.get(token)
        if pending is None:
            raise StaleButton(
                "This training run was started already, or waited over 15 minutes (or the bot "
                "restarted). Run /train again."
            )
        if pending.who.user_id != presser.user_id:
            raise NotYourJob("Only the member who sent these pictures can start this run.")

    async def begin(self, token: uuid.UUID, presser: Requester) -> Queued:
        """▶ Start training: hold the price, insert the job and reserve the name. The caller
        shows the job, then hands it to the workers (bot/interactions.py `post_queued`)."""
        self.check_pending(token, presser)
        pending = self._pending.pop(token)  # a double click finds nothing the second time
        try:
            return await self._admit(pending)
        except NankeError:
            self._pending[token] = pending  # out of credits: may press again after a grant
            raise

    async def _admit(self, pending: _Pending) -> Queued:
        who, request = pending.who, pending.request
        account, _ = await self._intake.check_member(who)
        plan = self._plan(account.plan)
        refusal = await self.loras.refusal(who.user_id, plan)  # may have changed meanwhile
        if refusal is not None:
            raise InvalidPrompt(_nothing(f"You cannot train now: {refusal}"))
        job_id = batch_job_id(who.interaction_id, 0)
        spec = self._spec(job_id, who, request, list(pending.keys), plan)
        admission = await self._store.admit(
            NewJob(who.interaction_id, who.user_id, who.guild_id, who.channel_id, spec)
        )
        queued = await self._intake.admitted(admission)
        if admission.status is AdmissionStatus.CREATED:
            reserved = await self.loras.reserve(
                StoredLora(
                    id=uuid.uuid4(),
                    owner_id=who.user_id,
                    guild_id=who.guild_id,
                    name=request.name,
                    base_model=request.model,
                    subject=request.subject.value,
                    trigger=request.trigger,
                    size_bytes=0,
                    storage_key=spec.train.lora_key,  # type: ignore[union-attr]
                    job_id=job_id,
                )
            )
            if not reserved:  # a second run of the same name won the race: refund this one
                await self._store.cancel(job_id)
                raise InvalidPrompt(_nothing(f"You already have a LoRA called `{request.name}`"))
        return queued

    def _drop_stale(self) -> None:
        now = time.monotonic()
        for token, pending in list(self._pending.items()):
            if now - pending.at > PENDING_S:
                del self._pending[token]

    def _spec(
        self, job_id: uuid.UUID, who: Requester, request: Any, keys: list[str], plan: TrainPlan
    ) -> JobSpec:
        """The `train` job: its samples described as a painting of the caption."""
        caption = request.caption
        params = ImagineParams(
            prompt=caption,
            parts=(PromptPart(text=caption),),
            model=request.model,
            steps=request.sample_steps,
            seed=0,
        )
        paint = self._resolver.imagine(job_id, params, UserPrefs())
        train = TrainJob(
            name=request.name,
            subject=request.subject.value,
            trigger=request.trigger,
            steps=request.steps,
            resolution=request.resolution,
            image_keys=tuple(keys),
            lora_key=lora_key(who.user_id, job_id),
            time_limit_s=plan.train_minutes * 60.0,
            preview_every=plan.train_preview_every,
        )
        return paint.model_copy(update={"kind": JobKind.TRAIN, "train": train})

    def summary(self, request: Any, pictures: int) -> str:
        target = self._resolver.train_target(request.model)
        estimate = estimated_gpu_seconds(target.family, request.steps)
        price = format_credits(train_cost_milli(request.steps, request.resolution))
        return (
            f"training `{request.name}` on {request.model}: {pictures} pictures, "
            f"{request.steps} steps at {request.resolution} px, caption `{request.caption}`; "
            f"estimated GPU time {max(1, round(estimate / 60))} min; {price} credits "
            "(❌ refunds the unused part)"
        )

    async def cancel(self, job_id: uuid.UUID, who: Requester) -> tuple[JobView, int | None]:
        """❌: a queued job as any other (full refund); a running training run of the member's
        own, with the unused steps' share refunded. The refund in milli-credits (None: all)."""
        job, _ = await self._intake.job_for_presser(job_id, who)
        if job.kind is not JobKind.TRAIN or job.state is not JobState.RUNNING:
            return await self._intake.cancel(job_id, who), None
        if job.user_id != who.user_id:
            raise NotYourJob("Only the member who started a training run can cancel it.")
        train = job.spec.train
        done = None if train is None else self.progress.steps_done(job_id, train.steps)
        if train is None or done is None:
            raise CannotCancel(
                "This training run is just starting; press ❌ again in a few seconds."
            )
        refund = train_refund_milli(job.cost_milli, train.steps, done)
        refunded = await self.loras.cancel_running(job_id, job.user_id, refund)
        if refunded is None:
            raise CannotCancel("This training run has already finished.")
        self.progress.forget(job_id)
        cancelled = await self._store.job(job_id)
        assert cancelled is not None
        return cancelled, refunded

    async def delete(self, user_id: int, name: str) -> StoredLora | None:
        """/models delete: the row, then the file in storage (where the storage can delete)."""
        gone = await self.loras.delete(user_id, name)
        if gone is not None and isinstance(self._images, Deletes):
            await self._images.delete(gone.storage_key)
        return gone

    async def trained(self, job: JobView) -> None:
        """A training job succeeded: record its LoRA's size (plan limits, /models mine)."""
        if job.spec.train is None:
            return
        data = await self._images.read(job.spec.train.lora_key)
        await self.loras.set_size(job.id, len(data))
        self.progress.forget(job.id)

    async def _store_picture(self, image: Image.Image) -> str:
        def encode() -> bytes:
            small = image.copy()
            small.thumbnail((STORED_SIDE, STORED_SIDE), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            small.save(out, "PNG")
            return out.getvalue()

        sha = await self._images.store_upload(await asyncio.to_thread(encode))
        return reference_key(sha)

    def _plan(self, name: str) -> Any:
        return self._plans[name]


def pack_subject(trigger: str, subject: str) -> str:
    """What a pack's `{subject}` becomes (as `nanke pack` reads it from the LoRA's metadata)."""
    return f"{trigger} style" if subject == "style" else f"{trigger} {subject}"


def _nothing(message: str) -> str:
    text = message.rstrip(".")
    if "." not in text.split(" ", 1)[0]:  # a file name stays as the member wrote it
        text = text[:1].upper() + text[1:]
    return f"{text}. Nothing was charged."


def check_attachment_sizes(sizes: Sequence[tuple[str, int]]) -> None:
    """By Discord's announced sizes, before downloading anything."""
    if not MIN_IMAGES <= len(sizes) <= MAX_IMAGES:
        raise InvalidPrompt(_nothing(f"attach {MIN_IMAGES}-{MAX_IMAGES} pictures"))
    for filename, size in sizes:
        if size > MAX_BYTES:
            raise InvalidPrompt(
                _nothing(f"{filename} is over {MAX_BYTES // 1024 // 1024} MB: send a smaller copy")
            )
