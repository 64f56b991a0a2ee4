"""DreamBooth-LoRA training: a member's pictures → a kohya-format LoRA and 4 samples.

The approach of diffusers' `train_dreambooth_lora` example, in Nanke's engine: the base model
loads as for painting (models.toml), a peft LoRA goes on the UNet's attention projections, the
VAE and text encoder stay frozen (each picture and the caption are encoded once), noise is
added at a random timestep and the LoRA learns to predict it (epsilon or v, as the model's
scheduler says). Pictures are bucketed by aspect ratio; gradient checkpointing is on; on a GPU
the frozen weights run in the worker's half precision with autocast, the LoRA in float32, and
8-bit AdamW is used where bitsandbytes is installed. Optional prior preservation paints
`prior_images` pictures of the bare class first and keeps the model able to paint them.

Every `checkpoint_every` steps the state is written atomically (`train_state.py`); a run
started again on the same work folder (a worker killed mid-run) continues from there.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from inference.errors import BadRequestError, EngineError
from inference.errors import OutOfMemoryError as GpuOutOfMemoryError
from inference.registry import Registry
from inference.train_config import FAMILY_TRAIN_DEFAULTS, TrainRequest
from inference.worker.kohya_format import write_kohya_lora
from inference.worker.pipelines import PipelineCache
from inference.worker.train_data import Buckets, encode_buckets
from inference.worker.train_loss import ProbeSet, TrainingModel
from inference.worker.train_samples import paint_preview, paint_priors, paint_samples
from inference.worker.train_state import Checkpoint, load_checkpoint, save_checkpoint

log = logging.getLogger(__name__)

ADAPTER = "nanke_training"
LOSS_WINDOW = 20
TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


class TimeLimitError(EngineError):
    """The run passed its plan's time limit (the job fails and is refunded)."""


class TrainingCancelled(Exception):
    """`should_stop` asked the run to end; `step` steps ran (the last checkpoint is kept)."""

    def __init__(self, step: int) -> None:
        super().__init__(f"training cancelled after step {step}")
        self.step = step


@dataclass
class TrainProgress:
    step: int
    total: int
    loss: float  # the mean of the last LOSS_WINDOW steps' losses (one step's is noisy)
    eta_s: float | None  # None until a step has been timed
    preview: Image.Image | None = None  # every `preview_every` steps


@dataclass
class TrainOutput:
    lora_path: Path
    samples: list[Image.Image]
    losses: list[float]
    resumed_from: int  # 0: a fresh run; else the checkpoint's step
    probe_loss_before: float  # the loss on a fixed probe set before the first step
    probe_loss_after: float
    timings_s: dict[str, float] = field(default_factory=dict)


ProgressFn = Callable[[TrainProgress], None]
StopFn = Callable[[], bool]


def fingerprint(request: TrainRequest, images: list[Image.Image]) -> str:
    digest = hashlib.sha256(request.model_dump_json().encode())
    for image in images:
        digest.update(f"{image.width}x{image.height}".encode())
        digest.update(hashlib.sha256(image.tobytes()).digest())
    return digest.hexdigest()


def _optimizer(params: list[torch.nn.Parameter], lr: float, device: torch.device) -> Any:
    """8-bit AdamW where bitsandbytes is installed (GPU), else torch's AdamW."""
    if device.type == "cuda":
        try:
            import importlib

            bnb: Any = importlib.import_module("bitsandbytes")
            return bnb.optim.AdamW8bit(params, lr=lr, weight_decay=1e-2)
        except ImportError:
            pass
    return torch.optim.AdamW(params, lr=lr, weight_decay=1e-2)


