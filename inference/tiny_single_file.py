"""Writing a tiny diffusers pipeline as one original-layout (LDM) `.safetensors` file, the way
A1111 users download checkpoints, so tests exercise `from_single_file` (torch; test models only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

_RESNET_TO_LDM = (
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("time_emb_proj", "emb_layers.1"),
    ("conv_shortcut", "skip_connection"),
)
_UNET_FIXED = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
    "class_embedding.linear_1": "label_emb.0.0",
    "class_embedding.linear_2": "label_emb.0.2",
}


def _rename(text: str, pairs: tuple[tuple[str, str], ...]) -> str:
    for old, new in pairs:
        text = text.replace(old, new)
    return text


def _unet_key_to_ldm(key: str, per_block: int, up_has_attn: set[int]) -> str:
    parts = key.split(".")
    head, rest = ".".join(parts[:-1]), parts[-1]
    for diff, ldm in _UNET_FIXED.items():
        if head == diff:
            return f"{ldm}.{rest}"
    if parts[0] == "mid_block":
        kind, idx, tail = parts[1], int(parts[2]), ".".join(parts[3:])
        if kind == "resnets":
            return f"middle_block.{2 * idx}.{_rename(tail, _RESNET_TO_LDM)}"
        return f"middle_block.1.{tail}"
    block, kind = int(parts[1]), parts[2]
    tail = ".".join(parts[4:])
    if parts[0] == "down_blocks":
        if kind == "downsamplers":
            return f"input_blocks.{1 + block * (per_block + 1) + per_block}.0.op.{parts[-1]}"
        layer = 1 + block * (per_block + 1) + int(parts[3])
    else:
        if kind == "upsamplers":
            slot = 2 if block in up_has_attn else 1
            return f"output_blocks.{block * (per_block + 1) + per_block}.{slot}.conv.{parts[-1]}"
        layer = block * (per_block + 1) + int(parts[3])
    prefix = "input_blocks" if parts[0] == "down_blocks" else "output_blocks"
    if kind == "resnets":
        return f"{prefix}.{layer}.0.{_rename(tail, _RESNET_TO_LDM)}"
    return f"{prefix}.{layer}.1.{tail}"


_VAE_ATTN_TO_LDM = (
    ("group_norm", "norm"),
    ("to_q", "q"),
    ("to_k", "k"),
    ("to_v", "v"),
    ("to_out.0", "proj_out"),
)


def _vae_key_to_ldm(key: str, n_up: int) -> str:
    fixed = {"conv_norm_out": "norm_out"}
    parts = key.split(".")
    side = parts[0]
    if side in ("quant_conv", "post_quant_conv"):
        return key
    if parts[1] in ("conv_in", "conv_out", "conv_norm_out"):
        return f"{side}.{fixed.get(parts[1], parts[1])}.{parts[-1]}"
    if parts[1] == "mid_block":
        tail = ".".join(parts[4:])
        if parts[2] == "resnets":
            name = f"block_{int(parts[3]) + 1}.{tail.replace('conv_shortcut', 'nin_shortcut')}"
            return f"{side}.mid.{name}"
        return f"{side}.mid.attn_1.{_rename(tail, _VAE_ATTN_TO_LDM)}"
    block = int(parts[2])
    ldm_block = block if side == "encoder" else n_up - 1 - block
    level = "down" if side == "encoder" else "up"
    if parts[3] in ("downsamplers", "upsamplers"):
        sampler = "downsample" if side == "encoder" else "upsample"
        return f"{side}.{level}.{ldm_block}.{sampler}.conv.{parts[-1]}"
    tail = ".".join(parts[5:]).replace("conv_shortcut", "nin_shortcut")
    return f"{side}.{level}.{ldm_block}.block.{parts[4]}.{tail}"


def write_single_file(pipe: Any, path: Path) -> None:
    """Save a pipeline as one original-layout `.safetensors` checkpoint (as people share them)."""
    from safetensors.torch import save_file

    unet_cfg = pipe.unet.config
    up_has_attn = {i for i, t in enumerate(unet_cfg.up_block_types) if "CrossAttn" in t}
    state: dict[str, torch.Tensor] = {}
    for key, value in pipe.unet.state_dict().items():
        ldm = _unet_key_to_ldm(key, unet_cfg.layers_per_block, up_has_attn)
        state[f"model.diffusion_model.{ldm}"] = value
    n_up = len(pipe.vae.config.up_block_types)
    for key, value in pipe.vae.state_dict().items():
        state[f"first_stage_model.{_vae_key_to_ldm(key, n_up)}"] = value
    for key, value in pipe.text_encoder.state_dict().items():
        state[f"cond_stage_model.transformer.{key}"] = value
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
