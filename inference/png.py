"""PNG encoding with the A1111 `parameters` text chunk (Pillow only, torch-free)."""

from __future__ import annotations

import io

from PIL import Image, PngImagePlugin


def encode_png(image: Image.Image, infotext: str | None = None, compress_level: int = 4) -> bytes:
    """PNG bytes; `infotext` goes into the `parameters` tEXt/iTXt chunk A1111 tools read."""
    info = PngImagePlugin.PngInfo()
    if infotext:
        info.add_text("parameters", infotext)
    buf = io.BytesIO()
    image.save(buf, format="PNG", pnginfo=info, compress_level=compress_level)
    return buf.getvalue()


def read_parameters(data: bytes) -> str | None:
    with Image.open(io.BytesIO(data)) as image:
        value = image.info.get("parameters")
    return value if isinstance(value, str) else None
