"""The worker's engine with training: painting jobs go to the `Engine`, `train` jobs to a
`Trainer` (made per job, so its copy of the base model is freed when the run ends).

A `train` job reads its pictures from storage, trains in `<workdir>/<job id>/` (checkpoints
included, so an attempt after a crash or kill -9 continues from the last one), puts the LoRA at
the job's `lora_key` and returns the 4 samples as the job's images: the pipeline stores them,
completes the job (settling its charge once) and publishes `succeeded` as for any job.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from PIL import Image, ImageOps

from inference.errors import BadRequestError
from inference.train_config import FAMILY_TRAIN_DEFAULTS, Subject, TrainRequest
from inference.worker.output import EngineOutput
from pipeline.contracts import JobKind, JobSpec
from pipeline.progress import LeaseLost
from pipeline.train_contract import preview_interval


class Blobs(Protocol):
    def get(self, key: str) -> bytes: ...
    def put(self, key: str, data: bytes, content_type: str) -> Any: ...


def request_of(spec: JobSpec, family: str) -> TrainRequest:
    job = spec.train
    if job is None:
        raise BadRequestError("a training job without its training part")
    defaults = FAMILY_TRAIN_DEFAULTS.get(family)
    if defaults is None:
        raise BadRequestError(f"model {spec.generation.model!r} ({family}) cannot be trained on")
    return TrainRequest(
        name=job.name,
        model=spec.generation.model,
        subject=Subject(job.subject),
        trigger=job.trigger,
        steps=job.steps,
        resolution=job.resolution,
        rank=defaults.rank,
        learning_rate=defaults.learning_rate,
        checkpoint_every=job.checkpoint_every,
        preview_every=preview_interval(job.preview_every, job.steps),
        sample_steps=spec.generation.steps,
        seed=spec.generation.seed,
    )


class TrainingEngine:
    def __init__(
        self, engine: Any, make_trainer: Callable[[], Any], storage: Blobs, workdir: Path
    ) -> None:
        self._engine = engine
        self._make_trainer = make_trainer
        self._storage = storage
        self._workdir = workdir

    def __getattr__(self, name: str) -> Any:  # loaded_models, load_models, device, ...
        return getattr(self._engine, name)

    def run(self, spec: JobSpec, source: Any, on_progress: Any, **extra: Any) -> Any:
        if spec.kind is not JobKind.TRAIN:
            return self._engine.run(spec, source, on_progress, **extra)
        return self._train(spec, on_progress)

    def _train(self, spec: JobSpec, on_progress: Any) -> EngineOutput:
        trainer = self._make_trainer()
        request = request_of(spec, trainer.registry.model(spec.generation.model).family)
        assert spec.train is not None
        images = []
        for key in spec.train.image_keys:
            with Image.open(io.BytesIO(self._storage.get(key))) as raw:
                images.append(ImageOps.exif_transpose(raw).convert("RGB"))
        folder = self._workdir / str(spec.job_id)
        out = folder / "lora.safetensors"

        def report(progress: Any) -> None:
            if on_progress is not None:
                on_progress(
                    progress.step, progress.total, None,
                    loss=progress.loss, preview=progress.preview,
                )  # fmt: skip

        try:
            result = trainer.train(
                request, images, folder, out, on_progress=report,
                time_limit_s=spec.train.time_limit_s,
            )  # fmt: skip
        except LeaseLost:  # cancelled with ❌ (db/train_jobs.py): nothing to resume
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self._storage.put(spec.train.lora_key, out.read_bytes(), "application/octet-stream")
        shutil.rmtree(folder, ignore_errors=True)
        size = request.resolution
        text = (
            f"{request.caption} <lora:{request.name}:1>\nSteps: {request.sample_steps}, "
            f"Size: {size}x{size}, Model: {request.model}"
        )
        return EngineOutput(
            images=result.samples,
            seeds=list(range(len(result.samples))),
            width=size,
            height=size,
            infotexts=[text] * len(result.samples),
            timings_ms={
                k.removesuffix("_s") + "_ms": v * 1000 for k, v in result.timings_s.items()
            },
            steps_run=request.steps,
            nsfw=[False] * len(result.samples),
        )
