"""The edit jobs' specs: Zoom Out, Pan, Make Square and Vary (Region) (torch-free).

Each starts from one image of a finished job (`index`, 1-based: a grid tile or the upscaled
image) and makes a new 2x2 grid with new seeds. Sizes and limits are checked here, before
anything is charged (docs/engine.md "Editing").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from math import gcd

from inference.canvas import (
    REGION_LABELS,
    Placement,
    pan_placement,
    region_shapes,
    square_placement,
    zoom_placement,
)
from inference.errors import BadRequestError
from inference.registry import Registry
from inference.resolve import (
    MAX_UPSCALE_AREA,
    one_image_spec,
    random_seed,
    resolve,
    size_for,
)
from pipeline.contracts import (
    EditSpec,
    JobKind,
    JobSpec,
    MaskShape,
    PanDirection,
    SourceImage,
    UpscaleMode,
)
from prompt.request import Generation, ImagineParams

EDIT_KINDS = (JobKind.ZOOM, JobKind.PAN, JobKind.SQUARE, JobKind.VARY_REGION)
# Grids whose tiles are at the source's full size: U picks a tile instead of upscaling it, so
# a pan's result can be panned again (up to the model's limit).
PICK_PARENTS = (JobKind.PAN, JobKind.SQUARE, JobKind.VARY_REGION)
OUTPAINT_KINDS = (JobKind.ZOOM, JobKind.PAN, JobKind.SQUARE)
# How much of the masked area is repainted. A dedicated inpainting checkpoint sees the kept
# pixels as conditioning and repaints from noise; the base model (masked img2img) starts from
# the source (or the outpainting fill) so its colours carry into the new area.
OUTPAINT_STRENGTH = 0.95
REGION_STRENGTH = {True: 1.0, False: 0.85}  # dedicated inpainting model?


def pixel_limit(registry: Registry, model: str) -> int:
    """The most pixels an edit may paint on this model (as upscales: 16× its base area)."""
    base = registry.model(model).base_size
    return MAX_UPSCALE_AREA * base * base


def _check_index(parent: JobSpec, index: int) -> None:
    if not 1 <= index <= parent.generation.batch:
        raise BadRequestError(f"image {index} does not exist: pick 1 to {parent.generation.batch}")


def _ratio(width: int, height: int) -> str:
    d = gcd(width, height)
    return f"{width // d}:{height // d}"


def _edit_spec(
    parent: JobSpec,
    index: int,
    source_key: str,
    kind: JobKind,
    gen: Generation,
    edit: EditSpec,
    params: ImagineParams | None,
    job_id: uuid.UUID | None,
    seed: int | None,
) -> JobSpec:
    _check_index(parent, index)
    new = gen.model_copy(update={"seed": seed if seed is not None else random_seed(), "batch": 4})
    return JobSpec(
        job_id=job_id or uuid.uuid4(),
        kind=kind,
        params=params or parent.params,
        generation=Generation.model_validate(new.model_dump()),
        source=SourceImage(job_id=parent.job_id, index=index, key=source_key),
        edit=edit,
    )


def _sized(gen: Generation, placement: Placement) -> Generation:
    return gen.model_copy(update={"width": placement.width, "height": placement.height})


def _base(parent: JobSpec, registry: Registry, params: ImagineParams | None) -> Generation:
    """The parent's recipe, or a remixed prompt resolved afresh (new model, flags...)."""
    if params is None:
        return parent.generation
    return resolve(params, registry)


Place = Callable[[tuple[int, int], Generation], tuple[Placement, EditSpec]]


def _outpaint_spec(
    kind: JobKind,
    parent: JobSpec,
    index: int,
    source_key: str,
    registry: Registry,
    params: ImagineParams | None,
    job_id: uuid.UUID | None,
    seed: int | None,
    place: Place,
) -> JobSpec:
    """Zoom, pan and square alike: the source's size and the job's recipe → where the source
    goes in the canvas (`place`, which also refuses sizes) → the job."""
    source = (parent.generation.width, parent.generation.height)
    gen = _base(parent, registry, params)
    placement, edit = place(source, gen)
    sized = _sized(gen, placement)
    return _edit_spec(parent, index, source_key, kind, sized, edit, params, job_id, seed)


