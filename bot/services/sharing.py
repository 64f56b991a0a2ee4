"""Whether an upscaled image may go to the server's gallery."""

from __future__ import annotations

from bot.services.errors import NankeError
from bot.services.ports import Account, GuildConfig, JobView
from pipeline.contracts import JobKind


class CannotShare(NankeError):
    pass


def check_shareable(job: JobView, author: Account, guild: GuildConfig | None) -> None:
    if job.kind is not JobKind.UPSCALE or job.result is None:
        raise CannotShare("Only finished upscaled images can be shared: press U1–U4 first.")
    if author.prefs.stealth:
        raise CannotShare("This image was made in stealth mode, so it is never shared.")
    if any(job.nsfw):
        raise CannotShare("The safety checker flagged this image, so it cannot be shared.")
    if guild is None or guild.gallery_channel_id is None:
        raise CannotShare(
            "This server has no gallery channel yet; an admin can choose one with "
            "/admin gallery-channel."
        )
