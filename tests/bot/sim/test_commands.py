"""/info, /settings, /show and /admin through real discord.py dispatch."""

from __future__ import annotations

import pytest
from bot_fakes import COST_MILLI

from bot.services.ports import Mode


async def test_info_shows_plan_credits_renewal_mode_and_queue_positions(scene):
    await scene.bob.slash(scene.channel, "imagine", prompt="bob's fox")
    await scene.alice.slash(scene.channel, "imagine", prompt="first fox")
    first = scene.last_job()
    await scene.alice.slash(scene.channel, "imagine", prompt="second fox")
    second = scene.last_job()
    scene.world.store.start(first.id)
    result = await scene.alice.slash(scene.channel, "info")
    text = result.response.content
    assert result.ephemeral
    assert "**Plan:** free" in text
    assert "**Credits left:** 23 · renew <t:1893456000:R>" in text
    assert "**Mode:** fast" in text
    assert f"`{first.id.hex}` imagine — first fox (running)" in text
    assert f"`{second.id.hex}` imagine — second fox (queued · position 2)" in text


async def test_settings_validates_and_saves_defaults_that_new_jobs_use(scene):
    result = await scene.alice.slash(
        scene.channel,
        "settings",
        sampler="dpm++_2m",
        aspect_ratio="16:9",
        remix=True,
        mode="relax",
    )
    assert result.ephemeral and result.response.content.startswith("Saved.")
    # A1111 ≥ 1.9: "DPM++ 2M" without a schedule is its Automatic one, Karras.
    assert "**Sampler:** dpm++_2m_karras" in result.response.content
    prefs = (await scene.world.store.account(scene.alice.id)).prefs
    assert (prefs.sampler, prefs.aspect_ratio, prefs.remix, prefs.mode) == (
        "dpm++_2m_karras",
        "16:9",
        True,
        Mode.RELAX,
    )
    bad = await scene.alice.slash(scene.channel, "settings", sampler="warp")
    assert bad.ephemeral and bad.response.content.startswith("Unknown sampler 'warp'")
    assert "charged" not in bad.response.content
    await scene.alice.slash(scene.channel, "imagine", prompt="a fox")
    assert scene.last_job().spec.generation.sampler == "dpm++_2m_karras"
    shown = await scene.alice.slash(scene.channel, "settings")
    assert shown.response.content.startswith("Your settings:")


async def test_settings_sampler_autocomplete(scene):
    choices = await scene.alice.autocomplete(scene.channel, "settings", "sampler", "eul")
    assert [c["value"] for c in choices] == ["euler", "euler_a"]
    many = await scene.alice.autocomplete(scene.channel, "settings", "sampler", "")
    assert len(many) == 25  # Discord's limit
    new = await scene.alice.autocomplete(scene.channel, "settings", "sampler", "dpm++_3")
    assert [c["value"] for c in new] == ["dpm++_3m_sde"]


async def test_show_reposts_a_job_with_working_buttons(scene):
    await scene.alice.slash(scene.channel, "imagine", prompt="a fox")
    job = scene.last_job()
    await scene.finish(job.id)
    shown = await scene.alice.slash(scene.channel, "show", job_id=job.id.hex)
    assert len(shown.response.attachments) == 1
    await scene.alice.click(shown.response, label="U3")
    assert scene.last_job().spec.source.index == 3
    missing = await scene.alice.slash(scene.channel, "show", job_id="nope")
    assert missing.ephemeral and "is not a job id" in missing.response.content
    other = await scene.bob.slash(scene.channel, "show", job_id=job.id.hex)
    assert other.ephemeral


async def _let_run_admin(scene, member) -> None:
    """A guild admin overrides /admin's default permissions for this member in Discord."""
    (admin,) = [c for c in await scene.bot.tree.fetch_commands() if c.name == "admin"]
    scene.guild.set_command_permissions(admin, {member: True})


