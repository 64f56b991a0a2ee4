"""/imagine with a `png` attachment: an A1111/Civitai image's parameters become the job
(issue 16 item 8), through real discord.py dispatch (simcord)."""

from __future__ import annotations

import io
import zlib

from bot_fakes import COST_MILLI
from PIL import Image, PngImagePlugin

A1111 = (
    "a lighthouse at dusk <lora:ink:0.7> <lora:pastel:0.5>\n"
    "Negative prompt: blurry\n"
    "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 77, "
    "Size: 512x768, Model: dreamshaper_8, CFG Rescale: 0.5"
)


def png_with(text: str | None, size: tuple[int, int] = (8, 8)) -> bytes:
    info = PngImagePlugin.PngInfo()
    if text is not None:
        info.add_text("parameters", text)
    out = io.BytesIO()
    Image.new("RGB", size).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def webp_with(text: str) -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + text.encode("utf-16-be")
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "WEBP", exif=exif)
    return out.getvalue()


def balance(scene) -> int:  # type: ignore[no-untyped-def]
    return scene.world.store._user(scene.alice.id).balance_milli  # type: ignore[no-any-return]


async def test_an_a1111_png_fills_the_job_and_names_what_is_missing(scene):
    before = balance(scene)
    result = await scene.alice.slash(scene.channel, "imagine", png=("fox.png", png_with(A1111)))
    assert not result.ephemeral and "a lighthouse at dusk" in result.response.content
    gen = scene.last_job().spec.generation
    assert (gen.prompt, gen.negative_prompt) == ("a lighthouse at dusk", "blurry")
    assert (gen.sampler, gen.steps, gen.cfg, gen.seed) == ("dpm++_2m_karras", 20, 6.5, 77)
    assert [(x.name, x.weight) for x in gen.loras] == [("ink", 0.7)]
    assert gen.rescale == 0.5
    (note,) = [f for f in result.followups if f.ephemeral]
    assert "LoRA pastel is not installed here" in note.content
    assert "model dreamshaper_8 is not on this server" in note.content
    assert "--seed 77" in note.content and "--ar 2:3" in note.content
    assert balance(scene) == before - COST_MILLI


async def test_a_webp_exif_user_comment_works_too(scene):
    result = await scene.alice.slash(scene.channel, "imagine", png=("c.webp", webp_with(A1111)))
    assert not result.ephemeral
    assert scene.last_job().spec.generation.seed == 77


async def test_bad_attachments_are_one_private_line_and_cost_nothing(scene):
    before = balance(scene)
    bomb = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(bomb, "PNG")  # 40 KB on disk, 144 megapixels
    cases = [
        (("none.png", png_with(None)), "holds no generation parameters"),
        (("big.png", b"\0" * (21 * 2**20)), "attach one of at most 20 MiB"),
        (("x.png", b"\x89PNG\r\n\x1a\n" + b"junk" * 100), "not an image Nanke can read"),
        (("x.gif", zlib.compress(b"GIF89a")), "not an image Nanke can read"),
        (("bomb.png", bomb.getvalue()), "too many pixels to read safely"),
    ]
    for attachment, says in cases:
        result = await scene.alice.slash(scene.channel, "imagine", png=attachment)
        notes = [f.content for f in result.followups] + [
            result.response.content if result.response else ""
        ]
        assert any(says in n and "harged" in n for n in notes), (attachment[0], notes)
        assert "\n" not in " ".join(n for n in notes if says in n)
    both = await scene.alice.slash(
        scene.channel, "imagine", prompt="a fox", png=("a.png", png_with(A1111))
    )
    assert both.ephemeral and "not both" in both.response.content
    neither = await scene.alice.slash(scene.channel, "imagine")
    assert neither.ephemeral and "Give a prompt" in neither.response.content
    assert scene.world.enqueuer.sent == [] and balance(scene) == before
