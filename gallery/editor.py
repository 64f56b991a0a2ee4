"""The region editor (Draw the region…): a page with a canvas over one image, reached by a
signed, 15-minute, single-use link the bot gave a member (pipeline/editor_links.py).

No login: the link is the credential. The page never admits a job: a valid submission marks
the link's row `submitted` (once: one conditional UPDATE), and the bot admits it through its
intake, as a button press, then settles the row; the page polls `/status` to show the outcome
(docs/ARCHITECTURE.md, "The region editor")."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import region_links
from db.models import Job, RegionLink
from gallery.deps import context_of
from inference.canvas import check_shapes
from inference.errors import BadRequestError
from pipeline.contracts import JobResult, JobSpec, MaskShape
from pipeline.editor_links import INVALID, EditorLink, LinkError, verify
from prompt import format_prompt

log = logging.getLogger(__name__)
router = APIRouter()
USED = "This link was used already: each link works once. Press Draw the region… again in Discord."
GONE = "This image was deleted, so it can no longer be edited."
PAGE_CSP = (
    "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
MAX_PROMPT = 4000


@dataclass(frozen=True)
class EditorContext:
    secret: bytes
    sessions: async_sessionmaker[AsyncSession]


class Submission(BaseModel):
    prompt: str = Field(max_length=MAX_PROMPT)
    shapes: tuple[MaskShape, ...] = Field(max_length=64)


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def _open(request: Request, token: str) -> tuple[EditorLink, RegionLink, Job | None]:
    editor: EditorContext | None = getattr(request.app.state, "editor", None)
    if editor is None:
        raise Refused(404, "The region editor is not set up on this Nanke.")
    try:
        link = verify(token, editor.secret, time.time())
    except LinkError as exc:
        raise Refused(403, exc.message) from None
    async with editor.sessions() as session:
        row = await region_links.get(session, link.link_id)
        job = await session.get(Job, link.job_id)
    bound = row is not None and (row.user_id, row.job_id, row.image_index) == (
        link.user_id,
        link.job_id,
        link.index,
    )
    if row is None or not bound:
        raise Refused(403, INVALID)
    return link, row, job


def _image(job: Job | None, index: int) -> tuple[JobSpec, JobResult]:
    if job is None or job.result is None:
        raise Refused(410, GONE)
    result = JobResult.model_validate(job.result)
    if not 1 <= index <= len(result.image_keys):
        raise Refused(410, GONE)
    return JobSpec.model_validate(job.request), result


def _refusal_page(request: Request, exc: Refused) -> HTMLResponse:
    templates = context_of(request).templates
    response: HTMLResponse = templates.TemplateResponse(
        request, "error.html", {"status": exc.status, "message": exc.message}, exc.status
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/edit/{token}", response_class=HTMLResponse, include_in_schema=False)
async def page(request: Request, token: str) -> HTMLResponse:
    try:
        link, row, job = await _open(request, token)
        if row.state != "issued":
            raise Refused(410, USED)
        spec, result = _image(job, link.index)
    except Refused as exc:
        return _refusal_page(request, exc)
    context = {
        "token": token,
        "prompt": format_prompt(spec.params),
        "width": result.width,
        "height": result.height,
    }
    response: HTMLResponse = context_of(request).templates.TemplateResponse(
        request, "editor.html", context
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return response


@router.get("/edit/{token}/image", include_in_schema=False)
async def image(request: Request, token: str) -> Response:
    try:
        link, _, job = await _open(request, token)
        _, result = _image(job, link.index)
    except Refused as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    data = await context_of(request).store.get(result.image_keys[link.index - 1])
    if data is None:
        return JSONResponse({"error": GONE}, status_code=410)
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, no-store"})


@router.post("/edit/{token}", include_in_schema=False)
async def submit(request: Request, token: str) -> JSONResponse:
    """Check everything the web can (the link, the image, the region), then use the link."""
    try:
        link, row, job = await _open(request, token)
        if row.state != "issued":
            raise Refused(410, USED)
        _, result = _image(job, link.index)
        body = _submission(await request.body())
        check_shapes(body.shapes, (result.width, result.height))
    except Refused as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    except BadRequestError as exc:
        message = str(exc)
        return JSONResponse({"error": f"{message[:1].upper()}{message[1:]}."}, status_code=400)
    editor: EditorContext = request.app.state.editor
    shapes: list[Any] = [s.model_dump(mode="json") for s in body.shapes]
    async with editor.sessions() as session, session.begin():
        used = await region_links.submit(
            session, link.link_id, prompt=body.prompt, shapes=shapes, now=datetime.now(UTC)
        )
    if not used:
        return JSONResponse({"error": USED}, status_code=410)
    return JSONResponse({"state": "submitted"}, status_code=202)


def _submission(raw: bytes) -> Submission:
    try:
        return Submission.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "the prompt" if first["loc"][:1] == ("prompt",) else "the region"
        if "points" in [str(p) for p in first["loc"]] and "within" in first["msg"]:
            raise Refused(400, "The region goes outside the image: draw it on the image.") from None
        raise Refused(400, f"Nanke could not read {where}: draw it again.") from None


@router.get("/edit/{token}/status", include_in_schema=False)
async def status(request: Request, token: str) -> JSONResponse:
    """What became of a submission: submitted/admitting (wait), queued or refused."""
    try:
        _link, row, _ = await _open(request, token)
    except Refused as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    body: dict[str, Any] = {"state": row.state, "message": row.message}
    if row.new_job_id is not None:
        body["job"] = UUID(str(row.new_job_id)).hex
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/healthz/editor", include_in_schema=False)
async def health(request: Request, probe: str = "") -> JSONResponse:
    """For `nanke doctor`: whether this app serves the editor, reaches its table, and accepts
    links signed like `probe` (a link to no row, signed with the doctor's secret: it proves
    the two secrets match and opens nothing)."""
    editor: EditorContext | None = getattr(request.app.state, "editor", None)
    if editor is None:
        return JSONResponse({"editor": "off"}, status_code=503)
    try:
        async with editor.sessions() as session:
            await session.execute(select(RegionLink.id).limit(1))
    except Exception:  # the doctor says what to check; details stay in this app's log
        log.exception("region editor health: the database did not answer")
        return JSONResponse({"editor": "database"}, status_code=503)
    try:
        verify(probe, editor.secret, time.time())
        secret = "matches"
    except LinkError:
        secret = "differs"
    return JSONResponse({"editor": "on", "secret": secret}, headers={"Cache-Control": "no-store"})
