"""The member-facing rules of admission that need no database: credits left, the guild's
switch, what an admission outcome tells the member, and the stable job ids of a batch."""

from __future__ import annotations

import uuid
from uuid import UUID

from bot.services.errors import GuildNotAllowed, OutOfCredits, OverCaps
from bot.services.ports import Account, Admission, AdmissionStatus, GuildConfig, JobView, Mode

_NO_CREDITS = (
    "You are out of credits for now. Check /info for when they renew, or switch to relax mode "
    "in /settings if this server allows it."
)


_BATCH = uuid.UUID("6e616e6b-6500-4000-8000-626174636821")


def batch_job_id(interaction_id: int, index: int) -> UUID:
    """Job `index` of the batch one interaction makes, the same every time the interaction is
    replayed, so admission recognises each job of a batch, not only the first."""
    return uuid.uuid5(_BATCH, f"{interaction_id}:{index}")


def check_account(account: Account) -> None:
    if account.credits_left_milli <= 0 and account.prefs.mode is not Mode.RELAX:
        raise OutOfCredits(_NO_CREDITS)


def check_guild(guild: GuildConfig | None) -> None:
    if guild is not None and not guild.allowed:
        raise GuildNotAllowed(
            "Nanke is not enabled on this server. A server admin can enable it with /admin allow."
        )


def admitted_job(admission: Admission) -> JobView:
    if admission.status is AdmissionStatus.OUT_OF_CREDITS:
        raise OutOfCredits(admission.detail or _NO_CREDITS)
    if admission.status is AdmissionStatus.OVER_CAPS:
        raise OverCaps(
            admission.detail
            or "You have too many jobs running or waiting. Wait for one to finish, or cancel a "
            "queued one with its ❌ button."
        )
    assert admission.job is not None
    return admission.job
