"""Image bytes: the full PNG and its WebP thumbnail, for public entries only.

URLs are keyed by the image's opaque id, and an image's bytes never change, so responses are
cacheable as immutable with a strong ETag; a conditional request is answered 304 without
touching storage. Removal still takes effect: every request re-checks that the entry is public.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from gallery import route_params
from gallery.deps import context_of, reader_of
from gallery.listing import GalleryReader

# HEAD too: uptime checks and proxies probe with it.
_METHODS = ["GET", "HEAD"]
router = APIRouter(prefix="/media")
Reader = Annotated[GalleryReader, Depends(reader_of)]

# A day, not a year: browsers keep an immutable image without asking again, and a removed one
# should not outlive removal by much in anyone's cache.
IMAGE_CACHE = "public, max-age=86400, immutable"


async def _serve(request: Request, reader: GalleryReader, image: str, variant: str) -> Response:
    image_uuid = route_params.image_id(image)
    entry = await reader.entry(image_uuid)
    if entry is None:
        raise HTTPException(404)
    etag = f'"{image_uuid.hex}-{variant}"'
    headers = {"ETag": etag, "Cache-Control": IMAGE_CACHE}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    ctx = context_of(request)
    if variant == "thumb":
        data = await ctx.thumbnails.get(entry.storage_key)
        media_type = "image/webp"
    else:
        data = await ctx.store.get(entry.storage_key)
        media_type = "image/png"
    if data is None:
        raise HTTPException(404)
    return Response(data, media_type=media_type, headers=headers)


@router.api_route("/{image}/thumb.webp", methods=_METHODS)
async def thumbnail(request: Request, reader: Reader, image: str) -> Response:
    return await _serve(request, reader, image, "thumb")


@router.api_route("/{image}/full.png", methods=_METHODS)
async def full(request: Request, reader: Reader, image: str) -> Response:
    return await _serve(request, reader, image, "full")
