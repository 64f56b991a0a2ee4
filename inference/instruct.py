"""`/edit` jobs: an instruction ("make it night") applied to an image by the server's edit
model (inference/edit_model.py), torch-free. The result is a 2x2 grid (four seeds) at the
model's base pixel area in the source's aspect ratio; sizes, the image count and every flag
are checked here, before anything is charged (docs/engine.md "Editing by instruction")."""

from __future__ import annotations

import math
import uuid

from inference.edit_model import edit_entry, edit_pipeline
from inference.errors import BadRequestError
from inference.families.checks import fit_to_family
from inference.registry import Registry
from inference.resolve import random_seed, steps_for
from pipeline.contracts import EditSpec, JobKind, JobSpec, SourceImage
from prompt.request import Generation, ImageRef, ImagineParams

MAX_RATIO = 4.0  # wider or taller sources are framed at 4:1 (the image is cropped to it)


def _refuse_flags(params: ImagineParams) -> None:
    """What an instruction cannot carry: the size and model come from the image and the
    server, and the images are the command's own."""
    if not params.prompt.strip():
        raise BadRequestError("say what to change, e.g. `make it night` or `add a red hat`")
    refused = [
        (params.aspect_ratio is not None, "--ar (an edit keeps the image's shape)"),
        (params.model is not None, "--model (edits run on the server's edit model)"),
        (bool(params.images or params.style_refs or params.object_ref), "image prompts"),
        (params.control is not None, "--cn"),
        (params.blend, "blending"),
    ]
    for bad, what in refused:
        if bad:
            raise BadRequestError(f"{what} cannot be used with /edit")


def edit_size(width: int, height: int, base_size: int) -> tuple[int, int]:
    """The image's aspect ratio (within 4:1) at base_size² pixels, sides in multiples of 16
    (what FLUX's 2 × 2-packed latents need; finer than /imagine's 64, so less is cropped)."""
    ratio = min(max(width / height, 1 / MAX_RATIO), MAX_RATIO)
    area = base_size * base_size
    return (
        max(64, round(math.sqrt(area * ratio) / 16) * 16),
        max(64, round(math.sqrt(area / ratio) / 16) * 16),
    )


def edit_generation(
    params: ImagineParams, registry: Registry, size: tuple[int, int], seed: int | None = None
) -> tuple[Generation, list[str]]:
    """The recipe of an edit of an image of `size` (width, height), and the member's notes."""
    _refuse_flags(params)
    entry, spec = edit_entry(registry)
    width, height = edit_size(*size, entry.base_size)
    sampler = params.sampler or spec.default_sampler or "euler"
    gen = Generation(
        model=entry.name,
        prompt=params.prompt,
        parts=params.parts,
        negative_prompt=params.negative_prompt or "",
        width=width,
        height=height,
        steps=steps_for(params.steps, params.quality, entry.default_steps),
        cfg=params.cfg if params.cfg is not None else spec.default_cfg,
        sampler=sampler,
        seed=next(s for s in (params.seed, seed, random_seed()) if s is not None),
        chaos=params.chaos or 0,
        tile=params.tile,
        clip_skip=params.clip_skip,
        rescale=params.rescale or 0.0,
        dynthres=params.dynthres,
        loras=params.loras,
    )
    return fit_to_family(spec, params, gen)


def _check_count(registry: Registry, count: int) -> None:
    title, most = edit_pipeline(edit_entry(registry)[1])
    if not 1 <= count <= most:
        takes = "one image" if most == 1 else f"1 to {most} images"
        raise BadRequestError(f"{title} edits {takes} at a time, not {count}")


def edit_spec(
    params: ImagineParams,
    registry: Registry,
    size: tuple[int, int],
    *,
    source: SourceImage | None = None,
    images: tuple[ImageRef, ...] = (),
    job_id: uuid.UUID | None = None,
    seed: int | None = None,
) -> JobSpec:
    """An edit of a job's image (`source`) or of attached images (`images`, the first is
    edited, the rest are references); `size` is the edited image's (width, height)."""
    _check_count(registry, (source is not None) + len(images))
    gen, notes = edit_generation(params, registry, size, seed)
    return JobSpec(
        job_id=job_id or uuid.uuid4(),
        kind=JobKind.EDIT,
        params=params,
        generation=gen,
        source=source,
        edit=EditSpec(images=images),
        notes=tuple(notes),
    )


def edit_from_job(
    parent: JobSpec,
    index: int,
    source_key: str,
    params: ImagineParams,
    registry: Registry,
    job_id: uuid.UUID | None = None,
    seed: int | None = None,
) -> JobSpec:
    """Edit… under an upscaled image (or a grid's tile `index`, 1-based)."""
    if not 1 <= index <= parent.generation.batch:
        raise BadRequestError(f"image {index} does not exist: pick 1 to {parent.generation.batch}")
    size = (parent.generation.width, parent.generation.height)
    source = SourceImage(job_id=parent.job_id, index=index, key=source_key)
    return edit_spec(params, registry, size, source=source, job_id=job_id, seed=seed)


def edit_again(
    parent: JobSpec,
    registry: Registry,
    params: ImagineParams | None = None,
    job_id: uuid.UUID | None = None,
) -> JobSpec:
    """🔄 on an edit's grid: the same images, new seeds; a remix changes the instruction."""
    if params is None:
        gen = parent.generation.model_copy(update={"seed": random_seed()})
        return parent.model_copy(update={"job_id": job_id or uuid.uuid4(), "generation": gen})
    size = (parent.generation.width, parent.generation.height)
    images = parent.edit.images if parent.edit is not None else ()
    return edit_spec(params, registry, size, source=parent.source, images=images, job_id=job_id)
