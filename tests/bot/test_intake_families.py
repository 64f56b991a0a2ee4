"""/imagine on the DiT families: what the family translated is said privately, a flag that
does not apply is refused naming the family, and nothing is charged for a refusal."""

from __future__ import annotations

from pathlib import Path

import pytest
from bot_fakes import COST_MILLI, FakeWorker, MemoryImages, MemoryStore, RecordingEnqueuer

from bot.services.errors import InvalidPrompt
from bot.services.intake import IntakeService, Requester
from bot.services.resolver import RESOLVE_ERRORS, RegistryResolver
from inference.registry import ModelEntry, Registry
from pipeline.contracts import JobKind

GUILD = 10


def who(interaction: int = 1) -> Requester:
    return Requester(interaction_id=interaction, user_id=7, guild_id=GUILD, channel_id=99)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(max_running=1, max_queued=2)


@pytest.fixture
def enqueuer() -> RecordingEnqueuer:
    return RecordingEnqueuer()


@pytest.fixture
def intake(store: MemoryStore, enqueuer: RecordingEnqueuer) -> IntakeService:
    models = {
        "z": ModelEntry("z", str(Path.cwd()), "dir", "zimage", 8, 64),
        "sd3": ModelEntry("sd3", str(Path.cwd()), "dir", "sd3", 20, 64),
    }
    return IntakeService(
        store=store,
        enqueuer=enqueuer,
        resolver=RegistryResolver(Registry(models, "z")),
        resolve_errors=RESOLVE_ERRORS,
    )


async def test_a_translated_prompt_is_queued_with_a_private_note(intake, store) -> None:
    result = await intake.imagine(who(), "a (red:1.4) fox --cfg 6")
    (queued,) = result.queued
    assert queued.job.spec.generation.prompt == "a red fox"
    assert queued.job.spec.generation.cfg == 1.0
    assert result.note is not None
    lines = result.note.splitlines()
    assert len(lines) == 2 and all("`zimage`" in line for line in lines)
    assert (await store.account(7)).credits_left_milli == 24 * COST_MILLI


async def test_a_flag_that_does_not_apply_is_refused_and_nothing_is_charged(
    intake, store, enqueuer
) -> None:
    with pytest.raises(InvalidPrompt) as caught:
        await intake.imagine(who(), "a fox --model sd3 --clip-skip 2")
    assert "family `sd3`" in caught.value.message
    assert "nothing was charged" in caught.value.message
    assert enqueuer.sent == [] and store.jobs == {}
    assert (await store.account(7)).credits_left_milli == 25 * COST_MILLI


async def test_zoom_on_a_dit_family_is_refused_before_anything_is_charged(intake, store) -> None:
    result = await intake.imagine(who(), "a fox")
    parent = result.queued[0].job
    FakeWorker(store, MemoryImages()).run(parent.id)
    with pytest.raises(InvalidPrompt) as caught:
        await intake.follow_up(who(2), parent.id, JobKind.ZOOM, index=1)
    assert "family `zimage`" in caught.value.message and "U, V or 🔄" in caught.value.message
    assert (await store.account(7)).credits_left_milli == 24 * COST_MILLI
