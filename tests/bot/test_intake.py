"""Intake: parse → moderation → admission (quota + caps, idempotent) → enqueue."""

from __future__ import annotations

import pytest
from bot_fakes import (
    COST_MILLI,
    FakeWorker,
    MemoryImages,
    MemoryStore,
    RecordingEnqueuer,
    tiny_resolver,
)

from bot.services.errors import (
    BannedWord,
    CannotCancel,
    GuildNotAllowed,
    InvalidPrompt,
    JobNotFound,
    MemberBanned,
    NotYourJob,
    OutOfCredits,
    OverCaps,
)
from bot.services.intake import IntakeService, Requester
from bot.services.ports import GuildConfig, JobState
from pipeline.contracts import JobKind, UpscaleMode

GUILD = 10


def who(interaction: int = 1, user: int = 7) -> Requester:
    return Requester(interaction_id=interaction, user_id=user, guild_id=GUILD, channel_id=99)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(max_running=1, max_queued=2)


@pytest.fixture
def enqueuer() -> RecordingEnqueuer:
    return RecordingEnqueuer()


@pytest.fixture
def intake(store, enqueuer) -> IntakeService:
    return IntakeService(
        store=store,
        enqueuer=enqueuer,
        resolver=tiny_resolver(),
    )


async def _balance(store: MemoryStore, user: int = 7) -> int:
    return (await store.account(user)).credits_left_milli


async def test_a_prompt_becomes_a_charged_queued_job_with_its_position(intake, store, enqueuer):
    result = await intake.imagine(who(), "a red fox --sampler euler")
    (queued,) = result.queued
    assert queued.job.state is JobState.QUEUED
    assert queued.job.spec.params.sampler == "euler"
    assert queued.position == 1
    assert enqueuer.sent == [queued.job.id]
    assert await _balance(store) == 24 * COST_MILLI


async def test_an_invalid_prompt_says_how_to_fix_it_and_charges_nothing(intake, store, enqueuer):
    with pytest.raises(InvalidPrompt) as caught:
        await intake.imagine(who(), "a fox --smapler euler")
    assert "--smapler" in caught.value.message
    assert "nothing was charged" in caught.value.message
    assert enqueuer.sent == [] and store.jobs == {}
    assert await _balance(store) == 25 * COST_MILLI


async def test_a_banned_word_is_refused_before_anything_is_charged(intake, store, enqueuer):
    await store.update_guild(GuildConfig(GUILD, banned_words=("gore",)))
    with pytest.raises(BannedWord) as caught:
        await intake.imagine(who(), "lots of Gore")
    assert "gore" in caught.value.message
    assert enqueuer.sent == [] and store.jobs == {}


async def test_out_of_credits_is_refused_with_what_to_do(intake, store, enqueuer):
    store._user(7).balance_milli = COST_MILLI - 1
    with pytest.raises(OutOfCredits) as caught:
        await intake.imagine(who(), "a fox")
    assert "/info" in caught.value.message
    assert enqueuer.sent == []


async def test_caps_stop_a_member_with_too_many_jobs_waiting(intake, enqueuer):
    await intake.imagine(who(1), "one")
    await intake.imagine(who(2), "two")
    with pytest.raises(OverCaps):
        await intake.imagine(who(3), "three")
    assert len(enqueuer.sent) == 2


async def test_a_replayed_interaction_returns_the_same_job_and_enqueues_once(
    intake, store, enqueuer
):
    first = await intake.imagine(who(5), "a fox")
    again = await intake.imagine(who(5), "a fox")
    assert again.queued[0].job.id == first.queued[0].job.id
    assert enqueuer.sent == [first.queued[0].job.id]
    assert await _balance(store) == 24 * COST_MILLI


async def test_more_than_four_jobs_wait_for_a_confirmation(intake, store, enqueuer):
    store.max_queued = 10
    result = await intake.imagine(who(), "a fox --repeat 6")
    assert result.confirm_token is not None and result.pending_count == 6
    assert enqueuer.sent == []
    with pytest.raises(NotYourJob):
        await intake.confirm(result.confirm_token, who(9, user=8))
    done = await intake.confirm(result.confirm_token, who(9))
    assert enqueuer.sent == []  # admitted; handed to workers once their messages exist
    await intake.release(done.queued)
    assert len(done.queued) == 6 == len(enqueuer.sent)
    assert [q.position for q in done.queued] == [1, 2, 3, 4, 5, 6]


