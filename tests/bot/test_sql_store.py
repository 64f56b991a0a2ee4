"""The bot's services on the real data layer (Postgres here; SQLite in
test_sql_store_sqlite.py): intake, queue, delivery claims, accounts, per-server rules, sharing."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from bot_fakes import MemoryImages, RecordingEnqueuer, tiny_resolver
from sqlalchemy import select

from bot.services.errors import CannotCancel, MemberBanned, OutOfCredits, OverCaps
from bot.services.intake import IntakeService, Requester
from bot.services.ports import DisplayNames, GuildConfig, JobState, Mode, UserPrefs
from bot.services.sql_store import SqlStore
from db import jobs
from db.models import Guild, MemberName
from db.plans import Plan
from pipeline.contracts import JobKind, UpscaleMode

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
_ids = itertools.count(7_000_000_000_000)
GUILD = 555


def plans(credits: int = 3, running: int = 2, queued: int = 3) -> dict[str, Plan]:
    return {"free": Plan(credits * 1000, "day", running, queued), "pro": Plan(99_000, "month")}


@pytest.fixture
def store(pg_sessions) -> SqlStore:
    ticks = itertools.count()  # time moves on a millisecond per call: jobs have an order
    return SqlStore(
        pg_sessions,
        plans(),
        default_plan="free",
        relax_enabled=False,
        clock=lambda: NOW + timedelta(milliseconds=next(ticks)),
    )


@pytest.fixture
def intake(store) -> IntakeService:
    return IntakeService(
        store=store, enqueuer=RecordingEnqueuer(), resolver=tiny_resolver(base_size=512, steps=30)
    )


def who(user: int, interaction: int | None = None) -> Requester:
    return Requester(
        interaction_id=interaction or next(_ids), user_id=user, guild_id=GUILD, channel_id=42
    )


async def test_intake_holds_credits_queues_and_replays(intake, store):
    user = next(_ids)
    first = (await intake.imagine(who(user, 11), "a fox")).queued[0]
    assert first.job.state is JobState.QUEUED and first.position is not None
    assert first.job.spec.params.prompt == "a fox"
    replay = (await intake.imagine(who(user, 11), "a fox")).queued[0]
    assert replay.job.id == first.job.id and replay.replayed
    assert (await store.account(user)).credits_left_milli == 2000
    second = (await intake.imagine(who(user), "a cat")).queued[0]
    assert second.position == first.position + 1
    assert [j.id for j in await store.active_jobs(user)] == [first.job.id, second.job.id]


async def test_caps_and_credits_are_enforced_by_the_database(intake, store):
    user = next(_ids)
    results = await asyncio.gather(
        *(intake.imagine(who(user), f"fox {i}") for i in range(6)), return_exceptions=True
    )
    admitted = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, OutOfCredits | OverCaps)]
    assert len(admitted) == 3 and len(refused) == 3  # 3 credits, caps 2 + 3
    assert (await store.account(user)).credits_left_milli == 0


async def test_cancel_refunds_and_a_result_is_claimed_for_posting_once(intake, store, pg_sessions):
    user = next(_ids)
    job = (await intake.imagine(who(user), "a fox")).queued[0].job
    await intake.cancel(job.id, who(user))
    assert (await store.account(user)).credits_left_milli == 3000
    with pytest.raises(CannotCancel):
        await intake.cancel(job.id, who(user))

    job = (await intake.imagine(who(user), "a fox")).queued[0].job
    async with pg_sessions.begin() as session:
        claim = await jobs.claim(session, job.id, "worker-1", NOW)
        assert claim is not None
        await jobs.complete(
            session,
            job.id,
            claim.attempt,
            NOW,
            result={
                "job_id": str(job.id),
                "image_keys": ["k/1.png"],
                "grid_key": "k/grid.png",
                "seeds": [1],
                "width": 64,
                "height": 64,
                "infotext": "x",
            },
        )
    done = await store.job(job.id)
    assert done is not None and done.state is JobState.SUCCEEDED
    assert done.result is not None and done.result.grid_key == "k/grid.png"
    claims = await asyncio.gather(*(store.claim_delivery(job.id) for _ in range(5)))
    assert claims.count(True) == 1
    await store.mark_posted(job.id, 9001)
    posted = await store.job(job.id)
    assert posted is not None and posted.state is JobState.POSTED and posted.message_id == 9001


async def test_accounts_prefs_plans_grants_and_per_server_bans(intake, store):
    user = next(_ids)
    await store.update_prefs(user, UserPrefs(sampler="euler", remix=True, mode=Mode.RELAX))
    account = await store.account(user)
    assert (account.prefs.sampler, account.prefs.remix, account.prefs.mode) == (
        "euler",
        True,
        Mode.RELAX,
    )
    assert account.renews_at == datetime(2026, 11, 24, tzinfo=UTC)
    assert (await store.grant(user, 5, by=1)).credits_left_milli == 8000
    pro = await store.set_plan(user, "pro")
    assert pro.plan == "pro" and pro.renews_at == datetime(2026, 12, 1, tzinfo=UTC)
    await store.set_banned(GUILD, user, True)
    with pytest.raises(MemberBanned):
        await intake.imagine(who(user), "a fox")
    assert not await store.is_banned(GUILD + 1, user)
    await store.set_banned(GUILD, user, False)
    assert (await intake.imagine(who(user), "a fox")).queued


async def test_guild_rules_round_trip(store):
    guild = next(_ids)
    assert await store.guild(guild) == GuildConfig(guild)
    config = GuildConfig(
        guild,
        allowed=False,
        everyone_can_press=True,
        banned_words=("gore",),
        gallery_channel_id=77,
        gallery_public=True,
    )
    await store.update_guild(config)
    assert await store.guild(guild) == config


async def test_an_upscale_is_shared_once(intake, store, pg_sessions):
    user = next(_ids)
    images = MemoryImages()
    parent = (await intake.imagine(who(user), "a fox")).queued[0].job
    await _finish(pg_sessions, parent.id, 4)
    up = await intake.follow_up(who(user), parent.id, JobKind.UPSCALE, 2)
    await _finish(pg_sessions, up.job.id, 1)
    assert (await store.share(up.job.id, 1, user)).created
    assert not (await store.share(up.job.id, 1, user)).created
    del images


async def test_sharing_remembers_the_names_the_web_gallery_shows(intake, store, pg_sessions):
    user = next(_ids)
    parent = (await intake.imagine(who(user), "a fox")).queued[0].job
    await _finish(pg_sessions, parent.id, 4)
    ups = []
    for index in (1, 2):
        ups.append((await intake.follow_up(who(user), parent.id, JobKind.UPSCALE, index)).job)
        await _finish(pg_sessions, ups[-1].id, 1)
    assert (await store.share(ups[0].id, 1, user, DisplayNames("Fox Den", "al\x07ice "))).created
    assert await _names(pg_sessions, user) == ("Fox Den", "alice")  # control characters dropped
    # A later share brings the names up to date; a name the bot could not see keeps the old.
    assert (await store.share(ups[1].id, 1, user, DisplayNames(None, "Alice 🦊"))).created
    assert await _names(pg_sessions, user) == ("Fox Den", "Alice 🦊")
    await store.share(ups[1].id, 1, user, DisplayNames("The Fox Den " + "x" * 200, None))
    guild_name, member = await _names(pg_sessions, user)
    assert (
        len(guild_name) == 100 and guild_name.startswith("The Fox Den x") and member == "Alice 🦊"
    )


async def _names(pg_sessions, user: int) -> tuple[str | None, str | None]:
    async with pg_sessions() as session:
        guild = await session.scalar(select(Guild.name).where(Guild.id == GUILD))
        member = await session.scalar(
            select(MemberName.display_name).where(
                MemberName.guild_id == GUILD, MemberName.user_id == user
            )
        )
    return guild, member


async def _finish(pg_sessions, job_id, count: int) -> None:
    from db.jobs import NewImage

    async with pg_sessions.begin() as session:
        claim = await jobs.claim(session, job_id, "w", NOW)
        assert claim is not None
        keys = [f"{job_id}/{i}.png" for i in range(1, count + 1)]
        await jobs.complete(
            session,
            job_id,
            claim.attempt,
            NOW,
            [NewImage(i, k, 64, 64, i) for i, k in enumerate(keys, 1)],
            result={
                "job_id": str(job_id),
                "image_keys": keys,
                "grid_key": None,
                "seeds": list(range(count)),
                "width": 64,
                "height": 64,
                "infotext": "x",
            },
        )


async def test_stored_safety_flags_reach_delivery_which_withholds_the_tile(
    intake, store, pg_sessions
):
    """The flags as the worker stores them (JobResult JSON) → SqlStore → delivery."""
    import io

    from bot_fakes import png
    from PIL import Image
    from test_delivery import FakePoster

    from bot.services.delivery import DeliveryService
    from bot.services.formatting import ProgressThrottle
    from db.jobs import NewImage
    from pipeline.contracts import JobEvent, JobEventKind, JobResult

    job = (await intake.imagine(who(next(_ids)), "a fox")).queued[0].job
    images = MemoryImages()
    colors = [(200, 40, 40), (40, 200, 40), (40, 40, 200), (200, 200, 40)]
    keys = [f"{job.id}/{i}.png" for i in range(1, 5)]
    grid = Image.new("RGB", (128, 128))
    for i, (key, color) in enumerate(zip(keys, colors, strict=True)):
        images.blobs[key] = png((64, 64), color)
        grid.paste(Image.new("RGB", (64, 64), color), ((i % 2) * 64, (i // 2) * 64))
    buffer = io.BytesIO()
    grid.save(buffer, "PNG")
    images.blobs[f"{job.id}/grid.png"] = buffer.getvalue()
    result = JobResult(
        job_id=job.id,
        image_keys=tuple(keys),
        grid_key=f"{job.id}/grid.png",
        seeds=(1, 2, 3, 4),
        width=64,
        height=64,
        infotext="x",
        nsfw=(False, True, False, False),
    )
    async with pg_sessions.begin() as session:
        claim = await jobs.claim(session, job.id, "w", NOW)
        assert claim is not None
        await jobs.complete(
            session,
            job.id,
            claim.attempt,
            NOW,
            [NewImage(i, k, 64, 64, i) for i, k in enumerate(keys, 1)],
            result=result.model_dump(mode="json"),
        )
    stored = await store.job(job.id)
    assert stored is not None and stored.nsfw == (False, True, False, False)

    poster = FakePoster()  # not an NSFW channel
    delivery = DeliveryService(
        store=store,
        images=images,
        poster=poster,
        gallery_url="https://g.example/",
        throttle=ProgressThrottle(2.0, clock=lambda: 0.0),
    )
    await delivery.handle(JobEvent(job_id=job.id, kind=JobEventKind.SUCCEEDED, result=result))
    final = poster.edits[-1]
    assert "1 image was withheld" in final.content
    shown = Image.open(io.BytesIO(final.files[0].data)).convert("RGB")
    assert shown.getpixel((96, 32)) == (32, 32, 32)  # tile 2 blanked
    assert shown.getpixel((32, 32)) == (200, 40, 40)  # tile 1 kept


async def test_an_upscale_pressed_again_reuses_the_first_and_charges_once(
    intake, store, pg_sessions
):
    """Issue 21 item 6, on Postgres: the second U2 finds the first upscale in the database."""
    user = next(_ids)
    parent = (await intake.imagine(who(user), "a fox")).queued[0].job
    await _finish(pg_sessions, parent.id, 4)
    first = await intake.follow_up(who(user), parent.id, JobKind.UPSCALE, 2)
    credits = (await store.account(user)).credits_left_milli
    again = await intake.follow_up(who(user), parent.id, JobKind.UPSCALE, 2)
    assert again.reused and again.replayed and again.job.id == first.job.id
    assert (await store.account(user)).credits_left_milli == credits
    other_tile = await intake.follow_up(who(user), parent.id, JobKind.UPSCALE, 3)
    assert not other_tile.reused and other_tile.job.id != first.job.id
    assert await store.cancel(other_tile.job.id)
    retried = await intake.follow_up(who(user), parent.id, JobKind.UPSCALE, 3)
    assert not retried.reused and retried.job.id != other_tile.job.id


async def test_shown_publicly_follows_the_gallery_rules(intake, store, pg_sessions):
    """Issue 21 item 9: /show outside a job's server needs its public gallery to show it."""
    user = next(_ids)
    parent = (await intake.imagine(who(user), "a fox")).queued[0].job
    await _finish(pg_sessions, parent.id, 4)
    up = (await intake.follow_up(who(user), parent.id, JobKind.UPSCALE, 1)).job
    await _finish(pg_sessions, up.id, 1)
    await store.update_guild(GuildConfig(GUILD, gallery_public=True))  # an admin opted in
    assert not await store.shown_publicly(up.id)
    await store.share(up.id, 1, user)
    assert await store.shown_publicly(up.id)
    await store.update_guild(GuildConfig(GUILD, allowed=False, gallery_public=True))
    assert not await store.shown_publicly(up.id)
    await store.update_guild(GuildConfig(GUILD))  # private: the default
    assert not await store.shown_publicly(up.id)
    await store.update_guild(GuildConfig(GUILD))


