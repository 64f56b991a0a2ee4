"""Member images into storage: bytes or URLs → checked, clean, content-addressed PNGs.

API (issue 15; torch-free, so the bot, the CLI and the worker all use it):

- `reference_key(sha256) -> str`: the storage key of a clean image, `refs/<sha256>.png`.
- `store_bytes(storage, data) -> StoredImage`: `decode_image` (Pillow limits, ≤ 4096², PNG/
  JPEG/WebP/GIF first frame, metadata stripped, re-encoded PNG), then stored under its
  content address (written once; the same picture twice is one object). Raises `ImageRefused`.
  The bot calls it for attachments before anything is charged (in a thread: it decodes).
- `store_url(storage, url, policy) -> StoredImage`: `fetch_url` (https only by default, DNS
  once and pinned, private/reserved/metadata addresses refused, ≤ 3 redirects each re-checked,
  10 s, 20 MiB) then `store_bytes`. Blocking: the WORKER calls it when the job runs, never the
  bot's event loop. Raises `UrlRefused` / `FetchFailed` / `ImageRefused`, all member-safe.
- `load_reference(storage, sha256) -> PIL.Image.Image`: a stored reference back (RGB).
- `check_url(url, policy)` (re-exported): the no-network check the bot runs at intake, so a
  plainly bad URL is refused before anything is charged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from PIL import Image

from pipeline.image_decode import ImageRefused, decode_image, open_clean
from pipeline.image_fetch import FetchFailed, fetch_url
from pipeline.image_urls import FetchPolicy, UrlRefused, check_url
from pipeline.storage import Storage, validate_key

__all__ = [
    "FetchFailed",
    "FetchPolicy",
    "ImageRefused",
    "StoredImage",
    "UrlRefused",
    "check_url",
    "load_reference",
    "reference_key",
    "store_bytes",
    "store_url",
]

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StoredImage:
    sha256: str
    key: str
    width: int
    height: int


def reference_key(sha256: str) -> str:
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return validate_key(f"refs/{sha256}.png")


def store_bytes(storage: Storage, data: bytes) -> StoredImage:
    clean = decode_image(data)
    key = reference_key(clean.sha256)
    if not storage.exists(key):
        storage.put(key, clean.png, "image/png")
    return StoredImage(clean.sha256, key, clean.width, clean.height)


def store_url(storage: Storage, url: str, policy: FetchPolicy) -> StoredImage:
    return store_bytes(storage, fetch_url(url, policy))


def load_reference(storage: Storage, sha256: str) -> Image.Image:
    return open_clean(storage.get(reference_key(sha256)))
