"""Server-rendered pages: they work without JavaScript (links and GET forms only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gallery import route_params
from gallery.deps import PAGE_CACHE, context_of, reader_of, root_of
from gallery.listing import GalleryReader, Sort

# HEAD too: uptime checks and proxies probe with it.
_METHODS = ["GET", "HEAD"]
router = APIRouter()
Reader = Annotated[GalleryReader, Depends(reader_of)]


def _render(request: Request, name: str, context: dict[str, object]) -> HTMLResponse:
    response: HTMLResponse = context_of(request).templates.TemplateResponse(request, name, context)
    response.headers["Cache-Control"] = PAGE_CACHE
    return response


@router.api_route("/", methods=_METHODS, response_class=HTMLResponse)
async def index(request: Request, reader: Reader) -> HTMLResponse:
    return _render(request, "index.html", {"guilds": await reader.public_guilds()})


@router.api_route("/g/{guild}", methods=_METHODS, response_class=HTMLResponse)
async def guild_page(
    request: Request,
    reader: Reader,
    guild: str,
    sort: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    card = await route_params.public_guild(reader, guild)
    query = route_params.list_query(sort, q, cursor, limit=context_of(request).page_size)
    page = await reader.list_entries(card.guild_id, query)
    context = {"guild": card, "query": query, "page": page, "sorts": list(Sort), "member": None}
    return _render(request, "grid.html", context)


@router.api_route("/g/{guild}/u/{member}", methods=_METHODS, response_class=HTMLResponse)
async def member_page(
    request: Request,
    reader: Reader,
    guild: str,
    member: str,
    sort: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    member_id = route_params.snowflake(member)
    card = await route_params.public_guild(reader, guild)
    query = route_params.list_query(
        sort, None, cursor, member_id=member_id, limit=context_of(request).page_size
    )
    page = await reader.list_entries(card.guild_id, query)
    if not page.items and cursor is None:
        raise HTTPException(404)  # no public images: do not confirm the member exists
    author = page.items[0].author if page.items else None
    context = {"guild": card, "query": query, "page": page, "sorts": list(Sort), "member": author}
    return _render(request, "grid.html", context)


@router.api_route("/i/{image}", methods=_METHODS, response_class=HTMLResponse)
async def image_page(request: Request, reader: Reader, image: str) -> HTMLResponse:
    entry = await reader.entry(route_params.image_id(image))
    if entry is None:
        raise HTTPException(404)
    return _render(request, "image.html", {"entry": entry})


@router.api_route("/j/{job}", methods=_METHODS)
async def job_link(request: Request, reader: Reader, job: str) -> RedirectResponse:
    """Discord's 🔗 Web button links a job; its shared image has the page."""
    image_id = await reader.image_of_job(route_params.image_id(job))
    if image_id is None:
        raise HTTPException(404)
    return RedirectResponse(f"{root_of(request)}/i/{image_id}", status_code=302)
