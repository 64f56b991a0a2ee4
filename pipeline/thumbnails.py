"""WebP thumbnails, made once from the full image and kept in storage beside it.

The first request for a thumbnail decodes the PNG and encodes WebP off the event loop; the
result is written to storage, so every later request (from any web process) just reads it.
Concurrent first requests in one process share one encode.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Protocol

from PIL import Image

log = logging.getLogger(__name__)

THUMB_SIDE = 512
THUMB_QUALITY = 80


class BlobStore(Protocol):
    """The part of Nanke's image storage thumbnails use (read originals, keep thumbnails)."""

    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...


def thumbnail_key(key: str, side: int = THUMB_SIDE) -> str:
    return f"{key}.thumb{side}.webp"


def make_thumbnail(data: bytes, side: int = THUMB_SIDE, quality: int = THUMB_QUALITY) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
        rgb = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")
        out = io.BytesIO()
        rgb.save(out, "WEBP", quality=quality, method=4)
    return out.getvalue()


class Thumbnails:
    def __init__(self, store: BlobStore, side: int = THUMB_SIDE) -> None:
        self._store = store
        self._side = side
        self._inflight: dict[str, asyncio.Future[bytes | None]] = {}
        self._warned = False

    async def get(self, key: str) -> bytes | None:
        """The thumbnail of the image stored at `key`; None if that image is not in storage."""
        tkey = thumbnail_key(key, self._side)
        cached = await self._store.get(tkey)
        if cached is not None:
            return cached
        pending = self._inflight.get(tkey)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._inflight[tkey] = future
        try:
            result = await self._make(key, tkey)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else must
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._inflight[tkey]

    async def _make(self, key: str, tkey: str) -> bytes | None:
        original = await self._store.get(key)
        if original is None:
            return None
        thumb = await asyncio.to_thread(make_thumbnail, original, self._side)
        try:
            await self._store.put(tkey, thumb, "image/webp")
        except Exception as exc:  # e.g. storage mounted read-only: still serve this one
            if not self._warned:
                self._warned = True
                log.warning(
                    "thumbnails cannot be kept in storage (%s); making them per request", exc
                )
        return thumb
