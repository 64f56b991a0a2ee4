"""/imagine with image prompts and references, through real discord.py dispatch (issue 15):
attachments go through the safe intake before anything is charged; URLs are checked here and
fetched by the worker; 🔄 and V keep the images."""

from __future__ import annotations

import io

from bot_fakes import COST_MILLI
from PIL import Image

from bot.services.ports import UserPrefs
from pipeline.image_intake import reference_key


def _png(colour: tuple[int, int, int], size: tuple[int, int] = (24, 16)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def balance(scene) -> int:  # type: ignore[no-untyped-def]
    return scene.world.store._user(scene.alice.id).balance_milli  # type: ignore[no-any-return]


def _private(result) -> list[str]:  # type: ignore[no-untyped-def]
    notes = [f.content for f in result.followups if f.ephemeral]
    if result.response is not None and result.ephemeral:
        notes.append(result.response.content)
    return notes


async def test_attached_images_and_urls_become_image_prompts_kept_by_reroll_and_vary(scene):
    before = balance(scene)
    result = await scene.alice.slash(
        scene.channel,
        "imagine",
        prompt="https://images.example/cat.png a cat in the snow --iw 2 --cref "
        "https://images.example/dog.png",
        image=("red.png", _png((200, 0, 0))),
        image2=("blue.webp", _png((0, 0, 200))),
    )
    assert not result.ephemeral
    job = scene.last_job()
    refs = job.spec.generation.references
    assert [(r.role, r.scale) for r in refs] == [
        ("image", 1.0),
        ("image", 1.0),
        ("image", 1.0),
        ("object", 0.5),
    ]
    stored = [r.image.sha256 for r in refs[:2]]
    assert all(reference_key(s) in scene.world.images.blobs for s in stored)
    assert refs[2].image.url == "https://images.example/cat.png"  # the worker fetches it
    assert job.spec.generation.prompt == "a cat in the snow"
    assert any("--cref/--cw are Midjourney's older names" in n for n in _private(result))
    assert balance(scene) == before - COST_MILLI

    await scene.finish(job.id)
    await scene.alice.click(result.response, custom_id=f"nk:r:{job.id.hex}:0")
    assert scene.last_job().spec.generation.references == refs
    await scene.alice.click(result.response, label="V2")
    assert scene.last_job().spec.generation.references == refs


async def test_refused_images_and_urls_are_one_private_line_and_cost_nothing(scene):
    before = balance(scene)
    bomb = io.BytesIO()
    Image.new("1", (8000, 300)).save(bomb, "PNG")
    bmp = io.BytesIO()
    Image.new("RGB", (8, 8)).save(bmp, "BMP")
    cases = [
        ({"prompt": "http://images.example/a.png a cat"}, "must start with https://"),
        ({"prompt": "https://2130706433/a.png a cat"}, "private or reserved address"),
        ({"prompt": "https://[::ffff:10.0.0.1]/a.png a cat"}, "private or reserved address"),
        ({"prompt": "a cat --sref https://169.254.169.254/x.png"}, "private or reserved"),
        ({"prompt": "a cat", "image": ("a.bmp", bmp.getvalue())}, "not an image Nanke can read"),
        ({"prompt": "a cat", "image": ("b.png", bomb.getvalue())}, "at most 4096×4096"),
        ({"prompt": "a cat", "image": ("c.png", b"\0" * (21 * 2**20))}, "at most 20 MiB"),
        ({"prompt": "a cat --model tiny-xl", "image": ("d.png", _png((1, 2, 3)))}, "cannot take"),
        ({"prompt": "a cat --iw 2"}, "--iw sets the weight of image prompts"),
        (
            {
                "prompt": " ".join(f"https://x.example/{i}.png" for i in range(4)) + " a cat",
                "image": ("e.png", _png((9, 9, 9))),
                "image2": ("f.png", _png((8, 8, 8))),
            },
            "at most 5 images",
        ),
    ]
    sent = len(scene.world.enqueuer.sent)
    for options, says in cases:
        result = await scene.alice.slash(scene.channel, "imagine", **options)
        notes = _private(result)
        assert any(says in n and "harged" in n for n in notes), (options.get("prompt"), notes)
    assert len(scene.world.enqueuer.sent) == sent
    assert balance(scene) == before


async def test_blend_makes_one_grid_from_the_images_and_refuses_bad_ones(scene):
    before = balance(scene)
    result = await scene.alice.slash(
        scene.channel,
        "blend",
        image1=("a.png", _png((200, 0, 0))),
        image2=("b.jpg", _png((0, 0, 200))),
        image3=("c.gif", _png((0, 200, 0))),
        dimensions="2:3",
    )
    assert not result.ephemeral
    job = scene.last_job()
    gen = job.spec.generation
    assert gen.blend and gen.prompt == "" and len(gen.references) == 3
    assert all(r.role == "image" and r.scale == 1.0 for r in gen.references)
    assert job.spec.params.aspect_ratio == "2:3"
    assert balance(scene) == before - COST_MILLI
    await scene.finish(job.id)
    await scene.alice.click(result.response, custom_id=f"nk:r:{job.id.hex}:0")
    assert scene.last_job().spec.generation.references == gen.references

    sent = len(scene.world.enqueuer.sent)
    refused = await scene.alice.slash(
        scene.channel, "blend", image1=("a.png", _png((1, 1, 1))), image2=("x.png", b"junk")
    )
    assert any("not an image Nanke can read" in n and "harged" in n for n in _private(refused))
    assert len(scene.world.enqueuer.sent) == sent


async def test_cn_takes_the_control_attachment_and_reroll_keeps_it(scene):
    before = balance(scene)
    result = await scene.alice.slash(
        scene.channel,
        "imagine",
        prompt="a castle on a hill --cn canny --cw 0.6",
        control=("edges.png", _png((10, 200, 10), (40, 30))),
    )
    assert not result.ephemeral
    job = scene.last_job()
    control = job.spec.generation.control
    assert control is not None and control.module == "canny" and control.weight == 0.6
    assert control.image is not None and control.image.url is None
    assert reference_key(control.image.sha256) in scene.world.images.blobs  # stored, clean
    assert balance(scene) == before - COST_MILLI
    await scene.finish(job.id)
    await scene.alice.click(result.response, custom_id=f"nk:r:{job.id.hex}:0")
    assert scene.last_job().spec.generation.control == control
    await scene.alice.click(result.response, label="V1")
    assert scene.last_job().spec.generation.control == control
    # Remix: the box shows `--cn canny --cw 0.6` (an attachment has no text form); the
    # edited prompt keeps the attached control image.
    await scene.world.store.update_prefs(scene.alice.id, UserPrefs(remix=True))
    box = await scene.alice.click(result.response, label="V2")
    assert "--cn canny --cw 0.6" in box.modal["components"][0]["components"][0]["value"]
    await scene.alice.submit_modal(box, {"prompt": "a castle at night --cn canny --cw 0.9"})
    remixed = scene.last_job().spec
    assert remixed.params.prompt == "a castle at night"
    assert remixed.generation.control.image == control.image
    assert remixed.generation.control.weight == 0.9


async def test_cn_refusals_are_private_and_free(scene):
    before = balance(scene)
    edges = ("edges.png", _png((10, 200, 10)))
    bmp = io.BytesIO()
    Image.new("RGB", (8, 8)).save(bmp, "BMP")
    cases = [
        ({"prompt": "a castle --cn canny"}, "attach it as `control`"),
        ({"prompt": "a castle", "control": edges}, "add --cn canny"),
        (
            {"prompt": "a castle --cn canny https://x.example/e.png", "control": edges},
            "has a URL and a `control` attachment",
        ),
        ({"prompt": "a castle --cn canny", "control": ("e.bmp", bmp.getvalue())}, "can read"),
        ({"prompt": "a castle --cn canny https://10.1.2.3/e.png"}, "private or reserved"),
        ({"prompt": "a castle --cn depth", "control": edges}, "--cn depth is not set up"),
    ]
    sent = len(scene.world.enqueuer.sent)
    for options, says in cases:
        result = await scene.alice.slash(scene.channel, "imagine", **options)
        notes = _private(result)
        assert any(says in n and "harged" in n for n in notes), (options.get("prompt"), notes)
    assert len(scene.world.enqueuer.sent) == sent
    assert balance(scene) == before


async def test_a_fetched_discord_cdn_link_is_kept_as_a_stored_image_for_follow_ups(scene):
    """A Discord attachment link expires within a day: once the worker fetched it, 🔄 and V
    use the stored picture (its content address), never the link."""
    link = "https://cdn.discordapp.com/attachments/1/2/cat.png?ex=65&is=64&hm=ab12"
    result = await scene.alice.slash(scene.channel, "imagine", prompt=f"{link} a cat --iw 1.5")
    assert not result.ephemeral  # a public https link: accepted like any image URL
    job = scene.last_job()
    assert job.spec.generation.references[0].image.url == link  # the worker fetches it
    stored = "ab" * 32
    await scene.finish(job.id, fetched={link: stored})
    await scene.alice.click(result.response, custom_id=f"nk:r:{job.id.hex}:0")
    rerolled = scene.last_job().spec
    assert rerolled.generation.references[0].image.sha256 == stored
    assert rerolled.generation.references[0].scale == job.spec.generation.references[0].scale
    assert rerolled.params.images[0].url == link  # the request (what Remix shows) as typed
    await scene.alice.click(result.response, label="V3")
    assert scene.last_job().spec.generation.references[0].image.sha256 == stored
