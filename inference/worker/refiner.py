"""SDXL's base + refiner cascade (models.toml `refiner`, `refiner_switch`).

The base model runs the first `switch` of the noise schedule (`denoising_end`) and hands its
latents to the refiner, a `StableDiffusionXLImg2ImgPipeline` that goes on from the same point
(`denoising_start`), as diffusers' documentation shows; it shares the base's VAE and second
text encoder (the refiner reads the prompt with OpenCLIP bigG alone). The refiner's prompt is
encoded by the engine's own encoder (A1111 weights, AND, prompt editing, CFG rescale and chaos
apply as on the base). It runs on imagine, 🔄 and V; U (2x), the edits, unCLIP, ControlNet and
--tile jobs run the base alone, and their PNG names no refiner.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import diffusers
import torch

from inference.errors import ModelFileError
from inference.refiner_entry import RefinerEntry
from inference.worker.conditioning import Conditioning, encode_conditioning
from inference.worker.pipelines import LoadedModel, _load_error, quiet_loading
from inference.worker.schedulers import make_scheduler
from pipeline.contracts import JobKind, JobSpec

log = logging.getLogger(__name__)

REFINED_KINDS = (JobKind.IMAGINE, JobKind.REROLL, JobKind.VARY_SUBTLE, JobKind.VARY_STRONG)


@dataclass
class RefinerRun:
    """One job's second stage: the refiner pipeline and its prompt, encoded."""

    pipe: Any
    entry: RefinerEntry
    conditioning: Conditioning
    chaos: int
    seeds: list[int]

    @property
    def switch(self) -> float:
        return self.entry.switch

    @property
    def fields(self) -> dict[str, str]:
        """A1111's PNG fields for a refined image."""
        return {"Refiner": self.entry.label, "Refiner switch at": f"{self.entry.switch:g}"}

    def run(
        self, latents: torch.Tensor, steps: int, device: torch.device, on_step: Any
    ) -> torch.Tensor:
        """The base's latents at the switch → the refined latents (not decoded)."""
        kwargs = self.conditioning.pipeline_kwargs(self.chaos, self.seeds)
        with self.conditioning.applied(self.pipe.unet, self.chaos, self.seeds):
            out = self.pipe(
                image=latents,
                denoising_start=self.switch,
                num_inference_steps=steps,
                guidance_scale=self.conditioning.guidance,
                generator=[torch.Generator(device).manual_seed(s) for s in self.seeds],
                output_type="latent",
                callback_on_step_end=on_step,
                callback_on_step_end_tensor_inputs=["latents"],
                **kwargs,
            )
        return out.images


def load_refiner(model: LoadedModel, device: torch.device, dtype: torch.dtype) -> Any:
    """The model's refiner, loaded once on first use with the base's VAE and text_encoder_2."""
    if "refiner" in model.derived:
        return model.derived["refiner"]
    entry = model.entry.refiner
    assert entry is not None
    what = f"the refiner of model {model.entry.name!r}"
    if entry.kind != "hub" and not Path(entry.source).exists():
        raise ModelFileError(f"{what}: {entry.source} does not exist; fix `refiner`")
    base = model.base
    log.info("loading %s from %s", what, entry.source)
    try:
        with quiet_loading(entry.kind != "hub"):
            pipe = diffusers.StableDiffusionXLImg2ImgPipeline.from_pretrained(
                entry.source,
                text_encoder=None,
                tokenizer=None,
                text_encoder_2=base.text_encoder_2,
                tokenizer_2=base.tokenizer_2,
                vae=base.vae,
                dtype=dtype,
            )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise _load_error(what, entry.source, exc) from None
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    model.derived["refiner"] = pipe
    model.derived["refiner_scheduler_config"] = dict(pipe.scheduler.config)
    return pipe


def prepare_refiner(
    spec: JobSpec,
    job: Any,
    model: LoadedModel,
    device: torch.device,
    dtype: torch.dtype,
    pad_negative: bool,
) -> RefinerRun | None:
    """The job's refiner stage, or None where the base runs alone (see the module doc)."""
    gen = spec.generation
    entry = model.entry.refiner
    if (
        entry is None
        or spec.kind not in REFINED_KINDS
        or job.unclip is not None
        or job.edit is not None
        or job.control is not None
        or gen.tile
    ):
        return None
    pipe = load_refiner(model, device, dtype)
    pipe.scheduler = make_scheduler(
        gen.sampler,
        model.derived["refiner_scheduler_config"],
        seed=gen.seed,
        strength=job.strength,
        sdxl=True,
    )
    encoders = [(pipe.tokenizer_2, pipe.text_encoder_2)]
    conditioning = encode_conditioning(encoders, gen, pad_negative=pad_negative)
    conditioning.use_scheduler(pipe.scheduler)  # dynamic thresholding needs its ᾱ
    return RefinerRun(pipe, entry, conditioning, gen.chaos, list(job.seeds))
