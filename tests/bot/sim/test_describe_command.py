"""/describe end to end (issue 15), through discord.py dispatch (simcord): the attachment (or
URL) through the safe intake, the job admitted on Postgres and priced as a describe, run by
the real runner and engine with the tiny BLIP, CLIP and safety checker, the four prompts posted
with a button each; a button opens the prompt in a box, and its submission is admitted like a
typed /imagine. Refusals are private and free; a flagged image fails the job and refunds it."""

from __future__ import annotations

import asyncio
import io
import ipaddress
from datetime import timedelta
from typing import Any

import pytest
from bot_fakes import RecordingEnqueuer
from conftest import World
from PIL import Image, ImageDraw

from bot.app import BotDeps, build_bot
from bot.services.adapters import StorageImages
from bot.services.ports import GuildConfig
from bot.services.resolver import RegistryResolver
from bot.services.sql_store import SqlStore
from db.cost import DESCRIBE_COST_MILLI
from db.plans import Plan
from inference.registry import ModelEntry, Registry, SafetyCheckerEntry
from inference.registry_images import DescribeEntry, Located
from nanke.settings import Settings
from pipeline.contracts import JobEvent, JobKind
from pipeline.image_intake import load_reference
from pipeline.image_urls import FetchPolicy
from pipeline.job_store import DbJobStore
from pipeline.runner import JobRunner, Outcome
from pipeline.settings import PipelineSettings
from pipeline.storage import LocalStorage
from prompt import parse_prompt
from tests.pipeline.image_server import image_server

CREDITS = 10
LOCAL = FetchPolicy(
    https_only=False, allowed_addresses=frozenset({ipaddress.ip_address("127.0.0.1")})
)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """One (never loaded) model for routing, the tiny /describe models and safety checker."""
    import torch

    from inference.tiny import build_safety_checker, clip_tokenizer
    from inference.tiny_images import build_blip, build_clip

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("describe-models")
    build_blip(out / "tiny-blip")
    build_clip(out / "tiny-clip", clip_tokenizer())
    build_safety_checker(out / "tiny-safety")
    return Registry(
        {"tiny": ModelEntry("tiny", str(out), "dir", "sd15", 20, 64)},
        "tiny",
        safety_checker=SafetyCheckerEntry(str(out / "tiny-safety"), "dir"),
        controlnets={"sd15": {"canny": Located(str(out / "cn"), "dir")}},
        describe=DescribeEntry(
            Located(str(out / "tiny-blip"), "dir"), Located(str(out / "tiny-clip"), "dir")
        ),
    )


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> LocalStorage:
    """Where the bot stores attachments and the worker its fetched images (one, as deployed)."""
    return LocalStorage(tmp_path_factory.mktemp("describe-storage"))


@pytest.fixture(scope="module")
def engine(registry: Registry, storage: LocalStorage) -> Any:
    from inference.worker.engine import Engine

    return Engine(registry, "cpu", load_reference=lambda sha: load_reference(storage, sha))


class Events:
    def __init__(self) -> None:
        self.sent: list[JobEvent] = []

    def publish(self, event: JobEvent) -> None:
        self.sent.append(event)


@pytest.fixture
def world(pg_sessions, registry: Registry, storage: LocalStorage) -> World:  # type: ignore[no-untyped-def]
    store = SqlStore(
        pg_sessions,
        {"free": Plan(CREDITS * 1000, "day", 3, 10)},
        default_plan="free",
        relax_enabled=False,
    )
    deps = BotDeps(
        store=store,
        enqueuer=RecordingEnqueuer(),
        resolver=RegistryResolver(registry),
        images=StorageImages(storage),
        models=("tiny",),
        image_policy=LOCAL,  # the test's image server is on loopback, plain http
    )
    return World(store, deps.images, deps.enqueuer, None, deps)  # type: ignore[arg-type]


@pytest.fixture
def simcord_bot(world: World):  # type: ignore[no-untyped-def]
    return build_bot(Settings(), world.deps, pump_events=False)


