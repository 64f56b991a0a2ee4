"""Images: WebP thumbnails made once and kept in storage, caching headers, conditional GETs."""

from __future__ import annotations

import asyncio
import io

import httpx
from PIL import Image

from pipeline.thumbnails import THUMB_SIDE, make_thumbnail, thumbnail_key
from tests.gallery.conftest import GalleryDB, MemoryStore
from tests.gallery.seed import png


async def test_thumbnail_is_webp_made_once_then_read_from_storage(
    client: httpx.AsyncClient, gallery_db: GalleryDB, store: MemoryStore
) -> None:
    image_id = gallery_db.seeded.by_prompt["red fox sleeping in snow"]
    first = await client.get(f"/media/{image_id}/thumb.webp")
    assert first.status_code == 200
    assert first.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(first.content)) as thumb:
        assert thumb.format == "WEBP"
        assert thumb.size == (64, 96)  # never enlarged
    assert len(store.writes) == 1 and store.writes[0].endswith(".webp")
    again = await client.get(f"/media/{image_id}/thumb.webp")
    assert again.content == first.content
    assert len(store.writes) == 1  # cached in storage, not made again


async def test_concurrent_first_requests_make_one_thumbnail(
    client: httpx.AsyncClient, gallery_db: GalleryDB, store: MemoryStore
) -> None:
    image_id = gallery_db.seeded.by_prompt["watercolor fox cub"]
    replies = await asyncio.gather(*(client.get(f"/media/{image_id}/thumb.webp") for _ in range(5)))
    assert {r.status_code for r in replies} == {200}
    assert len({r.content for r in replies}) == 1
    assert len(store.writes) == 1


def test_large_images_shrink_to_the_thumbnail_side_keeping_their_shape() -> None:
    data = make_thumbnail(png(1536, 1024, (10, 200, 30)))
    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.size == (THUMB_SIDE, THUMB_SIDE * 2 // 3)
    assert thumbnail_key("jobs/x/1.png") == "jobs/x/1.png.thumb512.webp"


async def test_full_image_and_caching_headers(
    client: httpx.AsyncClient, gallery_db: GalleryDB, store: MemoryStore
) -> None:
    image_id = gallery_db.seeded.by_prompt["cyberpunk street market at night"]
    r = await client.get(f"/media/{image_id}/full.png")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    assert r.content.startswith(b"\x89PNG")
    assert "immutable" in r.headers["cache-control"]
    assert "public" in r.headers["cache-control"]
    etag = r.headers["etag"]
    assert etag.startswith('"') and image_id.hex in etag
    reads = len(store.reads)
    again = await client.get(f"/media/{image_id}/full.png", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert len(store.reads) == reads  # answered without touching storage
    thumb = await client.get(f"/media/{image_id}/thumb.webp")
    assert thumb.headers["etag"] != etag


async def test_an_image_missing_from_storage_is_404(
    client: httpx.AsyncClient, gallery_db: GalleryDB, store: MemoryStore
) -> None:
    image_id = gallery_db.seeded.by_prompt["old lighthouses of brittany"]
    store.blobs.clear()
    assert (await client.get(f"/media/{image_id}/full.png")).status_code == 404
    assert (await client.get(f"/media/{image_id}/thumb.webp")).status_code == 404


async def test_read_only_storage_still_serves_thumbnails(
    client: httpx.AsyncClient, gallery_db: GalleryDB, store: MemoryStore
) -> None:
    async def refuse(key: str, data: bytes, content_type: str) -> None:
        raise PermissionError(f"read-only file system: {key}")

    store.put = refuse  # type: ignore[method-assign]
    image_id = gallery_db.seeded.by_prompt["a lighthouse at dusk, oil painting"]
    for _ in range(2):
        r = await client.get(f"/media/{image_id}/thumb.webp")
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/webp"
