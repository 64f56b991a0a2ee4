"""A peft LoRA on the UNet → a safetensors file with kohya/sd-scripts keys.

kohya keys name each layer `lora_unet_<diffusers module path, dots as underscores>` with
`.lora_down.weight` (peft's A), `.lora_up.weight` (B) and `.alpha`; A1111, ComfyUI and
diffusers' own kohya loader all read this layout. The file's metadata carries the usual
`ss_*` fields (rank, alpha, base model) so those tools describe it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from inference.worker.train_state import atomic_path

_PEFT_PARTS = {"lora_A": "lora_down", "lora_B": "lora_up"}


def kohya_state_dict(peft_state: dict[str, torch.Tensor], alpha: float) -> dict[str, torch.Tensor]:
    """`get_peft_model_state_dict(unet)` (keys like `…attn1.to_q.lora_A.weight`) → kohya."""
    out: dict[str, torch.Tensor] = {}
    for key, tensor in peft_state.items():
        module, part, leaf = key.rsplit(".", 2)
        if part not in _PEFT_PARTS or leaf != "weight":
            raise ValueError(f"unexpected LoRA key {key!r}")
        name = "lora_unet_" + module.replace(".", "_")
        out[f"{name}.{_PEFT_PARTS[part]}.weight"] = tensor.detach().to("cpu", torch.float16)
        out[f"{name}.alpha"] = torch.tensor(float(alpha), dtype=torch.float16)
    return out


def write_kohya_lora(
    path: Path,
    peft_state: dict[str, torch.Tensor],
    *,
    rank: int,
    alpha: float,
    base_model: str,
    family: str,
    trigger: str,
    subject: str = "",
) -> None:
    """Write the LoRA atomically (a reader never sees half a file)."""
    from safetensors.torch import save_file

    metadata: dict[str, Any] = {
        "ss_network_module": "networks.lora",
        "ss_network_dim": str(rank),
        "ss_network_alpha": str(alpha),
        "ss_base_model_version": {"sdxl": "sdxl_base_v1-0", "sd2": "sd_v2"}.get(family, "sd_v1"),
        "ss_sd_model_name": base_model,
        "ss_tag_frequency": "{}",
        "nanke_trigger": trigger,
        "nanke_subject": subject,
    }
    with atomic_path(path) as tmp:
        save_file(kohya_state_dict(peft_state, alpha), str(tmp), metadata=metadata)
