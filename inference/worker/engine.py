"""The engine: one JobSpec in, images + timings out (PNGs encoded lazily, off this thread).

    engine = Engine.from_settings(load_registry(path), WorkerSettings())
    out = engine.run(spec, source=None, on_progress=lambda step, total, latents: ...)

`source` is the PIL tile for upscale / vary jobs. `on_progress(step, total, latents)` is called
after every step; `latents` is None except on preview steps (never step 1): no needless syncs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from inference.edits import EDIT_KINDS
from inference.errors import BadRequestError, EngineError, ModelFileError
from inference.errors import OutOfMemoryError as GpuOutOfMemoryError
from inference.file_hashes import generation_hashes, unclip_fields
from inference.infotext import build_infotext
from inference.references import infotext_fields
from inference.registry import Registry
from inference.resolve import denoise_strength, tile_seed
from inference.settings import WorkerSettings
from inference.worker import inpaint, precision
from inference.worker.compiled import Compiler
from inference.worker.conditioning import encode_conditioning
from inference.worker.controlnet import ControlNets, ControlRun
from inference.worker.denoise import ProgressFn, denoise_and_decode
from inference.worker.describe import Describer
from inference.worker.describe_job import run_describe
from inference.worker.families import adapter as dit_adapter
from inference.worker.families.edit import edit_inputs
from inference.worker.families.runner import run_dit
from inference.worker.gan_upscale import GanUpscaler, upscale_4x
from inference.worker.ip_adapter import IpAdapters, ReferenceLoader, ran_references
from inference.worker.library_logs import quiet_libraries
from inference.worker.loras import LoraManager
from inference.worker.output import Clock, EngineOutput
from inference.worker.pick import pick
from inference.worker.pipelines import LoadedUnclip, PipelineCache
from inference.worker.previews import PreviewCadence
from inference.worker.refiner import prepare_refiner
from inference.worker.safety import SafetyChecker
from inference.worker.schedulers import make_scheduler
from pipeline.contracts import JobKind, JobSpec, UpscaleMode

__all__ = ["Engine", "EngineOutput", "ProgressFn", "default_device"]

log = logging.getLogger(__name__)


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
    control: ControlRun | None = None  # --cn


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
        upscale_tile: tuple[int, int] = (512, 32),
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
        self._upscaler: GanUpscaler | None = None
        self.upscale_tile = upscale_tile  # Upscale (4x): tile side and overlap, input pixels
        self.pad_negative = pad_negative  # A1111's "pad prompt/negative prompt" option
        self.load_reference = load_reference  # stored images: references, an edit's inputs
        self.describer = Describer(registry, self.device, dtype)  # loads on first /describe
        self.ip_adapters = IpAdapters(registry, self.device, dtype, load_reference)
        self.controls = ControlNets(registry, self.device, dtype, load_reference)

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
            upscale_tile=(settings.upscale_tile, settings.upscale_tile_overlap),
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

    def gan_upscaler(self) -> GanUpscaler:
        """The [upscaler] of models.toml, loaded once on first use; BadRequestError without."""
        entry = self.registry.upscaler
        if entry is None:
            raise BadRequestError(
                "Upscale (4x) is not set up on this server (no [upscaler] in models.toml)"
            )
        if self._upscaler is None:
            tile, overlap = self.upscale_tile
            self._upscaler = GanUpscaler.load(entry, self.device, self.dtype, tile, overlap)
        return self._upscaler

    def run(
        self,
        spec: JobSpec,
        source: Image.Image | None = None,
        on_progress: ProgressFn | None = None,
        *,
        mask: Image.Image | None = None,
        control: Image.Image | None = None,
    ) -> EngineOutput:
        """`mask`: the stored mask PNG of a Vary (Region) job that has one (white = paint);
        `control`: the control image of a --cn job (its map is made here)."""
        try:
            return self._run(spec, source, on_progress, mask, control)
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
        control: Image.Image | None = None,
    ) -> EngineOutput:
        # long: one job in order (encode, denoise with its images, check, record); each a call
        gen = spec.generation
        followups = (JobKind.UPSCALE, JobKind.VARY_SUBTLE, JobKind.VARY_STRONG, *EDIT_KINDS)
        if spec.kind in followups and source is None:
            raise BadRequestError(f"a {spec.kind.value} job needs its source image")
        clock = Clock(self.device)
        checker = self.safety_checker()  # first: a bad [safety_checker] fails fast
        if spec.kind is JobKind.DESCRIBE:
            return run_describe(spec, self.describer, self.load_reference, checker, clock)
        if spec.upscale_mode is UpscaleMode.PICK:
            assert source is not None
            return pick(spec, source, checker, clock)
        if spec.upscale_mode is UpscaleMode.GAN_4X:
            assert source is not None
            return upscale_4x(spec, source, self.gan_upscaler(), checker, clock)
        if dit_adapter(self.registry.model(gen.model).family) is not None:  # flux, zimage…
            model = self.pipelines.model(gen.model)
            inputs = edit_inputs(spec, source, self.load_reference)
            return run_dit(
                spec, model, self.device, source, on_progress, clock, checker, self.loras, inputs
            )
        job = self._job(spec, source, mask, control, checker)
        model = self.pipelines.model(gen.model)
        refiner = prepare_refiner(spec, job, model, self.device, self.dtype, self.pad_negative)
        with clock("text_encode"):
            encoded = encode_conditioning(job.encoders, gen, pad_negative=self.pad_negative)
            encoded.use_scheduler(job.pipe.scheduler)
            if not encoded.finite():  # checked before the first step: no GPU time wasted
                raise BadRequestError(
                    "the prompt's attention weights are too extreme for the model (its text "
                    "encoding overflowed): lower the (word:weight) values or remove brackets"
                )
            kwargs = encoded.pipeline_kwargs(gen.chaos, job.seeds)
        refs = ran_references(gen, unclip=job.unclip is not None, edit=job.edit is not None)
        with (
            encoded.applied(job.pipe.unet, gen.chaos, job.seeds),
            self.ip_adapters.applied(job.pipe, job.family, refs, gen.cfg > 1, checker) as extra,
        ):
            kwargs.update(extra)
            images, steps_run = denoise_and_decode(
                spec,
                job,
                source,
                kwargs,
                clock,
                on_progress,
                self.previews,
                self.device,
                self.dtype,
                refiner,
            )
        if checker is not None:
            with clock("safety_check"):
                nsfw = checker.flags(images)
        else:
            nsfw = [False] * len(images)
        # The PNG says what ran: unCLIP and inpainting models take no LoRAs, so list none.
        ran = refs if job.loras else refs.model_copy(update={"loras": ()})
        extra = dict(job.edit.fields) if job.edit is not None else {}
        extra.update(job.control.fields if job.control is not None else {})
        extra.update(refiner.fields if refiner is not None else {})
        extra.update(infotext_fields(ran))
        extra.update(generation_hashes(self.registry, ran))  # each file hashed once per process
        if job.unclip is not None:  # the PNG names the unCLIP model that painted it
            extra = unclip_fields(job.unclip.entry, extra, gen.model)
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
            control_map=job.control.control_map if job.control is not None else None,
        )

    def _job(
        self,
        spec: JobSpec,
        source: Image.Image | None = None,
        mask: Image.Image | None = None,
        control: Image.Image | None = None,
        checker: SafetyChecker | None = None,
    ) -> _Job:
        gen = spec.generation
        if spec.kind is JobKind.EDIT:  # models.toml's `edit` is a flux or flux2 model
            raise BadRequestError(f"{gen.model} does not edit by instruction")
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
            img2img = strength is not None
            run = self.controls.prepare(model, gen, control, img2img=img2img, checker=checker)
            pipe = run.pipe if run else (model.img2img() if strength is not None else model.base)
            job = _Job(
                pipe,
                model.scheduler_config,
                model.encoders(),
                model.entry.family,
                strength,
                seeds,
                None,
                control=run,
            )
        pipe.scheduler = make_scheduler(
            gen.sampler,
            job.scheduler_config,
            seed=gen.seed,
            strength=job.strength if unclip is None else None,
            sdxl=job.family == "sdxl",
        )
        if unclip is None and model.entry.timestep_spacing:  # Lightning/Hyper/Turbo merges
            spacing = model.entry.timestep_spacing  # wins over the sampler's own spacing
            pipe.scheduler = type(pipe.scheduler).from_config(
                pipe.scheduler.config, timestep_spacing=spacing
            )
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
        pipe.scheduler = make_scheduler(
            gen.sampler, config, seed=gen.seed, strength=edit.strength, sdxl=model.sdxl
        )
        job = _Job(pipe, config, encoders, model.entry.family, edit.strength, seeds, None)
        job.edit, job.loras = edit, not dedicated
        return job
