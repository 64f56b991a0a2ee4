"""Who may press a job's buttons and who is a Nanke admin, decided in code.

Slash-command default permissions are only defaults a guild can override, so admin commands
check here on every call."""

from __future__ import annotations

from collections.abc import Collection

from bot.services.errors import NotAdmin, NotYourJob


def check_can_press(*, presser_id: int, author_id: int, everyone_allowed: bool) -> None:
    if presser_id != author_id and not everyone_allowed:
        raise NotYourJob(
            "Only the member who made this image can use its buttons. "
            "Run /imagine to make your own."
        )


def is_admin(*, user_id: int, admin_ids: Collection[int], manage_guild: bool) -> bool:
    return user_id in admin_ids or manage_guild


def check_admin(*, user_id: int, admin_ids: Collection[int], manage_guild: bool) -> None:
    if not is_admin(user_id=user_id, admin_ids=admin_ids, manage_guild=manage_guild):
        raise NotAdmin(
            "This command is for Nanke admins: members with the Manage Server permission "
            "or listed in NANKE_DISCORD__ADMIN_IDS."
        )
