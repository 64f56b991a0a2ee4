"""Delivery: job events → Discord messages, with each result posted exactly once.

The result is claimed in the store before posting (post state in the job row), the channel
message carries the job id as its nonce, and within the 15-minute interaction window the
member's own interaction message is edited instead. Progress edits are paced by a throttle."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from PIL import Image

from bot.services import formatting
from bot.services.custom_ids import Action, ButtonId, region_menu_id
from bot.services.describe_result import describe_custom_ids, describe_text, described_image_key
from bot.services.ports import ImageStore, JobState, JobView, Store
from bot.services.train_progress import TrainProgress
from bot.services.upload import DEFAULT_LIMIT, fit_upload
from inference.canvas import REGION_LABELS
from inference.edits import EDIT_KINDS
from pipeline.contracts import JobEvent, JobKind, UpscaleMode
from pipeline.contracts import JobEventKind as EventKind
from pipeline.errors import member_message

log = logging.getLogger(__name__)

GRID_KINDS = (
    JobKind.IMAGINE,
    JobKind.VARY_SUBTLE,
    JobKind.VARY_STRONG,
    JobKind.REROLL,
    *EDIT_KINDS,
    JobKind.EDIT,
)


@dataclass(frozen=True)
class OutFile:
    data: bytes
    filename: str


@dataclass(frozen=True)
class Button:
    label: str
    row: int
    custom_id: str | None = None
    url: str | None = None
    emoji: str | None = None
    style: str = "secondary"  # primary, secondary, danger (link when url is set)
    # A select menu instead of a button when set: (value, label) per option; `label` is its
    # placeholder (the Vary (Region) presets).
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Outgoing:
    content: str
    files: tuple[OutFile, ...] = ()
    buttons: tuple[Button, ...] = ()
    # The one member this message may ping (the job's author); nobody else, ever.
    notify: int | None = None


class CannotPost(Exception):
    """Discord refused the post (403: the bot lacks a permission there, or the member's DMs
    are closed). Retrying will not help."""


class Poster(Protocol):
    """The Discord side of delivery (bot/poster.py)."""

    def upload_limit(self, job_id: UUID) -> int: ...
    def channel_is_nsfw(self, channel_id: int) -> bool: ...
    async def edit_live(self, job_id: UUID, out: Outgoing) -> int | None:
        """Edit the member's interaction message; None when there is none or it expired."""
        ...

    async def send_channel(self, channel_id: int, out: Outgoing, nonce: UUID) -> int:
        """Raises CannotPost when Discord refuses it."""
        ...

    async def send_dm(self, user_id: int, out: Outgoing) -> int:
        """A direct message to the member; raises CannotPost when Discord refuses it."""
        ...

    async def close_placeholder(self, channel_id: int, message_id: int, content: str) -> None:
        """Edit the job's old waiting message (no buttons); never raises."""
        ...


def mention(user_id: int) -> str:
    return f"<@{user_id}>"


def cancel_button(job_id: UUID) -> Button:
    return Button("Cancel", 0, ButtonId(Action.CANCEL, job_id).encode(), emoji="❌", style="danger")


def grid_buttons(job_id: UUID, withheld: Sequence[int] = ()) -> tuple[Button, ...]:
    """U1–U4 on the first row; V1–V4 and 🔄 on the second. Withheld tiles get no buttons."""
    buttons = [
        Button(f"U{n}", 0, ButtonId(Action.UPSCALE, job_id, n).encode())
        for n in range(1, 5)
        if n not in withheld
    ]
    buttons += [
        Button(f"V{n}", 1, ButtonId(Action.VARY, job_id, n).encode())
        for n in range(1, 5)
        if n not in withheld
    ]
    buttons.append(Button("", 1, ButtonId(Action.REROLL, job_id).encode(), emoji="🔄"))
    return tuple(buttons)


