"""Member images are decoded within limits, rotated, stripped and re-encoded (issue 15)."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator

import pytest
from PIL import Image, ImageFile, PngImagePlugin

from pipeline.image_decode import MAX_SIDE, ImageRefused, decode_image, open_clean
from pipeline.image_intake import load_reference, reference_key, store_bytes
from pipeline.storage import LocalStorage


def _encode(image: Image.Image, fmt: str, **kw: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **kw)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)


def _zeros_deflated(raw_size: int) -> bytes:
    squeeze = zlib.compressobj(1)
    block = b"\0" * (1 << 20)
    parts = [squeeze.compress(block) for _ in range(raw_size >> 20)]
    return b"".join(parts) + squeeze.flush()


@pytest.fixture
def decodes() -> Iterator[list[str]]:
    """Records every pixel decode Pillow starts (an observer: it calls the real load)."""
    seen: list[str] = []
    real = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile):  # type: ignore[no-untyped-def]
        seen.append(str(self.format))
        return real(self)

    ImageFile.ImageFile.load = spy  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        ImageFile.ImageFile.load = real  # type: ignore[method-assign]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_each_allowed_format_becomes_a_clean_png(fmt: str) -> None:
    clean = decode_image(_encode(Image.new("RGB", (40, 30), (10, 200, 30)), fmt))
    assert clean.png.startswith(b"\x89PNG")
    image = open_clean(clean.png)
    assert (image.mode, image.size) == ("RGB", (40, 30))
    assert (clean.width, clean.height) == (40, 30)


def test_a_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 0, 255))]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    r, _g, b = open_clean(decode_image(data).png).getpixel((8, 8))  # type: ignore[misc]
    assert r > 200 and b < 50


def test_exif_rotation_is_applied_and_all_metadata_dropped() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif[0x010F] = "SecretCam"
    data = _encode(Image.new("RGB", (40, 20), "white"), "JPEG", exif=exif.tobytes())
    clean = decode_image(data)
    assert (clean.width, clean.height) == (20, 40)
    assert b"SecretCam" not in clean.png
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a secret prompt, Seed: 1")
    png = decode_image(_encode(Image.new("RGB", (8, 8)), "PNG", pnginfo=info)).png
    assert b"secret prompt" not in png
    assert open_clean(png).info.get("parameters") is None


def test_the_same_picture_is_one_content_addressed_object(tmp_path) -> None:  # type: ignore[no-untyped-def]
    storage = LocalStorage(tmp_path)
    picture = Image.new("RGB", (12, 12), (1, 2, 3))
    first = store_bytes(storage, _encode(picture, "PNG"))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "same pixels, other metadata")
    second = store_bytes(storage, _encode(picture, "PNG", pnginfo=info))
    assert first == second
    assert first.key == reference_key(first.sha256)
    assert storage.list("refs/") == [first.key]
    assert load_reference(storage, first.sha256).getpixel((0, 0)) == (1, 2, 3)


def test_transparency_is_flattened_onto_white() -> None:
    clean = decode_image(_encode(Image.new("RGBA", (4, 4), (0, 0, 0, 0)), "PNG"))
    assert open_clean(clean.png).getpixel((1, 1)) == (255, 255, 255)


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO"])
def test_other_formats_are_refused(fmt: str) -> None:
    with pytest.raises(ImageRefused, match="not an image Nanke can read"):
        decode_image(_encode(Image.new("RGB", (16, 16)), fmt))


def test_junk_and_truncated_files_are_refused() -> None:
    with pytest.raises(ImageRefused):
        decode_image(b"<html>not an image</html>")
    whole = _encode(Image.effect_noise((64, 64), 50).convert("RGB"), "PNG")
    with pytest.raises(ImageRefused):
        decode_image(whole[: len(whole) // 2])


def test_too_wide_is_refused_and_the_limit_itself_is_fine(decodes: list[str]) -> None:
    with pytest.raises(ImageRefused, match="at most 4096"):
        decode_image(_encode(Image.new("L", (MAX_SIDE + 1, 2)), "PNG"))
    assert decodes == []
    assert decode_image(_encode(Image.new("L", (MAX_SIDE, 2)), "PNG")).width == MAX_SIDE


def test_a_20000_square_png_is_refused_without_decoding_pixels(decodes: list[str]) -> None:
    data = (
        _png_header(20000, 20000)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 20001))
        + _chunk(b"IEND", b"")
    )
    with pytest.raises(ImageRefused, match="pixels"):
        decode_image(data)
    assert decodes == []


def test_a_zip_bomb_png_is_refused_without_decoding_pixels(decodes: list[str]) -> None:
    # 32 MiB of zeros deflate to a few hundred KiB: the IDAT would inflate a thousandfold.
    bomb = _png_header(65536, 65536) + _chunk(b"IDAT", _zeros_deflated(32 << 20))
    with pytest.raises(ImageRefused, match="pixels"):
        decode_image(bomb + _chunk(b"IEND", b""))
    # A small image whose compressed text chunk would inflate to 32 MiB.
    text = _chunk(b"zTXt", b"Comment\0\0" + _zeros_deflated(32 << 20))
    small = (
        _png_header(1, 1) + text + _chunk(b"IDAT", zlib.compress(b"\0\0")) + _chunk(b"IEND", b"")
    )
    with pytest.raises(ImageRefused):
        decode_image(small)
    assert decodes == []


def test_more_than_20_mib_is_refused_before_reading() -> None:
    with pytest.raises(ImageRefused, match="at most 20 MiB"):
        decode_image(b"\x89PNG" + b"\0" * (20 * 2**20))