def zoom_spec(
    parent: JobSpec,
    index: int,
    factor: float,
    source_key: str,
    registry: Registry,
    params: ImagineParams | None = None,
    job_id: uuid.UUID | None = None,
    seed: int | None = None,
) -> JobSpec:
    """Zoom Out: a grid at the model's size; `params.aspect_ratio` (remix `--ar`) sets the
    frame, else the source's own ratio."""

    def place(source: tuple[int, int], gen: Generation) -> tuple[Placement, EditSpec]:
        entry = registry.model(gen.model)
        ratio = params.aspect_ratio if params and params.aspect_ratio else _ratio(*source)
        placement = zoom_placement(source, factor, size_for(ratio, entry.base_size))
        return placement, EditSpec(factor=round(factor, 3), box=placement.box)

    args = (parent, index, source_key, registry, params, job_id, seed)
    return _outpaint_spec(JobKind.ZOOM, *args, place)


def pan_spec(
    parent: JobSpec,
    index: int,
    direction: PanDirection,
    source_key: str,
    registry: Registry,
    params: ImagineParams | None = None,
    job_id: uuid.UUID | None = None,
    seed: int | None = None,
) -> JobSpec:
    def place(source: tuple[int, int], gen: Generation) -> tuple[Placement, EditSpec]:
        placement = pan_placement(source, direction, pixel_limit(registry, gen.model))
        return placement, EditSpec(direction=direction, box=placement.box)

    args = (parent, index, source_key, registry, params, job_id, seed)
    return _outpaint_spec(JobKind.PAN, *args, place)


def square_spec(
    parent: JobSpec,
    index: int,
    source_key: str,
    registry: Registry,
    params: ImagineParams | None = None,
    job_id: uuid.UUID | None = None,
    seed: int | None = None,
) -> JobSpec:
    def place(source: tuple[int, int], gen: Generation) -> tuple[Placement, EditSpec]:
        placement = square_placement(source, pixel_limit(registry, gen.model))
        return placement, EditSpec(box=placement.box)

    args = (parent, index, source_key, registry, params, job_id, seed)
    return _outpaint_spec(JobKind.SQUARE, *args, place)


def region_spec(
    parent: JobSpec,
    index: int,
    source_key: str,
    registry: Registry,
    *,
    region: str | None = None,
    shapes: tuple[MaskShape, ...] = (),
    mask_key: str | None = None,
    params: ImagineParams | None = None,
    job_id: uuid.UUID | None = None,
    seed: int | None = None,
) -> JobSpec:
    """Vary (Region): repaint a preset `region`, drawn `shapes` or a stored mask PNG; the grid
    keeps the source's size (a remix may change the prompt, never the size)."""
    if region is not None:
        shapes = region_shapes(region)
    if not shapes and mask_key is None:
        raise BadRequestError("Vary (Region) needs a region: choose one, or draw it")
    gen = _base(parent, registry, params).model_copy(
        update={"width": parent.generation.width, "height": parent.generation.height}
    )
    edit = EditSpec(region=region, shapes=shapes, mask_key=mask_key)
    return _edit_spec(
        parent, index, source_key, JobKind.VARY_REGION, gen, edit, params, job_id, seed
    )


def pick_spec(
    parent: JobSpec, index: int, source_key: str, job_id: uuid.UUID | None = None
) -> JobSpec:
    """U on a pan, square or region grid: tile `index` as it is, one image (no GPU work)."""
    return one_image_spec(parent, index, UpscaleMode.PICK, source_key, 1, job_id)


def edit_label(spec: JobSpec) -> str:
    """How an edit is named to people: "Zoom Out 2x", "Pan ⬅️", "Vary (Region): Left half"."""
    edit = spec.edit or EditSpec()
    if spec.kind is JobKind.ZOOM:
        return f"Zoom Out {edit.factor or 2:g}x"
    if spec.kind is JobKind.PAN:
        arrows = {"left": "⬅️", "right": "➡️", "up": "⬆️", "down": "⬇️"}
        return f"Pan {arrows[edit.direction.value]}" if edit.direction else "Pan"
    if spec.kind is JobKind.SQUARE:
        return "Make Square"
    if edit.region:
        return f"Vary (Region): {REGION_LABELS.get(edit.region, edit.region)}"
    return "Vary (Region)"