def upscale_buttons(
    job_id: UUID,
    web_url: str | None,
    size: tuple[int, int] | None = None,
    draw: bool = False,
    upscale_4x: bool = False,
    edit: bool = False,
) -> tuple[Button, ...]:
    """Vary/Upscale (and Upscale (4x) when an upscaler is configured); the editing rows (zoom,
    pan, square when not square, Edit… when an edit model is configured, the Vary (Region)
    presets, and Draw the region… when the web editor is available); Share and Web."""

    def make(action: Action, label: str, row: int, emoji: str | None = None) -> Button:
        return Button(label, row, ButtonId(action, job_id).encode(), emoji=emoji)

    buttons = [
        make(Action.VARY_SUBTLE, "Vary (Subtle)", 0),
        make(Action.VARY_STRONG, "Vary (Strong)", 0),
        make(Action.UPSCALE_SUBTLE, "Upscale (Subtle)", 0),
        make(Action.UPSCALE_CREATIVE, "Upscale (Creative)", 0),
    ]
    if upscale_4x:
        buttons.append(make(Action.UPSCALE_4X, "Upscale (4x)", 0))
    buttons += [
        make(Action.ZOOM_2, "Zoom Out 2x", 1),
        make(Action.ZOOM_15, "Zoom Out 1.5x", 1),
        make(Action.ZOOM_CUSTOM, "Custom Zoom", 1),
    ]
    if size is not None and size[0] != size[1]:
        buttons.append(make(Action.SQUARE, "Make Square", 1))
    if edit:
        buttons.append(make(Action.EDIT, "Edit…", 1, emoji="✏️"))
    buttons += [
        make(Action.PAN_LEFT, "", 2, emoji="⬅️"),
        make(Action.PAN_RIGHT, "", 2, emoji="➡️"),
        make(Action.PAN_UP, "", 2, emoji="⬆️"),
        make(Action.PAN_DOWN, "", 2, emoji="⬇️"),
        Button(
            "Vary (Region)…",
            3,
            region_menu_id(job_id),
            options=tuple(REGION_LABELS.items()),
        ),
        make(Action.SHARE, "Share", 4, emoji="⭐"),
    ]
    if draw:
        buttons.append(make(Action.DRAW_REGION, "Draw the region…", 4, emoji="🖌️"))
    if web_url:
        buttons.append(Button("Web", 4, url=web_url, emoji="🔗"))
    return tuple(buttons)


def upscaled_4x_buttons(job_id: UUID, web_url: str | None) -> tuple[Button, ...]:
    """Under an Upscale (4x) image: the end of the line (it is as large as Nanke makes
    images), so only Share and Web."""
    buttons = [Button("Share", 0, ButtonId(Action.SHARE, job_id).encode(), emoji="⭐")]
    if web_url:
        buttons.append(Button("Web", 0, url=web_url, emoji="🔗"))
    return tuple(buttons)


