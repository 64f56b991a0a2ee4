"""The engine: one JobSpec in, images + timings out (PNGs encoded lazily, off this thread).

    engine = Engine.from_settings(load_registry(path), WorkerSettings())
    out = engine.run(spec, source=None, on_progress=lambda step, total, latents: ...)

`source` is the PIL tile for upscale / vary jobs. `on_progress(step, total, latents)` is
called after every denoising step; `latents` is None except every N-th step (a preview step,
never step 1), so steps that send nothing never sync the device.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from inference.edits import EDIT_KINDS
from inference.errors import BadRequestError, EngineError, ModelFileError, NaNOutputError
from inference.errors import OutOfMemoryError as GpuOutOfMemoryError
from inference.file_hashes import generation_hashes
from inference.infotext import build_infotext
from inference.references import infotext_fields
from inference.registry import Registry
from inference.resolve import denoise_strength, tile_seed
from inference.settings import WorkerSettings
from inference.worker import inpaint, precision
from inference.worker.compiled import Compiler
from inference.worker.conditioning import encode_conditioning
from inference.worker.ip_adapter import IpAdapters, ReferenceLoader, ran_references
from inference.worker.job_args import task_kwargs
from inference.worker.library_logs import quiet_libraries
from inference.worker.loras import LoraManager
from inference.worker.output import Clock, EngineOutput
from inference.worker.pick import pick
from inference.worker.pipelines import LoadedUnclip, PipelineCache
from inference.worker.previews import PreviewCadence
from inference.worker.safety import SafetyChecker
from inference.worker.schedulers import make_scheduler
from inference.worker.tiling import circular_padding
from pipeline.contracts import JobKind, JobSpec, UpscaleMode

__all__ = ["Engine", "EngineOutput", "ProgressFn", "default_device"]

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, torch.Tensor | None], None]


def default_device() -> tuple[str, torch.dtype]:
    """The device and dtype "auto" settings give on this machine."""
    device = precision.resolve_device("auto")
    return device.type, precision.resolve_dtype("auto", device)


@dataclass
class _Job:
    """What one job runs on, decided before any device work."""

    pipe: Any
    scheduler_config: dict[str, Any]
    encoders: list[tuple[Any, Any]]
    family: str
    strength: float | None
    seeds: list[int]
    unclip: LoadedUnclip | None
    edit: inpaint.EditCanvas | None = None  # zoom, pan, square, vary_region
    loras: bool = True  # whether the job's LoRAs ran (not on unCLIP nor an inpainting model)


class Engine:
    def __init__(
        self,
        registry: Registry,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        max_models: int = 2,
        *,
        library_logs: bool = False,
        compiler: Compiler | None = None,
        preview_every_steps: int | None = None,
        memory_budget_bytes: int | None = None,
        pad_negative: bool = False,
        load_reference: ReferenceLoader | None = None,
    ) -> None:
        """`load_reference(sha256)`: a stored member image (image prompts, references)."""
        self.registry = registry
        self.device = torch.device(device)
        self.dtype = dtype
        if not library_logs:
            quiet_libraries()
        self.compiler = compiler
        self.loras = LoraManager(registry, slots=compiler.lora_slots if compiler is not None else 0)
        self.pipelines = PipelineCache(
            registry,
            self.device,
            dtype,
            max_models,
            prepare=self._prepare_pipeline,
            memory_budget_bytes=memory_budget_bytes,
        )
        self.previews = PreviewCadence(preview_every_steps)
        self._safety: SafetyChecker | None = None
        self.pad_negative = pad_negative  # A1111's "pad prompt/negative prompt" option
        self.ip_adapters = IpAdapters(registry, self.device, dtype, load_reference)

    @classmethod
    def from_settings(
        cls,
        registry: Registry,
        settings: WorkerSettings,
        *,
        library_logs: bool = False,
        require_gpu: bool = False,
        load_reference: ReferenceLoader | None = None,
    ) -> Engine:
        """Device, dtype, threads, CUDA tuning and compilation as `settings` say; with
        `require_gpu` (`nanke worker`), "auto" without CUDA is refused, not the CPU."""
        device = precision.resolve_device(settings.device, require_gpu=require_gpu)
        dtype = precision.resolve_dtype(settings.dtype, device)
        precision.set_threads(settings)
        precision.tune_backend(device)
        compiler = None
        if precision.compile_enabled(settings, device):
            compiler = Compiler(settings.compile_backend)
        return cls(
            registry,
            device,
            dtype,
            settings.max_models,
            library_logs=library_logs,
            compiler=compiler,
            preview_every_steps=settings.preview_every_steps,
            memory_budget_bytes=(
                None
                if settings.memory_budget_gb is None
                else int(settings.memory_budget_gb * 1024**3)
            ),
            pad_negative=settings.pad_negative,
            load_reference=load_reference,
        )

    def loaded_models(self) -> list[str]:
        """The models on the device now (any thread may ask; the scheduler prefers them)."""
        return self.pipelines.loaded_names()

    @property
    def model_loads(self) -> int:
        return self.pipelines.loads

    def _prepare_pipeline(self, pipe: Any, family: str) -> None:
        """Once per loaded model: CUDA tuning, LoRA slots, then compilation (in that order:
        compiled graphs must see the final module structure)."""
        precision.tune_pipeline(pipe, self.device, fuse_qkv=not self.registry.loras())
        if self.compiler is not None:
            self.loras.prepare_slots(pipe)
            self.compiler.compile(pipe)

    def load_models(self, names: list[str]) -> None:
        """Load these models now (a worker does before its first job); a model that cannot be
        loaded is an EngineError naming it."""
        for name in names:
            try:
                self.pipelines.model(name)
            except EngineError:
                raise
            except (OSError, ValueError, RuntimeError, torch.OutOfMemoryError) as exc:
                raise ModelFileError(f"cannot load model {name!r}: {exc}") from exc

    def safety_checker(self) -> SafetyChecker | None:
        """The configured checker, loaded once on first use (like the pipelines)."""
        entry = self.registry.safety_checker
        if entry is not None and self._safety is None:
            self._safety = SafetyChecker.load(entry, self.device, self.dtype)
        return self._safety

    def run(
        self,
        spec: JobSpec,
        source: Image.Image | None = None,
        on_progress: ProgressFn | None = None,
        *,
        mask: Image.Image | None = None,
    ) -> EngineOutput:
        """`mask`: the stored mask PNG of a Vary (Region) job that has one (white = paint)."""
        try:
            return self._run(spec, source, on_progress, mask)
        except torch.OutOfMemoryError:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            gen = spec.generation
            raise GpuOutOfMemoryError(
                f"out of GPU memory at {gen.width}x{gen.height} x{gen.batch}: "
                "try a smaller --ar or fewer LoRAs, or a GPU with more memory"
            ) from None

    @torch.inference_mode()
    def _run(
        self,
        spec: JobSpec,
        source: Image.Image | None,
        on_progress: ProgressFn | None,
        mask: Image.Image | None = None,
    ) -> EngineOutput:
        # long: one job in order (encode, denoise with its images, check, record); each a call
        gen = spec.generation
        followups = (JobKind.UPSCALE, JobKind.VARY_SUBTLE, JobKind.VARY_STRONG, *EDIT_KINDS)
        if spec.kind in followups and source is None:
            raise BadRequestError(f"a {spec.kind.value} job needs its source image")
        clock = Clock(self.device)
        checker = self.safety_checker()  # first: a bad [safety_checker] fails fast
        if spec.upscale_mode is UpscaleMode.PICK:
            assert source is not None
            return pick(spec, source, checker, clock)
        job = self._job(spec, source, mask)
        with clock("text_encode"):
            encoded = encode_conditioning(job.encoders, gen, pad_negative=self.pad_negative)
            encoded.scheduler = job.pipe.scheduler  # dynamic thresholding needs its ᾱ
            if not encoded.finite():  # checked before the first step: no GPU time wasted
                raise BadRequestError(
                    "the prompt's attention weights are too extreme for the model (its text "
                    "encoding overflowed): lower the (word:weight) values or remove brackets"
                )
            kwargs = encoded.pipeline_kwargs(gen.chaos, job.seeds)
        refs = ran_references(gen, unclip=job.unclip is not None, edit=job.edit is not None)
        with (
            encoded.applied(job.pipe.unet, gen.chaos, job.seeds),
            self.ip_adapters.applied(
                job.pipe, job.family, refs, gen.cfg > 1, checker
            ) as image_args,
        ):
            kwargs.update(image_args)
            images, steps_run = self._denoise_and_decode(
                spec, job, source, kwargs, clock, on_progress
            )
        if checker is not None:
            with clock("safety_check"):
                nsfw = checker.flags(images)
        else:
            nsfw = [False] * len(images)
        # The PNG says what ran: unCLIP and inpainting models take no LoRAs, so list none.
        ran = refs if job.loras else refs.model_copy(update={"loras": ()})
        extra = dict(job.edit.fields) if job.edit is not None else {}
        extra.update(infotext_fields(ran))
        extra.update(generation_hashes(self.registry, ran))  # each file hashed once per process
        infotexts = [
            build_infotext(ran, seed=s, denoising_strength=job.strength, extra=extra)
            for s in job.seeds
        ]
        timings = dict(clock.ms)
        timings["denoise_per_step"] = round(timings["denoise"] / max(steps_run, 1), 2)
        self.previews.observe(timings["denoise_per_step"])
        return EngineOutput(
            images=images,
            seeds=job.seeds,
            width=images[0].width,
            height=images[0].height,
            infotexts=infotexts,
            timings_ms=timings,
            steps_run=steps_run,
            nsfw=nsfw,
        )

    def _job(
        self, spec: JobSpec, source: Image.Image | None = None, mask: Image.Image | None = None
    ) -> _Job:
        gen = spec.generation
        model = self.pipelines.model(gen.model)
        if spec.kind in EDIT_KINDS:
            assert source is not None
            return self._edit_job(spec, model, source, mask)
        strong = spec.kind == JobKind.VARY_STRONG or gen.blend  # unCLIP varies and blends
        unclip = self.pipelines.unclip() if strong else None
        strength = denoise_strength(spec, has_unclip=unclip is not None)
        seeds = [tile_seed(gen.seed, i) for i in range(gen.batch)]
        if unclip is not None:
            pipe = unclip.pipe
            job = _Job(
                pipe,
                unclip.scheduler_config,
                [(pipe.tokenizer, pipe.text_encoder)],
                "sd2",
                strength,
                seeds,
                unclip,
                loras=False,
            )
        else:
            # LoRAs live on the base model's modules, which derived pipelines share.
            self.loras.apply(model.base, gen.loras)
            pipe = model.img2img() if strength is not None else model.base
            job = _Job(
                pipe,
                model.scheduler_config,
                model.encoders(),
                model.entry.family,
                strength,
                seeds,
                None,
            )
        pipe.scheduler = make_scheduler(gen.sampler, job.scheduler_config, seed=gen.seed)
        return job

    def _edit_job(
        self, spec: JobSpec, model: Any, source: Image.Image, mask: Image.Image | None
    ) -> _Job:
        """Zoom, pan, square, vary_region: the inpainting pipeline on a prepared canvas."""
        gen = spec.generation
        dedicated = model.dedicated_inpaint
        edit = inpaint.prepare(spec, source, mask, dedicated)
        if not dedicated:  # the base model's modules: its LoRAs apply
            self.loras.apply(model.base, gen.loras)
        pipe = self.pipelines.inpaint(model)
        encoders = [(pipe.tokenizer, pipe.text_encoder)]
        if model.sdxl:
            encoders.append((pipe.tokenizer_2, pipe.text_encoder_2))
        seeds = [tile_seed(gen.seed, i) for i in range(gen.batch)]
        config = model.derived.get("inpaint_scheduler_config", model.scheduler_config)
        pipe.scheduler = make_scheduler(gen.sampler, config, seed=gen.seed)
        job = _Job(pipe, config, encoders, model.entry.family, edit.strength, seeds, None)
        job.edit, job.loras = edit, not dedicated
        return job

    def _denoise_and_decode(
        self,
        spec: JobSpec,
        job: _Job,
        source: Image.Image | None,
        kwargs: dict[str, Any],
        clock: Clock,
        on_progress: ProgressFn | None,
    ) -> tuple[list[Image.Image], int]:
        gen = spec.generation
        steps_run = 0
        previews = self.previews

        def on_step(p: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            nonlocal steps_run
            steps_run = i + 1
            if on_progress is not None:
                total = int(getattr(p, "num_timesteps", 0) or gen.steps)
                # Latents leave the device only on preview steps: no sync anywhere else.
                wanted = previews.wants(i + 1, total)
                on_progress(i + 1, total, tensors["latents"] if wanted else None)
            return tensors

        generators = [torch.Generator(self.device).manual_seed(s) for s in job.seeds]
        kwargs.update(
            num_inference_steps=gen.steps,
            guidance_scale=gen.cfg,
            generator=generators,
            output_type="latent",
        )
        if job.edit is not None:
            kwargs.update(job.edit.pipeline_kwargs(gen.steps, gen.batch, on_step))
        else:
            kwargs.update(task_kwargs(spec, job.pipe, source, job.strength, job.unclip, on_step))
        with circular_padding(job.pipe.unet, job.pipe.vae, enabled=gen.tile):
            with clock("denoise"):
                latents = job.pipe(**kwargs).images
            if not bool(torch.isfinite(latents).all()):
                raise NaNOutputError(
                    "the model produced NaN values; try another sampler, a lower --cfg, "
                    "or without the LoRA"
                )
            with clock("vae_decode"):
                images = self._decode(job.pipe, job.family, latents)
                if job.edit is not None:  # what the member did not select stays as it was
                    images = job.edit.paste_back(images)
        return images, steps_run

    def _decode(self, pipe: Any, family: str, latents: torch.Tensor) -> list[Image.Image]:
        vae = pipe.vae
        upcast = precision.vae_needs_upcast(family, self.dtype, vae)
        if upcast:
            vae.to(torch.float32)
        try:
            scaled = latents.to(vae.dtype) / vae.config.scaling_factor
            decoded = vae.decode(scaled, return_dict=False)[0]
        finally:
            if upcast:
                vae.to(self.dtype)
        if not bool(torch.isfinite(decoded).all()):
            raise NaNOutputError(
                "the VAE produced NaN values (fp16 overflow?); run the model in float32/bfloat16"
            )
        images: list[Image.Image] = pipe.image_processor.postprocess(
            decoded.float(), output_type="pil"
        )
        return images
