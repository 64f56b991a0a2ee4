"""Loads each model once and keeps it warm; img2img pipelines are derived with `from_pipe`.

Derived pipelines share the base pipeline's modules (no extra weights), so LoRA adapters set
on the base apply to them too. Each model's original scheduler config is kept, so every job
builds its sampler from the model's own settings.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from inference.errors import ModelFileError
from inference.families import family
from inference.registry import ModelEntry, Registry, UnclipEntry
from inference.worker.embeddings import load_embeddings
from inference.worker.families import loading as dit_loading

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    entry: ModelEntry
    base: Any  # txt2img pipeline
    scheduler_config: dict[str, Any]
    derived: dict[str, Any] = field(default_factory=dict)

    @property
    def sdxl(self) -> bool:
        return self.entry.family == "sdxl"

    def encoders(self) -> list[tuple[Any, Any]]:
        pairs = [(self.base.tokenizer, self.base.text_encoder)]
        if self.sdxl:
            pairs.append((self.base.tokenizer_2, self.base.text_encoder_2))
        return pairs

    def img2img(self) -> Any:
        if "img2img" not in self.derived:
            import diffusers

            cls = (
                diffusers.StableDiffusionXLImg2ImgPipeline
                if self.sdxl
                else diffusers.StableDiffusionImg2ImgPipeline
            )
            pipe = cls.from_pipe(self.base)
            pipe.set_progress_bar_config(disable=True)  # not inherited by from_pipe
            self.derived["img2img"] = pipe
        return self.derived["img2img"]

    @property
    def dedicated_inpaint(self) -> bool:
        return self.entry.inpaint is not None


@dataclass
class LoadedUnclip:
    entry: UnclipEntry
    pipe: Any
    scheduler_config: dict[str, Any]


@contextmanager
def quiet_loading(enabled: bool) -> Iterator[None]:
    """No per-component progress bars for local loads (they take a second, not minutes)."""
    import diffusers
    import transformers

    if not enabled:
        yield
        return
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    try:
        yield
    finally:
        diffusers.utils.logging.enable_progress_bar()
        transformers.utils.logging.enable_progress_bar()


def _missing_component(entry: ModelEntry, error: str) -> ModelFileError:
    """A single-file checkpoint shipped without its VAE or text encoder, in one line."""
    if "AutoencoderKL" in error:
        return ModelFileError(
            f"model {entry.name!r}: {entry.source} holds no VAE; add "
            '`vae = "<diffusers VAE folder or hub id>"` to its models.toml entry'
        )
    return ModelFileError(
        f"model {entry.name!r}: {entry.source} holds no text encoder (a UNet-only file?); "
        "point its models.toml `source` at a full checkpoint",
        detail=error.strip().splitlines()[0] if error.strip() else None,
    )


def _load_error(what: str, source: str, exc: Exception) -> ModelFileError:
    if _hub_unreachable(exc):
        return ModelFileError(
            f"cannot load {what}: {source} is not in the local Hugging Face cache and the hub "
            "is unreachable (offline?). Download it once while online, point its models.toml "
            "`source` at a local diffusers folder, or try the tiny test models: "
            "`nanke make-tiny-models ./tiny-models`, then `--models ./tiny-models/models.toml`"
        )
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ModelFileError(f"cannot load {what}", detail=f"{source}: {first}")


_OFFLINE_HINTS = ("not fully cached locally", "outgoing traffic has been disabled", "connect")


def _hub_unreachable(exc: BaseException | None) -> bool:
    """A hub download that failed for want of a network (diffusers words it "check the
    stacktrace above"), anywhere in the exception's chain."""
    seen = 0
    while exc is not None and seen < 10:
        name = type(exc).__name__
        if name in {"LocalEntryNotFoundError", "OfflineModeIsEnabled", "ConnectError"}:
            return True
        if any(hint in str(exc) for hint in _OFFLINE_HINTS) and "Hub" in str(exc) + name:
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def weights_bytes(pipe: Any) -> int:
    """Bytes of a pipeline's parameters and buffers (what it holds on its device)."""
    total = 0
    for component in getattr(pipe, "components", {}).values():
        if isinstance(component, torch.nn.Module):
            for tensor in (*component.parameters(), *component.buffers()):
                total += tensor.numel() * tensor.element_size()
    return total


class PipelineCache:
    """Warm pipelines, at most `max_models` base models at once (least recently used leaves)."""

    def __init__(
        self,
        registry: Registry,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        max_models: int = 2,
        prepare: Callable[[Any, str], None] | None = None,
        memory_budget_bytes: int | None = None,
    ) -> None:
        self.registry = registry
        # Called once per loaded base model with (pipeline, family): tuning, compilation.
        self._prepare = prepare
        self.device = torch.device(device)
        self.dtype = dtype
        self.max_models = max_models
        # With a budget, models are evicted by the memory their weights take, not by count.
        self.memory_budget_bytes = memory_budget_bytes
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._sizes: dict[str, int] = {}  # bytes of each model's weights, measured at load
        self.loads = 0  # models loaded since start (a worker publishes it)
        self._unclip: LoadedUnclip | None = None

    def model(self, name: str) -> LoadedModel:
        if name in self._models:
            self._models.move_to_end(name)
            return self._models[name]
        entry = self.registry.model(name)
        self._make_room(name)
        loaded = self._load(entry)
        self._models[name] = loaded
        self._sizes[name] = weights_bytes(loaded.base)
        self.loads += 1
        self._make_room(None)
        return loaded

    def loaded_names(self) -> list[str]:
        """The models loaded now, least recently used first (safe from any thread)."""
        for _ in range(5):
            try:
                return list(self._models)
            except RuntimeError:  # resized by the engine thread while copied: copy again
                continue
        return []

    def _make_room(self, incoming: str | None) -> None:
        """Evict least recently used models: by count without a budget; with one, until the
        loaded weights plus the incoming model's (its last measured size, or the largest
        seen) fit. The model just loaded always stays, even alone over budget."""
        if self.memory_budget_bytes is None:
            while incoming is not None and len(self._models) >= self.max_models:
                self._models.popitem(last=False)
            return
        expected = 0
        if incoming is not None:
            expected = self._sizes.get(incoming, max(self._sizes.values(), default=0))
        while len(self._models) > (0 if incoming is not None else 1):
            used = sum(self._sizes.get(n, 0) for n in self._models)
            if used + expected <= self.memory_budget_bytes:
                return
            evicted, _ = self._models.popitem(last=False)
            log.info("unloading model %s to stay within the memory budget", evicted)

    def unclip(self) -> LoadedUnclip | None:
        entry = self.registry.unclip
        if entry is None:
            return None
        if self._unclip is None:
            import diffusers

            if entry.kind != "hub" and not Path(entry.source).exists():
                raise ModelFileError(f"unCLIP model {entry.source} does not exist (models.toml)")
            try:
                with quiet_loading(entry.kind != "hub"):
                    pipe = diffusers.StableUnCLIPImg2ImgPipeline.from_pretrained(
                        entry.source, dtype=self.dtype
                    )
            except (OSError, ValueError, KeyError) as exc:
                raise _load_error("the unCLIP model", entry.source, exc) from None
            pipe.to(self.device)
            pipe.set_progress_bar_config(disable=True)
            self._unclip = LoadedUnclip(entry, pipe, dict(pipe.scheduler.config))
        return self._unclip

    def inpaint(self, model: LoadedModel) -> Any:
        """The model's inpainting pipeline: its dedicated checkpoint (models.toml `inpaint`,
        loaded once), else the base model's weights through the inpainting pipeline, which
        then repaints by masked img2img (docs/engine.md "Editing")."""
        if "inpaint" in model.derived:
            return model.derived["inpaint"]
        import diffusers

        cls = (
            diffusers.StableDiffusionXLInpaintPipeline
            if model.sdxl
            else diffusers.StableDiffusionInpaintPipeline
        )
        entry = model.entry
        if entry.inpaint is None:
            pipe = cls.from_pipe(model.base)
        else:
            pipe = self._load_inpaint(cls, entry)
            # Its own scheduler settings, kept before any job replaces its scheduler.
            model.derived["inpaint_scheduler_config"] = dict(pipe.scheduler.config)
        pipe.set_progress_bar_config(disable=True)  # not inherited by from_pipe
        model.derived["inpaint"] = pipe
        return pipe

    def _load_inpaint(self, cls: Any, entry: ModelEntry) -> Any:
        assert entry.inpaint is not None
        what = f"the inpainting model of {entry.name!r}"
        if entry.inpaint_kind != "hub" and not Path(entry.inpaint).exists():
            raise ModelFileError(f"{what}: {entry.inpaint} does not exist; fix `inpaint`")
        extra: dict[str, Any] = {} if entry.family == "sdxl" else {"safety_checker": None}
        log.info("loading %s from %s", what, entry.inpaint)
        try:
            with quiet_loading(entry.inpaint_kind != "hub"):
                pipe = cls.from_pretrained(entry.inpaint, dtype=self.dtype, **extra)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise _load_error(what, entry.inpaint, exc) from None
        latent = pipe.vae.config.latent_channels
        if pipe.unet.config.in_channels != 2 * latent + 1:
            raise ModelFileError(
                f"{what} ({entry.inpaint}) is not an inpainting checkpoint (its UNet takes "
                f"{pipe.unet.config.in_channels} channels, not {2 * latent + 1}): remove "
                "`inpaint` to repaint with the base model"
            )
        pipe.to(self.device)
        load_embeddings(pipe, self.registry.embeddings(), sdxl=entry.family == "sdxl")
        # Not compiled and without LoRA slots (rare jobs, as Stable unCLIP): its UNet is its own.
        return pipe

    def _load(self, entry: ModelEntry) -> LoadedModel:
        import diffusers

        entry.check_files()
        sdxl = entry.family == "sdxl"
        cls = diffusers.StableDiffusionXLPipeline if sdxl else diffusers.StableDiffusionPipeline
        extra: dict[str, Any] = {} if sdxl else {"safety_checker": None}
        dit = not family(entry.family).clip_only  # flux, zimage, sd3, flux2: their own pipeline
        if dit:  # models.toml's quantize / transformer_file (inference/families/memory.py)
            cls = getattr(diffusers, family(entry.family).pipelines[0])
            extra = dit_loading.load_kwargs(entry, self.dtype)
        log.info("loading model %s from %s", entry.name, entry.source)
        try:
            with quiet_loading(entry.kind != "hub"):
                pipe = self._from_files(cls, entry, extra)
        except ModelFileError:
            raise
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise _load_error(f"model {entry.name!r}", entry.source, exc) from None
        except Exception as exc:
            if type(exc).__name__ != "SingleFileComponentError":
                raise
            raise _missing_component(entry, str(exc)) from None
        if dit:  # no UNet, embeddings or compilation (inference/worker/families/runner.py)
            dit_loading.place(pipe, entry, self.device)  # or CPU offload; the cache hooks
            pipe.set_progress_bar_config(disable=True)
            return LoadedModel(entry, pipe, dict(pipe.scheduler.config))
        unet = pipe.unet.config
        # An unCLIP, upscaler or inpainting checkpoint loads as a text-to-image pipeline but
        # fails on the first job with a library error: refuse it at load, by name.
        if (
            unet.class_embed_type is not None
            or unet.num_class_embeds is not None
            or (unet.in_channels != pipe.vae.config.latent_channels)
        ):
            raise ModelFileError(
                f"model {entry.name!r} ({entry.source}) is not a plain text-to-image "
                "checkpoint (unCLIP, upscaler or inpainting?): point `source` at a base model; "
                "an unCLIP model belongs in the [unclip] section"
            )
        pipe.to(self.device)
        pipe.set_progress_bar_config(disable=True)
        load_embeddings(pipe, self.registry.embeddings(), sdxl=sdxl)
        if self._prepare is not None:
            self._prepare(pipe, entry.family)
        # models.toml's prediction_type / zero_terminal_snr: every job's sampler starts from them.
        return LoadedModel(entry, pipe, {**pipe.scheduler.config, **entry.scheduler_overrides()})

    def _from_files(self, cls: Any, entry: ModelEntry, extra: dict[str, Any]) -> Any:
        if entry.vae is not None:
            from diffusers import AutoencoderKL

            extra = {**extra, "vae": AutoencoderKL.from_pretrained(entry.vae, dtype=self.dtype)}
        if entry.kind == "single_file":
            if entry.config is None:
                raise ModelFileError(
                    f'model {entry.name!r} is a single file: add `config = "<diffusers '
                    'model dir or hub id>"` to its models.toml entry so it loads offline'
                )
            return cls.from_single_file(
                entry.source, config=entry.config, dtype=self.dtype, **extra
            )
        # A hub id downloads on first use, with huggingface_hub's progress bars.
        return cls.from_pretrained(entry.source, dtype=self.dtype, **extra)
