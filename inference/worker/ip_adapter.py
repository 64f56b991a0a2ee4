"""Image prompts and references through IP-Adapter (diffusers `load_ip_adapter`), per job.

A job's `Generation.references` group into adapter slots, in this order, each present only
when used: `image` (image prompts, the family's adapter, scale --iw / 2), `style` (--sref:
the same adapter with InstantStyle's per-block scale, only the style attention of the first
up block with cross-attention), `object` (--oref: the Plus adapter where models.toml names
one, else the plain one). Several images in a slot are all attended to (their tokens are
concatenated), which is how a slot blends them.

The adapters are loaded onto the job's UNet from state dicts kept in memory and unloaded when
the job ends, so jobs without images run the untouched UNet. The image embeddings are
computed here, once per job, with the family's CLIP image encoder, and handed to the pipeline
as `ip_adapter_image_embeds` sized for the whole batch (and the unconditional half under
CFG: zeros for the plain adapter, the encoding of a black image for Plus, as diffusers does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from inference.errors import BadRequestError, ModelFileError
from inference.registry import IpAdapterEntry, Registry
from prompt.request import Generation, Reference

ReferenceLoader = Callable[[str], Image.Image]  # sha256 → the stored clean image
_ROLES = ("image", "style", "object")


@dataclass
class _Slot:
    role: str
    plus: bool
    images: list[Image.Image]
    scale: float


def ran_references(gen: Generation, *, unclip: bool, edit: bool) -> Generation:
    """What steers the job: image prompts steer txt2img and img2img jobs, and a /blend on
    unCLIP; not a strong variation's unCLIP nor the edits' pipelines."""
    if edit or (unclip and not gen.blend):
        return gen.model_copy(update={"references": ()})
    return gen


class IpAdapters:
    def __init__(
        self,
        registry: Registry,
        device: torch.device,
        dtype: torch.dtype,
        load_reference: ReferenceLoader | None,
    ) -> None:
        self.registry = registry
        self.device = device
        self.dtype = dtype
        self._load_reference = load_reference
        self._encoders: dict[str, tuple[Any, Any]] = {}
        self._weights: dict[tuple[str, bool], dict[str, dict[str, torch.Tensor]]] = {}

    def _entry(self, family: str) -> IpAdapterEntry:
        entry = self.registry.ip_adapters.get(family)
        if entry is None:
            raise BadRequestError(
                "this model cannot take image prompts on this server (no image-prompt adapter "
                "is configured for its family)"
            )
        return entry

    def _encoder(self, entry: IpAdapterEntry) -> tuple[Any, Any]:
        if entry.image_encoder not in self._encoders:
            from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

            try:
                model: Any = CLIPVisionModelWithProjection.from_pretrained(entry.image_encoder)
                processor = CLIPImageProcessor.from_pretrained(entry.image_encoder)
            except (OSError, ValueError) as exc:
                raise ModelFileError(
                    "cannot load the IP-Adapter image encoder",
                    detail=f"{entry.image_encoder}: {exc}",
                ) from None
            model.to(device=self.device, dtype=self.dtype)
            model.eval()
            self._encoders[entry.image_encoder] = (model, processor)
        return self._encoders[entry.image_encoder]

    def _state_dict(self, entry: IpAdapterEntry, plus: bool) -> dict[str, dict[str, torch.Tensor]]:
        key = (entry.source, plus)
        if key not in self._weights:
            from safetensors.torch import load_file

            name = entry.plus_weight_name if plus else entry.weight_name
            assert name is not None
            try:
                flat = load_file(str(Path(entry.source) / name))
            except (OSError, ValueError) as exc:
                raise ModelFileError(
                    "cannot load the IP-Adapter weights", detail=f"{entry.source}/{name}: {exc}"
                ) from None
            nested: dict[str, dict[str, torch.Tensor]] = {"image_proj": {}, "ip_adapter": {}}
            for k, v in flat.items():
                group, _, rest = k.partition(".")
                if group in nested:
                    nested[group][rest] = v
            self._weights[key] = nested
        return self._weights[key]

    def _image(self, ref: Reference) -> Image.Image:
        if ref.image.sha256 is None or self._load_reference is None:
            raise BadRequestError("an image of this job was not fetched before it ran")
        return self._load_reference(ref.image.sha256)

    def _slots(self, gen: Generation, entry: IpAdapterEntry) -> list[_Slot]:
        slots = []
        for role in _ROLES:
            refs = [r for r in gen.references if r.role == role]
            if refs:
                plus = role == "object" and entry.plus_weight_name is not None
                slots.append(_Slot(role, plus, [self._image(r) for r in refs], refs[0].scale))
        return slots

    @torch.inference_mode()
    def _embeds(self, entry: IpAdapterEntry, slot: _Slot, batch: int, cfg: bool) -> torch.Tensor:
        model, processor = self._encoder(entry)
        pixels = processor(slot.images, return_tensors="pt").pixel_values
        pixels = pixels.to(self.device, self.dtype)
        if slot.plus:  # Plus reads the penultimate hidden states; its "no image" is black
            pos = model(pixels, output_hidden_states=True).hidden_states[-2]
            neg = model(torch.zeros_like(pixels), output_hidden_states=True).hidden_states[-2]
        else:
            pos = model(pixels).image_embeds
            neg = torch.zeros_like(pos)
        pos = pos[None].expand(batch, *pos.shape)
        neg = neg[None].expand(batch, *neg.shape)
        both = torch.cat([neg, pos]) if cfg else pos
        return both.to(self.dtype)

    def _scale(self, unet: Any, slot: _Slot) -> float | dict[str, Any]:
        if slot.role != "style":
            return slot.scale
        # InstantStyle: only the style attention (the first up block with cross-attention;
        # its middle layer where it has more than one) takes the reference.
        for index, block in enumerate(unet.up_blocks):
            layers = len(getattr(block, "attentions", []) or [])
            if layers:
                scales = [0.0] * layers
                scales[min(1, layers - 1)] = slot.scale
                return {"up": {f"block_{index}": scales}}
        return slot.scale

    @torch.inference_mode()
    def _fused(self, pipe: Any, gen: Generation, checker: Any) -> torch.Tensor:
        """DALL-E 2's image fusion: the mean of the images' CLIP image embeddings (unCLIP's
        own encoder), one per tile; the pipeline adds its noise augmentation."""
        images = [self._image(r) for r in gen.references]
        self._check(images, checker)
        pixels = pipe.feature_extractor(images, return_tensors="pt").pixel_values
        encoder = pipe.image_encoder
        embeds = encoder(pixels.to(self.device, encoder.dtype)).image_embeds
        weights = torch.tensor([r.scale for r in gen.references], device=embeds.device)
        fused = (embeds * weights[:, None]).sum(0) / weights.sum().clamp(min=1e-6)
        return fused[None].expand(gen.batch, -1).to(encoder.dtype)

    def _check(self, images: list[Image.Image], checker: Any) -> None:
        if checker is not None and any(checker.flags(images)):
            raise BadRequestError(
                "an image you gave was flagged by this server's safety checker: use another "
                "image (nothing was charged)"
            )

    @contextmanager
    def applied(
        self, pipe: Any, family: str, gen: Generation, cfg: bool, checker: Any = None
    ) -> Iterator[dict[str, Any]]:
        """Within the block the pipeline's UNet attends to the job's images; yields the
        pipeline arguments. Yields {} (and touches nothing) for a job without references, or
        whose references all weigh 0 (then the image is exactly the text-only one). With a
        safety `checker`, a flagged input image refuses the job (a BadRequestError)."""
        if not gen.references or all(r.scale == 0 for r in gen.references):
            yield {}
            return
        if getattr(pipe, "image_normalizer", None) is not None:  # Stable unCLIP: a /blend
            yield {"image_embeds": self._fused(pipe, gen, checker)}
            return
        entry = self._entry(family)
        slots = self._slots(gen, entry)
        self._check([i for s in slots for i in s.images], checker)
        embeds = [self._embeds(entry, slot, gen.batch, cfg) for slot in slots]
        weights = [self._state_dict(entry, slot.plus) for slot in slots]
        # unload_ip_adapter installs diffusers' default processors: the UNet's own ones (which
        # may differ, numerically or as compiled/LoRA-slot processors) are put back instead.
        own = dict(pipe.unet.attn_processors)
        pipe.load_ip_adapter(
            weights,
            subfolder=[""] * len(weights),
            weight_name=[""] * len(weights),
            image_encoder_folder=None,
        )
        try:
            pipe.set_ip_adapter_scale([self._scale(pipe.unet, slot) for slot in slots])
            yield {"ip_adapter_image_embeds": embeds}
        finally:
            pipe.unload_ip_adapter()
            pipe.unet.set_attn_processor(own)
