"""In-memory stand-ins for the data layer and pipeline seams (bot/services/ports.py).

They keep the same rules the real ones promise (idempotent admission, quota holds and refunds,
caps, post-once claims) so the bot's tests exercise real decisions. The fake worker writes real
PNGs and emits the same job events a Celery worker does."""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from PIL import Image

from bot.services.ports import (
    Account,
    Admission,
    AdmissionStatus,
    DisplayNames,
    GuildConfig,
    JobState,
    JobView,
    NewJob,
    PendingBatch,
    Shared,
    UserPrefs,
)
from bot.services.resolver import RegistryResolver
from inference.registry import IpAdapterEntry, ModelEntry, Registry
from inference.registry_images import Located
from inference.upscaler_entry import UpscalerEntry
from pipeline.contracts import JobEvent, JobKind, JobResult, UpscaleMode
from pipeline.contracts import JobEventKind as EventKind

COST_MILLI = 1000


def tiny_resolver(
    lora_dir: Path | None = None, base_size: int = 64, steps: int = 20, upscaler: bool = False
) -> RegistryResolver:
    """The engine's resolver over a registry of one small model (no weights are loaded:
    resolving is torch-free); 64² tiles by default keep the fake worker's PNGs tiny.
    `upscaler`: models.toml has an [upscaler] (Upscale (4x))."""
    model = ModelEntry("tiny", str(lora_dir or Path.cwd()), "dir", "sd15", steps, base_size)
    xl = ModelEntry("tiny-xl", str(lora_dir or Path.cwd()), "dir", "sdxl", steps, base_size)
    gan = UpscalerEntry("tiny x4", path=str(Path.cwd() / "x4.pth")) if upscaler else None
    canny = {"canny": Located("lllyasviel/control_v11p_sd15_canny", "hub")}  # sd15 only
    # An image-prompt adapter for the sd15 family only: tiny-xl refuses image prompts.
    adapter = IpAdapterEntry(str(Path.cwd()), "ip-adapter.safetensors", str(Path.cwd()))
    registry = Registry(
        {"tiny": model, "tiny-xl": xl},
        "tiny",
        lora_dir=lora_dir,
        upscaler=gan,
        controlnets={"sd15": canny},
        ip_adapters={"sd15": adapter},
    )
    return RegistryResolver(registry)


@dataclass
class _Row:
    view: JobView
    seq: int
    posting: bool = False
    refunded: bool = False


@dataclass
class _User:
    plan: str = "free"
    prefs: UserPrefs = field(default_factory=UserPrefs)
    balance_milli: int = 25 * COST_MILLI


