"""Tiny random LoRAs for the tiny DiT family models (inference/tiny_families.py), for tests:
peft adapters on the transformer's attention projections, saved with the family pipeline's
own `save_lora_weights` (diffusers' format, as trainers for these families write it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

# Every family's attention projections (diffusers' names), and FLUX.2's fused single-stream one.
_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "to_qkv_mlp_proj"]


def build_family_lora(
    pipeline: str, transformer: str, model_dir: Path, path: Path, seed: int = 1
) -> None:
    """Write `path` (a .safetensors LoRA) for the tiny model in `model_dir`: its diffusers
    pipeline and transformer classes are `pipeline` and `transformer` (e.g. "FluxPipeline",
    "FluxTransformer2DModel")."""
    import diffusers
    from peft import LoraConfig, get_peft_model_state_dict
    from peft.tuners.lora import LoraLayer

    cls: Any = getattr(diffusers, pipeline)
    model = getattr(diffusers, transformer).from_pretrained(model_dir, subfolder="transformer")
    model.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=_TARGETS), adapter_name="tiny")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, LoraLayer):
                for layer in (module.lora_A["tiny"], module.lora_B["tiny"]):
                    weight: Any = layer.weight
                    weight.copy_(torch.randn(weight.shape, generator=gen) * 0.5)
    layers = get_peft_model_state_dict(model, adapter_name="tiny")
    path.parent.mkdir(parents=True, exist_ok=True)
    cls.save_lora_weights(
        str(path.parent),
        transformer_lora_layers=layers,
        weight_name=path.name,
        safe_serialization=True,
    )
