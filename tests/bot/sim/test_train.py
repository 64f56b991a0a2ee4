"""/train, /models and /pack through real discord.py dispatch (simcord) on Postgres, with the
real pipeline runner and TrainingEngine training the tiny model for a few steps (issue 17):
the trained LoRA is its owner's (another member is refused it, nothing charged), ❌ on a
running training refunds the unused part, and the faults are private and free."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bot_fakes import RecordingEnqueuer
from conftest import World
from PIL import Image
from sqlalchemy import select

from bot.app import BotDeps, build_bot
from bot.services.adapters import StorageImages
from bot.services.resolver import RegistryResolver
from bot.services.sql_store import SqlStore
from bot.services.sql_training import SqlTraining
from db.cost import train_cost_milli
from db.models import QuotaLedger
from db.settings import PlanSettings
from inference.packs import DEFAULT_PACKS
from nanke.roots.bot import load_packs_setting
from nanke.settings import Settings
from pipeline.contracts import JobEventKind
from pipeline.events import InMemoryEvents
from pipeline.job_store import DbJobStore
from pipeline.runner import JobRunner
from pipeline.settings import PipelineSettings
from pipeline.storage import LocalStorage

CREDITS = 20
STEPS = 4  # the tiny model trains a step in well under a second


@dataclass
class Tiny:
    models: Path
    registry: Any


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Tiny:
    import torch

    from inference.registry import load_registry
    from inference.tiny import build_sd15

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("train-tiny")
    torch.manual_seed(0)
    build_sd15(root / "tiny")
    (root / "loras").mkdir()
    toml = root / "models.toml"
    toml.write_text(
        'lora_dir = "loras"\n\n[[models]]\nname = "tiny"\nsource = "tiny"\nfamily = "sd15"\n'
        "default_steps = 2\nbase_size = 64\n\n"
        '[[models]]\nname = "tiny-flux"\nsource = "tiny"\nfamily = "flux"\nbase_size = 64\n'
    )
    return Tiny(toml, load_registry(toml))


@pytest.fixture(scope="module")
def trainer_engine(tiny: Tiny, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The worker's engine as `nanke worker` builds it: painting + training, storage-backed."""
    from inference.worker.train_job import TrainingEngine
    from nanke.roots.cli_engine import make_engine
    from nanke.roots.trainer import make_trainer

    data = tmp_path_factory.mktemp("train-data")
    storage = LocalStorage(data / "images")
    engine = make_engine(tiny.registry, data_dir=data, storage=storage)
    yield (
        TrainingEngine(engine, lambda: make_trainer(tiny.registry), storage, data / "training"),
        data,
    )


PETS = [
    f"{{subject}} as {what}"
    for what in ("a king", "a pirate", "an astronaut", "a chef", "a knight")
]


@pytest.fixture
def world(pg_sessions, tiny: Tiny, trainer_engine, tmp_path: Path) -> World:  # type: ignore[no-untyped-def]
    _, data = trainer_engine
    # An admin's packs file (NANKE_PACKS_FILE): the shipped packs and one of their own.
    packs_file = tmp_path / "packs.toml"
    packs_file.write_text(
        DEFAULT_PACKS.read_text() + f'\n[[packs]]\nname = "pets"\nprompts = {PETS!r}\n'
    )
    plans = {
        "free": PlanSettings(credits=CREDITS, max_loras=2, train_minutes=30),
        "basic": PlanSettings(credits=CREDITS, train=False),
    }
    store = SqlStore(pg_sessions, plans, default_plan="free", relax_enabled=False)
    images = StorageImages(LocalStorage(data / "images"))
    deps = BotDeps(
        store=store,
        enqueuer=RecordingEnqueuer(),
        resolver=RegistryResolver(tiny.registry),
        images=images,
        models=("tiny", "tiny-flux"),
        loras=SqlTraining(pg_sessions),
        plans=plans,
        packs=load_packs_setting(Settings(packs_file=packs_file)),
    )
    world = World(store, images, deps.enqueuer, None, deps)  # type: ignore[arg-type]
    world.sessions = pg_sessions  # type: ignore[attr-defined]
    world.data = data  # type: ignore[attr-defined]
    return world