async def test_a_long_prompt_is_charged_per_chunk_beyond_the_third(intake, store):
    """Issue 21 item 13: price follows work; /info says so."""
    from bot.exts.info import PRICING

    user = next(_ids)
    await store.grant(user, 20, by=1)
    short = (await intake.imagine(who(user), "a fox")).queued[0].job
    long = (await intake.imagine(who(user), "a fox, " * 150)).queued[0].job  # 450 tokens
    assert long.cost_milli == short.cost_milli * 4  # 6 chunks: the base + 3 more
    assert "first 3 chunks are included" in PRICING


async def test_a_replay_after_a_failure_mid_batch_creates_the_rest_once(intake, store, monkeypatch):
    """Issue 21 item 18: every job of a batch is found again by a replayed interaction."""
    user = next(_ids)
    await store.grant(user, 10, by=1)
    real_admit = store.admit
    calls = 0

    async def flaky(new):  # the connection drops while admitting the second job
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("connection lost")
        return await real_admit(new)

    monkeypatch.setattr(store, "admit", flaky)
    with pytest.raises(ConnectionError):
        await intake.imagine(who(user, 99), "a {red, green, blue} fox")
    assert len(await store.active_jobs(user)) == 1
    replay = await intake.imagine(who(user, 99), "a {red, green, blue} fox")
    assert [q.replayed for q in replay.queued] == [True, False, False]
    jobs = await store.active_jobs(user)
    assert [j.spec.params.prompt for j in jobs] == ["a red fox", "a green fox", "a blue fox"]
    again = await intake.imagine(who(user, 99), "a {red, green, blue} fox")
    assert [q.replayed for q in again.queued] == [True, True, True]
    assert len(await store.active_jobs(user)) == 3


