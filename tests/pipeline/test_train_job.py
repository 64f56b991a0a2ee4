"""A `train` job through the real pipeline (issue 17): admitted with a hold, run by a real
`nanke worker` from the `nanke.train` queue, killed with SIGKILL mid-training, and finished by
another worker from the checkpoint (not from step 0), charged once."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from db.admission import Created, Submission, admit
from db.cost import train_cost_milli
from db.models import JobKind
from inference.resolve import imagine_spec
from pipeline.contracts import JobSpec
from pipeline.enqueue import enqueue
from pipeline.storage import LocalStorage
from pipeline.train_contract import TRAIN_QUEUE, TrainJob
from prompt.request import ImagineParams, PromptPart
from tests.pipeline.failure_rig import Rig, next_user
from tests.pipeline.harness import PLANS, Workers, image_keys, job_row, ledger_kinds

STEPS = 40


def picture(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 255, (8, 8, 3)).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(data, "RGB").resize((96, 64), Image.Resampling.BILINEAR).save(buf, "PNG")
    return buf.getvalue()


def train_spec(rig: Rig, storage: LocalStorage, user: int) -> JobSpec:
    job_id = uuid.uuid4()
    keys = []
    for i in range(5):
        key = f"training/{job_id}/{i}.png"
        storage.put(key, picture(i), "image/png")
        keys.append(key)
    caption = "a photo of nkmia pet"
    params = ImagineParams(prompt=caption, parts=(PromptPart(text=caption),), seed=0, steps=2)
    paint = imagine_spec(params, rig.registry, job_id=job_id)
    return paint.model_copy(
        update={
            "kind": JobKind.TRAIN,
            "train": TrainJob(
                name="mia",
                subject="pet",
                trigger="nkmia",
                steps=STEPS,
                resolution=64,
                image_keys=tuple(keys),
                lora_key=f"loras/{user}/{job_id}.safetensors",
                checkpoint_every=5,
            ),
        }
    )


async def submit_train(rig: Rig, spec: JobSpec, user: int) -> None:
    assert spec.train is not None
    submission = Submission(
        job_id=spec.job_id,
        user_id=user,
        kind=JobKind.TRAIN,
        request=spec.model_dump(mode="json"),
        cost_milli=train_cost_milli(spec.train.steps, spec.train.resolution),
    )
    async with rig.sessions.begin() as session:
        created = await admit(
            session, submission, PLANS, default_plan="free", relax_enabled=False,
            now=datetime.now(UTC),
        )  # fmt: skip
    assert isinstance(created, Created), created
    await asyncio.to_thread(enqueue, rig.client, rig.events, spec.job_id, TRAIN_QUEUE)


async def test_a_killed_training_resumes_from_its_checkpoint_and_is_charged_once(
    rig: Rig, workers: Workers, data_dir: Path
) -> None:
    storage = LocalStorage(data_dir / "images")
    user = next_user()
    spec = train_spec(rig, storage, user)
    first = workers.start("t1")
    await submit_train(rig, spec, user)
    checkpoint = data_dir / "training" / str(spec.job_id) / "checkpoint.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert checkpoint.exists(), first.text()[-3000:]
    first.kill()
    assert await rig.state(spec.job_id) == "running"

    second = workers.start("t2")
    await rig.wait_state(spec.job_id, {"succeeded"}, 180)
    job = await job_row(rig.sessions, spec.job_id)
    assert job.attempts == 2
    assert await ledger_kinds(rig.sessions, spec.job_id) == ["hold", "settle"]
    assert "resuming from step" in second.text(), second.text()[-3000:]
    assert spec.train is not None
    assert storage.get(spec.train.lora_key)[:8]  # the LoRA is stored
    samples = await image_keys(rig.sessions, spec.job_id)
    assert len(samples) == 4 and all(k.startswith(f"jobs/{spec.job_id}/2/") for k in samples)
    assert not checkpoint.parent.exists()  # the work folder is cleaned up