async def test_a_batch_stops_where_credits_run_out_and_says_so(intake, store, enqueuer):
    store._user(7).balance_milli = 2 * COST_MILLI
    result = await intake.imagine(who(), "a fox --repeat 3")
    assert len(result.queued) == 2
    assert result.note and "Queued 2 of 3" in result.note


async def test_a_forbidden_guild_and_a_banned_member_are_refused(intake, store):
    await store.set_banned(GUILD, 7, True)
    with pytest.raises(MemberBanned):
        await intake.imagine(who(), "a fox")
    elsewhere = Requester(interaction_id=2, user_id=7, guild_id=GUILD + 1, channel_id=5)
    assert (await intake.imagine(elsewhere, "a fox")).queued  # bans are per server
    await store.update_guild(GuildConfig(GUILD, allowed=False))
    intake.forget_guild(GUILD)
    with pytest.raises(GuildNotAllowed) as caught:
        await intake.imagine(who(), "a fox")
    assert "/admin allow" in caught.value.message


def _finished(store: MemoryStore, job_id):
    FakeWorker(store, MemoryImages()).run(job_id)
    return job_id


async def test_follow_ups_belong_to_the_author_unless_the_guild_allows_everyone(
    intake, store, enqueuer
):
    parent = (await intake.imagine(who(1), "a fox")).queued[0].job
    _finished(store, parent.id)
    with pytest.raises(NotYourJob):
        await intake.follow_up(who(2, user=8), parent.id, JobKind.UPSCALE, 2)
    upscale = await intake.follow_up(who(3), parent.id, JobKind.UPSCALE, 2, UpscaleMode.SUBTLE)
    await intake.release([upscale])
    assert upscale.job.kind is JobKind.UPSCALE
    assert upscale.job.spec.source is not None and upscale.job.spec.source.index == 2
    assert upscale.job.spec.source.key == f"{parent.id}/2.png"
    await store.update_guild(GuildConfig(GUILD, everyone_can_press=True))
    intake.forget_guild(GUILD)
    other = await intake.follow_up(who(4, user=8), parent.id, JobKind.REROLL)
    await intake.release([other])
    assert other.job.user_id == 8  # the presser pays for their reroll
    assert len(enqueuer.sent) == 3


async def test_a_follow_up_of_an_unfinished_job_is_refused(intake):
    parent = (await intake.imagine(who(1), "a fox")).queued[0].job
    with pytest.raises(JobNotFound):
        await intake.follow_up(who(2), parent.id, JobKind.UPSCALE, 1)


async def test_remix_uses_the_edited_prompt_and_it_is_moderated(intake, store):
    parent = (await intake.imagine(who(1), "a fox")).queued[0].job
    _finished(store, parent.id)
    remixed = await intake.follow_up(
        who(2), parent.id, JobKind.VARY_SUBTLE, 1, remix_prompt="a blue fox"
    )
    assert remixed.job.spec.params.prompt == "a blue fox"
    await store.update_guild(GuildConfig(GUILD, banned_words=("blood",)))
    intake.forget_guild(GUILD)
    with pytest.raises(BannedWord):
        await intake.follow_up(who(3), parent.id, JobKind.REROLL, remix_prompt="blood fox")


async def test_cancelling_a_queued_job_refunds_it_and_a_started_one_cannot(intake, store):
    job = (await intake.imagine(who(1), "a fox")).queued[0].job
    cancelled = await intake.cancel(job.id, who(2))
    assert cancelled.state is JobState.CANCELLED
    assert await _balance(store) == 25 * COST_MILLI
    running = (await intake.imagine(who(3), "a fox")).queued[0].job
    store.start(running.id)
    with pytest.raises(CannotCancel):
        await intake.cancel(running.id, who(4))
