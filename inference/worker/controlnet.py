"""ControlNet jobs: each family's ControlNetModel per module (models.toml `[controlnet.<family>]`,
loaded once), the ControlNet pipelines derived from the base model with `from_pipe` (shared
weights, so the base model's LoRAs apply), and the map the job is steered by.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from inference.control import control_fields
from inference.errors import BadRequestError, ModelFileError
from inference.registry import Registry
from inference.worker.control_maps import Preprocessors
from inference.worker.pipelines import LoadedModel, quiet_loading
from inference.worker.safety import SafetyChecker, check_inputs
from prompt.request import Generation

log = logging.getLogger(__name__)


def image_hash(image: Image.Image) -> str:
    """A control image given as pixels (not stored): its content hash, 12 hex digits."""
    digest = hashlib.sha256(f"{image.mode}:{image.width}x{image.height}:".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()[:12]


@dataclass
class ControlRun:
    """What a ControlNet job adds to its pipeline call, its PNG text and its stored files."""

    pipe: Any
    control_map: Image.Image
    weight: float
    img2img: bool
    fields: dict[str, str] = field(default_factory=dict)

    def pipeline_kwargs(self, batch: int) -> dict[str, Any]:
        key = "control_image" if self.img2img else "image"
        return {key: [self.control_map] * batch, "controlnet_conditioning_scale": self.weight}


class ControlNets:
    def __init__(
        self,
        registry: Registry,
        device: torch.device,
        dtype: torch.dtype,
        load_reference: Callable[[str], Image.Image] | None = None,
    ) -> None:
        """`load_reference(sha256)`: a stored member image (the control image of a job)."""
        self.registry = registry
        self.device = device
        self.dtype = dtype
        self._load_reference = load_reference
        self.maps = Preprocessors(registry, device, dtype)
        self._nets: dict[tuple[str, str], Any] = {}

    def _net(self, family: str, module: str) -> Any:
        if (family, module) not in self._nets:
            from diffusers import ControlNetModel

            located = self.registry.controlnets.get(family, {}).get(module)
            if located is None:
                raise BadRequestError(f"no {module} ControlNet for the {family} family")
            if located.kind != "hub" and not Path(located.source).exists():
                raise ModelFileError(f"ControlNet {located.source} does not exist (models.toml)")
            log.info("loading the %s %s ControlNet from %s", family, module, located.source)
            try:
                with quiet_loading(located.kind != "hub"):
                    net = ControlNetModel.from_pretrained(located.source, dtype=self.dtype)
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                raise ModelFileError(
                    f"cannot load the {family} {module} ControlNet",
                    detail=f"{located.source}: {exc}",
                ) from None
            self._nets[family, module] = net.to(self.device).eval()
        return self._nets[family, module]

    def pipeline(self, model: LoadedModel, module: str, img2img: bool) -> Any:
        """The base model's ControlNet pipeline for `module` (txt2img or img2img), kept."""
        key = f"controlnet-{module}-{'img2img' if img2img else 'txt2img'}"
        if key not in model.derived:
            import diffusers

            names = {
                (False, False): "StableDiffusionControlNetPipeline",
                (False, True): "StableDiffusionControlNetImg2ImgPipeline",
                (True, False): "StableDiffusionXLControlNetPipeline",
                (True, True): "StableDiffusionXLControlNetImg2ImgPipeline",
            }
            cls = getattr(diffusers, names[model.sdxl, img2img])
            net = self._net(model.entry.family, module)
            pipe = cls.from_pipe(model.base, controlnet=net)
            pipe.set_progress_bar_config(disable=True)  # not inherited by from_pipe
            model.derived[key] = pipe
        return model.derived[key]

    def prepare(
        self,
        model: LoadedModel,
        gen: Generation,
        image: Image.Image | None,
        img2img: bool,
        checker: SafetyChecker | None = None,
    ) -> ControlRun | None:
        """The ControlNet pipeline (same weights as the base model) and map of a --cn job;
        None for a job without --cn. A control image the safety `checker` flags refuses the
        job (BadRequestError: it fails and is refunded), like image prompts."""
        control = gen.control
        if control is None:
            return None
        stored = control.image.sha256 if control.image is not None else None
        if image is None and stored is not None and self._load_reference is not None:
            image = self._load_reference(stored)
        if image is None:
            raise BadRequestError("a --cn job needs its control image")
        check_inputs([image], checker)
        pipe = self.pipeline(model, control.module, img2img)
        control_map = self.maps.make_map(control.module, image, gen.width, gen.height)
        size = max(gen.width, gen.height)
        shown = stored[:12] if stored is not None else image_hash(image)
        fields = control_fields(self.registry, model.entry.family, control, shown, size)
        return ControlRun(pipe, control_map, control.weight, img2img, fields)