class Trainer:
    """Trains one LoRA at a time on a base model of the registry."""

    def __init__(self, registry: Registry, device: torch.device, dtype: torch.dtype) -> None:
        self.registry = registry
        self.device = device
        self.dtype = dtype  # of the frozen weights; the LoRA trains in float32
        self.pipelines = PipelineCache(registry, device, dtype, 1)
        self._limit: float | None = None
        self._safety: Any = None

    def train(
        self,
        request: TrainRequest,
        images: list[Image.Image],
        workdir: Path,
        out: Path,
        on_progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
        time_limit_s: float | None = None,
    ) -> TrainOutput:
        """`time_limit_s`: the longest this attempt may train (a plan's limit); past it the
        run fails with a TimeLimitError."""
        self._limit = time_limit_s
        try:
            return self._train(request, images, workdir, out, on_progress, should_stop)
        except torch.OutOfMemoryError:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            raise GpuOutOfMemoryError(_oom_message(request, self._family(request))) from None

    def safety_checker(self) -> Any:
        """The models.toml's safety checker, loaded on first use; None when none is set."""
        entry = self.registry.safety_checker
        if entry is not None and self._safety is None:
            from inference.worker.safety import SafetyChecker

            self._safety = SafetyChecker.load(entry, self.device, self.dtype)
        return self._safety

    def check_pictures(self, images: list[Image.Image]) -> None:
        """Training pictures go through the configured safety checker; flagged ones refuse
        the run (nothing trains on them)."""
        checker = self.safety_checker()
        if checker is None:
            return
        flagged = [i for i, bad in enumerate(checker.flags(images), start=1) if bad]
        if flagged:
            raise BadRequestError(
                f"picture(s) {', '.join(map(str, flagged))} were flagged by this server's "
                "safety checker: training does not use such pictures; send others"
            )

    def _family(self, request: TrainRequest) -> str:
        return self.registry.model(request.model).family

    def _train(
        self,
        request: TrainRequest,
        images: list[Image.Image],
        workdir: Path,
        out: Path,
        on_progress: ProgressFn | None,
        should_stop: StopFn | None,
    ) -> TrainOutput:
        self.check_pictures(images)
        clock = time.perf_counter()
        loaded = self.pipelines.model(request.model)
        pipe = loaded.base
        timings = {"load_s": time.perf_counter() - clock}
        print_ = fingerprint(request, images)
        priors = paint_priors(pipe, request, workdir, self.device) if request.prior_images else []
        buckets = encode_buckets(pipe.vae, images, request.resolution, self.device, self.dtype)
        prior_buckets = (
            encode_buckets(pipe.vae, priors, request.resolution, self.device, self.dtype)
            if priors
            else None
        )
        model = TrainingModel(pipe, loaded.sdxl, request, self.device)
        torch.manual_seed(request.seed)  # the LoRA's initial weights: the same on a rerun
        pipe.unet.add_adapter(_lora_config(request.rank), adapter_name=ADAPTER)
        try:
            return self._loop(
                request, model, buckets, prior_buckets, workdir, out, print_, timings,
                on_progress, should_stop,
            )  # fmt: skip
        finally:
            pipe.unet.eval()
            pipe.unet.disable_gradient_checkpointing()
            pipe.unet.delete_adapters(ADAPTER)

    def _loop(  # long: the training loop reads best as one piece (resume, step, report).
        self,
        request: TrainRequest,
        model: TrainingModel,
        buckets: Buckets,
        prior_buckets: Buckets | None,
        workdir: Path,
        out: Path,
        run_print: str,
        timings: dict[str, float],
        on_progress: ProgressFn | None,
        should_stop: StopFn | None,
    ) -> TrainOutput:
        from peft import get_peft_model_state_dict, set_peft_model_state_dict

        unet = model.pipe.unet
        params = [p for p in unet.parameters() if p.requires_grad]
        for p in params:
            p.data = p.data.float()
        optimizer = _optimizer(params, request.learning_rate, self.device)
        gen = torch.Generator().manual_seed(request.seed)
        probe = ProbeSet.draw(buckets, model, request.seed + 1)
        unet.enable_gradient_checkpointing()
        probe_before = model.probe_loss(probe)
        losses: list[float] = []
        start = 0
        ckpt = load_checkpoint(workdir, run_print)
        if ckpt is not None:
            set_peft_model_state_dict(unet, ckpt.lora, adapter_name=ADAPTER)
            optimizer.load_state_dict(ckpt.optimizer)
            gen.set_state(ckpt.generator)
            losses, start = ckpt.losses, ckpt.step
            log.info("training %s: resuming from step %d", request.name, start)
        unet.train()
        began = time.perf_counter()
        for step in range(start + 1, request.steps + 1):
            if should_stop is not None and should_stop():
                raise TrainingCancelled(step - 1)
            if self._limit is not None and time.perf_counter() - began > self._limit:
                raise TimeLimitError(
                    f"training {request.name!r} passed your plan's time limit of "
                    f"{self._limit / 60:.0f} min at step {step - 1} of {request.steps}: "
                    "try fewer steps"
                )
            loss = model.loss(buckets.sample(request.batch_size, gen), gen)
            if prior_buckets is not None:
                prior = model.loss(prior_buckets.sample(request.batch_size, gen), gen)
                loss = loss + request.prior_weight * prior
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            losses.append(float(loss.detach()))
            if step % request.checkpoint_every == 0 and step < request.steps:
                state = get_peft_model_state_dict(unet, adapter_name=ADAPTER)
                save_checkpoint(
                    workdir,
                    Checkpoint(
                        run_print, step, state, optimizer.state_dict(), gen.get_state(), losses
                    ),
                )
            if on_progress is not None:
                per_step = (time.perf_counter() - began) / (step - start)
                preview = None
                every = request.preview_every
                if every and step % every == 0 and step < request.steps:
                    unet.eval()
                    preview = paint_preview(model.pipe, request)
                    unet.train()
                recent = losses[-LOSS_WINDOW:]
                eta = per_step * (request.steps - step)
                on_progress(
                    TrainProgress(step, request.steps, sum(recent) / len(recent), eta, preview)
                )
        timings["train_s"] = time.perf_counter() - began
        unet.eval()
        probe_after = model.probe_loss(probe)
        write_kohya_lora(
            out,
            get_peft_model_state_dict(unet, adapter_name=ADAPTER),
            rank=request.rank,
            alpha=float(request.rank),
            base_model=request.model,
            family=model.family,
            trigger=request.trigger,
            subject=request.subject.value,
        )
        clock = time.perf_counter()
        samples = paint_samples(model.pipe, request, self.device, count=4)
        timings["samples_s"] = time.perf_counter() - clock
        return TrainOutput(out, samples, losses, start, probe_before, probe_after, timings)


def _lora_config(rank: int) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=TARGETS)


def _oom_message(request: TrainRequest, family: str) -> str:
    smaller = max(256, (request.resolution * 3 // 4) // 64 * 64)
    need = FAMILY_TRAIN_DEFAULTS[family].memory_gb if family in FAMILY_TRAIN_DEFAULTS else 24
    return (
        f"out of GPU memory training at {request.resolution} px, rank {request.rank}, batch "
        f"{request.batch_size}: try resolution {smaller} or batch 1, or a GPU with at least "
        f"{need:.0f} GB"
    )
