"""/imagine's `png` option: an A1111 or Civitai image's parameters as a prompt (issue 16 #8).

The upload is checked before anything else happens (and before anything is charged): at most
`MAX_UPLOAD_BYTES`, an image Pillow decodes within its decompression-bomb limits, a PNG, JPEG
or WebP. Its `parameters` text (PNG) or EXIF UserComment (JPEG, WebP) becomes prompt and flags
exactly as `nanke imagine --from` does (inference/infotext_prompt.py); what this server cannot
use (a LoRA or model not installed) is named in the notes.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from bot.services.errors import InvalidPrompt
from inference.infotext import parse_infotext
from inference.infotext_prompt import prompt_from_infotext
from inference.png import read_any_parameters
from inference.registry import Registry

MAX_UPLOAD_BYTES = 20 * 2**20
MAX_PIXELS = 40_000_000  # far above any generated image, far below a decompression bomb
_FORMATS = {"PNG", "JPEG", "WEBP"}


def check_upload_size(size: int) -> None:
    """Refuse an attachment by its announced size, before downloading it."""
    if size > MAX_UPLOAD_BYTES:
        raise InvalidPrompt(
            f"That image is {size / 2**20:.1f} MiB: attach one of at most 20 MiB "
            "(the PNG, JPEG or WebP A1111 or Civitai saved; nothing was charged)."
        )


def _check_image(data: bytes) -> None:
    check_upload_size(len(data))
    unreadable = InvalidPrompt(
        "That attachment is not an image Nanke can read: attach the PNG, JPEG or WebP "
        "A1111 or Civitai saved (nothing was charged)."
    )
    too_large = InvalidPrompt(
        "That image has too many pixels to read safely (nothing was charged)."
    )
    try:
        with warnings.catch_warnings():
            # Pillow warns between its limit and twice it (and refuses beyond): our own,
            # lower limit below refuses all of those before a pixel is decoded.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in _FORMATS:
                    raise unreadable
                if image.size[0] * image.size[1] > MAX_PIXELS:
                    raise too_large
                image.load()  # decodable to the end
    except Image.DecompressionBombError:
        raise too_large from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise unreadable from None


def prompt_from_image(data: bytes, registry: Registry) -> tuple[str, list[str]]:
    """(prompt with flags, notes on what was left out) of an uploaded image's parameters."""
    _check_image(data)
    text = read_any_parameters(data)
    if text is None:
        raise InvalidPrompt(
            "That image holds no generation parameters (A1111 writes them into its PNG, JPEG "
            "and WebP files; a re-saved or screenshotted image has none). Nothing was charged."
        )
    return prompt_from_infotext(parse_infotext(text), registry)
