"""The bot's own settings: what it needs to know about Discord. `nanke.settings` composes them."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, Field, SecretStr


class DiscordSettings(BaseModel):
    token: SecretStr | None = Field(
        default=None, description="The bot token (developer portal → Bot); never logged."
    )
    admin_ids: list[int] = Field(
        default_factory=list,
        description="Discord user ids that are Nanke admins everywhere, beside members with "
        "Manage Server (JSON list).",
    )
    dev_guild_ids: list[int] = Field(
        default_factory=list,
        description="Servers to sync slash commands to at once (global sync can take up to an "
        "hour; JSON list).",
    )


class BotConfig(Protocol):
    """What the bot reads from the process's settings (`nanke.settings.Settings` has it)."""

    @property
    def discord(self) -> DiscordSettings: ...

    # Public base URL of the web gallery, for 🔗 Web buttons; None hides them.
    @property
    def gallery_url(self) -> str | None: ...

    # Signs the region editor's links (HMAC); None leaves Draw the region… off.
    @property
    def editor_secret(self) -> SecretStr | None: ...
