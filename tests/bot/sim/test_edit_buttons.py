"""The editing rows under an upscaled image, through discord.py's real dispatch: Zoom Out,
Custom Zoom, Pan, Make Square and the Vary (Region) menu."""

from __future__ import annotations

from bot_fakes import COST_MILLI
from conftest import make_bot

from bot.services.ports import GuildConfig, UserPrefs
from pipeline.contracts import JobKind, PanDirection, UpscaleMode


async def _upscaled(scene, prompt: str = "a red fox"):
    result = await scene.alice.slash(scene.channel, "imagine", prompt=prompt)
    grid = scene.last_job()
    await scene.finish(grid.id)
    pressed = await scene.alice.click(result.response, label="U3")
    upscale = scene.last_job()
    await scene.finish(upscale.id)
    return pressed.response, scene.world.store.jobs[upscale.id].view


def _ids(message) -> dict[str, str]:
    """custom_id by label, emoji or placeholder of every component."""
    out = {}
    for row in message.components:
        for c in row["components"]:
            name = c.get("label") or (c.get("emoji") or {}).get("name") or c.get("placeholder")
            out[name] = c.get("custom_id") or c.get("url")
    return out


async def test_zoom_and_pan_make_new_grids_from_the_upscaled_image(scene):
    message, upscale = await _upscaled(scene)
    assert (upscale.result.width, upscale.result.height) == (128, 128)
    assert "Make Square" not in _ids(message), "only under a wide or tall image"
    assert "Draw the region…" not in _ids(message), "no editor secret set: no editor link"
    zoomed = await scene.alice.click(message, label="Zoom Out 2x")
    job = scene.last_job()
    assert job.kind is JobKind.ZOOM and scene.world.store.parents[job.id] == upscale.id
    assert job.spec.source.key == upscale.result.image_keys[0]
    assert job.spec.edit.factor == 2 and (job.spec.generation.width, job.spec.edit.box) == (
        64,
        (16, 16, 32, 32),
    )
    assert "Zoom Out 2x by" in zoomed.response.content
    await scene.finish(job.id)
    assert [c["label"] for c in zoomed.response.components[0]["components"]] == [
        "U1",
        "U2",
        "U3",
        "U4",
    ], "a zoom is a new grid with the same U/V/🔄 loop"

    panned = await scene.alice.click(message, custom_id=_ids(message)["⬅️"])
    job = scene.last_job()
    assert job.kind is JobKind.PAN and job.spec.edit.direction is PanDirection.LEFT
    assert (job.spec.generation.width, job.spec.generation.height) == (192, 128)
    assert "Pan ⬅️ by" in panned.response.content


async def test_region_menu_repaints_a_preset_and_survives_a_restart(scene, world):
    message, upscale = await _upscaled(scene)
    await scene.env.restart_bot(make_bot(world))
    chosen = await scene.alice.select(message, ["top-left"], custom_id=f"nkr:{upscale.id.hex}")
    job = scene.last_job()
    assert job.kind is JobKind.VARY_REGION and job.spec.edit.region == "top-left"
    assert job.spec.edit.shapes[0].points == ((0, 0), (0.5, 0), (0.5, 0.5), (0, 0.5))
    assert (job.spec.generation.width, job.spec.generation.height) == (128, 128)
    assert "Vary (Region): Top-left quarter by" in chosen.response.content
    # Pan after the restart too: every button is a DynamicItem.
    await scene.alice.click(message, custom_id=_ids(message)["⬇️"])
    assert scene.last_job().kind is JobKind.PAN


async def test_custom_zoom_opens_a_box_with_the_prompt_and_checks_the_factor(scene):
    message, _ = await _upscaled(scene, "a red fox --seed 4")
    shown = await scene.alice.click(message, label="Custom Zoom")
    assert shown.modal is not None and shown.modal["title"] == "Custom Zoom"
    inputs = [c["components"][0] for c in shown.modal["components"]]
    assert [i.get("value") for i in inputs][:2] == ["2", "a red fox --seed 4"]
    sent = len(scene.world.enqueuer.sent)
    refused = await scene.alice.submit_modal(shown, {"factor": "3", "prompt": "a fox", "ar": ""})
    assert refused.ephemeral and "from 1 to 2" in refused.response.content
    assert "nothing was charged" in refused.response.content
    assert len(scene.world.enqueuer.sent) == sent
    shown = await scene.alice.click(message, label="Custom Zoom")
    done = await scene.alice.submit_modal(
        shown, {"factor": "1.5x", "prompt": "a fox in a forest", "ar": "2:1"}
    )
    job = scene.last_job()
    assert job.kind is JobKind.ZOOM and job.spec.params.prompt == "a fox in a forest"
    assert job.spec.edit.factor == 1.5 and job.spec.params.aspect_ratio == "2:1"
    assert done.response.content.startswith("**a fox in a forest** — Zoom Out 1.5x")


