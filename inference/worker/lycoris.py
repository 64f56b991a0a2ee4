"""LyCORIS LoHa and LoKr files (A1111 / kohya key format) as exact low-rank LoRAs.

A1111 applies them as a weight difference ΔW, times `alpha / dim` and the prompt's weight:

- LoHa: ΔW = (w1a · w1b) ⊙ (w2a · w2b); with Tucker cores (`hada_t1`, `hada_t2`, conv layers)
  each factor is t ×₁ w_a ×₂ w_b. `dim` is the rank of w1b.
- LoKr: ΔW = w1 ⊗ w2 (Kronecker), w1 = `lokr_w1` or w1a · w1b, w2 = `lokr_w2`, w2a · w2b, or
  Tucker; `dim` is the rank of w1b or w2b, and without either the scale is 1.

Both are products of low-rank matrices, so they are exactly a LoRA up · down of rank r₁·r₂:
(U₁D₁) ⊙ (U₂D₂) = (U₁ •ᵣ U₂)(D₁ •ᵣ D₂) (row-wise products), and (U₁D₁) ⊗ (U₂D₂) =
(U₁ ⊗ U₂)(D₁ ⊗ D₂). Each LyCORIS module is rewritten as kohya `lora_down`/`lora_up` keys with
the scale folded into `lora_up` (alpha = rank), and then loads like any kohya LoRA: weights
per job, `<lora:name:te:unet>`, weight 0 = the base model, hot-swap slots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

_MARKERS = (".hada_w1_a", ".lokr_w1", ".lokr_w1_a")
_KNOWN = {
    "hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b", "hada_t1", "hada_t2",
    "lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b", "lokr_t2",
    "alpha",
}  # fmt: skip
_PREFIXES = {"lora_unet_": "unet", "lora_te_": "text_encoder", "lora_te1_": "text_encoder"}
_PREFIXES["lora_te2_"] = "text_encoder_2"


def is_lycoris(path: Path) -> bool:
    """Whether the file holds LoHa or LoKr modules (reads the key list only)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return any(key.endswith(_MARKERS) for key in f.keys())  # noqa: SIM118


def layer_shapes(pipe: Any) -> dict[str, tuple[int, ...]]:
    """kohya module name → weight shape, for the pipeline's UNet and text encoders."""
    shapes: dict[str, tuple[int, ...]] = {}
    for prefix, part in _PREFIXES.items():
        model = getattr(pipe, part, None)
        if model is None:
            continue
        for name, module in model.named_modules():
            weight = getattr(module, "weight", None)
            if isinstance(weight, torch.Tensor) and weight.ndim in (2, 4):
                shapes[prefix + name.replace(".", "_")] = tuple(weight.shape)
    return shapes


def to_lora(
    tensors: dict[str, torch.Tensor], shapes: dict[str, tuple[int, ...]] | None = None
) -> dict[str, torch.Tensor]:
    """`tensors` with every LoHa/LoKr module rewritten as a kohya LoRA (other keys kept).
    `shapes` (layer_shapes) gives conv kernels that a flattened factor does not show."""
    modules: dict[str, dict[str, torch.Tensor]] = {}
    out: dict[str, torch.Tensor] = {}
    lycoris = {k.rsplit(".", 1)[0] for k in tensors if k.endswith(_MARKERS)}
    for key, value in tensors.items():
        module, _, part = key.rpartition(".")
        if module in lycoris:
            if part not in _KNOWN:
                raise ValueError(f"{key}: LyCORIS part {part!r} is not supported")
            modules.setdefault(module, {})[part] = value.float()
        else:
            out[key] = value
    for module, w in modules.items():
        up, down = _loha(w) if "hada_w1_a" in w else _lokr(w)
        kernel = _kernel(w, (shapes or {}).get(module))
        up, down = _bounded(up, down)
        rank = up.shape[1]
        if kernel is not None:
            down = down.reshape(rank, -1, *kernel)
            up = up.reshape(*up.shape, 1, 1)
        out[f"{module}.lora_up.weight"] = up.contiguous()
        out[f"{module}.lora_down.weight"] = down.contiguous()
        out[f"{module}.alpha"] = torch.tensor(float(rank))
    return out


def _scale(w: dict[str, torch.Tensor], dim: int | None) -> float:
    alpha = w.get("alpha")
    if alpha is None or dim is None:
        return 1.0
    return float(alpha) / dim


def _factor(
    a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(up, down) with up · down = a · b (flattened), or the Tucker t ×₁ a ×₂ b."""
    if t is None:
        return a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    core = torch.einsum("ijkl,jq->iqkl", t, b)  # [r, in, kh, kw]
    return a.T, core.reshape(core.shape[0], -1)


def _full(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(up, down) of a full matrix (flattened), of the smaller possible rank."""
    m = w.reshape(w.shape[0], -1)
    if m.shape[0] <= m.shape[1]:
        return torch.eye(m.shape[0]), m
    return m, torch.eye(m.shape[1])


def _loha(w: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    u1, d1 = _factor(w["hada_w1_a"], w["hada_w1_b"], w.get("hada_t1"))
    u2, d2 = _factor(w["hada_w2_a"], w["hada_w2_b"], w.get("hada_t2"))
    up = (u1[:, :, None] * u2[:, None, :]).reshape(u1.shape[0], -1)
    down = (d1[:, None, :] * d2[None, :, :]).reshape(-1, d1.shape[1])
    return up * _scale(w, w["hada_w1_b"].shape[0]), down


def _lokr(w: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    dim: int | None = None
    if "lokr_w1" in w:
        u1, d1 = _full(w["lokr_w1"])
    else:
        u1, d1 = _factor(w["lokr_w1_a"], w["lokr_w1_b"], None)
        dim = w["lokr_w1_b"].shape[0]
    if "lokr_w2" in w:
        u2, d2 = _full(w["lokr_w2"])
    else:
        u2, d2 = _factor(w["lokr_w2_a"], w["lokr_w2_b"], w.get("lokr_t2"))
        dim = w["lokr_w2_b"].shape[0]
    kron = torch.kron
    up = kron(u1.contiguous(), u2.contiguous())
    return up * _scale(w, dim), kron(d1.contiguous(), d2.contiguous())


def _kernel(w: dict[str, torch.Tensor], shape: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """The conv kernel (kh, kw) of the module, or None for a linear layer."""
    for part in ("hada_t1", "lokr_t2", "hada_w1_b", "lokr_w2"):
        if part in w and w[part].ndim == 4:
            return tuple(w[part].shape[2:])
    if shape is not None and len(shape) == 4:
        return tuple(shape[2:])
    return None


def _bounded(up: torch.Tensor, down: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The same product at rank ≤ min(out, in): a product wider than the layer is stored whole."""
    if up.shape[1] <= min(up.shape[0], down.shape[1]):
        return up, down
    return _full(up @ down)


def lora_source(pipe: Any, path: Path) -> str | dict[str, torch.Tensor]:
    """What `load_lora_weights` takes for the file: its path, or the rewritten LoHa/LoKr.
    A damaged file is a ValueError (the caller turns it into one line)."""
    from safetensors.torch import load_file

    try:
        if not is_lycoris(path):
            return str(path)
        return to_lora(load_file(str(path)), layer_shapes(pipe))
    except (OSError, ValueError, RuntimeError):
        raise
    except Exception as exc:  # safetensors' own error type
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc
