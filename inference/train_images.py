"""Check a member's training pictures before anything is charged (torch-free; Pillow only).

Rules: PNG, JPEG or WebP; at most 20 MB and 40 megapixels each; decodable; at least
`min_side` px on the short side after EXIF rotation; duplicates (the same picture, even
re-encoded or resized: an identical 64-bit difference hash and nearly the same colours in a
16x16 thumbnail) are dropped with a note; then 5-20
pictures must remain. Every refusal is a `BadRequestError` naming the file and the fix.

(The images-in-a branch adds a general safe-decoding module; this one is the training rules.)
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageOps

from inference.errors import BadRequestError
from inference.train_config import MAX_IMAGES, MIN_IMAGES

FORMATS = {"PNG", "JPEG", "WEBP"}
MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
MIN_SIDE = 512


@dataclass
class CheckedImages:
    images: list[Image.Image]  # upright RGB, duplicates removed, in the order given
    names: list[str]
    notes: list[str] = field(default_factory=list)  # e.g. "b.jpg is a duplicate of a.jpg: dropped"


def difference_hash(image: Image.Image) -> int:
    """64-bit dHash: a resized or re-encoded copy of a picture hashes the same."""
    small = image.convert("L").resize((9, 8), Image.Resampling.BILINEAR)
    px = list(small.tobytes())
    bits = 0
    for row in range(8):
        for col in range(8):
            bits = (bits << 1) | (px[row * 9 + col] > px[row * 9 + col + 1])
    return bits


def thumbnail(image: Image.Image) -> bytes:
    return image.resize((16, 16), Image.Resampling.BILINEAR).tobytes()


def same_colours(a: bytes, b: bytes, tolerance: float = 6.0) -> bool:
    """Two 16x16 thumbnails whose pixels differ by less than `tolerance` levels on average."""
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a) < tolerance


def open_upright(name: str, data: bytes, min_side: int = MIN_SIDE) -> Image.Image:
    """One picture, checked and decoded, EXIF rotation applied, in RGB."""
    if len(data) > MAX_BYTES:
        raise BadRequestError(f"{name} is larger than 20 MB: send a smaller copy")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as raw:
                if raw.format not in FORMATS:
                    raise BadRequestError(
                        f"{name} is {raw.format or 'not an image'}: send PNG, JPEG or WebP"
                    )
                if raw.width * raw.height > MAX_PIXELS:
                    raise BadRequestError(
                        f"{name} has more than 40 megapixels: send a smaller copy"
                    )
                upright = ImageOps.exif_transpose(raw).convert("RGB")
    except BadRequestError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning) as exc:
        del exc
        raise BadRequestError(
            f"{name} cannot be read as an image: send PNG, JPEG or WebP"
        ) from None
    short = min(upright.size)
    if short < min_side:
        raise BadRequestError(
            f"{name} is {upright.width}x{upright.height}: the short side must be at least "
            f"{min_side} px (send the original photo, not a thumbnail)"
        )
    return upright


def check_images(files: list[tuple[str, bytes]], min_side: int = MIN_SIDE) -> CheckedImages:
    """All pictures checked; duplicates dropped; the count checked last."""
    if len(files) < MIN_IMAGES:
        raise BadRequestError(
            f"{len(files)} pictures is too few: send {MIN_IMAGES}-{MAX_IMAGES} photos of "
            "the subject"
        )
    if len(files) > MAX_IMAGES:
        raise BadRequestError(f"{len(files)} pictures is too many: send at most {MAX_IMAGES}")
    out = CheckedImages([], [])
    seen: list[tuple[int, bytes, str]] = []
    for name, data in files:
        image = open_upright(name, data, min_side)
        key, thumb = difference_hash(image), thumbnail(image)
        twin = next((n for k, t, n in seen if k == key and same_colours(t, thumb)), None)
        if twin is not None:
            out.notes.append(f"{name} is a duplicate of {twin}: dropped")
            continue
        seen.append((key, thumb, name))
        out.images.append(image)
        out.names.append(name)
    if len(out.images) < MIN_IMAGES:
        raise BadRequestError(
            f"only {len(out.images)} different pictures after dropping duplicates: send at "
            f"least {MIN_IMAGES} different photos"
        )
    return out
