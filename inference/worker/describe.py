"""/describe on the worker: a captioning model (BLIP, `BlipForConditionalGeneration`) says what
the image shows, and CLIP ranks each vocabulary against the image (the CLIP-interrogator
approach); inference/describe.py turns both into four prompts. Models from models.toml
`[describe]`, loaded once on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from inference.describe import Description, load_vocabularies, nearest_ratio
from inference.errors import BadRequestError, ModelFileError
from inference.registry import Registry
from inference.registry_images import Located
from inference.worker.pipelines import quiet_loading

MAX_CAPTION_TOKENS = 30


@dataclass
class _Models:
    processor: Any
    captioner: Any
    clip_processor: Any
    clip: Any
    vocab: dict[str, tuple[str, ...]]
    term_embeds: dict[str, torch.Tensor]  # vocabulary → [terms, D], unit length


def _load(located: Located, what: str, loader: Any) -> Any:
    if located.kind != "hub" and not Path(located.source).exists():
        raise ModelFileError(f"the /describe {what} {located.source} does not exist (models.toml)")
    try:
        with quiet_loading(located.kind != "hub"):
            return loader(located.source)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelFileError(
            f"cannot load the /describe {what}", detail=f"{located.source}: {exc}"
        ) from None


class Describer:
    def __init__(self, registry: Registry, device: torch.device, dtype: torch.dtype) -> None:
        self.registry = registry
        self.device = device
        self.dtype = dtype
        self._models: _Models | None = None

    def _ready(self) -> _Models:
        if self._models is not None:
            return self._models
        entry = self.registry.describe
        if entry is None:
            raise BadRequestError("/describe is not set up on this server (no [describe] models)")
        from transformers import (
            AutoProcessor,
            BlipForConditionalGeneration,
            CLIPModel,
        )

        processor = _load(entry.captioner, "captioner", AutoProcessor.from_pretrained)
        captioner = _load(
            entry.captioner, "captioner", BlipForConditionalGeneration.from_pretrained
        )
        clip_processor = _load(entry.clip, "CLIP model", AutoProcessor.from_pretrained)
        clip = _load(entry.clip, "CLIP model", CLIPModel.from_pretrained)
        captioner.to(self.device, self.dtype).eval()
        clip.to(self.device, self.dtype).eval()
        vocab = load_vocabularies(entry.vocab_dir)
        models = _Models(processor, captioner, clip_processor, clip, vocab, {})
        with torch.inference_mode():
            for name, terms in vocab.items():
                models.term_embeds[name] = self._text_embeds(models, list(terms))
        self._models = models
        return models

    def _text_embeds(self, models: _Models, texts: list[str]) -> torch.Tensor:
        inputs = models.clip_processor(text=texts, return_tensors="pt", padding=True)
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        embeds = _as_tensor(models.clip.get_text_features(**inputs)).float()
        return torch.nn.functional.normalize(embeds, dim=-1)

    @torch.inference_mode()
    def describe(self, image: Image.Image) -> Description:
        models = self._ready()
        rgb = image.convert("RGB")
        inputs = models.processor(images=rgb, return_tensors="pt").to(self.device, self.dtype)
        tokens = models.captioner.generate(
            **inputs, max_new_tokens=MAX_CAPTION_TOKENS, num_beams=1, do_sample=False
        )
        caption = models.processor.decode(tokens[0], skip_special_tokens=True)
        pixels = models.clip_processor(images=rgb, return_tensors="pt")["pixel_values"]
        image_embeds = _as_tensor(
            models.clip.get_image_features(pixel_values=pixels.to(self.device, self.dtype))
        )
        image_embed = torch.nn.functional.normalize(image_embeds.float(), dim=-1)[0]
        ranked: dict[str, tuple[str, ...]] = {}
        for name, terms in models.vocab.items():
            scores = models.term_embeds[name] @ image_embed
            order = torch.argsort(scores, descending=True, stable=True).tolist()
            ranked[name] = tuple(terms[i] for i in order)
        return Description(caption, ranked, nearest_ratio(rgb.width, rgb.height))


def _as_tensor(output: Any) -> torch.Tensor:
    """transformers 5 returns the projected features, or an output holding them."""
    if isinstance(output, torch.Tensor):
        return output
    pooled = getattr(output, "pooler_output", None)
    if isinstance(pooled, torch.Tensor):
        return pooled
    raise TypeError(f"unexpected CLIP features output {type(output).__name__}")
