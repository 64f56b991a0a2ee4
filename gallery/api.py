"""The JSON API: one endpoint per page, same privacy rules, same cursors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from gallery import route_params
from gallery.deps import PAGE_CACHE, reader_of, root_of
from gallery.listing import EntryCard, EntryDetail, GalleryReader, GuildCard, Page
from prompt.remake import imagine_command

# HEAD too: uptime checks and proxies probe with it.
_METHODS = ["GET", "HEAD"]
router = APIRouter(prefix="/api")
Reader = Annotated[GalleryReader, Depends(reader_of)]


def _json(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, headers={"Cache-Control": PAGE_CACHE})


def guild_json(card: GuildCard, root: str) -> dict[str, Any]:
    gid = str(card.guild_id)  # snowflakes overflow JavaScript numbers: strings
    body: dict[str, Any] = {"id": gid, "name": card.name, "url": f"{root}/g/{gid}"}
    if card.entries is not None:
        body["entries"] = card.entries
    return body


def card_json(card: EntryCard, root: str) -> dict[str, Any]:
    iid = str(card.image_id)
    return {
        "id": iid,
        "prompt": card.prompt,
        "author": {"id": str(card.author.user_id), "name": card.author.name},
        "likes": card.likes,
        "shared_at": card.shared_at.isoformat(),
        "width": card.width,
        "height": card.height,
        "url": f"{root}/i/{iid}",
        "thumbnail_url": f"{root}/media/{iid}/thumb.webp",
        "image_url": f"{root}/media/{iid}/full.png",
    }


def page_json(page: Page, root: str) -> dict[str, Any]:
    return {"items": [card_json(c, root) for c in page.items], "next_cursor": page.next_cursor}


def detail_json(entry: EntryDetail, root: str) -> dict[str, Any]:
    r = entry.recipe
    body = card_json(entry.card, root)
    body["guild"] = {"id": str(entry.card.guild_id), "name": entry.guild_name}
    body["recipe"] = {
        "prompt": r.prompt,
        "negative_prompt": r.negative_prompt,
        "model": r.model,
        "sampler": r.sampler,
        "steps": r.steps,
        "cfg": r.cfg,
        "seed": r.seed,
        "width": r.width,
        "height": r.height,
        "loras": [{"name": lora.name, "weight": lora.weight} for lora in r.loras],
        "clip_skip": r.clip_skip,
        "tile": r.tile,
        "inputs": list(r.inputs),  # the member images it used (hash or URL, weight)
    }
    body["command"] = imagine_command(r)
    return body


@router.api_route("/guilds", methods=_METHODS)
async def guilds(request: Request, reader: Reader) -> JSONResponse:
    root = root_of(request)
    return _json({"items": [guild_json(g, root) for g in await reader.public_guilds()]})


@router.api_route("/g/{guild}", methods=_METHODS)
async def guild_entries(
    request: Request,
    reader: Reader,
    guild: str,
    sort: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
    limit: int = route_params.PAGE_SIZE,
) -> JSONResponse:
    card = await route_params.public_guild(reader, guild)
    page = await reader.list_entries(
        card.guild_id, route_params.list_query(sort, q, cursor, limit=limit)
    )
    root = root_of(request)
    return _json({"guild": guild_json(card, root), **page_json(page, root)})


@router.api_route("/g/{guild}/u/{member}", methods=_METHODS)
async def member_entries(
    request: Request,
    reader: Reader,
    guild: str,
    member: str,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = route_params.PAGE_SIZE,
) -> JSONResponse:
    member_id = route_params.snowflake(member)
    card = await route_params.public_guild(reader, guild)
    query = route_params.list_query(sort, None, cursor, member_id=member_id, limit=limit)
    page = await reader.list_entries(card.guild_id, query)
    if not page.items and cursor is None:
        raise HTTPException(404)
    root = root_of(request)
    return _json({"guild": guild_json(card, root), **page_json(page, root)})


@router.api_route("/i/{image}", methods=_METHODS)
async def image(request: Request, reader: Reader, image: str) -> JSONResponse:
    entry = await reader.entry(route_params.image_id(image))
    if entry is None:
        raise HTTPException(404)
    return _json(detail_json(entry, root_of(request)))
