"""The gallery in a real browser: Debian's headless Chromium driven by Playwright.

`nanke web` runs as its own process (uvicorn on 127.0.0.1, a free port) over the seeded Postgres
database and a local storage directory. The test loads a gallery, checks the thumbnails really
decode (and were kept in storage), searches, opens an image, copies its command, and checks the
page without JavaScript. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright

from tests.gallery.conftest import GalleryDB
from tests.gallery.seed import BOB_NAME, CAROL, GUILD_NAME, PUBLIC, XSS

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
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
ALL_IMAGES_DECODED = (
    "() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def storage_dir(gallery_db: GalleryDB, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Local storage as `nanke web` reads it: one file per key under <data dir>/images."""
    data_dir = tmp_path_factory.mktemp("web-data")
    for key, blob in gallery_db.seeded.blobs.items():
        path = data_dir / "images" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
    return data_dir


@pytest.fixture(scope="module")
def live_url(gallery_db: GalleryDB, storage_dir: Path) -> Iterator[str]:
    """`nanke web` itself, in its own process, on a free loopback port."""
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NANKE_DATABASE_URL": gallery_db.url,
        "NANKE_DATA_DIR": str(storage_dir),
        "NANKE_STORAGE__BACKEND": "local",
    }
    command = [sys.executable, "-m", "nanke", "web", "--host", "127.0.0.1", "--port", str(port)]
    log_path = storage_dir / "web.log"  # a file, not a pipe: a full pipe would block the server
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        # Waits for readiness, not a fixed time: on a loaded 2-core box the server's imports
        # alone have taken over 30 s, so the bound only catches a server that never starts.
        deadline = time.monotonic() + 180
        while True:  # poll until it answers
            if proc.poll() is not None:
                output = log_path.read_text()
                raise AssertionError(f"nanke web exited with {proc.returncode}:\n{output}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "nanke web did not start within 180 s"
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.1)  # returns at once if it died (caught above next turn)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


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


def test_browse_search_open_and_copy(browser: Browser, live_url: str, storage_dir: Path) -> None:
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
    kept = list((storage_dir / "images").rglob("*.thumb512.webp"))
    assert len(kept) == 8  # made once, kept in storage beside the originals
    assert page.locator(".grid .tile", has_text=XSS).count() == 1  # shown as text
    # Names as Discord showed them at share time, as text (Bob's is markup: never run).
    assert page.locator("h1").inner_text() == GUILD_NAME
    bob = page.locator(".grid .tile .meta a", has_text="alert(").first
    assert bob.inner_text() == BOB_NAME
    _shot(page, "grid")

    page.fill("input[name=q]", "lighthouse")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**q=lighthouse**")
    assert page.locator(".grid .tile").count() == 3
    _shot(page, "search")

    page.locator(".grid .tile a").first.click()
    page.wait_for_url("**/i/**")
    assert page.locator("h1").inner_text() == "old lighthouses of brittany"
    # Carol never had a name recorded: a stable short label, never her whole id.
    assert page.locator(".crumbs").inner_text() == f"{GUILD_NAME} › Member {str(CAROL)[-6:]}"
    page.wait_for_function(ALL_IMAGES_DECODED, timeout=10_000)
    command = page.input_value("#command")
    assert command.startswith("/imagine old lighthouses of brittany --no blurry, text --ar 2:3")
    page.click("#copy")
    # The page sets the label once the clipboard write resolves (asynchronously): wait for it.
    expect(page.locator("#copy")).to_have_text("Copied", timeout=10_000)
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