async def run_job(scene, pg_sessions, engine: Any, storage: LocalStorage, job_id: Any) -> Outcome:  # type: ignore[no-untyped-def]
    """The job on the real runner and engine (on a thread, as a worker), then its events
    through the bot's delivery."""
    loop = asyncio.get_running_loop()

    def on_loop(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    events = Events()
    runner = JobRunner(
        engine,
        DbJobStore(pg_sessions, on_loop, timedelta(seconds=60)),
        storage,
        events,
        PipelineSettings(preview_interval_s=0),
        owner="w1",
        fetch_policy=LOCAL,
    )
    outcome = await asyncio.to_thread(runner.run, job_id)
    for event in events.sent:
        await scene.bot.delivery.handle(event)
    await scene.env.settle()
    return outcome


def sunset() -> bytes:
    image = Image.new("RGB", (96, 64), (250, 140, 40))
    ImageDraw.Draw(image).ellipse((30, 20, 60, 50), fill=(255, 240, 120))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def credits(scene) -> int:  # type: ignore[no-untyped-def]
    return (await scene.world.store.account(scene.alice.id)).credits_left_milli  # type: ignore[no-any-return]


def _private(result) -> list[str]:  # type: ignore[no-untyped-def]
    notes = [f.content for f in result.followups if f.ephemeral]
    if result.response is not None and result.ephemeral:
        notes.append(result.response.content)
    return notes


def _buttons(message) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(c["label"], c["custom_id"]) for row in message.components for c in row["components"]]


async def test_describe_posts_four_prompts_whose_buttons_run_them_as_imagine(
    scene, pg_sessions, engine, storage
):
    before = await credits(scene)
    result = await scene.alice.slash(scene.channel, "describe", image=("sunset.png", sunset()))
    assert not result.ephemeral
    job = await scene.world.store.job(scene.world.enqueuer.sent[-1])
    assert job.kind is JobKind.DESCRIBE and job.spec.describe.sha256 is not None
    assert result.response.content.startswith("**Describe** — ")
    assert await credits(scene) == before - DESCRIBE_COST_MILLI  # a tenth of a credit

    assert await run_job(scene, pg_sessions, engine, storage, job.id) is Outcome.SUCCEEDED
    message = result.response
    lines = message.content.splitlines()
    assert lines[0] == f"**Describe** — {scene.alice.mention} (fast)"
    prompts = [line.split(" ", 1)[1] for line in lines[1:5]]
    assert [line.split(" ", 1)[0] for line in lines[1:5]] == ["1️⃣", "2️⃣", "3️⃣", "4️⃣"]
    assert len(set(prompts)) == 4 and all(p.endswith("--ar 3:2") for p in prompts)
    assert all(len(parse_prompt(p)) == 1 for p in prompts)  # each runs as one /imagine
    assert [label for label, _ in _buttons(message)] == ["1", "2", "3", "4"]
    assert message.attachments[0].filename.endswith(".png")  # the image it read
    assert await credits(scene) == before - DESCRIBE_COST_MILLI  # settled, not refunded
    shown_again = await scene.alice.slash(scene.channel, "show", job_id=job.id.hex)
    assert shown_again.response.content == message.content  # /show: same prompts, buttons
    assert _buttons(shown_again.response) == _buttons(message)

    # 3: the prompt in a box, prefilled; nothing is admitted until it is submitted.
    sent = len(scene.world.enqueuer.sent)
    shown = await scene.alice.click(message, label="3")
    assert shown.modal is not None and shown.modal["title"] == "Imagine this"
    box = shown.modal["components"][0]["components"][0]
    assert box["value"] == prompts[2]
    assert len(scene.world.enqueuer.sent) == sent
    submitted = await scene.alice.submit_modal(shown, {"prompt": prompts[2]})
    imagine = await scene.world.store.job(scene.world.enqueuer.sent[-1])
    assert imagine.kind is JobKind.IMAGINE and imagine.spec.params.aspect_ratio == "3:2"
    assert imagine.spec.params == parse_prompt(prompts[2])[0]  # exactly as typed
    assert submitted.response.content.startswith(f"**{imagine.spec.params.prompt}")
    assert await credits(scene) == before - DESCRIBE_COST_MILLI - imagine.cost_milli

    # Edited first: the member's text runs, checked like a typed /imagine.
    edited = await scene.alice.click(message, label="1")
    await scene.alice.submit_modal(edited, {"prompt": "a lighthouse at dusk --ar 2:3"})
    mine = await scene.world.store.job(scene.world.enqueuer.sent[-1])
    assert mine.spec.params.prompt == "a lighthouse at dusk"

    # Another member's press is refused privately (the author's job), and so is a banned word
    # typed into the box; neither charges anything.
    other = await scene.bob.click(message, label="2")
    assert other.ephemeral and "Only the member who made this image" in other.response.content
    await scene.world.store.update_guild(GuildConfig(scene.guild.id, banned_words=("gore",)))
    scene.bot.intake.forget_guild(scene.guild.id)
    left, sent = await credits(scene), len(scene.world.enqueuer.sent)
    banned = await scene.alice.click(message, label="2")
    refused = await scene.alice.submit_modal(banned, {"prompt": "a gore scene"})
    assert any("gore" in n and "nothing was charged" in n for n in _private(refused))
    assert len(scene.world.enqueuer.sent) == sent and await credits(scene) == left


