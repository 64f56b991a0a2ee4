"""/edit on attached images: the instruction is parsed and checked like a prompt (banned
words of the server, bans, credits), the job resolved on the edit model and admitted in one
transaction (bot/services/intake.py); every refusal before that costs nothing."""

from __future__ import annotations

from uuid import UUID

from bot.services.access import Access, texts_of
from bot.services.errors import InvalidPrompt
from bot.services.intake import IntakeService, Queued, Requester
from bot.services.ports import Resolver
from pipeline.contracts import JobSpec
from prompt.request import ImageRef, ImagineParams


async def check_instruction(intake: IntakeService, who: Requester, text: str) -> ImagineParams:
    """Cheap (no charge, no upload): the instruction parses as one request, the server
    allows Nanke, the member is not banned there and its banned words are not in the
    instruction. Run before acknowledging."""
    requests = intake.parse(text)
    if len(requests) != 1:
        raise InvalidPrompt("Give one instruction (no {a, b} or --repeat; nothing was charged).")
    await intake.check_guild_allows(who)
    await intake.check_member(who)  # a ban, before anything is uploaded
    guild = await intake.guild_config(who.guild_id)
    Access.check_words((guild,), [text, *texts_of(requests)])
    return requests[0]


async def admit_edit(
    intake: IntakeService,
    resolver: Resolver,
    who: Requester,
    params: ImagineParams,
    images: tuple[ImageRef, ...],
    size: tuple[int, int],
) -> tuple[Queued, tuple[str, ...]]:
    """The edit job admitted like /describe's (the member's checks, credits, idempotent on the
    interaction), and the notes for the member."""
    specs: list[JobSpec] = []

    def make(job_id: UUID) -> JobSpec:
        specs.append(resolver.edit(job_id, params, images, size))
        return specs[-1]

    queued = await intake.admit_one(who, make)
    return queued, specs[-1].notes
