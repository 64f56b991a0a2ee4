"""Editing by instruction on the edit model (`edit` jobs): FLUX.1 Kontext through
`FluxKontextPipeline` (derived with `from_pipe`: the flux model's weights), FLUX.2 [klein]
through its own pipeline with the images as references (`image=[…]`, up to 3).

Every input image is fitted to the job's size (cropped to its aspect ratio, then resized), so
the output has exactly the size the member was charged for; the safety checker sees the
inputs before any step runs. The PNG names the edit model and each input's pixel hash."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import diffusers
from PIL import Image, ImageOps

from inference.errors import BadRequestError
from inference.worker.families.base import DitAdapter
from pipeline.contracts import JobKind, JobSpec


def pixel_hash(image: Image.Image) -> str:
    """12 hex digits of the sha256 of the image's RGB pixels (the PNG's `Edit source`)."""
    rgb = image.convert("RGB")
    digest = hashlib.sha256(f"{rgb.width}x{rgb.height}:".encode())
    digest.update(rgb.tobytes())
    return digest.hexdigest()[:12]


def fit(image: Image.Image, width: int, height: int) -> Image.Image:
    """The image cropped to width:height around its centre and resized to it."""
    return ImageOps.fit(image.convert("RGB"), (width, height), Image.Resampling.LANCZOS)


def edit_pipe(model: Any, adapter: DitAdapter) -> Any:
    """The family's edit pipeline: the base pipeline itself (FLUX.2), or derived once."""
    name = adapter.spec.edit_pipeline
    if name is None:  # resolve refuses this first; a models.toml may have changed since
        raise BadRequestError(f"{adapter.spec.title} does not edit by instruction")
    if name == adapter.txt2img:
        return model.base
    if "edit" not in model.derived:
        pipe = getattr(diffusers, name).from_pipe(model.base)
        pipe.set_progress_bar_config(disable=True)  # not inherited by from_pipe
        model.derived["edit"] = pipe
    return model.derived["edit"]


def edit_inputs(
    spec: JobSpec, source: Image.Image | None, load: Callable[[str], Image.Image] | None
) -> list[Image.Image] | None:
    """An `edit` job's images: the source tile, or the attached ones (stored by hash);
    None for every other job."""
    if spec.kind is not JobKind.EDIT:
        return None
    refs = spec.edit.images if spec.edit is not None else ()
    if refs and load is None:
        raise BadRequestError("this engine has no storage to read the attached images from")
    loaded = [load(r.sha256) for r in refs if r.sha256 and load is not None]
    return ([source] if source is not None else []) + loaded


def check_inputs(images: list[Image.Image], checker: Any) -> None:
    if checker is not None and any(checker.flags(images)):
        raise BadRequestError(
            "an image you gave was flagged by this server's safety checker: use another "
            "image (your credits were refunded)"
        )


def edit_args(
    spec: JobSpec, model: Any, adapter: DitAdapter, images: list[Image.Image]
) -> tuple[Any, dict[str, Any], dict[str, str]]:
    """(pipeline, its image arguments, PNG fields) of an edit job."""
    gen = spec.generation
    if not images:
        raise BadRequestError("an edit job needs the image it edits")
    fitted = [fit(image, gen.width, gen.height) for image in images]
    pipe = edit_pipe(model, adapter)
    if adapter.spec.edit_pipeline == "FluxKontextPipeline":
        # Our size, not Kontext's preferred resolutions: the job was priced at this size.
        args: dict[str, Any] = {
            "image": fitted[0],
            "max_area": gen.width * gen.height,
            "_auto_resize": False,
        }
    else:
        args = {"image": fitted}
    fields = {
        "Edit model": f"{gen.model} ({adapter.spec.edit_pipeline})",
        "Edit source": pixel_hash(images[0]),
    }
    if len(images) > 1:
        fields["Edit references"] = ", ".join(pixel_hash(i) for i in images[1:])
    return pipe, args, fields
