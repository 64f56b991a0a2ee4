"""/edit on attached images: the instruction is parsed and checked like a prompt (banned
words of the server, bans, credits), the job resolved on the edit model and admitted in one
transaction (bot/services/intake.py); every refusal before that costs nothing."""

from __future__ import annotations

from bot.services.access import Access, texts_of
from bot.services.errors import InvalidPrompt, OutOfCredits
from bot.services.intake import IntakeService, Queued, Requester, batch_job_id
from bot.services.ports import Mode, NewJob, Resolver
from bot.services.prompt_checks import sentence
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
    resolve_errors: tuple[type[Exception], ...],
    who: Requester,
    params: ImagineParams,
    images: tuple[ImageRef, ...],
    size: tuple[int, int],
) -> tuple[Queued, tuple[str, ...]]:
    """The edit job admitted (idempotent on the interaction), and the notes for the member."""
    account, _ = await intake.check_member(who)
    if account.credits_left_milli <= 0 and account.prefs.mode is not Mode.RELAX:
        raise OutOfCredits(
            "You are out of credits for now. Check /info for when they renew, or switch to "
            "relax mode in /settings if this server allows it."
        )
    job_id = batch_job_id(who.interaction_id, 0)  # a replayed interaction finds its job
    try:
        spec = resolver.edit(job_id, params, images, size)
    except resolve_errors as exc:
        raise InvalidPrompt(sentence(str(exc))) from None
    new = NewJob(
        interaction_id=who.interaction_id,
        user_id=who.user_id,
        guild_id=who.guild_id,
        channel_id=who.channel_id,
        spec=spec,
        relax=account.prefs.mode is Mode.RELAX,
    )
    return await intake.admit(new), spec.notes  # post_queued hands it to the workers
