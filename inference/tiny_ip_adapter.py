"""A tiny random IP-Adapter for a tiny UNet, in the layout diffusers' `load_ip_adapter` reads.

`build_ip_adapter(unet, out)` writes `out/ip-adapter.safetensors` (keys `image_proj.*`: the
image-embedding projection to 4 tokens; `ip_adapter.<n>.to_k_ip/to_v_ip.weight` for every
cross-attention layer, n = 1, 3, 5, … in attention-processor order, as the original release
numbers them) and `out/image_encoder/` (a tiny CLIPVisionModelWithProjection and its
CLIPImageProcessor). The weights are random but seeded and scaled up, so an image prompt
visibly changes a tiny model's output. Mirrors diffusers' own IP-Adapter test fixtures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

IMAGE_SIZE = 32
PROJECTION_DIM = 32
WEIGHT_NAME = "ip-adapter.safetensors"


def build_image_encoder(out: Path, seed: int = 11) -> None:
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    config_cls: Any = CLIPVisionConfig  # transformers' stubs hide the config kwargs
    config = config_cls(
        hidden_size=32,
        projection_dim=PROJECTION_DIM,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        image_size=IMAGE_SIZE,
        patch_size=4,
    )
    CLIPVisionModelWithProjection(config).eval().save_pretrained(out)
    CLIPImageProcessor(
        crop_size=IMAGE_SIZE, size={"shortest_edge": IMAGE_SIZE}, do_center_crop=True
    ).save_pretrained(out)


def ip_adapter_state_dict(unet: Any, seed: int = 12, gain: float = 4.0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    cross_dim = unet.config.cross_attention_dim
    out_channels = list(unet.config.block_out_channels)
    state: dict[str, torch.Tensor] = {}
    key_id = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        if name.startswith("mid_block"):
            hidden = out_channels[-1]
        elif name.startswith("up_blocks"):
            hidden = list(reversed(out_channels))[int(name[len("up_blocks.")])]
        else:
            hidden = out_channels[int(name[len("down_blocks.")])]
        for part in ("to_k_ip", "to_v_ip"):
            weight = torch.randn(hidden, cross_dim, generator=gen) * gain / cross_dim**0.5
            state[f"ip_adapter.{key_id}.{part}.weight"] = weight
        key_id += 2
    tokens = 4
    state["image_proj.proj.weight"] = (
        torch.randn(cross_dim * tokens, PROJECTION_DIM, generator=gen) / PROJECTION_DIM**0.5
    )
    state["image_proj.proj.bias"] = torch.zeros(cross_dim * tokens)
    state["image_proj.norm.weight"] = torch.ones(cross_dim)
    state["image_proj.norm.bias"] = torch.zeros(cross_dim)
    return state


def build_ip_adapter(unet: Any, out: Path) -> Path:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    save_file(ip_adapter_state_dict(unet), str(out / WEIGHT_NAME))
    build_image_encoder(out / "image_encoder")
    return out


def tiny_ip_adapter_section(unet: Any, out: Path) -> str:
    """Build the adapter under `out/tiny-ip-adapter` and return its models.toml section."""
    build_ip_adapter(unet, out / "tiny-ip-adapter")
    return (
        "\n[ip_adapter.sd15]\n"
        'source = "tiny-ip-adapter"\n'
        f'weight_name = "{WEIGHT_NAME}"\n'
        'image_encoder = "tiny-ip-adapter/image_encoder"\n'
    )
