"""/imagine as a member uses it, through real discord.py dispatch (simcord)."""

from __future__ import annotations

from bot_fakes import COST_MILLI

from bot.services.ports import GuildConfig

NINE = ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", None]


def labels(message) -> list[str | None]:
    """Button labels of an interaction response (dicts) or a channel message (discord.py)."""
    out = []
    for row in message.components:
        for c in row["components"] if isinstance(row, dict) else row.children:
            out.append(c.get("label") if isinstance(c, dict) else c.label)
    return out


async def test_imagine_shows_the_queue_then_the_grid_with_nine_buttons(scene):
    result = await scene.alice.slash(scene.channel, "imagine", prompt="a red fox --ar 3:2")
    # Deferred (type 5) before the job was created, then edited into the status line.
    callbacks = [r.json for r in scene.env.http_requests if r.path.endswith("/callback")]
    assert callbacks == [{"type": 5}]
    assert not result.ephemeral
    waiting = result.response
    assert (
        waiting.content == f"**a red fox** — {scene.alice.mention} (Waiting to start · position 1)"
    )
    assert labels(waiting) == ["Cancel"]

    await scene.finish(scene.last_job().id)

    done = result.response
    assert done.content == f"**a red fox** — {scene.alice.mention} (fast)"
    assert labels(done) == NINE
    assert done.components[1]["components"][4]["emoji"]["name"] == "🔄"
    assert [a.filename for a in done.attachments] == [f"nanke_{scene.last_job().id.hex[:8]}.png"]


async def test_a_bad_prompt_is_an_ephemeral_fix_it_message_and_costs_nothing(scene):
    result = await scene.alice.slash(scene.channel, "imagine", prompt="a fox --smapler euler")
    assert result.ephemeral
    assert "Unknown flag --smapler" in result.response.content
    assert "nothing was charged" in result.response.content
    assert scene.world.enqueuer.sent == []


async def test_an_unknown_model_or_lora_is_refused_privately_and_costs_nothing(scene):
    for prompt, hint in [("a fox --model nope", "tiny-xl"), ("a fox --lora nope", "watercolor")]:
        result = await scene.alice.slash(scene.channel, "imagine", prompt=prompt)
        (note,) = result.followups
        assert note.ephemeral and hint in note.content and "nothing was charged" in note.content
    assert scene.world.enqueuer.sent == []
    account = await scene.world.store.account(scene.alice.id)
    assert account.credits_left_milli == 25 * COST_MILLI


async def test_a_banned_word_is_refused_ephemerally(scene):
    await scene.world.store.update_guild(GuildConfig(scene.guild.id, banned_words=("gore",)))
    result = await scene.alice.slash(scene.channel, "imagine", prompt="GORE everywhere")
    assert result.ephemeral and "“gore”" in result.response.content
    assert scene.world.enqueuer.sent == []


async def test_out_of_credits_is_an_ephemeral_message_and_no_placeholder_stays(scene):
    scene.world.store._user(scene.alice.id).balance_milli = 0
    before = len(scene.channel.history())
    result = await scene.alice.slash(scene.channel, "imagine", prompt="a fox")
    (note,) = result.followups
    assert note.ephemeral and "out of credits" in note.content
    assert result.response is None  # the public "thinking…" placeholder is gone
    assert len(scene.channel.history()) == before
    assert scene.world.enqueuer.sent == []


async def test_caps_are_an_ephemeral_message_and_no_placeholder_stays(scene):
    scene.world.store.max_queued = 1
    await scene.alice.slash(scene.channel, "imagine", prompt="one")
    before = len(scene.channel.history())
    result = await scene.alice.slash(scene.channel, "imagine", prompt="two")
    (note,) = result.followups
    assert note.ephemeral and "too many jobs" in note.content
    assert result.response is None  # the public "thinking…" placeholder is gone
    assert len(scene.channel.history()) == before
    assert len(scene.world.enqueuer.sent) == 1


async def test_more_than_four_jobs_ask_for_confirmation_then_post_one_grid_each(scene):
    result = await scene.alice.slash(scene.channel, "imagine", prompt="a fox --repeat 5")
    assert "**5 jobs**" in result.response.content
    assert scene.world.enqueuer.sent == []
    other = await scene.bob.click(result.response, label="Run 5 jobs")
    assert other.ephemeral and scene.world.enqueuer.sent == []
    confirmed = await scene.alice.click(result.response, label="Run 5 jobs")
    assert len(scene.world.enqueuer.sent) == 5
    assert [f.content.endswith(f"position {i})") for i, f in enumerate(confirmed.followups, 1)]
    for job_id in scene.world.enqueuer.sent:
        await scene.finish(job_id)
    grids = [m for m in scene.channel.history() if m.attachments]
    assert len(grids) == 5
    assert (await scene.world.store.account(scene.alice.id)).credits_left_milli == 20 * COST_MILLI


async def test_prompt_autocomplete_offers_samplers_loras_models_and_ratios(scene):
    async def offered(text: str) -> list[str]:
        choices = await scene.alice.autocomplete(scene.channel, "imagine", "prompt", text)
        return [c["value"] for c in choices]

    assert await offered("a fox --sampler dpm++_2m_s") == [
        "a fox --sampler dpm++_2m_sde",
        "a fox --sampler dpm++_2m_sde_exponential",
        "a fox --sampler dpm++_2m_sde_heun",
        "a fox --sampler dpm++_2m_sde_karras",
    ]
    assert len(await offered("a fox --sampler ")) == 25  # Discord's limit
    assert await offered("a fox --sampler dpm++_2m --schedule ka") == [
        "a fox --sampler dpm++_2m --schedule karras"
    ]
    assert await offered("a fox --lora wat") == ["a fox --lora water_v2", "a fox --lora watercolor"]
    assert await offered("a fox --model tiny-") == ["a fox --model tiny-xl"]
    assert "a fox --ar 16:9" in await offered("a fox --ar 16")
    assert await offered("just words") == ["just words"]


async def test_cn_is_refused_privately_before_any_charge_when_it_cannot_run(scene):
    url = "https://example.com/pose.png"
    for prompt, hint in [
        (f"a fox --cn sketch {url}", "use one of canny, depth, lineart"),
        (f"a fox --cn canny {url} --model tiny-xl", "the tiny-xl model has no ControlNet"),
        (f"a fox --cn depth {url}", "--cn depth is not set up for the tiny model"),
        ("a fox --cn canny", "--cn canny needs an image: attach it as `control`"),
    ]:
        result = await scene.alice.slash(scene.channel, "imagine", prompt=prompt)
        note = result.followups[0] if result.followups else result.response
        assert note.ephemeral and hint.lower() in note.content.lower()
        assert "nothing was charged" in note.content
    assert scene.world.enqueuer.sent == []
    account = await scene.world.store.account(scene.alice.id)
    assert account.credits_left_milli == 25 * COST_MILLI


async def test_cn_with_a_url_queues_a_controlnet_job_for_the_worker_to_fetch(scene):
    url = "https://example.com/pose.png"
    await scene.alice.slash(scene.channel, "imagine", prompt=f"a fox --cn canny {url} --cw 0.5")
    spec = scene.last_job().spec
    control = spec.generation.control
    assert control is not None and (control.module, control.weight) == ("canny", 0.5)
    assert control.image is not None and control.image.url == url
