"""The region editor's bot side, Discord-free: issuing a "Draw the region…" link and admitting
what the web editor submitted through the same intake as a button (docs/ARCHITECTURE.md,
"The region editor").

The web app never admits anything itself: it signs nothing, charges nothing and imports no
bot code. It marks a link's row `submitted` (once); the bot claims submitted rows, admits each
as the link's member (guild and author checks, bans, banned words, caps, quota: exactly as a
button press) and settles the row `queued` or `refused` with a message the page shows."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from bot.services.errors import InvalidPrompt, JobNotFound, NankeError
from bot.services.intake import IntakeService, Queued, Requester
from inference.canvas import check_shapes
from inference.errors import BadRequestError
from pipeline.contracts import EditSpec, JobKind, MaskShape
from pipeline.editor_links import LINK_TTL_S, EditorLink, sign

# A web submission's idempotency key in the jobs table (where Discord interaction ids go):
# derived from the link, below 2**63 like a snowflake, so a replay finds the same job.
_KEY_BITS = 62


@dataclass(frozen=True)
class EditRequest:
    """A submitted link: who, which image, where to post, and what they drew."""

    link_id: UUID
    user_id: int
    job_id: UUID
    index: int
    guild_id: int | None
    channel_id: int
    prompt: str
    shapes: tuple[MaskShape, ...]


class EditorLinks(Protocol):
    """The links' table (bot/services/sql_editor.py)."""

    async def issue(self, link: EditorLink, *, guild_id: int | None, channel_id: int) -> None: ...
    async def claim(self) -> Sequence[EditRequest]: ...
    async def reclaim(self) -> int: ...
    async def settle(self, link_id: UUID, *, job_id: UUID | None, message: str | None) -> None: ...


@dataclass(frozen=True)
class Admitted:
    request: EditRequest
    queued: Queued | None = None
    refusal: str | None = None


class EditorService:
    def __init__(
        self, *, links: EditorLinks, intake: IntakeService, base_url: str, secret: bytes
    ) -> None:
        self._links = links
        self._intake = intake
        self._base_url = base_url.rstrip("/")
        self._secret = secret

    async def link_for(self, who: Requester, job_id: UUID, index: int = 1) -> str:
        """A fresh link for the member on this job (authorized and checked like a button)."""
        parent, _ = await self._intake.job_for_presser(job_id, who)
        await self._intake.check_words(parent, who)
        if parent.result is None:
            raise JobNotFound("That job has no images yet; wait for it to finish.")
        link = EditorLink(
            uuid.uuid4(), who.user_id, parent.id, index, int(time.time()) + LINK_TTL_S
        )
        await self._links.issue(link, guild_id=who.guild_id, channel_id=who.channel_id)
        return f"{self._base_url}/edit/{sign(link, self._secret)}"

    async def admit_submitted(self) -> list[Admitted]:
        """Claim every submitted link and admit it; refusals are settled here, admissions
        by the caller once it has shown the job (`settle`)."""
        out = []
        for request in await self._links.claim():
            who = Requester(
                interaction_id=request.link_id.int >> (128 - _KEY_BITS),
                user_id=request.user_id,
                guild_id=request.guild_id,
                channel_id=request.channel_id,
            )
            try:
                await self._check_region(request, who)
                queued = await self._intake.follow_up(
                    who,
                    request.job_id,
                    JobKind.VARY_REGION,
                    request.index,
                    remix_prompt=request.prompt,
                    edit=EditSpec(shapes=request.shapes),
                )
            except NankeError as exc:
                await self._links.settle(request.link_id, job_id=None, message=exc.message)
                out.append(Admitted(request, refusal=exc.message))
                continue
            out.append(Admitted(request, queued=queued))
        return out

    async def _check_region(self, request: EditRequest, who: Requester) -> None:
        """Empty, full or outside the image: refused before anything is charged."""
        parent, _ = await self._intake.job_for_presser(request.job_id, who)
        if parent.result is None:
            raise JobNotFound("That job has no images yet; wait for it to finish.")
        try:
            check_shapes(request.shapes, (parent.result.width, parent.result.height))
        except BadRequestError as exc:
            message = str(exc)
            raise InvalidPrompt(
                f"{message[:1].upper()}{message[1:]} (nothing was charged)"
            ) from None

    async def resume(self) -> int:
        """At start: links claimed by a bot that stopped before settling them, claimable again."""
        return await self._links.reclaim()

    async def settle(self, admitted: Admitted) -> None:
        job = admitted.queued.job.id if admitted.queued else None
        await self._links.settle(admitted.request.link_id, job_id=job, message=admitted.refusal)

    async def release(self, queued: Queued) -> None:
        await self._intake.release((queued,))
