"""--chaos on the DiT families: the prompt is encoded once by the family's own pipeline, and
tile i's text embedding is perturbed with noise seeded by its seed, exactly as on the Stable
Diffusion families (inference/worker/chaos.py); the pooled vectors are left alone. The
pipeline then runs from the embeddings (one per tile) instead of the text."""

from __future__ import annotations

from typing import Any

import torch

from inference.worker.chaos import apply_chaos
from prompt.request import Generation


def _flux(pipe: Any, gen: Generation, device: torch.device, length: int) -> dict[str, Any]:
    embeds, pooled, _ = pipe.encode_prompt(
        prompt=gen.prompt, prompt_2=None, device=device, max_sequence_length=length
    )
    return {"prompt_embeds": embeds, "pooled_prompt_embeds": pooled}


def _sd3(pipe: Any, gen: Generation, device: torch.device, length: int) -> dict[str, Any]:
    embeds, negative, pooled, negative_pooled = pipe.encode_prompt(
        prompt=gen.prompt,
        prompt_2=None,
        prompt_3=None,
        device=device,
        do_classifier_free_guidance=True,
        negative_prompt=gen.negative_prompt or None,
        max_sequence_length=length,
    )
    return {
        "prompt_embeds": embeds,
        "negative_prompt_embeds": negative,
        "pooled_prompt_embeds": pooled,
        "negative_pooled_prompt_embeds": negative_pooled,
    }


def _zimage(pipe: Any, gen: Generation, device: torch.device, length: int) -> dict[str, Any]:
    # Z-Image's embeddings are a list of [tokens, width] tensors, one per image.
    embeds, _ = pipe.encode_prompt(
        prompt=gen.prompt,
        device=device,
        do_classifier_free_guidance=False,
        max_sequence_length=length,
    )
    return {"prompt_embeds": embeds[0][None]}


def _flux2(pipe: Any, gen: Generation, device: torch.device, length: int) -> dict[str, Any]:
    embeds, _ = pipe.encode_prompt(prompt=gen.prompt, device=device, max_sequence_length=length)
    return {"prompt_embeds": embeds}


_ENCODERS = {"flux": _flux, "sd3": _sd3, "zimage": _zimage, "flux2": _flux2}


def chaos_kwargs(
    pipe: Any, family: str, gen: Generation, seeds: list[int], device: torch.device, length: int
) -> dict[str, Any]:
    """The call's prompt arguments with tile i's embedding perturbed (replacing `prompt`)."""
    encoded = _ENCODERS[family](pipe, gen, device, length)
    batch = len(seeds)
    out: dict[str, Any] = {"prompt": None, "num_images_per_prompt": 1}
    for key, value in encoded.items():
        if key == "prompt_embeds":
            out[key] = apply_chaos(value[:1], gen.chaos, seeds)
        else:
            out[key] = value[:1].expand(batch, *value.shape[1:])
    if "negative_prompt_embeds" in encoded:  # SD 3.5: encoded above, with the prompt
        out["negative_prompt"] = None
    if family == "zimage":
        out["prompt_embeds"] = list(out["prompt_embeds"])
    return out
