"""ImagineParams (what was asked) → Generation (what runs), and the follow-up jobs (torch-free).

Rules (docs/engine.md):
- size: the `--ar` ratio at the model's base pixel area (base_size²), each side rounded to the
  nearest multiple of 64 (at least 64);
- steps: explicit `--steps`, else the model's default steps × `--q` (rounded, at least 1);
- seed: random when unset; tile i (0-based) uses seed + i (mod 2³²);
- follow-ups start from the parent job: upscale = that tile's seed at 2x size, one image;
  vary = that tile as source with new seeds; reroll = the same request with new seeds.
"""

from __future__ import annotations

import math
import secrets
import uuid

from pydantic import BaseModel, ConfigDict, Field

from inference.control import check_control, check_control_prompt
from inference.errors import BadRequestError
from inference.families import family
from inference.families.checks import fit_to_family
from inference.references import references
from inference.registry import Registry
from inference.samplers import DEFAULT_SAMPLER, sampler
from pipeline.contracts import JobKind, JobSpec, SourceImage, UpscaleMode
from prompt.request import MAX_SEED, Generation, ImagineParams

DEFAULT_CFG = 7.0
# Denoising strength of each img2img follow-up: how much of the source is repainted.
UPSCALE_STRENGTH = {UpscaleMode.SUBTLE: 0.3, UpscaleMode.CREATIVE: 0.55}
VARY_SUBTLE_STRENGTH = 0.6
VARY_STRONG_IMG2IMG_STRENGTH = 0.85  # when no unCLIP model is configured