async def test_a_pending_batch_is_kept_in_the_database(intake, store):
    """Issue 21 item 18: the >4-job confirmation survives a restart (a new IntakeService)."""
    user = next(_ids)
    result = await intake.submit(who(user, 77), intake.parse("a fox --repeat 5 --ar 16:9"))
    assert result.confirm_token is not None and result.pending_count == 5
    restarted = IntakeService(
        store=store, enqueuer=RecordingEnqueuer(), resolver=tiny_resolver(base_size=512, steps=30)
    )
    batch = await store.pending(result.confirm_token)
    assert batch is not None and batch.requests[0].aspect_ratio == "16:9"
    await store.grant(user, 10, by=1)
    confirmed = await restarted.confirm(result.confirm_token, who(user, 78))
    assert len(confirmed.queued) == 5
    assert await store.pending(result.confirm_token) is None


async def test_edits_are_stored_and_priced_by_their_pixels(intake, store, pg_sessions):
    """Issue 14: zoom, pan and Vary (Region) jobs on Postgres, charged like any job by the
    pixels and steps they paint; /info lists them."""
    from bot.exts.info import PRICING
    from pipeline.contracts import EditSpec, PanDirection

    user = next(_ids)
    await store.grant(user, 20, by=1)
    grid = (await intake.imagine(who(user), "a fox")).queued[0].job
    await _finish(pg_sessions, grid.id, 4)
    up = (await intake.follow_up(who(user), grid.id, JobKind.UPSCALE, 1)).job
    await _finish(pg_sessions, up.id, 1)
    pan = (
        await intake.follow_up(
            who(user), up.id, JobKind.PAN, 1, edit=EditSpec(direction=PanDirection.LEFT)
        )
    ).job
    zoom = (await intake.follow_up(who(user), up.id, JobKind.ZOOM, 1, edit=EditSpec(factor=2))).job
    region = (
        await intake.follow_up(
            who(user), up.id, JobKind.VARY_REGION, 1, edit=EditSpec(region="top")
        )
    ).job
    stored = await store.job(pan.id)
    assert stored is not None and stored.kind is JobKind.PAN
    assert stored.spec.edit == pan.spec.edit and stored.spec.source == pan.spec.source
    # A 512² grid; the upscale is 1024²: a pan paints 4 × 1536×1024, a region 4 × 1024².
    assert zoom.cost_milli == grid.cost_milli
    assert pan.cost_milli == grid.cost_milli * 6
    assert region.cost_milli == grid.cost_milli * 4
    assert "Zoom Out, Pan, Make Square and Vary (Region)" in PRICING
    # U on the pan's grid picks a tile as it is: free, and a second press shows the first.
    await _finish(pg_sessions, pan.id, 4)
    credits = (await store.account(user)).credits_left_milli
    pick = await intake.follow_up(who(user), pan.id, JobKind.UPSCALE, 2, UpscaleMode.PICK)
    assert pick.job.cost_milli == 0 and pick.job.spec.generation.width == 1536
    again = await intake.follow_up(who(user), pan.id, JobKind.UPSCALE, 2, UpscaleMode.PICK)
    assert again.reused and again.job.id == pick.job.id
    assert (await store.account(user)).credits_left_milli == credits


