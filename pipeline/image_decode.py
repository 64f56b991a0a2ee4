"""Safe decoding of a member's image (torch-free; the bot, the CLI and the worker use it).

API (issue 15; `pipeline/image_intake.py` stores what this returns, `pipeline/image_fetch.py`
fetches URLs):

- `decode_image(data) -> CleanImage`: checks and re-encodes untrusted bytes. Refuses, with an
  `ImageRefused` whose `str()` is member-safe, anything that is
  - larger than `MAX_IMAGE_BYTES` (20 MiB);
  - not PNG, JPEG, WebP or GIF (only those decoders are even tried);
  - wider or taller than `MAX_SIDE` (4096) after EXIF rotation: checked from the header,
    BEFORE a pixel is decoded, so a 20000×20000 or zip-bomb PNG costs microseconds; Pillow's
    own decompression-bomb and text-chunk limits stay on as a second fence;
  - truncated or undecodable.
  A GIF (or animated WebP) gives its first frame. The result is RGB (alpha flattened onto
  white), EXIF-rotated, with every piece of metadata dropped (EXIF, ICC, text chunks, XMP),
  re-encoded as PNG. `CleanImage.sha256` is the hash of those PNG bytes: the content address.
- `open_clean(png) -> PIL.Image.Image`: a stored clean PNG back as an RGB image.

Nothing here touches the network, storage or torch.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_IMAGE_BYTES = 20 * 2**20
MAX_SIDE = 4096
FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
# Pillow refuses above twice this; we refuse far below it (MAX_SIDE²) before decoding anyway.
_PILLOW_BOMB_PIXELS = 4 * MAX_SIDE * MAX_SIDE
_EXIF_ORIENTATION = 0x0112


class ImageRefused(ValueError):
    """An input image Nanke will not use; `str()` is safe to show the member."""


@dataclass(frozen=True)
class CleanImage:
    png: bytes  # RGB, metadata-free, re-encoded
    sha256: str  # hex digest of `png`: its content address
    width: int
    height: int


def _refuse_size(width: int, height: int) -> None:
    if width > MAX_SIDE or height > MAX_SIDE:
        raise ImageRefused(
            f"That image is {width}×{height} pixels: use one of at most {MAX_SIDE}×{MAX_SIDE}."
        )
    if width < 1 or height < 1:
        raise ImageRefused("That image has no pixels.")


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, alpha composited onto white, with none of the source's `info` (metadata)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        rgb = Image.alpha_composite(white, rgba).convert("RGB")
    else:
        rgb = image.convert("RGB")
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)
    return clean  # a fresh image: no info, no exif, no icc profile


def decode_image(data: bytes) -> CleanImage:
    """Check and re-encode untrusted image bytes (see the module's doc)."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageRefused(
            f"That image is {len(data) / 2**20:.1f} MiB: use one of at most "
            f"{MAX_IMAGE_BYTES // 2**20} MiB."
        )
    unreadable = ImageRefused("That file is not an image Nanke can read (PNG, JPEG, WebP or GIF).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as image:
                _refuse_size(*image.size)  # header only: nothing decoded yet
                if image.size[0] * image.size[1] > _PILLOW_BOMB_PIXELS:
                    raise ImageRefused("That image has too many pixels.")
                image.seek(0)  # GIF / animated WebP: the first frame
                image.load()
                rotated = ImageOps.exif_transpose(image) or image
                if image.getexif().get(_EXIF_ORIENTATION) in (5, 6, 7, 8):
                    _refuse_size(rotated.size[0], rotated.size[1])
                clean = _flatten(rotated)
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused("That image has too many pixels.") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, MemoryError):
        raise unreadable from None
    except Exception:  # any other decoder failure on hostile bytes is still "unreadable"
        raise unreadable from None
    out = io.BytesIO()
    clean.save(out, format="PNG", compress_level=1)
    png = out.getvalue()
    return CleanImage(png, hashlib.sha256(png).hexdigest(), clean.width, clean.height)


def open_clean(png: bytes) -> Image.Image:
    """A stored clean PNG (from `decode_image`) as an RGB image, fully loaded."""
    with Image.open(io.BytesIO(png), formats=("PNG",)) as image:
        image.load()
        return image.convert("RGB")
