"""The Discord bot: `build_bot(settings, deps)` wires the services it is given into a NankeBot.

Intents: only `guilds` (channels, roles and permissions for the guilds the bot is in). Slash
commands and buttons arrive as interactions, which need no intent; no privileged intent
(members, presences, message content) is used."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import discord
from discord.ext import commands

from bot.poster import DiscordPoster
from bot.services.catalog import Catalog
from bot.services.delivery import DeliveryService
from bot.services.editor import EditorLinks, EditorService
from bot.services.gallery_feed import GalleryFeed
from bot.services.intake import ADMISSION_CONCURRENCY, IntakeService
from bot.services.ports import Enqueuer, EventSource, ImageStore, Resolver, Store
from bot.services.resolver import RESOLVE_ERRORS
from bot.services.train_progress import TrainProgress
from bot.services.training import LoraStore, TrainingService
from bot.settings import BotConfig
from bot.views import PressHandler, RegionHandler
from inference.packs import Pack
from pipeline.contracts import JobEvent
from pipeline.image_urls import FetchPolicy
from prompt.samplers import MENU_SAMPLERS

log = logging.getLogger(__name__)
_PUMP_BACKOFF_S = 0.5
_PUMP_BACKOFF_MAX_S = 30.0

EXTENSIONS = (
    "bot.exts.errors",
    "bot.exts.imagine",
    "bot.exts.blend",
    "bot.exts.describe",
    "bot.exts.edit",
    "bot.exts.buttons",
    "bot.exts.info",
    "bot.exts.preferences",
    "bot.exts.show",
    "bot.exts.admin",
    "bot.exts.gallery",
    "bot.exts.training",
)


@dataclass
class BotDeps:
    """What the bot needs from the data layer and the pipeline, built by the caller."""

    store: Store
    enqueuer: Enqueuer
    resolver: Resolver
    images: ImageStore
    models: Sequence[str] = ()
    lora_dir: Path | None = None
    events: EventSource | None = None
    admin_ids: frozenset[int] = field(default_factory=frozenset)
    # Builds the pipeline's reconciler around delivery (requeues expired leases, republishes
    # lost jobs, hands succeeded-but-unposted jobs to delivery); None in tests.
    reconciler: Callable[[Callable[[UUID], Awaitable[None]]], Any] | None = None
    # Errors the resolver raises for a request the member can fix (unknown model, LoRA…).
    resolve_errors: tuple[type[Exception], ...] = RESOLVE_ERRORS
    # /gallery listings and ❤️ likes; None leaves them off (⭐ Share still posts).
    gallery: GalleryFeed | None = None
    # The region editor's links (web ↔ bot hand-off); None leaves Draw the region… off.
    editor_links: EditorLinks | None = None
    # Whether models.toml has an [upscaler]: Upscale (4x) under upscaled images.
    upscaler: bool = False
    # Whether models.toml names an `edit` model: /edit works and Edit… shows under upscales.
    edit_model: bool = False
    # Which image URLs members may give (checked at intake; workers fetch them).
    image_policy: FetchPolicy = field(default_factory=FetchPolicy)
    # /train, /models, /pack (docs/training.md): the `loras` table, and the plans' limits.
    loras: LoraStore | None = None
    plans: Mapping[str, Any] = field(default_factory=dict)
    packs: Mapping[str, Pack] | None = None  # None: inference/packs_default.toml


class NankeBot(commands.Bot):
    def __init__(
        self,
        settings: BotConfig,
        deps: BotDeps,
        *,
        pump_events: bool = True,
        sync_commands: bool = True,
        admission_concurrency: int = ADMISSION_CONCURRENCY,
        **client_options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            # Nobody is pinged unless a message names whom (the job's author, bot/poster.py).
            allowed_mentions=discord.AllowedMentions.none(),
            **client_options,
        )
        self.settings = settings
        self.deps = deps
        # Set by the buttons extension: what pressing a job button does.
        self.press_job_button: PressHandler | None = None
        self.choose_region: RegionHandler | None = None  # the Vary (Region) menu
        self.admin_ids = frozenset(settings.discord.admin_ids) | deps.admin_ids
        self.poster = DiscordPoster(self)
        self.intake = IntakeService(
            store=deps.store,
            enqueuer=deps.enqueuer,
            resolver=deps.resolver,
            resolve_errors=deps.resolve_errors,
            admission_concurrency=admission_concurrency,
            image_policy=deps.image_policy,
            loras=deps.loras,
        )
        self.editor = _editor(settings, deps, self.intake)
        self.delivery = DeliveryService(
            store=deps.store,
            images=deps.images,
            poster=self.poster,
            gallery_url=settings.gallery_url,
            editor=self.editor is not None,
            upscaler=deps.upscaler,
            edit=deps.edit_model,
            on_trained=self._trained,
        )
        self.training = _training(deps, self.intake, self.delivery.train_progress)
        self.catalog = Catalog(
            samplers=MENU_SAMPLERS, models=lambda: deps.models, lora_dir=deps.lora_dir
        )
        self._pump_events = pump_events
        self._sync_commands = sync_commands
        self._background: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    async def setup_hook(self) -> None:
        for name in EXTENSIONS:
            await self.load_extension(name)
        if self._sync_commands:
            await self.sync_commands()
        if self._pump_events and self.deps.events is not None:
            self._background.append(asyncio.create_task(self.pump_events(), name="nanke-events"))
        if self._pump_events and self.deps.reconciler is not None:
            reconciler = self.deps.reconciler(self._deliver_claimed)
            self._background.append(
                asyncio.create_task(reconciler.run_forever(self._stopping), name="nanke-reconciler")
            )
        if self._pump_events and self.editor is not None:
            from bot.editor_inbox import run_forever

            self._background.append(
                asyncio.create_task(run_forever(self, self._stopping), name="nanke-editor")
            )

    async def sync_commands(self) -> None:
        guild_ids = self.settings.discord.dev_guild_ids
        for guild_id in guild_ids:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        if not guild_ids:
            await self.tree.sync()

    async def pump_events(self) -> None:
        """Hand every job event to delivery, then acknowledge it (an event not acknowledged
        comes back after a restart). One failing job never stops the others, and a lost
        connection to the events stream is retried with backoff (0.5 s doubling to 30 s)."""
        events = self.deps.events
        assert events is not None
        pause = _PUMP_BACKOFF_S
        while True:
            try:
                batch = await events.read(count=100, block_s=1.0)
                for delivered in batch:
                    await self.handle_event(delivered.event)
                if batch:
                    await events.ack([d.entry_id for d in batch])
            except Exception as exc:  # Redis dropped us or restarted: unacked events come back
                log.warning("job events: %s; reconnecting in %.1f s", exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, _PUMP_BACKOFF_MAX_S)
                continue
            pause = _PUMP_BACKOFF_S

    async def handle_event(self, event: JobEvent) -> None:
        try:
            await self.delivery.handle(event)
        except Exception:
            log.exception("delivering event %s of job %s failed", event.kind, event.job_id)

    async def _trained(self, job: Any) -> None:
        if self.training is not None:
            await self.training.trained(job)

    async def _deliver_claimed(self, job_id: UUID) -> None:
        await self.delivery.deliver(job_id, claimed=True)

    async def close(self) -> None:
        self._stopping.set()
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await super().close()


def _training(
    deps: BotDeps, intake: IntakeService, progress: TrainProgress
) -> TrainingService | None:
    """/train and /models need the `loras` table (not there: they say training is off)."""
    if deps.loras is None:
        return None
    return TrainingService(
        intake=intake,
        store=deps.store,
        loras=deps.loras,
        images=deps.images,
        resolver=deps.resolver,  # type: ignore[arg-type]
        plans=deps.plans,
        progress=progress,
    )


def _editor(settings: BotConfig, deps: BotDeps, intake: IntakeService) -> EditorService | None:
    """Draw the region… needs the web app's public URL, the links' secret and their table."""
    secret = settings.editor_secret
    if not (settings.gallery_url and secret and deps.editor_links):
        return None
    return EditorService(
        links=deps.editor_links,
        intake=intake,
        base_url=settings.gallery_url,
        secret=secret.get_secret_value().encode(),
    )


def build_bot(settings: BotConfig, deps: BotDeps, **options: Any) -> NankeBot:
    """The bot, wired. Options: pump_events / sync_commands (tests drive those themselves) and
    discord.py client options."""
    return NankeBot(settings, deps, **options)