async def test_upscale_4x_is_priced_by_its_output_at_one_step(store, pg_sessions):
    """Upscale (4x) runs one GAN pass, no denoising: a 1024² upscale → 4096² costs 0.534
    credits (one 4096² image at one step), not what 30 steps at 4096² would; /info says so."""
    from bot.exts.info import PRICING

    intake = IntakeService(
        store=store,
        enqueuer=RecordingEnqueuer(),
        resolver=tiny_resolver(base_size=512, steps=30, upscaler=True),
    )
    user = next(_ids)
    await store.grant(user, 20, by=1)
    grid = (await intake.imagine(who(user), "a fox")).queued[0].job
    await _finish(pg_sessions, grid.id, 4)
    up = (await intake.follow_up(who(user), grid.id, JobKind.UPSCALE, 1)).job
    await _finish(pg_sessions, up.id, 1)
    before = (await store.account(user)).credits_left_milli
    big = await intake.follow_up(who(user), up.id, JobKind.UPSCALE, 1, UpscaleMode.GAN_4X)
    gen = big.job.spec.generation
    assert (gen.width, gen.height, big.job.spec.upscale_mode) == (4096, 4096, UpscaleMode.GAN_4X)
    assert big.job.cost_milli == 534
    assert before - (await store.account(user)).credits_left_milli == 534
    assert "Upscale (4x) runs no steps: a 4096×4096 result costs 0.534" in PRICING
    # Pressed again: the same job, charged once.
    again = await intake.follow_up(who(user), up.id, JobKind.UPSCALE, 1, UpscaleMode.GAN_4X)
    assert again.reused and again.job.id == big.job.id