class UserDefaults(BaseModel):
    """A member's (or server's) saved preferences; the prompt's own flags win over them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str | None = None
    sampler: str | None = None
    cfg: float | None = Field(default=None, ge=1.0, le=30.0)
    aspect_ratio: str | None = None
    quality: float | None = None
    negative_prompt: str | None = None
    clip_skip: int | None = Field(default=None, ge=1, le=12)


def tile_seed(seed: int, index: int) -> int:
    """Seed of tile `index` (0-based) of a batch started at `seed`."""
    return (seed + index) % (MAX_SEED + 1)


def random_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


def size_for(aspect_ratio: str | None, base_size: int) -> tuple[int, int]:
    """(width, height) for `W:H` at base_size² pixels, sides in multiples of 64."""
    if not aspect_ratio:
        return base_size, base_size
    try:
        w_str, h_str = aspect_ratio.split(":")
        ratio_w, ratio_h = int(w_str), int(h_str)
        if ratio_w <= 0 or ratio_h <= 0:
            raise ValueError
    except ValueError:
        raise BadRequestError(f"aspect ratio {aspect_ratio!r} is not W:H (e.g. 16:9)") from None
    area = base_size * base_size
    width = math.sqrt(area * ratio_w / ratio_h)
    height = math.sqrt(area * ratio_h / ratio_w)
    return max(64, round(width / 64) * 64), max(64, round(height / 64) * 64)


def steps_for(steps: int | None, quality: float | None, default_steps: int) -> int:
    if steps is not None:
        return steps
    return max(1, round(default_steps * (quality if quality is not None else 1.0)))


def resolve(
    params: ImagineParams,
    registry: Registry,
    defaults: UserDefaults | None = None,
    seed: int | None = None,
) -> Generation:
    """Fill every unset value; raises UnknownModelError / UnknownSamplerError / BadRequestError."""
    return resolve_with_notes(params, registry, defaults, seed)[0]


def check_trained_on(
    name: str, base_model: str | None, model: str, family: str, registry: Registry
) -> None:
    """A trained LoRA only fits models of the family it was trained on (its layers have
    another shape elsewhere): refused here, before the charge, not by the worker."""
    trained = registry.models.get(base_model) if base_model else None
    if trained is None or trained.family == family:  # base model gone: the worker decides
        return
    raise BadRequestError(
        f"LoRA {name!r} was trained on {trained.name} ({trained.family}) and does not fit "
        f"{model} ({family}): use it with --model {trained.name}, or another "
        f"{trained.family} model"
    )


def resolve_with_notes(
    params: ImagineParams,
    registry: Registry,
    defaults: UserDefaults | None = None,
    seed: int | None = None,
) -> tuple[Generation, list[str]]:
    """`resolve`, fitted to the model's family (inference/families/checks.py), with the notes
    to show the member (a CLIP feature translated, a flag with no effect)."""
    d = defaults or UserDefaults()
    entry = registry.model(params.model or d.model)
    sampler_name = params.sampler or d.sampler or DEFAULT_SAMPLER
    sampler(sampler_name)  # unknown names fail here, before any GPU work
    for lora in params.loras:
        if lora.key is None:  # a member's stored LoRA was checked by the bot (db/loras.py)
            registry.lora_path(lora.name)
        else:
            check_trained_on(lora.name, lora.base_model, entry.name, entry.family, registry)
    check_control(params.control, entry, registry)
    width, height = size_for(params.aspect_ratio or d.aspect_ratio, entry.base_size)
    negative = params.negative_prompt if params.negative_prompt is not None else d.negative_prompt
    gen = Generation(
        model=entry.name,
        prompt=params.prompt,
        parts=params.parts,
        negative_prompt=negative or "",
        width=width,
        height=height,
        steps=steps_for(params.steps, params.quality or d.quality, entry.default_steps),
        cfg=params.cfg if params.cfg is not None else (d.cfg or entry.default_cfg or DEFAULT_CFG),
        sampler=sampler_name,
        seed=next(s for s in (params.seed, seed, random_seed()) if s is not None),
        chaos=params.chaos or 0,
        tile=params.tile,
        fast=params.fast,
        clip_skip=params.clip_skip or d.clip_skip,
        rescale=params.rescale if params.rescale is not None else entry.cfg_rescale,
        dynthres=params.dynthres,
        loras=params.loras,
        references=references(params, registry, entry),
        control=params.control,
        blend=params.blend,
    )
    check_control_prompt(gen)
    return fit_to_family(family(entry.family), params, gen)


def imagine_spec(
    params: ImagineParams,
    registry: Registry,
    defaults: UserDefaults | None = None,
    job_id: uuid.UUID | None = None,
) -> JobSpec:
    generation, notes = resolve_with_notes(params, registry, defaults)
    return JobSpec(
        job_id=job_id or uuid.uuid4(),
        kind=JobKind.IMAGINE,
        params=params,
        generation=generation,
        notes=tuple(notes),
    )


def _check_index(parent: JobSpec, index: int) -> None:
    if not 1 <= index <= parent.generation.batch:
        raise BadRequestError(f"tile {index} does not exist: pick 1 to {parent.generation.batch}")


# An upscale may reach this many times the model's base pixel area (a 512² model: 2048×2048,
# a tile upscaled twice); beyond, memory and time (and the price) climb for little gain.
MAX_UPSCALE_AREA = 16


def check_upscale_size(gen: Generation, base_size: int) -> None:
    """BadRequestError when upscaling an image of this size would exceed the model's limit."""
    limit = MAX_UPSCALE_AREA * base_size * base_size
    if gen.width * 2 * gen.height * 2 > limit:
        raise BadRequestError(
            f"this image is already {gen.width}×{gen.height}: another 2x upscale would make "
            f"{gen.width * 2}×{gen.height * 2}, beyond what the {gen.model} model upscales to "
            f"({limit:,} pixels). Use Vary, or start from a grid tile"
        )


