"""The bot's Resolver on the engine's torch-free rules (inference/resolve.py, models.toml)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from bot.services.ports import UserPrefs
from inference.describe import describe_spec
from inference.edits import (
    EDIT_KINDS,
    pan_spec,
    pick_spec,
    region_spec,
    square_spec,
    zoom_spec,
)
from inference.errors import (
    BadRequestError,
    UnknownLoraError,
    UnknownModelError,
    UnknownSamplerError,
)
from inference.families import family
from inference.families.checks import check_edit
from inference.instruct import edit_again, edit_from_job, edit_spec
from inference.registry import Registry
from inference.resolve import (
    UserDefaults,
    check_upscale_size,
    imagine_spec,
    random_seed,
    reroll_spec,
    resolve,
    upscale_4x_spec,
    upscale_spec,
    vary_spec,
)
from pipeline.contracts import EditSpec, JobKind, JobSpec, UpscaleMode
from prompt.request import ImageRef, ImagineParams, PromptPart

# What a member can fix by changing the prompt: shown like a parser error, nothing charged.
RESOLVE_ERRORS: tuple[type[Exception], ...] = (
    BadRequestError,
    UnknownLoraError,
    UnknownModelError,
    UnknownSamplerError,
)


def defaults_of(prefs: UserPrefs | None) -> UserDefaults:
    if prefs is None:
        return UserDefaults()
    return UserDefaults(
        model=prefs.model,
        sampler=prefs.sampler,
        aspect_ratio=prefs.aspect_ratio,
        quality=prefs.quality,
    )


class RegistryResolver:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def imagine(self, job_id: UUID, params: ImagineParams, prefs: UserPrefs) -> JobSpec:
        spec = imagine_spec(params, self._registry, defaults_of(prefs), job_id=job_id)
        control = params.control
        if control is not None and control.image is None:
            # A URL (fetched by the worker, pipeline/job_images.py) or the `control`
            # attachment (stored at intake) fills it; neither: refuse before any charge.
            raise BadRequestError(
                f"--cn {control.module} needs an image: attach it as `control`, or put its "
                f"URL after the module, e.g. --cn {control.module} https://example.com/photo.png"
            )
        return spec

    def describe(self, job_id: UUID, image: ImageRef) -> JobSpec:
        return describe_spec(job_id, image, self._registry)

    def train_target(self, model: str | None) -> TrainTarget:
        return train_target(self._registry, model)

    def prompt_from_image(self, data: bytes) -> tuple[str, list[str]]:
        """An A1111/Civitai image's parameters as a prompt, mapped to what is installed."""
        from bot.services.from_image import prompt_from_image

        return prompt_from_image(data, self._registry)

    def edit(
        self,
        job_id: UUID,
        params: ImagineParams,
        images: tuple[ImageRef, ...],
        size: tuple[int, int],
    ) -> JobSpec:
        """/edit on attached images (stored; the first, of `size`, is the one edited)."""
        return edit_spec(params, self._registry, size, images=images, job_id=job_id)

    def follow_up(
        self,
        job_id: UUID,
        parent: JobSpec,
        kind: JobKind,
        index: int | None,
        source_key: str | None,
        upscale_mode: UpscaleMode | None = None,
        params: ImagineParams | None = None,
        prefs: UserPrefs | None = None,
        edit: EditSpec | None = None,
    ) -> JobSpec:
        if kind in EDIT_KINDS:
            if index is None or source_key is None:
                raise BadRequestError(f"{kind.value} needs the image it starts from")
            return self._edit(job_id, parent, kind, index, source_key, edit or EditSpec(), params)
        if kind is JobKind.EDIT:  # Edit…: the instruction is the remix text
            if index is None or source_key is None:
                raise BadRequestError("an edit needs the image it starts from")
            # Without one: the check before the box opens (the model, the image's size).
            instruction = params or ImagineParams(prompt="edit", parts=(PromptPart(text="edit"),))
            registry = self._registry
            return edit_from_job(parent, index, source_key, instruction, registry, job_id)
        if kind is JobKind.REROLL and parent.kind is JobKind.EDIT:
            return edit_again(parent, self._registry, params, job_id)
        if kind is JobKind.REROLL and parent.kind in EDIT_KINDS:
            return self._edit_again(job_id, parent, params, prefs)
        if params is not None:
            # Remix: the edited prompt, resolved afresh, stands in for the parent's request.
            generation = resolve(params, self._registry, defaults_of(prefs))
            parent = parent.model_copy(update={"params": params, "generation": generation})
        if kind is JobKind.REROLL:
            return reroll_spec(parent, job_id=job_id)
        if index is None or source_key is None:
            raise BadRequestError(f"{kind.value} needs a tile of the image it starts from")
        if kind is JobKind.UPSCALE and upscale_mode is UpscaleMode.PICK:
            return pick_spec(parent, index, source_key, job_id=job_id)
        if kind is JobKind.UPSCALE and upscale_mode is UpscaleMode.GAN_4X:
            return upscale_4x_spec(parent, index, source_key, self._registry, job_id=job_id)
        if kind is JobKind.UPSCALE:
            mode = upscale_mode or UpscaleMode.SUBTLE
            entry = self._registry.model(parent.generation.model)
            check_upscale_size(parent.generation, entry.base_size)
            return upscale_spec(parent, index, mode, source_key, job_id=job_id)
        if kind in (JobKind.VARY_SUBTLE, JobKind.VARY_STRONG):
            strong = kind is JobKind.VARY_STRONG
            return vary_spec(parent, index, strong, source_key, job_id=job_id)
        raise BadRequestError(f"{kind.value} is not a follow-up job")

    def _edit(
        self,
        job_id: UUID,
        parent: JobSpec,
        kind: JobKind,
        index: int,
        key: str,
        edit: EditSpec,
        params: ImagineParams | None,
    ) -> JobSpec:
        """Zoom, pan, square, vary_region from one image (inference/edits.py); sizes and the
        model's pixel limit are checked here, before anything is charged."""
        registry = self._registry
        check_edit(family(registry.model(parent.generation.model).family), kind.value)
        if kind is JobKind.ZOOM:
            factor = edit.factor or 2.0
            return zoom_spec(parent, index, factor, key, registry, params, job_id=job_id)
        if kind is JobKind.PAN:
            if edit.direction is None:
                raise BadRequestError("a pan needs a direction")
            return pan_spec(parent, index, edit.direction, key, registry, params, job_id=job_id)
        if kind is JobKind.SQUARE:
            return square_spec(parent, index, key, registry, params, job_id=job_id)
        return region_spec(
            parent,
            index,
            key,
            registry,
            region=edit.region,
            shapes=edit.shapes,
            params=params,
            job_id=job_id,
        )

    def _edit_again(
        self, job_id: UUID, parent: JobSpec, params: ImagineParams | None, prefs: UserPrefs | None
    ) -> JobSpec:
        """🔄 on an edit's grid: the same edit of the same image, new seeds (and a remixed
        prompt at the same canvas size)."""
        gen = parent.generation
        if params is not None:
            fresh = resolve(params, self._registry, defaults_of(prefs))
            gen = fresh.model_copy(update={"width": gen.width, "height": gen.height})
        gen = gen.model_copy(update={"seed": random_seed()})
        return parent.model_copy(
            update={"job_id": job_id, "params": params or parent.params, "generation": gen}
        )


@dataclass(frozen=True)
class TrainTarget:
    """The base model a /train run uses and what its family trains at."""

    model: str
    family: str
    resolution: int
    default_steps: int


def train_target(registry: Registry, model: str | None) -> TrainTarget:
    """The member's model (or the server's default), if its family can be trained on."""
    from inference.train_config import FAMILY_TRAIN_DEFAULTS

    entry = registry.model(model)  # UnknownModelError names the installed ones
    defaults = FAMILY_TRAIN_DEFAULTS.get(entry.family)
    if defaults is None:
        trainable = ", ".join(sorted(FAMILY_TRAIN_DEFAULTS))
        raise BadRequestError(
            f"model {entry.name!r} ({entry.family}) cannot be trained on; pick a model of the "
            f"{trainable} families with /settings model"
        )
    # The model's base size is the training resolution (the tiny test model: 64 px).
    return TrainTarget(entry.name, entry.family, entry.base_size, defaults.steps)
