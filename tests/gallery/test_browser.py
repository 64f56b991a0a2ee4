"""The gallery in a real browser: Debian's headless Chromium driven by Playwright.

The app is served by uvicorn on 127.0.0.1 (a free port) over the seeded Postgres database. The
test loads a gallery, checks the thumbnails really decode, searches, opens an image, copies its
command, and checks the page without JavaScript. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Dialog, Page, sync_playwright

from db.engine import create_engine, session_factory
from gallery.app import create_app
from gallery.pg_reader import reader_factory
from tests.gallery.conftest import GalleryDB, MemoryStore
from tests.gallery.seed import PUBLIC, XSS

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ALL_IMAGES_DECODED = (
    "() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def live_url(gallery_db: GalleryDB) -> Iterator[str]:
    """uvicorn serving the app in a thread (its own event loop), until the module ends."""
    engine = create_engine(gallery_db.url)
    app = create_app(
        reader_factory(session_factory(engine)),
        MemoryStore(gallery_db.seeded.blobs),
        on_close=engine.dispose,
    )
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    for _ in range(500):  # poll, up to ~10 s, for the server to listen
        if server.started:
            break
        thread.join(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "install Debian's chromium: apt-get install -y chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"gallery-{name}.png"), full_page=True)


def test_browse_search_open_and_copy(browser: Browser, live_url: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_url)
    page = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{live_url}/g/{PUBLIC}")
    tiles = page.locator(".grid .tile")
    assert tiles.count() == 8
    page.wait_for_function(ALL_IMAGES_DECODED, timeout=10_000)
    widths = page.eval_on_selector_all(".grid img", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(widths) == 8 and min(widths) > 0
    assert page.locator(".grid .tile", has_text=XSS).count() == 1  # shown as text
    _shot(page, "grid")

    page.fill("input[name=q]", "lighthouse")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**q=lighthouse**")
    assert page.locator(".grid .tile").count() == 3
    _shot(page, "search")

    page.locator(".grid .tile a").first.click()
    page.wait_for_url("**/i/**")
    assert page.locator("h1").inner_text() == "old lighthouses of brittany"
    page.wait_for_function(ALL_IMAGES_DECODED, timeout=10_000)
    command = page.input_value("#command")
    assert command.startswith("/imagine old lighthouses of brittany --no blurry, text --ar 2:3")
    page.click("#copy")
    assert page.locator("#copy").inner_text() == "Copied"
    assert page.evaluate("navigator.clipboard.readText()") == command
    _shot(page, "image")
    assert dialogs == []  # no script from a prompt ever ran
    assert console_errors == []  # e.g. no inline script refused by the CSP (its hash matches)
    context.close()


def test_image_page_without_javascript(
    browser: Browser, live_url: str, gallery_db: GalleryDB
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_url}/i/{gallery_db.seeded.by_prompt[XSS]}")
    assert page.locator("h1").inner_text() == XSS
    assert page.locator("#copy").is_hidden()  # the button needs the script; the box does not
    box = page.locator("#command")
    assert box.get_attribute("readonly") is not None
    assert box.input_value().startswith('/imagine <script>alert("pwn")')
    box.click()
    box.press("Control+a")  # the browser's own select-all: ready to copy, no script involved
    ends = "e => [e.selectionStart, e.selectionEnd]"
    assert box.evaluate(ends) == [0, len(box.input_value())]
    _shot(page, "image-nojs")
    context.close()
