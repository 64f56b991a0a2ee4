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


_EXIF_IFD = 0x8769
_USER_COMMENT = 0x9286


def read_any_parameters(data: bytes) -> str | None:
    """A1111 parameters from a PNG `parameters` chunk or a JPEG/WebP EXIF UserComment (what
    A1111 writes for those formats); None when there are none or the file is no image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            value = image.info.get("parameters")
            if isinstance(value, str):
                return value
            comment = image.getexif().get_ifd(_EXIF_IFD).get(_USER_COMMENT)
    except (OSError, ValueError, SyntaxError):  # not an image Pillow can read
        return None
    if isinstance(comment, str):
        return comment.strip("\x00") or None
    if not isinstance(comment, bytes):
        return None
    code, body = comment[:8], comment[8:]
    if code.startswith(b"UNICODE"):
        # A1111 (piexif) writes UTF-16 big-endian; some tools write little-endian with a BOM.
        encoding = "utf-16" if body[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-16-be"
        text = body.decode(encoding, errors="replace")
    else:
        text = body.decode("utf-8", errors="replace")
    return text.strip("\x00") or None
