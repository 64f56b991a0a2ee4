from __future__ import annotations

import io
import os

from PIL import Image

from bot.services.upload import fit_upload


def _noise_png(side: int) -> bytes:
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_an_image_under_the_limit_is_sent_as_is():
    data = _noise_png(64)
    upload = fit_upload(data, "grid", limit=len(data))
    assert upload.data == data
    assert upload.filename == "grid.png"
    assert upload.note is None


def test_an_image_over_the_limit_is_re_encoded_to_fit():
    data = _noise_png(256)  # ~200 KB of noise
    upload = fit_upload(data, "grid", limit=len(data) // 2)
    assert len(upload.data) <= len(data) // 2
    assert upload.filename == "grid.webp"
    assert Image.open(io.BytesIO(upload.data)).size == (256, 256)


def test_an_image_far_over_the_limit_is_downscaled_never_refused():
    data = _noise_png(256)
    upload = fit_upload(data, "grid", limit=8_000)
    assert len(upload.data) <= 8_000
    width, _ = Image.open(io.BytesIO(upload.data)).size
    assert width < 256
    assert upload.note and "downscaled" in upload.note
