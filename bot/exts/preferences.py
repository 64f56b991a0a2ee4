"""/settings: a member's defaults (sampler, aspect ratio, model, quality), remix, stealth and
fast/relax mode. Values are validated by the prompt parser, like flags on /imagine."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.reporting import user_errors
from bot.services.access import Access
from bot.services.errors import NankeError
from bot.services.ports import Mode, UserPrefs
from prompt import PromptError, parse_prompt
from prompt.request import ImagineParams

if TYPE_CHECKING:
    from bot.app import NankeBot

_Choices = list[app_commands.Choice[str]]
_QUALITY = [app_commands.Choice(name=str(q), value=q) for q in (0.25, 0.5, 1.0, 2.0)]


def describe(prefs: UserPrefs) -> str:
    def show(value: object) -> str:
        return "default" if value is None else str(value)

    return "\n".join(
        [
            f"**Sampler:** {show(prefs.sampler)}",
            f"**Aspect ratio:** {show(prefs.aspect_ratio)}",
            f"**Model:** {show(prefs.model)}",
            f"**Quality:** {show(prefs.quality)}",
            f"**Remix:** {'on' if prefs.remix else 'off'}",
            f"**Stealth:** {'on' if prefs.stealth else 'off'}",
            f"**Mode:** {prefs.mode.value}",
        ]
    )


class Preferences(commands.Cog):
    def __init__(self, bot: NankeBot) -> None:
        self.bot = bot

    @app_commands.command(name="settings", description="Show or change your defaults")
    @app_commands.describe(
        sampler="Default sampler, e.g. euler_a",
        aspect_ratio="Default aspect ratio, e.g. 16:9",
        model="Default model",
        quality="Default quality (--q)",
        remix="Edit the prompt before Vary and Reroll",
        stealth="Never share your images to the gallery",
        mode="fast, or relax (queued at low priority)",
    )
    @app_commands.choices(quality=_QUALITY)
    async def settings(
        self,
        interaction: discord.Interaction,
        sampler: str | None = None,
        aspect_ratio: str | None = None,
        model: str | None = None,
        quality: float | None = None,
        remix: bool | None = None,
        stealth: bool | None = None,
        mode: Literal["fast", "relax"] | None = None,
    ) -> None:
        async with user_errors(interaction):
            store = self.bot.deps.store
            account = await store.account(interaction.user.id)
            prefs = account.prefs
            changes: dict[str, object] = {}
            if sampler is not None:
                changes["sampler"] = self._checked(f"--sampler {sampler}").sampler
            if aspect_ratio is not None:
                changes["aspect_ratio"] = self._checked(f"--ar {aspect_ratio}").aspect_ratio
            if model is not None:
                changes["model"] = self._known_model(self._checked(f"--model {model}").model)
            if quality is not None:
                changes["quality"] = quality
            if remix is not None:
                changes["remix"] = remix
            if stealth is not None:
                changes["stealth"] = stealth
            if mode is not None:
                changes["mode"] = Mode(mode)
            if changes:
                # The server's banned words apply to what /settings stores, as to prompts.
                guild = await self.bot.intake.guild_config(interaction.guild_id)
                Access.check_words((guild,), [sampler, aspect_ratio, model])
                prefs = dataclasses.replace(prefs, **changes)  # type: ignore[arg-type]
                await store.update_prefs(interaction.user.id, prefs)
            title = "Saved. Your settings:" if changes else "Your settings:"
            await interaction.response.send_message(f"{title}\n{describe(prefs)}", ephemeral=True)

    def _known_model(self, name: str | None) -> str | None:
        """A default model must exist now, or every later /imagine would fail."""
        models = list(self.bot.deps.models)
        if name is not None and models and name not in models:
            raise NankeError(
                f"There is no model named “{name[:40]}”. Models: {', '.join(models[:20])}. "
                "Nothing was saved."
            )
        return name

    def _checked(self, flags: str) -> ImagineParams:
        # The parser is the one authority on valid values and their canonical form.
        try:
            return parse_prompt(f"settings {flags}")[0]
        except PromptError as exc:
            raise NankeError(exc.message[:1].upper() + exc.message[1:]) from None

    @settings.autocomplete("sampler")
    async def _sampler(self, _: discord.Interaction, current: str) -> _Choices:
        return _choices(self.bot.catalog.values_for("sampler", current))

    @settings.autocomplete("aspect_ratio")
    async def _ratio(self, _: discord.Interaction, current: str) -> _Choices:
        return _choices(self.bot.catalog.values_for("ar", current))

    @settings.autocomplete("model")
    async def _model(self, _: discord.Interaction, current: str) -> _Choices:
        return _choices(self.bot.catalog.values_for("model", current))


def _choices(values: list[str]) -> _Choices:
    return [app_commands.Choice(name=v, value=v) for v in values]


async def setup(bot: NankeBot) -> None:
    await bot.add_cog(Preferences(bot))
