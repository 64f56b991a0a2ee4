"""The bot's Resolver on the engine's torch-free rules (inference/resolve.py, models.toml)."""

from __future__ import annotations

from uuid import UUID

from bot.services.ports import UserPrefs
from inference.errors import (
    BadRequestError,
    UnknownLoraError,
    UnknownModelError,
    UnknownSamplerError,
)
from inference.registry import Registry
from inference.resolve import (
    UserDefaults,
    check_upscale_size,
    imagine_spec,
    reroll_spec,
    resolve,
    upscale_spec,
    vary_spec,
)
from pipeline.contracts import JobKind, JobSpec, UpscaleMode
from prompt.request import ImagineParams

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
        return imagine_spec(params, self._registry, defaults_of(prefs), job_id=job_id)

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
    ) -> JobSpec:
        if params is not None:
            # Remix: the edited prompt, resolved afresh, stands in for the parent's request.
            generation = resolve(params, self._registry, defaults_of(prefs))
            parent = parent.model_copy(update={"params": params, "generation": generation})
        if kind is JobKind.REROLL:
            return reroll_spec(parent, job_id=job_id)
        if index is None or source_key is None:
            raise BadRequestError(f"{kind.value} needs a tile of the image it starts from")
        if kind is JobKind.UPSCALE:
            mode = upscale_mode or UpscaleMode.SUBTLE
            entry = self._registry.model(parent.generation.model)
            check_upscale_size(parent.generation, entry.base_size)
            return upscale_spec(parent, index, mode, source_key, job_id=job_id)
        if kind in (JobKind.VARY_SUBTLE, JobKind.VARY_STRONG):
            strong = kind is JobKind.VARY_STRONG
            return vary_spec(parent, index, strong, source_key, job_id=job_id)
        raise BadRequestError(f"{kind.value} is not a follow-up job")