def one_image_spec(
    parent: JobSpec,
    index: int,
    mode: UpscaleMode,
    source_key: str,
    scale: int,
    job_id: uuid.UUID | None = None,
) -> JobSpec:
    """An `upscale` job: image `index` (1-based) alone, `scale` times each side, with that
    tile's seed and the parent's prompt; `mode` says how (2x img2img, the 4x GAN, or a pick)."""
    _check_index(parent, index)
    gen = parent.generation
    upscaled = gen.model_copy(
        update={
            "width": gen.width * scale,
            "height": gen.height * scale,
            "seed": tile_seed(gen.seed, index - 1),
            "batch": 1,
        }
    )
    return JobSpec(
        job_id=job_id or uuid.uuid4(),
        kind=JobKind.UPSCALE,
        params=parent.params,
        generation=Generation.model_validate(upscaled.model_dump()),
        source=SourceImage(job_id=parent.job_id, index=index, key=source_key),
        upscale_mode=mode,
    )


def upscale_spec(
    parent: JobSpec, index: int, mode: UpscaleMode, source_key: str, job_id: uuid.UUID | None = None
) -> JobSpec:
    """U1–U4: tile `index` (1-based) at 2x through hires img2img, same seed and prompt."""
    return one_image_spec(parent, index, mode, source_key, 2, job_id)


# The largest side an image may have (Generation's bound; also what Discord shows well).
MAX_SIDE = 4096


def upscale_4x_spec(
    parent: JobSpec,
    index: int,
    source_key: str,
    registry: Registry,
    job_id: uuid.UUID | None = None,
) -> JobSpec:
    """Upscale (4x): image `index` through models.toml's [upscaler], one image at 4x."""
    _check_index(parent, index)
    if registry.upscaler is None:
        raise BadRequestError(
            "Upscale (4x) is not set up on this server (no [upscaler] in models.toml)"
        )
    gen = parent.generation
    width, height = gen.width * 4, gen.height * 4
    if max(width, height) > MAX_SIDE:
        raise BadRequestError(
            f"this image is already {gen.width}×{gen.height}: Upscale (4x) would make "
            f"{width}×{height}, beyond the largest side Nanke makes ({MAX_SIDE} px)"
        )
    return one_image_spec(parent, index, UpscaleMode.GAN_4X, source_key, 4, job_id)


def vary_spec(
    parent: JobSpec,
    index: int,
    strong: bool,
    source_key: str,
    seed: int | None = None,
    job_id: uuid.UUID | None = None,
) -> JobSpec:
    """V1–V4: a new grid from tile `index`, new seeds; `strong` goes further from it."""
    _check_index(parent, index)
    gen = parent.generation
    varied = gen.model_copy(
        update={"seed": seed if seed is not None else random_seed(), "batch": 4}
    )
    return JobSpec(
        job_id=job_id or uuid.uuid4(),
        kind=JobKind.VARY_STRONG if strong else JobKind.VARY_SUBTLE,
        params=parent.params,
        generation=Generation.model_validate(varied.model_dump()),
        source=SourceImage(job_id=parent.job_id, index=index, key=source_key),
    )


def reroll_spec(
    parent: JobSpec, seed: int | None = None, job_id: uuid.UUID | None = None
) -> JobSpec:
    """🔄: the same request, new seeds (an explicit --seed is dropped, or it would repeat)."""
    gen = parent.generation
    rerolled = gen.model_copy(
        update={"seed": seed if seed is not None else random_seed(), "batch": 4}
    )
    return JobSpec(
        job_id=job_id or uuid.uuid4(),
        kind=JobKind.REROLL,
        params=parent.params,
        generation=Generation.model_validate(rerolled.model_dump()),
    )


def denoise_strength(spec: JobSpec, has_unclip: bool = False) -> float | None:
    """The img2img strength a job runs at; None for txt2img and unCLIP jobs."""
    if spec.kind == JobKind.UPSCALE:
        return UPSCALE_STRENGTH[spec.upscale_mode or UpscaleMode.SUBTLE]
    if spec.kind == JobKind.VARY_SUBTLE:
        return VARY_SUBTLE_STRENGTH
    if spec.kind == JobKind.VARY_STRONG and not has_unclip:
        return VARY_STRONG_IMG2IMG_STRENGTH
    return None
