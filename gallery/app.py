"""The app factory: `create_app(readers, store)` → a FastAPI app. Nothing is built at import.

The composition root of the web process (`nanke.roots.web`) makes the database session factory
and the storage and passes them in; tests pass the same things built against their own database.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gallery.cursor import CursorError
from gallery.deps import GalleryContext, context_of, root_of
from gallery.listing import ReaderFactory
from pipeline.thumbnails import BlobStore, Thumbnails
from prompt.remake import imagine_command

if TYPE_CHECKING:
    from gallery.editor import EditorContext

HERE = Path(__file__).parent
log = logging.getLogger(__name__)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def content_security_policy() -> str:
    """Only this app's own files, plus the inline scripts of our templates by their hash: a
    prompt that slipped past escaping still could not run a script."""
    hashes = []
    for template in sorted((HERE / "templates").glob("*.html")):
        for script in _INLINE_SCRIPT.findall(template.read_text(encoding="utf-8")):
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            hashes.append(f"'sha256-{digest}'")
    script_src = " ".join(hashes) or "'none'"
    return (
        "default-src 'none'; img-src 'self'; style-src 'self'; "
        f"script-src {script_src}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


class SecurityHeaders:
    """ASGI middleware: set these headers on every response that does not set its own.

    It is also the last line of defence: an exception no route handled becomes a plain 500
    here, inside this middleware, so it carries the headers too (Starlette's own error
    page, outside every middleware, would not), with a reference in the log."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("unhandled error on %s %s (ref %s)", scope["method"], scope["path"], ref)
            if started:
                raise
            body = {"error": f"Something went wrong on our side (ref {ref})."}
            await JSONResponse(body, status_code=500)(scope, receive, send_with_headers)


def _templates() -> Jinja2Templates:
    # Autoescape every template: prompts are member-written text, shown as text.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # templates ship with the package: no stat() per render
    )
    env.globals["imagine_command"] = imagine_command
    return Jinja2Templates(env=env, context_processors=[lambda r: {"root": root_of(r)}])


def create_app(
    readers: ReaderFactory,
    store: BlobStore,
    *,
    title: str = "Nanke gallery",
    page_size: int = 48,
    on_close: Callable[[], Awaitable[None]] | None = None,
    metrics: Callable[[], Awaitable[str]] | None = None,
    metrics_token: str | None = None,
    editor_context: EditorContext | None = None,
) -> FastAPI:
    """`readers` opens a read session per request; `on_close` runs at shutdown (the composition
    root passes the engine's dispose). `metrics` (the queue in Prometheus text) is served at
    /metrics to requests bearing `metrics_token`; without it there is no /metrics.
    `editor_context`: the region editor's secret and sessions."""
    # long: the app's parts in one place, in order: routers, middleware, error pages, probes
    # Local imports keep the route modules free of app-building code (and of import cycles).
    from gallery import api, editor, media, pages

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if on_close is not None:
            await on_close()

    app = FastAPI(
        title=title,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    templates = _templates()
    templates.env.globals["site_title"] = title
    app.state.gallery = GalleryContext(readers, store, Thumbnails(store), templates, page_size)
    app.state.editor = editor_context
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for routes in (pages, api, media, editor):
        app.include_router(routes.router)

    security_headers = {
        "Content-Security-Policy": content_security_policy(),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    app.add_middleware(SecurityHeaders, headers=security_headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(CursorError)
    async def _cursor_error(request: Request, exc: CursorError) -> Response:
        return _error(request, 400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _bad_parameter(request: Request, exc: RequestValidationError) -> Response:
        names = sorted({str(e["loc"][-1]) for e in exc.errors() if e.get("loc")})
        return _error(request, 400, f"bad value for {', '.join(names) or 'a parameter'}")

    @app.get("/healthz", include_in_schema=False)
    async def _health() -> dict[str, str]:
        return {"status": "ok"}

    if metrics is not None and metrics_token:
        _serve_metrics(app, metrics, metrics_token)

    return app


def _serve_metrics(app: FastAPI, metrics: Callable[[], Awaitable[str]], token: str) -> None:
    """GET /metrics: the queue in Prometheus text, for requests bearing the token."""
    from pipeline.metrics import CONTENT_TYPE, authorized

    @app.get("/metrics", include_in_schema=False)
    async def _metrics(request: Request) -> Response:
        if not authorized(request.headers.get("authorization"), token):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        return Response(await metrics(), media_type=CONTENT_TYPE)


def _error(request: Request, status: int, message: str) -> Response:
    if status == 400:
        # Hostile or mangled input is expected on the open web: one line, no traceback.
        log.info("400 %s %s: %s", request.method, request.url.path, message)
    if status == 404:
        message = "Nothing here: this gallery or image is not public, or it was removed."
    if request.url.path.startswith(("/api/", "/media/")):
        return JSONResponse({"error": message}, status_code=status)
    templates = context_of(request).templates
    response: HTMLResponse = templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )
    return response
