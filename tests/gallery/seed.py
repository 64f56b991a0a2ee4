"""A small gallery world in Postgres: what the page and API tests (and the browser test) read.

Guild PUBLIC has a public gallery; PRIVATE does not; BANNED is public but the bot is not
allowed there. Entries have fixed times, likes and prompts, so every ordering is known.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image as PILImage
from sqlalchemy.ext.asyncio import AsyncSession

from db import gallery, guilds, members
from db.models import Image, Job

PUBLIC, PRIVATE, BANNED, EMPTY = (
    910_000_000_000_001,
    910_000_000_000_002,
    910_000_000_000_003,
    910_000_000_000_004,
)
ALICE, BOB, CAROL = 920_000_000_000_001, 920_000_000_000_002, 920_000_000_000_003
LIKERS = tuple(921_000_000_000_000 + n for n in range(60))
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=8)  # the app's clock in tests: trending ages are measured from it
XSS = '<script>alert("pwn")</script><img src=x onerror=alert(1)> & "quotes"'
# Names as Discord showed them at share time (db.gallery.record_names); Carol's never seen.
GUILD_NAME = "Lighthouse Keepers <b>&</b> Friends"
OLD_GUILD_NAME, ALICE_OLD = "Old guild name", "alice (old nickname)"
ALICE_NAME = "Alice ✨"
BOB_NAME = '<script>alert("bob")</script>Bob'
PRIVATE_NAME = "Hidden guild name"


@dataclass
class Seeded:
    by_prompt: dict[str, uuid.UUID] = field(default_factory=dict)  # prompt → image id
    entries: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # image id → entry id
    jobs: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # image id → job id
    unshared: uuid.UUID | None = None
    upscaled: uuid.UUID | None = None
    blobs: dict[str, bytes] = field(default_factory=dict)  # what to put in storage


def png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def spec(
    job_id: uuid.UUID,
    prompt: str,
    *,
    seed: int = 1234,
    kind: str = "imagine",
    negative: str = "",
    loras: list[dict[str, Any]] | None = None,
    source: tuple[uuid.UUID, int] | None = None,
    images: dict[str, Any] | None = None,
) -> dict[str, Any]:
    params = {"prompt": prompt, "parts": [{"text": prompt, "weight": 1.0}]}
    generation = {
        "model": "sd15",
        "prompt": prompt,
        "parts": [{"text": prompt, "weight": 1.0}],
        "negative_prompt": negative,
        "width": 512,
        "height": 768,
        "steps": 28,
        "cfg": 6.5,
        "sampler": "dpm++_2m_karras",
        "seed": seed,
        "loras": loras or [],
        "batch": 4,
        **(images or {}),  # references, control
    }
    body = {"job_id": str(job_id), "kind": kind, "params": params, "generation": generation}
    if source is not None:
        parent, index = source
        body["source"] = {
            "job_id": str(parent),
            "index": index,
            "key": f"jobs/{parent}/{index}.png",
        }
    return body


class World:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session
        self.seeded = Seeded()
        self._n = 0

    async def base(self) -> None:
        settings: list[tuple[int, guilds.GuildSettingsChange]] = [
            (PUBLIC, {"gallery_public": True}),
            (PRIVATE, {"gallery_public": False}),
            (BANNED, {"gallery_public": True, "allowed": False}),
            (EMPTY, {"gallery_public": True}),
        ]
        for guild_id, change in settings:
            await guilds.update_settings(self.s, guild_id, change, T0)
        for user_id in (ALICE, BOB, CAROL, *LIKERS):
            await members.ensure_user(self.s, user_id, "free", T0)

    async def image(
        self,
        prompt: str,
        user: int,
        guild: int | None,
        *,
        seed: int = 1234,
        kind: str = "imagine",
        source: tuple[uuid.UUID, int] | None = None,
        parent: uuid.UUID | None = None,
        tile: int | None = None,
        negative: str = "",
        loras: list[dict[str, Any]] | None = None,
        images: dict[str, Any] | None = None,
    ) -> tuple[uuid.UUID, uuid.UUID]:
        self._n += 1
        job_id, image_id = uuid.uuid4(), uuid.uuid4()
        when = T0 + timedelta(minutes=self._n)
        self.s.add(
            Job(
                id=job_id,
                user_id=user,
                kind=kind,
                request=spec(
                    job_id,
                    prompt,
                    seed=seed,
                    kind=kind,
                    negative=negative,
                    loras=loras,
                    source=source,
                    images=images,
                ),
                state="posted",
                created_at=when,
                guild_id=guild,
                parent_id=parent,
                tile_index=tile,
            )
        )
        await self.s.flush()
        key = f"jobs/{job_id}/1.png"
        self.s.add(
            Image(
                id=image_id,
                job_id=job_id,
                index=1,
                key=key,
                width=64,
                height=96,
                seed=seed,
                created_at=when,
            )
        )
        self.seeded.blobs[key] = png(64, 96, ((self._n * 40) % 256, 90, 160))
        await self.s.flush()
        self.seeded.jobs[image_id] = job_id
        return job_id, image_id

    async def share(
        self, image_id: uuid.UUID, prompt: str, user: int, guild: int, at: datetime, likes: int = 0
    ) -> uuid.UUID:
        """Share through the data layer, then like it `likes` times (distinct members)."""
        shared = await gallery.share(self.s, image_id, user, guild, prompt, at)
        for liker in LIKERS[:likes]:
            assert await gallery.like(self.s, shared.entry_id, liker, at)
        self.seeded.by_prompt[prompt] = image_id
        self.seeded.entries[image_id] = shared.entry_id
        return shared.entry_id


CASTLE_IMAGES = {
    "references": [{"role": "image", "image": {"sha256": "3f2a9c01b7de" + "0" * 52}, "scale": 0.5}],
    "control": {"module": "canny", "image": {"sha256": "ab" * 32}, "weight": 0.8},
}
# (prompt, author, hours after T0, likes) in guild PUBLIC.
PUBLIC_ENTRIES = [
    ("a lighthouse at dusk, oil painting", ALICE, 1, 5),
    ("red fox sleeping in snow", BOB, 2, 12),
    ("lighthouse in a storm, dramatic waves", ALICE, 3, 0),
    (XSS, BOB, 4, 1),
    ("cyberpunk street market at night", CAROL, 5, 3),
    ("watercolor fox cub", ALICE, 6, 7),
    ("old lighthouses of brittany", CAROL, 7, 2),
]


async def seed(session: AsyncSession) -> Seeded:
    w = World(session)
    await w.base()
    for prompt, user, hours, likes in PUBLIC_ENTRIES:
        _, image_id = await w.image(prompt, user, PUBLIC, negative="blurry, text")
        await w.share(image_id, prompt, user, PUBLIC, T0 + timedelta(hours=hours), likes)
    # An upscale of tile 3 of an imagine job, shared: remade from its parent's recipe. It names
    # its tile only in its contract (`source`), and the parent's tile 3 has no image row here:
    # the seed comes from the contract's rule (tile i uses seed + i - 1).
    parent_job, _ = await w.image(
        "castle on a hill",
        ALICE,
        PUBLIC,
        seed=5000,
        loras=[{"name": "watercolor", "weight": 0.7}],
        images=CASTLE_IMAGES,  # an image prompt and a --cn control image, both stored
    )
    _, up = await w.image(
        "castle on a hill", ALICE, PUBLIC, seed=99, kind="upscale", source=(parent_job, 3)
    )
    await w.share(up, "castle on a hill", ALICE, PUBLIC, T0 + timedelta(minutes=30), 0)
    w.seeded.upscaled = up
    for guild in (PRIVATE, BANNED):
        _, image_id = await w.image(f"secret art of {guild}", BOB, guild)
        await w.share(image_id, f"secret art of {guild}", BOB, guild, T0 + timedelta(hours=9), 50)
    _, w.seeded.unshared = await w.image("never shared portrait", ALICE, PUBLIC)
    # Each share records the names; the latest wins, and None keeps what was known.
    names = [
        (PUBLIC, OLD_GUILD_NAME, ALICE, ALICE_OLD, 1),
        (PUBLIC, None, BOB, BOB_NAME, 2),
        (PUBLIC, GUILD_NAME, ALICE, ALICE_NAME, 6),
        (PRIVATE, PRIVATE_NAME, BOB, "bob in private", 9),
    ]
    for guild, guild_name, user, member_name, hours in names:
        at = T0 + timedelta(hours=hours)
        await gallery.record_names(session, guild, guild_name, user, member_name, at)
    return w.seeded
