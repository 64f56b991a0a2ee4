"""Checks on /imagine's image attachments that need no download, and the notes they earn."""

from __future__ import annotations

import re

from bot.services.errors import InvalidPrompt
from pipeline.image_decode import MAX_IMAGE_BYTES
from prompt.image_flags import CREF_NOTE

_CREF = re.compile(r"(?<!\S)(?:--|[—–])c(?:ref|w)\b", re.IGNORECASE)
_CN = re.compile(r"(?<!\S)(?:--|[—–])cn\b", re.IGNORECASE)


def check_image_size(name: str, size: int) -> None:
    """Refuse an attachment by its announced size, before downloading it."""
    if size > MAX_IMAGE_BYTES:
        shown = name if len(name) <= 40 else name[:39] + "…"
        raise InvalidPrompt(
            f"{shown} is {size / 2**20:.1f} MiB: attach images of at most "
            f"{MAX_IMAGE_BYTES // 2**20} MiB (nothing was charged)."
        )


def alias_notes(text: str) -> list[str]:
    """Midjourney's older --cref/--cw work as --oref/--ow: say so (not when --cn makes --cw
    the ControlNet weight)."""
    return [CREF_NOTE] if _CREF.search(text) and not _CN.search(text) else []