async def test_make_square_on_a_wide_image_and_remix_first(scene):
    message, _ = await _upscaled(scene, "a wide fox --ar 3:1")
    assert "Make Square" in _ids(message)
    await scene.world.store.update_prefs(scene.alice.id, UserPrefs(remix=True))
    shown = await scene.alice.click(message, label="Make Square")
    assert shown.modal is not None and shown.modal["title"] == "Remix"
    await scene.alice.submit_modal(shown, {"prompt": "a wide fox at dawn"})
    job = scene.last_job()
    assert job.kind is JobKind.SQUARE and job.spec.params.prompt == "a wide fox at dawn"
    assert job.spec.generation.width == job.spec.generation.height == 256


async def test_edits_are_refused_privately_and_charge_nothing(scene):
    first, _ = await _upscaled(scene)
    # Upscaled twice: 256×256, the tiny model's whole pixel limit (16 × 64²).
    again = await scene.alice.click(first, label="Upscale (Subtle)")
    await scene.finish(scene.last_job().id)
    message = again.response
    before = (await scene.world.store.account(scene.alice.id)).credits_left_milli
    sent = len(scene.world.enqueuer.sent)
    # Another member (the job's server lets only its author press).
    other = await scene.bob.click(message, label="Zoom Out 1.5x")
    assert other.ephemeral and "Only the member who made this image" in other.response.content
    # Past the model's pixel limit.
    refused = await scene.alice.click(message, custom_id=_ids(message)["➡️"])
    assert refused.ephemeral and "beyond this model's limit" in refused.response.content
    assert "nothing was charged" in refused.response.content
    # Banned words added later stop old edit buttons too.
    await scene.world.store.update_guild(GuildConfig(scene.guild.id, banned_words=("fox",)))
    scene.bot.intake.forget_guild(scene.guild.id)
    banned = await scene.alice.click(message, label="Zoom Out 2x")
    assert banned.ephemeral and "fox" in banned.response.content
    after = (await scene.world.store.account(scene.alice.id)).credits_left_milli
    assert after == before and before < 25 * COST_MILLI
    assert len(scene.world.enqueuer.sent) == sent


async def test_u_on_a_pan_grid_picks_the_image_and_pans_again(scene):
    message, _ = await _upscaled(scene)
    panned = await scene.alice.click(message, custom_id=_ids(message)["➡️"])
    pan = scene.last_job()
    await scene.finish(pan.id)
    picked = await scene.alice.click(panned.response, label="U2")
    job = scene.last_job()
    assert job.kind is JobKind.UPSCALE and job.spec.upscale_mode is UpscaleMode.PICK
    assert (job.spec.generation.width, job.spec.generation.height) == (192, 128), "not 2x"
    await scene.finish(job.id)
    assert "Image #2 by" in picked.response.content
    again = await scene.alice.click(picked.response, custom_id=_ids(picked.response)["➡️"])
    job = scene.last_job()
    assert job.kind is JobKind.PAN and (job.spec.generation.width, job.spec.generation.height) == (
        320,
        128,
    )
    assert "Pan ➡️ by" in again.response.content


async def test_reroll_on_a_zoom_grid_zooms_again_with_new_seeds(scene):
    message, upscale = await _upscaled(scene)
    zoomed = await scene.alice.click(message, label="Zoom Out 1.5x")
    zoom = scene.last_job()
    await scene.finish(zoom.id)
    await scene.alice.click(zoomed.response, custom_id=f"nk:r:{zoom.id.hex}:0")
    again = scene.last_job()
    assert again.kind is JobKind.ZOOM and again.id != zoom.id
    assert again.spec.source == zoom.spec.source and again.spec.edit == zoom.spec.edit
    assert again.spec.source.job_id == upscale.id
    assert again.spec.generation.seed != zoom.spec.generation.seed