class MemoryStore:
    """Store with the data layer's promises, in memory (one asyncio loop: no locks needed)."""

    def __init__(self, *, max_running: int = 3, max_queued: int = 10) -> None:
        self.jobs: dict[UUID, _Row] = {}
        self.by_key: dict[int, UUID] = {}
        self.users: dict[int, _User] = {}
        self.guilds: dict[int, GuildConfig] = {}
        self.shares: set[tuple[UUID, int]] = set()
        self.shared_names: list[DisplayNames] = []
        # Jobs whose image the web gallery serves (shared in a public gallery).
        self.public: set[UUID] = set()
        self.batches: dict[UUID, PendingBatch] = {}
        self.parents: dict[UUID, UUID] = {}
        self.bans: set[tuple[int, int]] = set()
        self.max_running = max_running
        self.max_queued = max_queued
        self._seq = itertools.count()

    def _user(self, user_id: int) -> _User:
        return self.users.setdefault(user_id, _User())

    async def admit(self, new: NewJob) -> Admission:
        existing = self.by_key.get(new.interaction_id) if new.interaction_id else None
        if existing is None and new.spec.job_id in self.jobs:
            existing = new.spec.job_id
        if existing is not None:
            return Admission(AdmissionStatus.REPLAYED, self.jobs[existing].view)
        user = self._user(new.user_id)
        mine = [r.view for r in self.jobs.values() if r.view.user_id == new.user_id]
        running = sum(j.state is JobState.RUNNING for j in mine)
        queued = sum(j.state is JobState.QUEUED for j in mine)
        if queued >= self.max_queued or running + queued >= self.max_running + self.max_queued:
            return Admission(AdmissionStatus.OVER_CAPS)
        cost = 0 if new.relax else COST_MILLI
        if user.balance_milli < cost:
            return Admission(AdmissionStatus.OUT_OF_CREDITS)
        user.balance_milli -= cost
        view = JobView(
            id=new.spec.job_id,
            kind=new.spec.kind,
            state=JobState.QUEUED,
            user_id=new.user_id,
            guild_id=new.guild_id,
            channel_id=new.channel_id,
            spec=new.spec,
            created_at=datetime.now(UTC),
            cost_milli=cost,
            relaxed=new.relax,
        )
        self.jobs[view.id] = _Row(view, next(self._seq))
        if new.parent_id is not None:
            self.parents[view.id] = new.parent_id
        if new.interaction_id is not None:
            self.by_key[new.interaction_id] = view.id
        return Admission(AdmissionStatus.CREATED, view)

    async def job(self, job_id: UUID) -> JobView | None:
        row = self.jobs.get(job_id)
        return row.view if row else None

    async def queue_eta(self, job_id: UUID, position: int) -> float | None:
        return None  # no run times measured in the fake

    async def queue_position(self, job_id: UUID) -> int | None:
        queued = sorted(
            (r for r in self.jobs.values() if r.view.state is JobState.QUEUED), key=lambda r: r.seq
        )
        for position, row in enumerate(queued, 1):
            if row.view.id == job_id:
                return position
        return None

    async def active_jobs(self, user_id: int) -> Sequence[JobView]:
        rows = sorted(self.jobs.values(), key=lambda r: r.seq)
        return [
            r.view
            for r in rows
            if r.view.user_id == user_id and r.view.state in (JobState.QUEUED, JobState.RUNNING)
        ]

    def _set(self, job_id: UUID, **changes: object) -> JobView:
        row = self.jobs[job_id]
        row.view = replace(row.view, **changes)  # type: ignore[arg-type]
        return row.view

    def _refund(self, row: _Row) -> None:
        if not row.refunded:
            row.refunded = True
            self._user(row.view.user_id).balance_milli += row.view.cost_milli

    async def existing_upscale(
        self, parent_id: UUID, index: int | None, mode: UpscaleMode | None
    ) -> JobView | None:
        wanted = mode or UpscaleMode.SUBTLE
        for row in sorted(self.jobs.values(), key=lambda r: r.seq):
            v = row.view
            if (
                self.parents.get(v.id) == parent_id
                and v.kind is JobKind.UPSCALE
                and (v.spec.source.index if v.spec.source else None) == index
                and (v.spec.upscale_mode or wanted) is wanted
                and v.state not in (JobState.FAILED, JobState.CANCELLED)
            ):
                return v
        return None

    async def shown_publicly(self, job_id: UUID) -> bool:
        return job_id in self.public

    async def cancel(self, job_id: UUID) -> bool:
        row = self.jobs.get(job_id)
        if row is None or row.view.state is not JobState.QUEUED:
            return False
        self._set(job_id, state=JobState.CANCELLED)
        self._refund(row)
        return True

    async def claim_delivery(self, job_id: UUID) -> bool:
        row = self.jobs.get(job_id)
        # Like db.jobs.mark_posting: a result, or a failure not yet shown (a failed job's
        # claim is never released: its notice is shown once).
        postable = (JobState.SUCCEEDED, JobState.FAILED)
        if row is None or row.view.state not in postable or row.posting:
            return False
        row.posting = True
        return True

    async def set_placeholder(self, job_id: UUID, message_id: int) -> None:
        if self.jobs[job_id].view.state in (JobState.QUEUED, JobState.RUNNING):
            self._set(job_id, message_id=message_id)

    async def mark_posted(self, job_id: UUID, message_id: int | None) -> None:
        row = self.jobs[job_id]
        failed = row.view.state is JobState.FAILED
        self._set(
            job_id, state=row.view.state if failed else JobState.POSTED, message_id=message_id
        )

    # worker side ------------------------------------------------------------------------
    def start(self, job_id: UUID) -> None:
        self._set(job_id, state=JobState.RUNNING)

    def succeed(self, job_id: UUID, result: JobResult, nsfw: tuple[bool, ...]) -> None:
        self._set(job_id, state=JobState.SUCCEEDED, result=result, nsfw=nsfw)

    def fail(self, job_id: UUID, error: str) -> None:
        self._set(job_id, state=JobState.FAILED, error=error)
        self._refund(self.jobs[job_id])

    # accounts -----------------------------------------------------------------------------
    async def account(self, user_id: int) -> Account:
        user = self._user(user_id)
        return Account(
            user_id=user_id,
            plan=user.plan,
            prefs=user.prefs,
            credits_left_milli=user.balance_milli,
            renews_at=datetime(2030, 1, 1, tzinfo=UTC),
            max_running=self.max_running,
            max_queued=self.max_queued,
        )

    async def update_prefs(self, user_id: int, prefs: UserPrefs) -> None:
        self._user(user_id).prefs = prefs

    async def grant(self, user_id: int, credits: int, by: int) -> Account:
        self._user(user_id).balance_milli += credits * COST_MILLI
        return await self.account(user_id)

    async def set_plan(self, user_id: int, plan: str) -> Account:
        self._user(user_id).plan = plan
        return await self.account(user_id)

    async def is_banned(self, guild_id: int, user_id: int) -> bool:
        return (guild_id, user_id) in self.bans

    async def set_banned(self, guild_id: int, user_id: int, banned: bool) -> None:
        if banned:
            self.bans.add((guild_id, user_id))
        else:
            self.bans.discard((guild_id, user_id))

    async def plans(self) -> Sequence[str]:
        return ("free", "pro")

    async def guild(self, guild_id: int) -> GuildConfig:
        return self.guilds.get(guild_id) or GuildConfig(guild_id=guild_id)

    async def update_guild(self, config: GuildConfig) -> None:
        self.guilds[config.guild_id] = config

    async def save_pending(self, batch: PendingBatch) -> None:
        self.batches[batch.token] = batch

    async def pending(self, token: UUID) -> PendingBatch | None:
        return self.batches.get(token)

    async def drop_pending(self, token: UUID, older_than: datetime) -> None:
        self.batches = {
            t: b for t, b in self.batches.items() if t != token and b.created_at >= older_than
        }

    async def share(
        self, job_id: UUID, index: int, user_id: int, names: DisplayNames | None = None
    ) -> Shared:
        created = (job_id, index) not in self.shares
        self.shares.add((job_id, index))
        if names is not None:
            self.shared_names.append(names)
        return Shared(created)