class DeliveryService:
    def __init__(
        self,
        *,
        store: Store,
        images: ImageStore,
        poster: Poster,
        gallery_url: str | None = None,
        editor: bool = False,
        upscaler: bool = False,
        edit: bool = False,
        throttle: formatting.ProgressThrottle | None = None,
        on_trained: Callable[[JobView], Awaitable[None]] | None = None,
    ) -> None:
        self.train_progress = TrainProgress()  # ❌ on a training run refunds the unused part
        self._on_trained = on_trained  # a training job succeeded: record its LoRA
        self._store = store
        self._images = images
        self._poster = poster
        self._gallery_url = gallery_url.rstrip("/") if gallery_url else None
        self._editor = editor  # Draw the region… under upscaled images
        self._upscaler = upscaler  # Upscale (4x) under upscaled images
        self._edit = edit  # Edit… under upscaled images (an edit model is configured)
        self._throttle = throttle or formatting.ProgressThrottle()

    async def handle(self, event: JobEvent) -> None:
        job = await self._store.job(event.job_id)
        if job is None:
            log.warning("event for unknown job %s", event.job_id)
            return
        who = mention(job.user_id)
        if event.kind is EventKind.QUEUED:
            if job.state is JobState.QUEUED:
                # The database's place in line (as /info shows it), not the broker's depth.
                position = await self._store.queue_position(job.id)
                eta = await self._store.queue_eta(job.id, position) if position else None
                out = Outgoing(
                    formatting.waiting(job.spec, who, position, eta), (), (cancel_button(job.id),)
                )
                await self._poster.edit_live(job.id, out)
        elif event.kind is EventKind.STARTED:
            if job.kind is JobKind.TRAIN:  # minutes long: ❌ stays (docs/training.md)
                text = formatting.train_running(job.spec, who, None, None)
                await self._poster.edit_live(job.id, Outgoing(text, (), (cancel_button(job.id),)))
                return
            await self._poster.edit_live(job.id, Outgoing(formatting.running(job.spec, who, None)))
        elif event.kind is EventKind.PROGRESS:
            await self._progress(job, event)
        elif event.kind is EventKind.SUCCEEDED:
            self._throttle.forget(job.id)
            await self.deliver(job.id)
        elif event.kind is EventKind.FAILED:
            self._throttle.forget(job.id)
            await self._failed(job, event.error or job.error)

    async def _progress(self, job: JobView, event: JobEvent) -> None:
        # A new training preview is not held back by a plain update just before it; one held
        # back anyway is shown with the next edit (TrainProgress keeps it).
        fresh = job.kind is JobKind.TRAIN and self.train_progress.saw(event)
        if not self._throttle.allow(job.id, urgent=fresh):
            return
        preview, buttons = event.preview_jpeg, tuple[Button, ...]()
        if job.kind is JobKind.TRAIN and job.state is JobState.RUNNING:  # the latest preview
            seen, eta = self.train_progress.latest(job.id), self.train_progress.eta_s(job.id)
            text = formatting.train_running(job.spec, mention(job.user_id), seen, eta)
            preview, buttons = (seen.preview if seen else None), (cancel_button(job.id),)
        else:
            text = formatting.running(job.spec, mention(job.user_id), event.percent)
        files = (OutFile(preview, "preview.jpg"),) if preview else ()
        await self._poster.edit_live(job.id, Outgoing(text, files, buttons))

    async def _failed(self, job: JobView, reason: str | None, *, claimed: bool = False) -> None:
        """Tell the member their job failed (and was refunded), once: the event and the
        reconciler both claim it. The row's error may carry operator detail (paths, a
        library's words): members only ever see `member_message` of it."""
        if not claimed and not await self._store.claim_delivery(job.id):
            return  # already shown, or being shown
        text = formatting.failed(job.spec, mention(job.user_id), member_message(reason))
        out = Outgoing(text, notify=job.user_id)
        message_id = await self._poster.edit_live(job.id, out)
        if message_id is None:
            message_id = await self._send_or_dm(job, out)
            await self._close_placeholder(job, text)
        await self._store.mark_posted(job.id, message_id)

    async def deliver(self, job_id: UUID, *, claimed: bool = False) -> bool:
        """Post a succeeded job's result once. False when it was not ours to post.

        `claimed`: the caller (the reconciler) already holds the job's posting claim."""
        job = await self._store.job(job_id)
        if claimed and job is not None and job.state is JobState.FAILED:
            await self._failed(job, job.error, claimed=True)  # its event was lost: say it now
            return True
        if job is None or job.state is not JobState.SUCCEEDED or job.result is None:
            return False
        if not claimed and not await self._store.claim_delivery(job_id):
            return False  # another delivery (a replayed event, the reconciler) has it
        if job.kind is JobKind.TRAIN and self._on_trained is not None:
            await self._on_trained(job)
        out = await self.result_message(job)
        message_id = await self._poster.edit_live(job.id, out)
        if message_id is None:
            # The interaction token is dead (15 min) or gone (restart): a channel message,
            # de-duplicated by Discord through its nonce.
            message_id = await self._send_or_dm(job, out)
            await self._close_placeholder(
                job, formatting.finished(job.spec, mention(job.user_id), "result posted below")
            )
        await self._store.mark_posted(job.id, message_id)
        return True

    async def _close_placeholder(self, job: JobView, content: str) -> None:
        """The result went to the channel as a new message (restart, 15 minutes): the old
        "Waiting to start" message and its dead ❌ must not stay behind."""
        if job.message_id is not None:
            await self._poster.close_placeholder(job.channel_id, job.message_id, content)

    async def _send_or_dm(self, job: JobView, out: Outgoing) -> int | None:
        """Post to the job's channel; if Discord refuses (403), send it to the member by DM;
        if that is refused too, the job is still marked posted (no retry loop) and its
        author can fetch it with /show. None when nothing could be posted."""
        try:
            return await self._poster.send_channel(job.channel_id, out, job.id)
        except CannotPost:
            log.warning(
                "job %s: channel %s refused the post; sending by DM", job.id, job.channel_id
            )
        note = f"\n-# I could not post this in <#{job.channel_id}> (missing permission there)."
        dm = Outgoing(out.content + note, out.files, notify=job.user_id)
        try:
            return await self._poster.send_dm(job.user_id, dm)
        except CannotPost:
            log.warning("job %s: the member's DMs are closed too; /show can fetch it", job.id)
            return None

    async def result_message(self, job: JobView, channel_id: int | None = None) -> Outgoing:
        """A finished job's message for `channel_id` (default: the job's own channel): the
        image, with flagged tiles withheld unless *that* channel is age-restricted, and its
        buttons. Whatever posts a result says where, since that decides what it may show."""
        assert job.result is not None
        result = job.result
        flagged = [i + 1 for i, bad in enumerate(job.nsfw) if bad]
        where = job.channel_id if channel_id is None else channel_id
        if self._poster.channel_is_nsfw(where):
            flagged = []
        content = formatting.finished(
            job.spec, mention(job.user_id), "relax" if job.relaxed else "fast"
        )
        limit = self._poster.upload_limit(job.id) or DEFAULT_LIMIT
        stem = f"nanke_{job.id.hex[:8]}"
        if job.kind is JobKind.DESCRIBE:  # four prompts, no images of its own
            return await self._described(job, limit, "relax" if job.relaxed else "fast")
        if job.kind is JobKind.TRAIN:  # the 4 samples; the LoRA is used with --lora
            content = formatting.trained(job.spec, mention(job.user_id))
            grid = await self._images.read(result.grid_key or result.image_keys[0])
            buttons: tuple[Button, ...] = ()
        elif job.kind in GRID_KINDS and result.grid_key:
            tiles = [await self._images.read(k) for k in result.image_keys] if flagged else []
            grid = await self._images.read(result.grid_key)
            if flagged:
                grid = await asyncio.to_thread(_mask_grid, tiles, flagged)
                content += formatting.withheld_note(len(flagged))
            if len(flagged) == len(result.image_keys):
                return Outgoing(content, (), (), notify=job.user_id)
            buttons = grid_buttons(job.id, flagged)
        else:
            if flagged:
                return Outgoing(content + formatting.withheld_note(1), (), (), notify=job.user_id)
            grid = await self._images.read(result.image_keys[0])
            web = f"{self._gallery_url}/j/{job.id.hex}" if self._gallery_url else None
            size = (result.width, result.height)
            if job.spec.upscale_mode is UpscaleMode.GAN_4X:
                buttons = upscaled_4x_buttons(job.id, web)
            else:
                buttons = upscale_buttons(
                    job.id,
                    web,
                    size,
                    draw=self._editor,
                    upscale_4x=self._upscaler,
                    edit=self._edit,
                )
        upload = await asyncio.to_thread(fit_upload, grid, stem, limit)
        if upload.note:
            content += f"\n-# {upload.note}"
        files = (OutFile(upload.data, upload.filename),)
        return Outgoing(content, files, buttons, notify=job.user_id)

    async def _described(self, job: JobView, limit: int, mode: str) -> Outgoing:
        """A describe job's message: the image it read, its four prompts, a button each."""
        buttons = tuple(
            Button(str(n), 0, custom_id, style="primary")
            for n, custom_id in enumerate(describe_custom_ids(job), start=1)
        )
        files: tuple[OutFile, ...] = ()
        key = described_image_key(job)
        if key is not None:
            data = await self._images.read(key)
            upload = await asyncio.to_thread(fit_upload, data, f"nanke_{job.id.hex[:8]}", limit)
            files = (OutFile(upload.data, upload.filename),)
        text = describe_text(job, mention(job.user_id), mode)
        return Outgoing(text, files, buttons, notify=job.user_id)


def _mask_grid(tiles: Sequence[bytes], withheld: Sequence[int]) -> bytes:
    """Rebuild the 2x2 grid with withheld tiles blanked, so nothing flagged is uploaded."""
    images = [Image.open(io.BytesIO(t)).convert("RGB") for t in tiles]
    width, height = images[0].size
    grid = Image.new("RGB", (width * 2, height * 2), (32, 32, 32))
    for i, image in enumerate(images):
        if i + 1 not in withheld:
            grid.paste(image, ((i % 2) * width, (i // 2) * height))
    buffer = io.BytesIO()
    grid.save(buffer, "PNG")
    return buffer.getvalue()
