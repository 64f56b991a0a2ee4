"""The engine: one JobSpec in, images + PNGs + timings out. In-process; no files, no Celery.

    engine = Engine(load_registry(path), device="cuda", dtype=torch.float16)
    out = engine.run(spec, source=None, on_progress=lambda step, total, latents: ...)

`source` is the PIL tile for upscale / vary jobs. `on_progress(step, total, latents)` is
called after every denoising step with the current latents (for previews).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image

from inference.errors import (
    BadRequestError,
    EngineError,
    ModelFileError,
    NaNOutputError,
    OutOfMemoryError,
)
from inference.infotext import build_infotext
from inference.png import encode_png
from inference.registry import Registry
from inference.resolve import denoise_strength, tile_seed
from inference.worker.chaos import apply_chaos
from inference.worker.grid import make_grid
from inference.worker.library_logs import quiet_libraries
from inference.worker.loras import LoraManager
from inference.worker.pipelines import LoadedUnclip, PipelineCache
from inference.worker.prompt_encoding import Encoded, encode_prompt
from inference.worker.safety import SafetyChecker
from inference.worker.schedulers import make_scheduler
from inference.worker.tiling import circular_padding
from pipeline.contracts import JobKind, JobSpec

ProgressFn = Callable[[int, int, torch.Tensor], None]


@dataclass
class EngineOutput:
    images: list[Image.Image]
    pngs: list[bytes]
    seeds: list[int]
    width: int
    height: int
    infotexts: list[str]  # one per image
    grid: Image.Image | None = None
    grid_png: bytes | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    steps_run: int = 0
    nsfw: list[bool] = field(default_factory=list)  # one per image; all False with no checker


class _Clock:
    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.ms: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.ms[name] = round((time.perf_counter() - start) * 1000, 2)


def default_device() -> tuple[str, torch.dtype]:
    if torch.cuda.is_available():
        return "cuda", torch.float16
    return "cpu", torch.float32


class Engine:
    def __init__(
        self,
        registry: Registry,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        max_models: int = 2,
        *,
        library_logs: bool = False,
    ) -> None:
        self.registry = registry
        self.device = torch.device(device)
        self.dtype = dtype
        if not library_logs:
            quiet_libraries()
        self.pipelines = PipelineCache(registry, self.device, dtype, max_models)
        self.loras = LoraManager(registry)
        self._safety: SafetyChecker | None = None

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
    ) -> EngineOutput:
        try:
            return self._run(spec, source, on_progress)
        except torch.OutOfMemoryError:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            gen = spec.generation
            raise OutOfMemoryError(
                f"out of GPU memory at {gen.width}x{gen.height} x{gen.batch}: "
                "try a smaller --ar or fewer LoRAs, or a GPU with more memory"
            ) from None

    @torch.inference_mode()
    def _run(
        self, spec: JobSpec, source: Image.Image | None, on_progress: ProgressFn | None
    ) -> EngineOutput:
        # long: one job's stages in order (load, encode, denoise, decode, check, encode PNGs), each
        # timed by the clock; issue #13 splits it when encoding moves off the GPU thread.
        gen = spec.generation
        needs_source = spec.kind in (JobKind.UPSCALE, JobKind.VARY_SUBTLE, JobKind.VARY_STRONG)
        if needs_source and source is None:
            raise BadRequestError(f"a {spec.kind.value} job needs its source image")
        clock = _Clock(self.device)
        checker = self.safety_checker()  # first: a bad [safety_checker] fails fast
        model = self.pipelines.model(gen.model)
        unclip = self.pipelines.unclip() if spec.kind == JobKind.VARY_STRONG else None
        strength = denoise_strength(spec, has_unclip=unclip is not None)
        seeds = [tile_seed(gen.seed, i) for i in range(gen.batch)]

        if unclip is not None:
            pipe, scheduler_config = unclip.pipe, unclip.scheduler_config
            encoders = [(pipe.tokenizer, pipe.text_encoder)]
        else:
            # LoRAs live on the base model's modules, which derived pipelines share.
            self.loras.apply(model.base, gen.loras)
            pipe = model.img2img() if strength is not None else model.base
            scheduler_config = model.scheduler_config
            encoders = model.encoders()
        pipe.scheduler = make_scheduler(gen.sampler, scheduler_config, seed=gen.seed)

        with clock("text_encode"):
            encoded = encode_prompt(encoders, gen.parts, gen.negative_prompt, gen.clip_skip)
            if not encoded.finite():  # checked before the first step: no GPU time wasted
                raise BadRequestError(
                    "the prompt's attention weights are too extreme for the model (its text "
                    "encoding overflowed): lower the (word:weight) values or remove brackets"
                )
            kwargs = self._embeds(encoded, gen.chaos, seeds)

        steps_run = 0

        def on_step(p: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            nonlocal steps_run
            steps_run = i + 1
            if on_progress is not None:
                on_progress(
                    i + 1, int(getattr(p, "num_timesteps", 0) or gen.steps), tensors["latents"]
                )
            return tensors

        generators = [torch.Generator(self.device).manual_seed(s) for s in seeds]
        kwargs.update(
            num_inference_steps=gen.steps,
            guidance_scale=gen.cfg,
            generator=generators,
            output_type="latent",
        )
        kwargs.update(self._task_kwargs(spec, pipe, source, strength, unclip, on_step))

        modules = [pipe.unet, pipe.vae]
        with circular_padding(*modules, enabled=gen.tile):
            with clock("denoise"):
                latents = pipe(**kwargs).images
            if not bool(torch.isfinite(latents).all()):
                raise NaNOutputError(
                    "the model produced NaN values; try another sampler, a lower --cfg, "
                    "or without the LoRA"
                )
            with clock("vae_decode"):
                images = self._decode(pipe, latents)

        if checker is not None:
            with clock("safety_check"):
                nsfw = checker.flags(images)
        else:
            nsfw = [False] * len(images)

        # The PNG says what ran: unCLIP takes no LoRAs, so its text lists none.
        ran = gen.model_copy(update={"loras": ()}) if unclip is not None else gen
        infotexts = [build_infotext(ran, seed=s, denoising_strength=strength) for s in seeds]
        with clock("image_encode"):
            pngs = [encode_png(img, info) for img, info in zip(images, infotexts, strict=True)]
            grid = make_grid(images) if gen.batch > 1 else None
            grid_png = encode_png(grid, infotexts[0]) if grid is not None else None
        timings = dict(clock.ms)
        timings["denoise_per_step"] = round(timings["denoise"] / max(steps_run, 1), 2)
        return EngineOutput(
            images=images,
            pngs=pngs,
            seeds=seeds,
            width=images[0].width,
            height=images[0].height,
            infotexts=infotexts,
            grid=grid,
            grid_png=grid_png,
            timings_ms=timings,
            steps_run=steps_run,
            nsfw=nsfw,
        )

    @staticmethod
    def _task_kwargs(
        spec: JobSpec,
        pipe: Any,
        source: Image.Image | None,
        strength: float | None,
        unclip: LoadedUnclip | None,
        on_step: Callable[[Any, int, Any, dict[str, Any]], dict[str, Any]],
    ) -> dict[str, Any]:
        """The pipeline arguments that differ between txt2img, img2img and unCLIP jobs."""
        gen = spec.generation
        if unclip is not None:
            assert source is not None

            def on_legacy_step(i: int, t: Any, latents: torch.Tensor) -> None:
                on_step(pipe, i, t, {"latents": latents})

            # Stable unCLIP still has only the legacy per-step callback.
            return {
                "callback": on_legacy_step,
                "callback_steps": 1,
                "image": source.convert("RGB"),
                "noise_level": unclip.entry.noise_level,
                "width": gen.width,
                "height": gen.height,
            }
        kwargs: dict[str, Any] = {
            "callback_on_step_end": on_step,
            "callback_on_step_end_tensor_inputs": ["latents"],
        }
        if strength is None:
            return {**kwargs, "width": gen.width, "height": gen.height}
        assert source is not None
        init = source.convert("RGB").resize((gen.width, gen.height), Image.Resampling.LANCZOS)
        # img2img runs int(steps × strength) steps: make that at least one.
        steps = max(gen.steps, math.ceil(1 / strength))
        return {
            **kwargs,
            "image": [init] * gen.batch,
            "strength": strength,
            "num_inference_steps": steps,
        }

    def _embeds(self, encoded: Encoded, chaos: int, seeds: list[int]) -> dict[str, Any]:
        batch = len(seeds)
        out: dict[str, Any] = {
            "prompt_embeds": apply_chaos(encoded.cond, chaos, seeds),
            "negative_prompt_embeds": encoded.uncond.expand(batch, -1, -1),
        }
        if encoded.pooled is not None and encoded.uncond_pooled is not None:
            out["pooled_prompt_embeds"] = encoded.pooled.expand(batch, -1)
            out["negative_pooled_prompt_embeds"] = encoded.uncond_pooled.expand(batch, -1)
        return out

    def _decode(self, pipe: Any, latents: torch.Tensor) -> list[Image.Image]:
        vae = pipe.vae
        upcast = self.dtype == torch.float16 and getattr(vae.config, "force_upcast", False)
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
        images: list[Image.Image] = pipe.image_processor.postprocess(decoded, output_type="pil")
        return images
