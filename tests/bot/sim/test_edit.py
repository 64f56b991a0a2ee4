"""/edit and Edit… through discord.py's real dispatch (simcord): an instruction applied to an
attached image or to an upscaled result by the server's edit model → a 2x2 grid with U/V/🔄;
refusals are private and charge nothing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from bot_fakes import COST_MILLI, FakeWorker, MemoryImages, MemoryStore, RecordingEnqueuer
from conftest import World
from PIL import Image

from bot.app import BotDeps
from bot.services.ports import GuildConfig
from bot.services.resolver import RegistryResolver
from inference.registry import ModelEntry, Registry
from pipeline.contracts import JobKind
from pipeline.image_intake import reference_key


def _world(edit: str | None) -> World:
    store, images, enqueuer = MemoryStore(), MemoryImages(), RecordingEnqueuer()
    here = str(Path.cwd())
    models = {
        "tiny": ModelEntry("tiny", here, "dir", "sd15", 20, 64),
        "tiny-kontext": ModelEntry("tiny-kontext", here, "dir", "flux", 4, 64),
        "tiny-klein": ModelEntry("tiny-klein", here, "dir", "flux2", 4, 64),
    }
    deps = BotDeps(
        store=store,
        enqueuer=enqueuer,
        resolver=RegistryResolver(Registry(models, "tiny", edit=edit)),
        images=images,
        models=tuple(models),
        edit_model=edit is not None,
    )
    return World(store, images, enqueuer, FakeWorker(store, images), deps)


@pytest.fixture
def world(request: pytest.FixtureRequest) -> World:
    return _world(getattr(request, "param", "tiny-kontext"))


def _png(colour: tuple[int, int, int], size: tuple[int, int] = (96, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def _balance(scene) -> int:  # type: ignore[no-untyped-def]
    return scene.world.store._user(scene.alice.id).balance_milli  # type: ignore[no-any-return]


def _labels(message) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.get("label") or "" for row in message.components for c in row["components"]]


async def _upscaled(scene):  # type: ignore[no-untyped-def]
    result = await scene.alice.slash(scene.channel, "imagine", prompt="a red fox")
    await scene.finish(scene.last_job().id)
    pressed = await scene.alice.click(result.response, label="U3")
    upscale = scene.last_job()
    await scene.finish(upscale.id)
    return pressed.response, scene.world.store.jobs[upscale.id].view


async def test_edit_button_opens_a_box_and_posts_a_grid_with_the_usual_buttons(scene):
    message, upscale = await _upscaled(scene)
    assert "Edit…" in _labels(message)
    before = _balance(scene)
    shown = await scene.alice.click(message, label="Edit…")
    assert shown.modal is not None and shown.modal["title"] == "Edit"
    done = await scene.alice.submit_modal(shown, {"instruction": "make it night --seed 12"})
    job = scene.last_job()
    assert job.kind is JobKind.EDIT and scene.world.store.parents[job.id] == upscale.id
    assert job.spec.source.key == upscale.result.image_keys[0]
    gen = job.spec.generation
    assert (gen.model, gen.prompt, gen.seed, gen.batch) == ("tiny-kontext", "make it night", 12, 4)
    assert (gen.width, gen.height) == (64, 64)  # the upscale's shape at the model's area
    assert done.response.content.startswith("**make it night** — Edit #1 by")
    assert _balance(scene) == before - COST_MILLI
    await scene.finish(job.id)
    assert _labels(done.response)[:4] == ["U1", "U2", "U3", "U4"]
    assert done.response.attachments  # the grid
    # 🔄 repeats the same edit of the same image with new seeds.
    await scene.alice.click(done.response, custom_id=f"nk:r:{job.id.hex}:0")
    again = scene.last_job()
    assert again.kind is JobKind.EDIT and again.spec.source == job.spec.source
    assert again.spec.generation.prompt == "make it night"


async def test_slash_edit_takes_an_attachment_through_the_safe_intake(scene):
    before = _balance(scene)
    result = await scene.alice.slash(
        scene.channel, "edit", image=("photo.png", _png((10, 120, 30))), instruction="add a red hat"
    )
    assert not result.ephemeral
    job = scene.last_job()
    assert job.kind is JobKind.EDIT and job.spec.source is None
    (ref,) = job.spec.edit.images
    assert reference_key(ref.sha256) in scene.world.images.blobs
    gen = job.spec.generation
    assert (gen.width, gen.height) == (96, 64)  # 2:1 at the tiny area: sides ≥ 64, in 16s
    assert _balance(scene) == before - COST_MILLI
    await scene.finish(job.id)
    assert result.response.attachments and "U1" in _labels(result.response)


@pytest.mark.parametrize("world", [None], indirect=True)
async def test_without_an_edit_model_edit_is_refused_privately_and_free(scene):
    before = _balance(scene)
    result = await scene.alice.slash(
        scene.channel, "edit", image=("a.png", _png((1, 2, 3))), instruction="make it night"
    )
    assert result.ephemeral and "not set up on this server" in result.response.content
    assert "nothing was charged" in result.response.content
    assert scene.world.enqueuer.sent == [] and _balance(scene) == before
    message, _ = await _upscaled(scene)
    assert "Edit…" not in _labels(message)


async def test_edit_button_is_the_authors_and_its_box_checks_the_banned_words(scene):
    # Set first: the bot caches a server's settings (the admin commands refresh them).
    await scene.world.store.update_guild(GuildConfig(scene.guild.id, banned_words=("gore",)))
    message, _ = await _upscaled(scene)
    before, sent = _balance(scene), len(scene.world.enqueuer.sent)
    other = await scene.bob.click(message, label="Edit…")
    assert other.ephemeral and "Only the member who made this image" in other.response.content
    shown = await scene.alice.click(message, label="Edit…")
    refused = await scene.alice.submit_modal(shown, {"instruction": "add gore"})
    assert refused.ephemeral and "“gore”" in refused.response.content
    assert len(scene.world.enqueuer.sent) == sent and _balance(scene) == before


async def test_refusals_are_private_and_charge_nothing(scene):
    await scene.world.store.update_guild(GuildConfig(scene.guild.id, banned_words=("gore",)))
    before = _balance(scene)
    cases = [
        ({"instruction": "add gore"}, "“gore”"),
        ({"instruction": "make it night --ar 16:9"}, "--ar"),
        ({"instruction": "make it night", "reference1": ("b.png", _png((9, 9, 9)))},
         "edits one image at a time, not 2"),
        ({"instruction": "night", "image": ("c.png", b"\0" * (21 * 2**20))}, "at most 20 MiB"),
    ]  # fmt: skip
    for options, expected in cases:
        options.setdefault("image", ("a.png", _png((1, 2, 3))))
        result = await scene.alice.slash(scene.channel, "edit", **options)
        assert result.ephemeral, options
        assert expected in result.response.content, (options, result.response.content)
    assert scene.world.enqueuer.sent == [] and _balance(scene) == before


@pytest.mark.parametrize("world", ["tiny-klein"], indirect=True)
async def test_flux2_klein_takes_reference_images(scene):
    result = await scene.alice.slash(
        scene.channel,
        "edit",
        image=("a.png", _png((1, 2, 3), (64, 64))),
        instruction="put the hat on the cat",
        reference1=("hat.png", _png((200, 0, 0))),
        reference2=("cat.png", _png((0, 0, 200))),
    )
    assert not result.ephemeral
    job = scene.last_job()
    assert len(job.spec.edit.images) == 3 and job.spec.generation.model == "tiny-klein"


async def test_a_failed_edit_is_refunded(scene):
    before = _balance(scene)
    result = await scene.alice.slash(
        scene.channel, "edit", image=("a.png", _png((1, 2, 3))), instruction="make it night"
    )
    job = scene.last_job()
    for event in scene.world.worker.crash(job.id, "an image you gave was flagged"):
        await scene.bot.delivery.handle(event)
    await scene.env.settle()
    assert "credits refunded" in result.response.content
    assert _balance(scene) == before
