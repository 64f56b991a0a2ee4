"""Dynamic thresholding (`--dynthres P[:M]`) the way A1111's Dynamic Thresholding ("CFG Scale
Fix") extension applies Imagen's idea to latent models.

On the denoised predictions x̂₀ of one step: the CFG target x̂_u + g (x̂_c − x̂_u) and the mimic
target x̂_u + m (x̂_c − x̂_u) are centred on their per-channel means; the CFG target is clamped
at max(its P-th percentile of |·|, the mimic target's max |·|) and scaled so that bound becomes
the mimic target's max, then the means are added back. High CFG keeps its direction but the
range of a CFG of m. With m = g it is plain CFG (up to rounding).

The UNet predicts ε (or v), not x̂₀: both are affine in the prediction at a given step, so the
result is mapped back to a prediction, and then to the conditional prediction that the
pipeline's own CFG, ε_u + g (ε − ε_u), turns into it.
"""

from __future__ import annotations

from typing import Any

import torch

from prompt.request import DynThres


def _alpha_bar(alphas_cumprod: torch.Tensor, timestep: Any) -> torch.Tensor:
    """ᾱ at a (possibly fractional) timestep, interpolating log σ as diffusers' k-samplers do."""
    t = torch.as_tensor(timestep, dtype=torch.float32).flatten()[0].cpu()
    alphas = alphas_cumprod.to(torch.float32).cpu()
    log_sigmas = torch.log(((1 - alphas) / alphas).sqrt())
    low = int(t.floor().clamp(0, len(alphas) - 1))
    high = min(low + 1, len(alphas) - 1)
    frac = float(t) - low
    sigma = torch.exp((1 - frac) * log_sigmas[low] + frac * log_sigmas[high])
    return 1 / (1 + sigma**2)


def dynamic_threshold(
    x0_u: torch.Tensor, x0_c: torch.Tensor, guidance: float, dyn: DynThres
) -> torch.Tensor:
    """The extension's `dynthresh`, with its defaults (channels apart, mean start, max)."""
    diff = x0_c - x0_u
    mimic = (x0_u + diff * dyn.mimic).flatten(2)
    target = (x0_u + diff * guidance).flatten(2)
    mimic_centered = mimic - mimic.mean(dim=2, keepdim=True)
    means = target.mean(dim=2, keepdim=True)
    centered = target - means
    mimic_max = mimic_centered.abs().max(dim=2, keepdim=True).values
    cfg_max = torch.quantile(centered.abs(), dyn.percentile / 100, dim=2, keepdim=True)
    bound = torch.maximum(cfg_max, mimic_max)
    clamped = torch.maximum(torch.minimum(centered, bound), -bound)
    result = clamped / bound * mimic_max + means
    return result.unflatten(2, x0_u.shape[2:])


def thresholded(
    eps_u: torch.Tensor,
    eps_c: torch.Tensor,
    sample: torch.Tensor,
    timestep: Any,
    guidance: float,
    dyn: DynThres,
    scheduler: Any,
) -> torch.Tensor:
    """The conditional prediction whose CFG at `guidance` is the thresholded one."""
    a = _alpha_bar(scheduler.alphas_cumprod, timestep).to(sample.device)
    sa, sb = a.sqrt(), (1 - a).sqrt()
    x, u, c = sample.float(), eps_u.float(), eps_c.float()
    if scheduler.config.get("prediction_type", "epsilon") == "v_prediction":
        x0_u, x0_c = sa * x - sb * u, sa * x - sb * c
        out = (sa * x - dynamic_threshold(x0_u, x0_c, guidance, dyn)) / sb
    else:
        x0_u, x0_c = (x - sb * u) / sa, (x - sb * c) / sa
        out = (x - sa * dynamic_threshold(x0_u, x0_c, guidance, dyn)) / sb
    return (u + (out - u) / guidance).to(eps_c.dtype)
