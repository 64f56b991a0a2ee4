"""/admin: credits, plans, bans, banned words, the gallery channel, and whether Nanke runs in
this server. Every command checks admin rights in code (configured admin ids or the member's
Manage Server permission); the command's default permissions are only a hint to Discord."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.interactions import require_admin
from bot.reporting import user_errors
from bot.services.errors import NankeError
from bot.services.moderation import normalize_word_list
from bot.services.ports import GuildConfig

if TYPE_CHECKING:
    from bot.app import NankeBot


GALLERY_SAID = {
    "public": "This server's shared images are now on the public web gallery.",
    "private": "This server's web gallery is now private: nothing of it is shown on the web.",
}


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Admin(commands.GroupCog, group_name="admin", group_description="Nanke admin commands"):
    def __init__(self, bot: NankeBot) -> None:
        self.bot = bot
        super().__init__()

    async def _guild(self, interaction: discord.Interaction) -> GuildConfig:
        require_admin(self.bot, interaction)
        assert interaction.guild_id is not None
        return await self.bot.deps.store.guild(interaction.guild_id)

    async def _save(self, config: GuildConfig) -> None:
        await self.bot.deps.store.update_guild(config)
        self.bot.intake.forget_guild(config.guild_id)

    async def _say(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )

    @app_commands.command(name="grant", description="Give a member extra credits")
    @app_commands.describe(credits="How many credits (one default grid costs 1)")
    async def grant(
        self,
        interaction: discord.Interaction,
        member: discord.User,
        credits: app_commands.Range[int, 1, 100000],
    ) -> None:
        async with user_errors(interaction):
            require_admin(self.bot, interaction)
            account = await self.bot.deps.store.grant(member.id, credits, interaction.user.id)
            left = account.credits_left_milli / 1000
            await self._say(
                interaction, f"Granted {credits} credits to {member.mention}; they have {left:g}."
            )

    @app_commands.command(name="plan", description="Set a member's plan")
    async def plan(self, interaction: discord.Interaction, member: discord.User, plan: str) -> None:
        async with user_errors(interaction):
            require_admin(self.bot, interaction)
            plans = await self.bot.deps.store.plans()
            if plan not in plans:
                raise NankeError(f"Unknown plan “{plan}”. Plans: {', '.join(plans)}.")
            await self.bot.deps.store.set_plan(member.id, plan)
            await self._say(interaction, f"{member.mention} is now on the **{plan}** plan.")

    @plan.autocomplete("plan")
    async def _plans(self, _: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        plans = await self.bot.deps.store.plans()
        return [app_commands.Choice(name=p, value=p) for p in plans if current.lower() in p][:25]

    @app_commands.command(name="ban", description="Stop a member from using Nanke in this server")
    async def ban(self, interaction: discord.Interaction, member: discord.User) -> None:
        async with user_errors(interaction):
            config = await self._guild(interaction)
            await self.bot.deps.store.set_banned(config.guild_id, member.id, True)
            await self._say(interaction, f"{member.mention} can no longer use Nanke.")

    @app_commands.command(name="unban", description="Let a banned member use Nanke again")
    async def unban(self, interaction: discord.Interaction, member: discord.User) -> None:
        async with user_errors(interaction):
            config = await self._guild(interaction)
            await self.bot.deps.store.set_banned(config.guild_id, member.id, False)
            await self._say(interaction, f"{member.mention} can use Nanke again.")

    @app_commands.command(name="banned-words", description="Edit the words /imagine refuses")
    @app_commands.describe(words="Comma-separated words or phrases")
    async def banned_words(
        self,
        interaction: discord.Interaction,
        action: Literal["add", "remove", "list", "clear"],
        words: str = "",
    ) -> None:
        async with user_errors(interaction):
            config = await self._guild(interaction)
            given = normalize_word_list(words.split(","))
            current = list(config.banned_words)
            if action == "add":
                current = normalize_word_list([*current, *given])
            elif action == "remove":
                current = [w for w in current if w not in given]
            elif action == "clear":
                current = []
            if action != "list":
                await self._save(dataclasses.replace(config, banned_words=tuple(current)))
            shown = ", ".join(f"`{w}`" for w in current) or "none"
            await self._say(interaction, f"Banned words: {shown}")

    @app_commands.command(name="gallery-channel", description="Where ⭐ Share posts images")
    async def gallery_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel
    ) -> None:
        async with user_errors(interaction):
            config = await self._guild(interaction)
            await self._save(dataclasses.replace(config, gallery_channel_id=channel.id))
            await self._say(interaction, f"Shared images now go to {channel.mention}.")

    @app_commands.command(
        name="gallery", description="Show this server's images on the web gallery"
    )
    @app_commands.describe(
        visibility="public: on the web gallery; private (the default): not shown"
    )
    async def gallery(
        self, interaction: discord.Interaction, visibility: Literal["public", "private"]
    ) -> None:
        async with user_errors(interaction):
            config = await self._guild(interaction)
            await self._save(dataclasses.replace(config, gallery_public=visibility == "public"))
            await self._say(interaction, GALLERY_SAID[visibility])

    @app_commands.command(name="allow", description="Let members use Nanke in this server")
    async def allow(self, interaction: discord.Interaction) -> None:
        async with user_errors(interaction):
            config = await self._guild(interaction)
            await self._save(dataclasses.replace(config, allowed=True))
            await self._say(interaction, "Nanke is enabled in this server.")

    @app_commands.command(name="forbid", description="Stop Nanke in this server")
    async def forbid(self, interaction: discord.Interaction) -> None:
        async with user_errors(interaction):
            config = await self._guild(interaction)
            await self._save(dataclasses.replace(config, allowed=False))
            await self._say(interaction, "Nanke is disabled in this server.")

    @app_commands.command(name="buttons", description="Who may press a job's buttons")
    async def buttons(
        self, interaction: discord.Interaction, who: Literal["author", "everyone"]
    ) -> None:
        async with user_errors(interaction):
            config = await self._guild(interaction)
            await self._save(dataclasses.replace(config, everyone_can_press=who == "everyone"))
            text = "Anyone here" if who == "everyone" else "Only a job's author"
            await self._say(interaction, f"{text} may press a job's buttons.")

    @app_commands.command(name="training", description="/train here: on or off, and subjects")
    @app_commands.describe(
        enabled="Members may train LoRAs here",
        person="Allow subject:person (off by default: a LoRA paints a person's likeness)",
    )
    async def training(
        self, interaction: discord.Interaction, enabled: bool, person: bool = False
    ) -> None:
        async with user_errors(interaction):
            config = await self._guild(interaction)
            subjects = (
                ("person", "pet", "object", "style") if person else ("pet", "object", "style")
            )
            await self._save(
                dataclasses.replace(config, train_enabled=enabled, train_subjects=subjects)
            )
            said = (
                f"/train is on here for {', '.join(subjects)}."
                if enabled
                else "/train is off here."
            )
            await self._say(interaction, said)


async def setup(bot: NankeBot) -> None:
    await bot.add_cog(Admin(bot))