@pytest.fixture
def simcord_bot(world: World):  # type: ignore[no-untyped-def]
    return build_bot(Settings(), world.deps, pump_events=False)


def picture(seed: int, size: tuple[int, int] = (512, 640)) -> bytes:
    """A distinct smooth picture (different colours per seed: no two are duplicates)."""
    rng = np.random.default_rng(seed)
    w, h = size
    a, b = rng.integers(0, 255, (3,)), rng.integers(0, 255, (3,))
    ramp = np.linspace(0, 1, w)[None, :, None]
    data = (a * (1 - ramp) + b * ramp + np.zeros((h, 1, 1))).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(data, "RGB").save(out, "PNG")
    return out.getvalue()


def pictures(count: int = 5, **kw: Any) -> dict[str, tuple[str, bytes]]:
    return {f"image{i + 1}": (f"p{i + 1}.png", picture(i, **kw)) for i in range(count)}


def private(result) -> list[str]:  # type: ignore[no-untyped-def]
    notes = [f.content for f in result.followups if f.ephemeral]
    if result.response is not None and result.ephemeral:
        notes.append(result.response.content)
    return notes


def refused(result) -> bool:  # type: ignore[no-untyped-def]
    """Only a private note is left (a public "thinking…" was removed)."""
    return bool(private(result)) and (result.response is None or result.ephemeral)


async def balance(scene, user) -> int:  # type: ignore[no-untyped-def]
    return (await scene.world.store.account(user.id)).credits_left_milli  # type: ignore[no-any-return]


def runner(scene, engine) -> tuple[JobRunner, InMemoryEvents]:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    events = InMemoryEvents()
    store = DbJobStore(
        scene.world.sessions,
        lambda coro: asyncio.run_coroutine_threadsafe(coro, loop).result(),
        timedelta(seconds=30),
    )
    settings = PipelineSettings(heartbeat_s=0.2, preview_interval_s=0.0)
    storage = LocalStorage(scene.world.data / "images")
    return JobRunner(engine, store, storage, events, settings, owner="test-worker"), events


async def pump(scene, events: InMemoryEvents) -> list[Any]:  # type: ignore[no-untyped-def]
    batch = await events.read(count=100, block_s=0.05)
    for delivered in batch:
        await scene.bot.delivery.handle(delivered.event)
    await scene.env.settle()
    return [d.event for d in batch]


async def run_job(scene, engine, job_id: uuid.UUID, edits: list[Any] | None = None) -> list[Any]:  # type: ignore[no-untyped-def]
    """Run the job on the worker, handing its events to the bot; the events. `edits` collects
    every edit of the job's message as (content, attachment file names), as Discord got them."""
    poster = scene.bot.delivery._poster
    edit_live = poster.edit_live
    if edits is not None:

        async def recording(job: uuid.UUID, out: Any) -> Any:
            edits.append((out.content, [f.filename for f in out.files]))
            return await edit_live(job, out)

        poster.edit_live = recording
    job_runner, events = runner(scene, engine)
    task = asyncio.create_task(asyncio.to_thread(job_runner.run, job_id))
    seen: list[Any] = []
    try:
        while not task.done():
            seen += await pump(scene, events)
        await task
        seen += await pump(scene, events)
    finally:
        poster.edit_live = edit_live
    return seen


async def train(scene, who, name: str = "mia", start: bool = True, **options: Any):  # type: ignore[no-untyped-def]
    """/train, then ▶ Start training when it offers it (the pressed result; else /train's)."""
    options.setdefault("subject", "pet")
    options.setdefault("steps", STEPS)
    files = options.pop("files", None) or pictures()
    result = await who.slash(scene.channel, "train", name=name, **options, **files)
    if not start or refused(result):
        return result
    return await who.click(result.response, label="Start training")