async def test_describe_refusals_are_private_and_free(scene):
    before = await credits(scene)
    bmp = io.BytesIO()
    Image.new("RGB", (8, 8)).save(bmp, "BMP")
    cases = [
        ({}, "Attach one image, or give its URL"),
        ({"image": ("a.png", sunset()), "url": "https://x.example/a.png"}, "not both"),
        ({"url": "https://10.0.0.1/a.png"}, "private or reserved address"),
        ({"url": "https://[::ffff:169.254.169.254]/a.png"}, "private or reserved address"),
        ({"url": "not a url"}, "is not an https:// image URL"),
        ({"image": ("a.bmp", bmp.getvalue())}, "not an image Nanke can read"),
        ({"image": ("big.png", b"\0" * (21 * 2**20))}, "at most 20 MiB"),
    ]
    for options, says in cases:
        result = await scene.alice.slash(scene.channel, "describe", **options)
        notes = _private(result)
        assert any(says in n and "harged" in n for n in notes), (options, notes)
    assert scene.world.enqueuer.sent == [] and await credits(scene) == before


async def test_a_url_is_fetched_by_the_worker_and_a_flagged_image_is_refunded(
    scene, pg_sessions, engine, storage
):
    before = await credits(scene)
    with image_server() as (base, state):
        url = f"{base}/img.png"
        result = await scene.alice.slash(scene.channel, "describe", url=url)
        assert state.connections == 0  # the bot never fetched it
        job_id = scene.world.enqueuer.sent[-1]
        assert await run_job(scene, pg_sessions, engine, storage, job_id) is Outcome.SUCCEEDED
        assert state.connections == 1  # the worker did, once
    job = await scene.world.store.job(job_id)
    assert len(job.result.prompts) == 4 and url in job.result.fetched
    assert "4️⃣" in result.response.content and result.response.attachments

    # The safety checker flags the input: the job fails, the member sees why, credits return.
    model = engine.safety_checker().model
    model.concept_embeds_weights.data.fill_(-1.0)
    try:
        flagged = await scene.alice.slash(scene.channel, "describe", image=("s.png", sunset()))
        job_id = scene.world.enqueuer.sent[-1]
        assert await run_job(scene, pg_sessions, engine, storage, job_id) is Outcome.FAILED
    finally:
        model.concept_embeds_weights.data.fill_(1.0)
    assert "flagged by this server's safety checker" in flagged.response.content
    assert "refunded" in flagged.response.content and "Traceback" not in flagged.response.content
    assert await credits(scene) == before - DESCRIBE_COST_MILLI  # only the first one


async def test_a_server_without_describe_models_refuses_before_any_charge(scene, registry):
    import dataclasses

    scene.bot.deps.resolver._registry = dataclasses.replace(registry, describe=None)
    before = await credits(scene)
    result = await scene.alice.slash(scene.channel, "describe", image=("s.png", sunset()))
    assert any("/describe is not set up on this server" in n for n in _private(result))
    assert scene.world.enqueuer.sent == [] and await credits(scene) == before
