"""LyCORIS LoHa and LoKr files (A1111 / kohya keys), built here with random factors, against the
documented LyCORIS formulas applied to the base weights (issue 16, item 6).

Per layer, the adapted module must compute W₀ + w · ΔW with
- LoHa: ΔW = (w1a · w1b) ⊙ (w2a · w2b) · alpha/dim, or with Tucker cores t ×₁ a ×₂ b;
- LoKr: ΔW = w1 ⊗ w2 · alpha/dim (w1 = w1a · w1b or full, w2 = w2a · w2b, full or Tucker;
  no decomposed factor: scale 1).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from prompt.request import LoraRef
from tests.inference.engine_helpers import diff, pixels, spec

# Output projections: diffusers infers the key format of a kohya file from them.
ATTN = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0"
CONV = "lora_unet_down_blocks_0_resnets_0_conv1"
TE = "lora_te_text_model_encoder_layers_0_self_attn_out_proj"


def _modules(pipe: Any) -> dict[str, Any]:
    out = {}
    for prefix, model in (("lora_unet_", pipe.unet), ("lora_te_", pipe.text_encoder)):
        for name, module in model.named_modules():
            out[prefix + name.replace(".", "_")] = module
    return out


def _r(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * 0.3


def _tucker(t: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """ΔW[p, q, k, l] = Σ_ij t[i, j, k, l] a[i, p] b[j, q]."""
    return torch.einsum("ijkl,ip,jq->pqkl", t, a, b)


def loha(shape: tuple[int, ...], rank: int, alpha: float, tucker: bool, seed: int) -> Any:
    """(file tensors of one module, ΔW by the formula)."""
    out, fan_in = shape[0], int(np.prod(shape[1:]))
    w: dict[str, torch.Tensor] = {"alpha": torch.tensor(alpha)}
    factors = []
    for i in (1, 2):
        if tucker:
            t, a, b = (
                _r(rank, rank, *shape[2:], seed=seed + i),
                _r(rank, out, seed=seed + 10 + i),
                _r(rank, shape[1], seed=seed + 20 + i),
            )
            w[f"hada_t{i}"], w[f"hada_w{i}_a"], w[f"hada_w{i}_b"] = t, a, b
            factors.append(_tucker(t, a, b))
        else:
            a, b = _r(out, rank, seed=seed + 10 + i), _r(rank, fan_in, seed=seed + 20 + i)
            w[f"hada_w{i}_a"], w[f"hada_w{i}_b"] = a, b
            factors.append((a @ b).reshape(shape))
    return w, factors[0] * factors[1] * (alpha / rank)


def lokr(shape: tuple[int, ...], variant: str, seed: int) -> Any:
    out, fan_in = shape[0], shape[1]
    u1, v1 = 2, 2
    u2, v2 = out // u1, fan_in // v1
    kernel = tuple(shape[2:])
    w: dict[str, torch.Tensor] = {"alpha": torch.tensor(3.0)}
    dim = None
    if variant == "w1_full":  # w1 full, w2 = w2a · w2b
        w1 = w["lokr_w1"] = _r(u1, v1, seed=seed)
        a, b = _r(u2, 4, seed=seed + 1), _r(4, v2 * int(np.prod(kernel or (1,))), seed=seed + 2)
        w["lokr_w2_a"], w["lokr_w2_b"], dim = a, b, 4
        w2 = (a @ b).reshape(u2, v2, *kernel)
    elif variant == "w2_full":  # w1 = w1a · w1b, w2 full (4-D on a conv)
        a, b = _r(u1, 1, seed=seed), _r(1, v1, seed=seed + 1)
        w["lokr_w1_a"], w["lokr_w1_b"], dim = a, b, 1
        w1 = a @ b
        w2 = w["lokr_w2"] = _r(u2, v2, *kernel, seed=seed + 2)
    elif variant == "tucker":
        w1 = w["lokr_w1"] = _r(u1, v1, seed=seed)
        t, a, b = (
            _r(3, 3, *kernel, seed=seed + 1),
            _r(3, u2, seed=seed + 2),
            _r(3, v2, seed=seed + 3),
        )
        w["lokr_t2"], w["lokr_w2_a"], w["lokr_w2_b"], dim = t, a, b, 3
        w2 = _tucker(t, a, b)
    else:  # both full: no rank, scale 1
        w1 = w["lokr_w1"] = _r(u1, v1, seed=seed)
        w2 = w["lokr_w2"] = _r(u2, v2, *kernel, seed=seed + 1)
    if w2.ndim == 4:
        w1 = w1[:, :, None, None]
    scale = 3.0 / dim if dim else 1.0
    return w, torch.kron(w1.contiguous(), w2.contiguous()).reshape(shape) * scale


@pytest.fixture(scope="module")
def lyco(registry: Any, engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from inference.worker.engine import Engine

    shapes = {
        k: tuple(m.weight.shape)
        for k, m in _modules(engine.pipelines.model("tiny").base).items()
        if k in (ATTN, CONV, TE)
    }
    files: dict[str, dict[str, tuple[dict[str, torch.Tensor], torch.Tensor]]] = {
        "loha": {
            ATTN: loha(shapes[ATTN], 4, 2.0, False, 1),
            CONV: loha(shapes[CONV], 2, 1.0, False, 2),  # w1b flattened (r, in·k·k)
            TE: loha(shapes[TE], 3, 3.0, False, 3),
        },
        "loha tucker": {CONV: loha(shapes[CONV], 2, 1.0, True, 4)},
        "lokr": {
            ATTN: lokr(shapes[ATTN], "w1_full", 5),
            CONV: lokr(shapes[CONV], "w2_full", 6),
            TE: lokr(shapes[TE], "full", 7),
        },
        "lokr tucker": {CONV: lokr(shapes[CONV], "tucker", 8)},
    }
    out = tmp_path_factory.mktemp("lycoris")
    for name, modules in files.items():
        tensors = {
            f"{m}.{part}": v.contiguous() for m, (w, _) in modules.items() for part, v in w.items()
        }
        save_file(tensors, str(out / f"{name}.safetensors"))
    with_dir = dataclasses.replace(registry, lora_dir=out)
    deltas = {name: {m: d for m, (_, d) in modules.items()} for name, modules in files.items()}
    return with_dir, Engine(with_dir), deltas


@pytest.mark.parametrize("name", ["loha", "loha tucker", "lokr", "lokr tucker"])
def test_each_layer_is_the_base_weight_plus_the_lycoris_formula(lyco: Any, name: str) -> None:
    registry, engine, deltas = lyco
    base = pixels(engine.run(spec(registry)))
    weight = 0.7
    adapted = engine.run(spec(registry, loras=(LoraRef(name=name, weight=weight),)))
    assert diff(adapted, base) > 0.1
    modules = _modules(engine.pipelines.model("tiny").base)
    for key, delta in deltas[name].items():
        module = modules[key]
        w0 = modules[key + "_base_layer"].weight.detach()
        expected_weight = w0 + weight * delta
        torch.manual_seed(0)
        with torch.no_grad():
            if w0.ndim == 4:
                x = torch.randn(1, w0.shape[1], 8, 8)
                base_layer = modules[key + "_base_layer"]
                got = module(x)
                want = torch.nn.functional.conv2d(
                    x, expected_weight, base_layer.bias, base_layer.stride, base_layer.padding
                )
            else:
                x = torch.randn(3, w0.shape[1])
                got = module(x)
                want = torch.nn.functional.linear(
                    x, expected_weight, modules[key + "_base_layer"].bias
                )
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    # Weight 0 is the base model, exactly.
    zero = engine.run(spec(registry, loras=(LoraRef(name=name, weight=0.0),)))
    assert np.array_equal(pixels(zero), base)
