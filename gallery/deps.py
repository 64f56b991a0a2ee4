"""What the gallery's routers depend on, as FastAPI dependencies: the per-app context that
`create_app` puts in `app.state`, a reader per request, and the path prefix. Routers import
this module, never the app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import Request
from fastapi.templating import Jinja2Templates

from gallery.listing import GalleryReader, ReaderFactory
from pipeline.thumbnails import BlobStore, Thumbnails

# Listings change as members share and like: a short shared cache keeps a busy page cheap
# behind a reverse proxy, and a removed entry is gone from every listing within this time.
PAGE_CACHE = "public, max-age=30"


@dataclass
class GalleryContext:
    readers: ReaderFactory
    store: BlobStore
    thumbnails: Thumbnails
    templates: Jinja2Templates
    page_size: int


def context_of(request: Request) -> GalleryContext:
    ctx: GalleryContext = request.app.state.gallery
    return ctx


async def reader_of(request: Request) -> AsyncIterator[GalleryReader]:
    """FastAPI dependency: one read-only session per request."""
    async with context_of(request).readers() as reader:
        yield reader


def root_of(request: Request) -> str:
    """The path prefix the app is served under (`--root-path` behind a reverse proxy)."""
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")