ADMIN_CALLS = [
    ("admin grant", {"credits": 5}),
    ("admin plan", {"plan": "pro"}),
    ("admin ban", {}),
    ("admin unban", {}),
    ("admin banned-words", {"action": "add", "words": "gore"}),
    ("admin allow", {}),
    ("admin forbid", {}),
    ("admin buttons", {"who": "everyone"}),
    ("admin gallery", {"visibility": "public"}),
]


@pytest.mark.parametrize(("command", "options"), ADMIN_CALLS)
async def test_admin_commands_are_refused_to_members_even_if_discord_lets_them_run(
    scene, command, options
):
    # Guild admins can override a command's default permissions; the bot checks in code.
    await _let_run_admin(scene, scene.alice)
    if "member" not in options and command.split()[1] in ("grant", "plan", "ban", "unban"):
        options = {**options, "member": scene.bob}
    result = await scene.alice.slash(scene.channel, command, **options)
    assert result.ephemeral and "for Nanke admins" in result.response.content
    assert scene.world.store.guilds == {}
    assert (await scene.world.store.account(scene.bob.id)).plan == "free"


async def test_admins_grant_ban_moderate_and_forbid(scene):
    granted = await scene.mod.slash(scene.channel, "admin grant", member=scene.alice, credits=5)
    assert "they have 30" in granted.response.content
    assert (await scene.world.store.account(scene.alice.id)).credits_left_milli == 30 * COST_MILLI

    await scene.mod.slash(scene.channel, "admin plan", member=scene.alice, plan="pro")
    assert (await scene.world.store.account(scene.alice.id)).plan == "pro"
    unknown = await scene.mod.slash(scene.channel, "admin plan", member=scene.alice, plan="gold")
    assert "Unknown plan" in unknown.response.content

    words = await scene.mod.slash(
        scene.channel, "admin banned-words", action="add", words="Gore, blood"
    )
    assert words.response.content == "Banned words: `gore`, `blood`"
    refused = await scene.alice.slash(scene.channel, "imagine", prompt="blood moon")
    assert refused.ephemeral and "“blood”" in refused.response.content

    await scene.mod.slash(scene.channel, "admin ban", member=scene.alice)
    banned = await scene.alice.slash(scene.channel, "imagine", prompt="a fox")
    assert banned.followups[0].ephemeral and "banned" in banned.followups[0].content
    await scene.mod.slash(scene.channel, "admin unban", member=scene.alice)

    await scene.mod.slash(scene.channel, "admin forbid")
    off = await scene.alice.slash(scene.channel, "imagine", prompt="a fox")
    assert off.ephemeral and "not enabled on this server" in off.response.content
    await scene.mod.slash(scene.channel, "admin allow")
    await scene.alice.slash(scene.channel, "imagine", prompt="a fox")
    assert len(scene.world.enqueuer.sent) == 1


async def test_configured_admin_ids_work_without_manage_server(scene, world):
    boss = scene.guild.add_member(scene.env.create_user("boss"))
    world.deps.admin_ids = frozenset({boss.id})
    scene.bot.admin_ids = frozenset({boss.id})
    channel = scene.guild.create_text_channel("gallery")
    await _let_run_admin(scene, boss)
    result = await boss.slash(scene.channel, "admin gallery-channel", channel=channel)
    assert f"now go to {channel.mention}" in result.response.content


async def test_the_web_gallery_is_private_until_an_admin_makes_it_public(scene):
    store = scene.world.store
    assert not (await store.guild(scene.guild.id)).gallery_public
    on = await scene.mod.slash(scene.channel, "admin gallery", visibility="public")
    assert on.ephemeral and "public web gallery" in on.response.content
    assert (await store.guild(scene.guild.id)).gallery_public
    off = await scene.mod.slash(scene.channel, "admin gallery", visibility="private")
    assert "private" in off.response.content
    assert not (await store.guild(scene.guild.id)).gallery_public