class MemoryImages:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    async def read(self, key: str) -> bytes:
        return self.blobs[key]

    async def store_upload(self, data: bytes) -> str:
        """The real intake (decode, limits, re-encode) into this dict by content address."""
        from bot.services.errors import InvalidPrompt
        from pipeline.image_decode import ImageRefused, decode_image
        from pipeline.image_intake import reference_key

        try:
            clean = decode_image(data)
        except ImageRefused as exc:
            raise InvalidPrompt(f"{exc} Nothing was charged.") from None
        self.blobs[reference_key(clean.sha256)] = clean.png
        return clean.sha256


class RecordingEnqueuer:
    def __init__(self) -> None:
        self.sent: list[UUID] = []

    async def enqueue(self, job: JobView) -> None:
        self.sent.append(job.id)


def png(size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg(size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()


_COLORS = [(200, 40, 40), (40, 200, 40), (40, 40, 200), (200, 200, 40)]


class FakeWorker:
    """Runs a queued job the way a worker does, minus the GPU: writes PNGs to storage, moves
    the job through running → succeeded, and returns the events it would publish."""

    def __init__(self, store: MemoryStore, images: MemoryImages) -> None:
        self.store = store
        self.images = images

    def run(
        self,
        job_id: UUID,
        *,
        nsfw: tuple[bool, ...] | None = None,
        fetched: dict[str, str] | None = None,
    ) -> list[JobEvent]:
        """`fetched`: the image URLs the worker stored (URL → sha256), as the runner records."""
        job = self.store.jobs[job_id].view
        gen = job.spec.generation
        self.store.start(job_id)
        events = [JobEvent(job_id=job_id, kind=EventKind.STARTED)]
        preview = jpeg((32, 32), (90, 90, 90))
        events += [
            JobEvent(job_id=job_id, kind=EventKind.PROGRESS, percent=p, preview_jpeg=preview)
            for p in (25.0, 50.0, 75.0)
        ]
        count = gen.batch
        size = (gen.width, gen.height)  # the resolver already doubled an upscale
        keys = []
        for i in range(count):
            key = f"{job_id}/{i + 1}.png"
            self.images.blobs[key] = png(size, _COLORS[i])
            keys.append(key)
        grid_key = None
        if count == 4:
            grid = Image.new("RGB", (size[0] * 2, size[1] * 2))
            for i in range(4):
                grid.paste(
                    Image.open(io.BytesIO(self.images.blobs[keys[i]])),
                    ((i % 2) * size[0], (i // 2) * size[1]),
                )
            buffer = io.BytesIO()
            grid.save(buffer, "PNG")
            grid_key = f"{job_id}/grid.png"
            self.images.blobs[grid_key] = buffer.getvalue()
        result = JobResult(
            job_id=job_id,
            image_keys=tuple(keys),
            grid_key=grid_key,
            seeds=tuple(gen.seed + i for i in range(count)),
            width=size[0],
            height=size[1],
            infotext=f"{gen.prompt}\nSteps: {gen.steps}, Sampler: {gen.sampler}",
            fetched=fetched or {},
        )
        self.store.succeed(job_id, result, nsfw or (False,) * count)
        events.append(JobEvent(job_id=job_id, kind=EventKind.SUCCEEDED, result=result))
        return events

    def crash(self, job_id: UUID, error: str) -> list[JobEvent]:
        self.store.start(job_id)
        self.store.fail(job_id, error)
        return [JobEvent(job_id=job_id, kind=EventKind.FAILED, error=error)]