async def test_train_then_imagine_with_it_and_another_member_is_refused(
    scene, trainer_engine
) -> None:  # type: ignore[no-untyped-def]
    engine, _ = trainer_engine
    before = await balance(scene, scene.alice)
    files = pictures(6)
    files["image6"] = ("again.jpg", _as_jpeg(files["image2"][1]))  # the same picture re-encoded
    offer = await train(scene, scene.alice, files=files, start=False)
    assert not offer.ephemeral, private(offer)
    text = offer.response.content
    assert "training `mia` on tiny: 5 pictures, 4 steps at 64 px" in text, text
    assert "estimated GPU time" in text and "Nothing is charged until you press" in text
    assert "again.jpg is a duplicate of p2.png" in "\n".join(private(offer))
    assert await balance(scene, scene.alice) == before and not scene.world.enqueuer.sent
    other = await scene.bob.click(offer.response, label="Start training")
    assert refused(other) and "Only the member who sent" in private(other)[0]
    result = await scene.alice.click(offer.response, label="Start training")
    assert not result.ephemeral, private(result)
    assert "Start training" not in str(result.response.components)  # pressed once only
    price = train_cost_milli(STEPS, 64)
    assert await balance(scene, scene.alice) == before - price
    assert len(scene.world.enqueuer.sent) == 1
    job_id = scene.world.enqueuer.sent[-1]
    assert "**LoRA `mia`**" in result.response.content

    message = result.response
    edits: list[tuple[str, list[str]]] = []
    seen = await run_job(scene, engine, job_id, edits)
    # The worker reports each step's loss, and paints a preview halfway through a short run.
    progress = [e for e in seen if e.kind is JobEventKind.PROGRESS]
    assert [e.step for e in progress] == list(range(1, STEPS + 1))
    assert all(e.total == STEPS and e.loss is not None and e.loss > 0 for e in progress)
    assert [e.step for e in progress if e.preview_jpeg] == [STEPS // 2]
    # The member saw the loss, the ETA and the preview picture in the message while it ran.
    running = [(text, files) for text, files in edits if "· loss " in text]
    assert running, edits
    assert any(f"step {STEPS // 2}/{STEPS} · loss " in t and "ETA" in t for t, _ in running)
    assert any(files == ["preview.jpg"] for _, files in running), running
    assert "Use it: `/imagine nkmia … --lora mia:0.8`" in message.content, message.content
    assert len(message.attachments) == 1  # the 4 samples' grid
    assert await balance(scene, scene.alice) == before - price  # charged once

    mine = await scene.alice.slash(scene.channel, "models mine")
    assert mine.ephemeral and "`mia` · trigger `nkmia` · pet · tiny" in mine.response.content
    assert "MB" in mine.response.content
    for command in ("models delete", "pack"):
        choices = await scene.alice.autocomplete(scene.channel, command, "name", "m")
        assert [c["value"] for c in choices] == ["mia"], command
    assert not await scene.bob.autocomplete(scene.channel, "pack", "name", "")

    used = await scene.alice.slash(scene.channel, "imagine", prompt="nkmia pet --lora mia:0.8")
    assert not used.ephemeral, private(used)
    lora = scene.world.deps.store  # the job's LoRA carries the storage key the worker fetches
    job = await lora.job(scene.world.enqueuer.sent[-1])
    key = f"loras/{scene.alice.id}/{job_id}.safetensors"
    assert job.spec.generation.loras[0].key == key
    await run_job(scene, engine, job.id)  # the worker fetches and applies it
    assert used.response.attachments, used.response.content

    # On a model of another family the LoRA's layers do not fit: refused here, not charged.
    before_flux = await balance(scene, scene.alice)
    flux = await scene.alice.slash(
        scene.channel, "imagine", prompt="nkmia pet --lora mia:0.8 --model tiny-flux"
    )
    assert refused(flux), flux.response.content
    assert (
        "LoRA 'mia' was trained on tiny (sd15) and does not fit tiny-flux (flux)"
        in (private(flux)[0])
    )
    assert await balance(scene, scene.alice) == before_flux

    bob_before = await balance(scene, scene.bob)
    denied = await scene.bob.slash(scene.channel, "imagine", prompt="a dog --lora mia")
    assert refused(denied) and "Unknown LoRA 'mia'" in private(denied)[0]
    assert await balance(scene, scene.bob) == bob_before
    pack = await scene.bob.slash(scene.channel, "pack", name="mia", pack="portraits")
    assert refused(pack) and "no LoRA called `mia`" in private(pack)[0]

    taken = await train(scene, scene.alice)
    assert refused(taken) and "already have a LoRA called `mia`" in private(taken)[0]

    # Publishing needs the owner's consent, then an admin; then Bob may use it and /pack it.
    early = await scene.mod.slash(scene.channel, "models publish", member=scene.alice, name="mia")
    assert "has not agreed to share `mia`" in early.response.content
    await scene.alice.slash(scene.channel, "models share", name="mia", allow=True)
    bobs = await scene.bob.slash(scene.channel, "models publish", member=scene.alice, name="mia")
    assert refused(bobs)  # not an admin
    done = await scene.mod.slash(scene.channel, "models publish", member=scene.alice, name="mia")
    assert done.ephemeral and "Published `mia`" in done.response.content
    offered = await scene.bob.autocomplete(scene.channel, "pack", "pack", "")
    assert "pets" in [c["value"] for c in offered] and "portraits" in str(offered)
    pack = await scene.bob.slash(scene.channel, "pack", name="mia", pack="pets")
    assert "The **pets** pack makes **5 grids**" in pack.response.content, private(pack)
    count = int(pack.response.content.split("makes **")[1].split(" ")[0])
    sent = len(scene.world.enqueuer.sent)
    await scene.bob.click(pack.response, label=f"Run {count} jobs")
    jobs = [await scene.world.store.job(j) for j in scene.world.enqueuer.sent[sent:]]
    assert len(jobs) == count and all(j.user_id == scene.bob.id for j in jobs)
    assert {j.spec.generation.loras[0].key for j in jobs} == {key}
    for template in PETS:  # every prompt of the admins' pack, once
        text = template.replace("{subject}", "nkmia pet")
        assert sum(text in j.spec.generation.prompt for j in jobs) == 1, text
    assert await balance(scene, scene.bob) == bob_before - sum(j.cost_milli for j in jobs)

    assert (scene.world.data / "images" / key).is_file()
    deleted = await scene.alice.slash(scene.channel, "models delete", name="mia")
    assert "Deleted your LoRA `mia`" in deleted.response.content
    assert not (scene.world.data / "images" / key).exists()  # the file too, not only the row
    gone = await scene.bob.slash(scene.channel, "imagine", prompt="a dog --lora mia")
    assert refused(gone) and "Unknown LoRA 'mia'" in private(gone)[0]


async def test_cancelling_a_running_training_refunds_the_unused_part(scene, trainer_engine) -> None:  # type: ignore[no-untyped-def]
    engine, _ = trainer_engine
    before = await balance(scene, scene.alice)
    result = await train(scene, scene.alice, name="slow", steps=400)
    assert not result.ephemeral, private(result)
    job_id = scene.world.enqueuer.sent[-1]
    job_runner, events = runner(scene, engine)
    task = asyncio.create_task(asyncio.to_thread(job_runner.run, job_id))
    percent = 0.0
    while percent < 1.0:  # a few steps in
        seen = await pump(scene, events)
        percent = max([percent, *(e.percent or 0 for e in seen if e.kind is JobEventKind.PROGRESS)])
        assert not task.done()
    assert "step " in result.response.content and "/400" in result.response.content
    pressed = await scene.alice.click(result.response, label="Cancel")
    assert "credits refunded for the unused part" in pressed.response.content
    await task  # the worker stops at its next step (its heartbeat finds the job cancelled)
    async with scene.world.sessions() as session:
        refund = await session.scalar(
            select(QuotaLedger.amount_milli).where(
                QuotaLedger.job_id == job_id, QuotaLedger.kind == "refund"
            )
        )
    price = train_cost_milli(400, 64)
    assert 1000 < refund < price  # the samples and the steps not run, not the steps run
    assert await balance(scene, scene.alice) == before - price + refund
    again = await train(scene, scene.alice, name="slow")  # the name is free again
    assert not again.ephemeral, private(again)


async def test_out_of_gpu_memory_is_a_clear_failure_refunded(scene, trainer_engine, tiny) -> None:  # type: ignore[no-untyped-def]
    import torch

    from inference.worker.train_job import TrainingEngine
    from nanke.roots.trainer import make_trainer

    engine, data = trainer_engine

    def exhausted(*_: Any) -> None:  # the GPU is the one thing mocked
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    def small_gpu() -> Any:
        trainer = make_trainer(tiny.registry)
        trainer.pipelines.model("tiny").base.unet.register_forward_pre_hook(exhausted)
        return trainer

    oom = TrainingEngine(engine, small_gpu, LocalStorage(data / "images"), data / "training")
    before = await balance(scene, scene.alice)
    result = await train(scene, scene.alice, name="big")
    assert not result.ephemeral, private(result)
    await run_job(scene, oom, scene.world.enqueuer.sent[-1])
    text = result.response.content
    assert "Failed: out of GPU memory training at 64 px" in text and "try resolution" in text, text
    assert "credits refunded" in text
    assert await balance(scene, scene.alice) == before
    mine = await scene.alice.slash(scene.channel, "models mine")
    assert "no trained LoRAs yet" in mine.response.content  # the failed run's name is free


async def test_server_rules_and_plans_decide_who_may_train(scene) -> None:  # type: ignore[no-untyped-def]
    person = await train(scene, scene.alice, name="me", subject="person")
    assert refused(person) and "likeness" in private(person)[0]
    said = await scene.mod.slash(scene.channel, "admin training", enabled=True, person=True)
    assert "for person, pet, object, style" in said.response.content
    allowed = await train(scene, scene.alice, name="me", subject="person")
    assert not allowed.ephemeral, private(allowed)
    job = await scene.world.store.job(scene.world.enqueuer.sent[-1])
    assert job.spec.train.subject == "person" and job.spec.train.time_limit_s == 30 * 60

    assert not (await train(scene, scene.alice, name="me2")).ephemeral
    third = await train(scene, scene.alice, name="me3")  # the plan keeps 2 LoRAs
    assert refused(third) and "you have 2 LoRAs, your plan's limit" in private(third)[0]
    mine = await scene.alice.slash(scene.channel, "models mine")
    assert mine.response.content.count("training…") == 2

    await scene.bob.slash(scene.channel, "settings", model="tiny-flux")
    flux = await train(scene, scene.bob, name="rex")
    assert refused(flux) and "'tiny-flux' (flux) cannot be trained on" in private(flux)[0]
    await scene.mod.slash(scene.channel, "admin plan", member=scene.bob, plan="basic")
    basic = await train(scene, scene.bob, name="rex")
    assert refused(basic) and "your plan does not include training" in private(basic)[0]
    await scene.mod.slash(scene.channel, "admin banned-words", action="add", words="zork")
    banned = await train(scene, scene.alice, name="other", trigger="zork")
    assert refused(banned) and "zork" in private(banned)[0]
    await scene.mod.slash(scene.channel, "admin training", enabled=False)
    off = await train(scene, scene.alice, name="other")
    assert refused(off) and "turned off on this server" in private(off)[0]
    assert len(scene.world.enqueuer.sent) == 2


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"files": pictures(5, size=(400, 640))}, "at least 512"),
        ({"files": {**pictures(4), "image5": ("x.png", b"not a picture")}}, "x.png"),
        ({"files": {**pictures(4), "image5": ("d.png", picture(0))}}, "Only 4 different"),
        ({"subject": "person"}, "likeness"),
        ({"trigger": "X!"}, "Trigger 'X!' is not allowed"),
        ({"name": "Bad Name"}, "LoRA name 'Bad Name' is not allowed"),
    ],
)
async def test_refusals_are_private_and_free(scene, options, words) -> None:  # type: ignore[no-untyped-def]
    before = await balance(scene, scene.alice)
    name = options.pop("name", "rex")
    result = await train(scene, scene.alice, name=name, **options)
    assert refused(result) and words in private(result)[0], private(result)
    assert await balance(scene, scene.alice) == before
    assert not scene.world.enqueuer.sent


def _as_jpeg(png: bytes) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(out, "JPEG", quality=95)
    return out.getvalue()
