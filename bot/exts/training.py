"""/train, /models mine|delete|share|publish and /pack (docs/training.md, docs/discord.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.interactions import (
    check_can_post,
    defer_public,
    requester,
    require_admin,
    submit_requests,
)
from bot.poster import build_view
from bot.reporting import user_errors
from bot.services.custom_ids import Action, ButtonId
from bot.services.delivery import Button
from bot.services.errors import InvalidPrompt
from bot.services.training import StoredLora, check_attachment_sizes, pack_subject
from bot.train_actions import training_service as _service
from inference.errors import BadRequestError
from inference.packs import DEFAULT_PACKS, Pack, load_packs, pick_pack

if TYPE_CHECKING:
    from bot.app import NankeBot

Subject = Literal["person", "pet", "object", "style"]
A = discord.Attachment


class Training(commands.Cog):
    def __init__(self, bot: NankeBot) -> None:
        self.bot = bot
        self._packs: dict[str, Pack] | None = None

    def packs(self) -> dict[str, Pack]:
        if self._packs is None:
            given = self.bot.deps.packs
            self._packs = dict(given) if given is not None else load_packs(DEFAULT_PACKS)
        return self._packs

    @app_commands.command(name="train", description="Train your own LoRA from 5-20 pictures")
    @app_commands.describe(
        name="Its name: 2-32 lower-case letters, digits, - and _",
        subject="What the pictures show",
        steps="Training steps (default: the model's, e.g. 800)",
        trigger="The word that calls it up in prompts (default: nk + the name)",
        image1="A picture (PNG, JPEG, WebP; ≥ 512 px on the short side); 5-20 in all",
    )
    @app_commands.guild_only()
    async def train(
        self,
        interaction: discord.Interaction,
        name: str,
        subject: Subject,
        image1: A,
        image2: A,
        image3: A,
        image4: A,
        image5: A,
        steps: app_commands.Range[int, 1, 5000] | None = None,
        trigger: str | None = None,
        image6: A | None = None,
        image7: A | None = None,
        image8: A | None = None,
        image9: A | None = None,
        image10: A | None = None,
        image11: A | None = None,
        image12: A | None = None,
        image13: A | None = None,
        image14: A | None = None,
        image15: A | None = None,
        image16: A | None = None,
        image17: A | None = None,
        image18: A | None = None,
        image19: A | None = None,
        image20: A | None = None,
    ) -> None:
        # long: one option per picture (Discord takes one file per attachment option)
        given = (image1, image2, image3, image4, image5, image6, image7, image8, image9)
        more = (image10, image11, image12, image13, image14, image15, image16, image17)
        files = [a for a in (*given, *more, image18, image19, image20) if a is not None]
        who = requester(interaction)
        async with user_errors(interaction):
            service = _service(self.bot)
            check_can_post(interaction)
            request = await service.check(who, name, subject, trigger, steps)
            check_attachment_sizes([(a.filename, a.size) for a in files])
            if not await defer_public(interaction):  # reading 20 pictures takes a while
                return
            data = [(a.filename, await a.read()) for a in files]
            prepared = await service.prepare(who, request, data)
            start = Button(
                "Start training",
                0,
                ButtonId(Action.TRAIN, prepared.token).encode(),
                emoji="▶️",
                style="primary",
            )
            await interaction.edit_original_response(
                content=(
                    f"{interaction.user.mention}: ready for {prepared.summary}. Nothing is "
                    "charged until you press ▶ Start training (it waits 15 minutes)."
                ),
                view=build_view((start,)),
                allowed_mentions=discord.AllowedMentions.none(),
            )
            if prepared.notes:
                await interaction.followup.send("\n".join(prepared.notes)[:2000], ephemeral=True)

    models = app_commands.Group(name="models", description="Your trained LoRAs", guild_only=True)

    @models.command(name="mine", description="Your trained LoRAs: size, base model, date")
    async def mine(self, interaction: discord.Interaction) -> None:
        async with user_errors(interaction):
            rows = await _service(self.bot).loras.mine(interaction.user.id)
            if not rows:
                text = "You have no trained LoRAs yet. Train one with /train."
            else:
                lines = [_line(r) for r in rows]
                text = "**Your LoRAs** (private unless an admin publishes one you share)\n"
                text += "\n".join(lines)
            await interaction.response.send_message(text[:2000], ephemeral=True)

    @models.command(name="delete", description="Delete one of your trained LoRAs")
    @app_commands.describe(name="The LoRA's name (see /models mine)")
    async def delete(self, interaction: discord.Interaction, name: str) -> None:
        async with user_errors(interaction):
            gone = await _service(self.bot).delete(interaction.user.id, name)
            if gone is None:
                raise InvalidPrompt(f"You have no LoRA called `{name[:40]}` (see /models mine).")
            await interaction.response.send_message(f"Deleted your LoRA `{name}`.", ephemeral=True)

    @models.command(name="share", description="Allow (or stop) an admin publishing your LoRA")
    @app_commands.describe(name="Your LoRA", allow="True: admins may publish it to the server")
    async def share(self, interaction: discord.Interaction, name: str, allow: bool) -> None:
        async with user_errors(interaction):
            ok = await _service(self.bot).loras.set_consent(interaction.user.id, name, allow)
            if not ok:
                raise InvalidPrompt(f"You have no LoRA called `{name[:40]}` (see /models mine).")
            text = (
                f"Admins of the server it was trained in may now publish `{name}`."
                if allow
                else f"`{name}` is private again (unpublished if it was published)."
            )
            await interaction.response.send_message(text, ephemeral=True)

    @models.command(name="publish", description="Admins: publish a member's shared LoRA here")
    @app_commands.describe(member="Its owner", name="The LoRA's name")
    async def publish(
        self, interaction: discord.Interaction, member: discord.Member, name: str
    ) -> None:
        async with user_errors(interaction):
            require_admin(self.bot, interaction)
            assert interaction.guild_id is not None
            result = await _service(self.bot).loras.publish(interaction.guild_id, member.id, name)
            text = _PUBLISHED.get(result, result).format(name=name[:40], member=member.mention)
            await interaction.response.send_message(
                text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )

    @app_commands.command(name="pack", description="Paint a pack of prompts with your LoRA")
    @app_commands.describe(name="Your LoRA (or one published here)", pack="Which pack")
    @app_commands.guild_only()
    async def pack(self, interaction: discord.Interaction, name: str, pack: str) -> None:
        who = requester(interaction)
        async with user_errors(interaction):
            service = _service(self.bot)
            check_can_post(interaction)
            lora = await service.loras.lookup(who.user_id, who.guild_id, name)
            if lora is None:
                raise InvalidPrompt(f"You have no LoRA called `{name[:40]}` (see /models mine).")
            try:
                chosen = pick_pack(self.packs(), pack)
            except BadRequestError as exc:
                raise InvalidPrompt(f"{exc}. Nothing was charged.") from None
            subject = pack_subject(lora.trigger, lora.subject)
            requests = []
            for text in chosen.prompts_for(subject, lora.name):
                requests += await self.bot.intake.validate(who, text)  # banned words too
            if not await defer_public(interaction):
                return
            asking = (
                f"The **{chosen.name}** pack makes **{{n}} grids** with `{lora.name}`, each "
                "charged like one /imagine."
            )
            await submit_requests(self.bot, interaction, who, requests, "", asking=asking)

    @delete.autocomplete("name")
    @share.autocomplete("name")
    @pack.autocomplete("name")
    async def lora_names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The member's own LoRAs whose name starts with what is typed."""
        if self.bot.training is None:
            return []
        rows = await self.bot.training.loras.mine(interaction.user.id)
        typed = current.lower()
        return [
            app_commands.Choice(name=r.name, value=r.name) for r in rows if r.name.startswith(typed)
        ][:25]

    @pack.autocomplete("pack")
    async def pack_names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=f"{p.name}: {p.description}"[:100], value=p.name)
            for p in self.packs().values()
            if p.name.startswith(current.lower())
        ][:25]


_PUBLISHED = {
    "published": "Published `{name}` by {member}: everyone here can use it with --lora {name}.",
    "not_found": "{member} has no LoRA called `{name}` trained in this server.",
    "no_consent": "{member} has not agreed to share `{name}` (they can with /models share).",
    "name_taken": "This server already has a published LoRA called `{name}`.",
}


def _line(lora: StoredLora) -> str:
    size = f"{lora.size_bytes / 1024 / 1024:.1f} MB" if lora.size_bytes else "—"
    when = lora.created_at.strftime("%Y-%m-%d") if lora.created_at else ""
    state = "" if lora.ready else " · training…"
    shared = " · published" if lora.published else (" · shareable" if lora.consent else "")
    return (
        f"`{lora.name}` · trigger `{lora.trigger}` · {lora.subject} · {lora.base_model} · "
        f"{size} · {when}{state}{shared}"
    )


async def setup(bot: NankeBot) -> None:
    await bot.add_cog(Training(bot))
