"""The UNet forward of one job, following a step-by-step `Conditioning` (see
`inference/worker/conditioning.py`): prompt editing, alternation, AND and unpadded negatives.

The pipeline still calls `unet(sample, t, encoder_hidden_states=…, …)` once per step, with the
batch [uncond × B, cond × B] under CFG (or [cond × B] at CFG 1). The wrapper swaps in the
step's conditionings, runs the UNet on [uncond × B, subprompt_1 × B, …] (one call, or one per
sequence length), and returns [ε_u, ε_u + Σ w_i (ε_i − ε_u)] so the pipeline's own CFG applies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from inference.worker.chaos import apply_chaos

if TYPE_CHECKING:
    from inference.worker.conditioning import Conditioning


@dataclass(frozen=True)
class Cond:
    """One encoded text."""

    hidden: torch.Tensor  # [1, L, D]
    pooled: torch.Tensor | None = None  # [1, P] (SDXL)


@dataclass(frozen=True)
class StepConds:
    """What one model call uses."""

    conds: list[tuple[float, Cond]]  # AND subprompts and their weights
    uncond: Cond


@contextmanager
def guided_unet(
    unet: Any, conditioning: Conditioning, chaos: int, seeds: list[int]
) -> Iterator[None]:
    """Within the block, `unet`'s forward follows `conditioning` (restored after)."""
    own = unet.__dict__.get("forward")  # a compiled forward is an instance attribute
    inner: Callable[..., Any] = unet.forward
    calls = 0

    def forward(sample: torch.Tensor, timestep: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        step, calls = calls, calls + 1
        return _step(inner, conditioning, step, chaos, seeds, sample, timestep, args, kwargs)

    unet.forward = forward
    try:
        yield
    finally:
        if own is None:
            del unet.forward
        else:
            unet.forward = own


def _rows(value: Any, index: torch.Tensor, batch: int) -> Any:
    """`value` restricted to the batch rows `index` (tensors of the call's batch size)."""
    if isinstance(value, torch.Tensor) and value.ndim >= 1 and value.shape[0] == batch:
        return value[index.to(value.device)]
    if isinstance(value, dict):
        return {k: _rows(v, index, batch) for k, v in value.items()}
    if isinstance(value, list):  # IP-Adapter image embeddings: one tensor per adapter
        return [_rows(v, index, batch) for v in value]
    return value


def _pad_to(hidden: torch.Tensor, length: int) -> torch.Tensor:
    """A1111: a shorter conditioning repeats its last vector up to `length`."""
    missing = length - hidden.shape[1]
    if missing <= 0:
        return hidden
    return torch.cat([hidden, hidden[:, -1:].expand(-1, missing, -1)], dim=1)


def _pad_empty(cond: Cond, length: int, empty: Cond) -> Cond:
    missing = (length - cond.hidden.shape[1]) // empty.hidden.shape[1]
    if missing <= 0:
        return cond
    pad = empty.hidden.expand(-1, missing * empty.hidden.shape[1], -1)
    return Cond(torch.cat([cond.hidden, pad.to(cond.hidden.dtype)], dim=1), cond.pooled)


def _step(
    inner: Callable[..., Any],
    conditioning: Conditioning,
    step: int,
    chaos: int,
    seeds: list[int],
    sample: torch.Tensor,
    timestep: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    # long: one model evaluation: choose the step's conditionings, batch them, combine.
    batch, n = len(seeds), sample.shape[0]
    cfg = n == 2 * batch
    wants_dict = kwargs.pop("return_dict", True)
    kwargs.pop("encoder_hidden_states", None)
    if args:  # encoder_hidden_states passed positionally
        args = args[1:]
    at = conditioning.at(step)
    weights = [w for w, _ in at.conds]
    length = max(c.hidden.shape[1] for _, c in at.conds)
    uncond = at.uncond
    if conditioning.empty is not None:  # pad_negative: pad whichever side is shorter
        length = max(length, uncond.hidden.shape[1])
        uncond = _pad_empty(uncond, length, conditioning.empty)
        conds = [_pad_empty(c, length, conditioning.empty) for _, c in at.conds]
    else:
        conds = [c for _, c in at.conds]
    hidden_c = torch.cat([apply_chaos(_pad_to(c.hidden, length), chaos, seeds) for c in conds])
    pooled_c = [c.pooled for c in conds]
    only_cond = len(conds) == 1 and weights[0] == 1.0
    device = sample.device
    cond_rows = torch.arange(batch, device=device) + (batch if cfg else 0)
    uncond_rows = torch.arange(batch, device=device)
    groups: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]] = []
    if cfg or not only_cond:
        u_pooled = uncond.pooled.expand(batch, -1) if uncond.pooled is not None else None
        groups.append((uncond_rows, uncond.hidden.expand(batch, -1, -1), u_pooled))
    c_pooled = (
        torch.cat([p.expand(batch, -1) for p in pooled_c if p is not None])
        if all(p is not None for p in pooled_c)
        else None
    )
    groups.append((cond_rows.repeat(len(conds)), hidden_c, c_pooled))
    if len(groups) == 2 and groups[0][1].shape[1] == groups[1][1].shape[1]:
        (ru, hu, pu), (rc, hc, pc) = groups
        pooled = torch.cat([pu, pc]) if pu is not None and pc is not None else None
        groups = [(torch.cat([ru, rc]), torch.cat([hu.to(hc.dtype), hc]), pooled)]
    outs = [
        _call(inner, sample, timestep, args, kwargs, rows, hidden, pooled, n)
        for rows, hidden, pooled in groups
    ]
    out = torch.cat(outs)
    eps_u = out[:batch] if (cfg or not only_cond) else None
    eps_c = out[batch:] if eps_u is not None else out
    if only_cond:
        guided = eps_c
    else:
        assert eps_u is not None
        guided = eps_u.clone()
        for k, w in enumerate(weights):
            guided = guided + w * (eps_c[k * batch : (k + 1) * batch] - eps_u)
    scheduler = conditioning.scheduler
    multiplier = float(getattr(scheduler, "guidance_multiplier", 1.0))  # CFG++: 1 / 12.5
    scale = conditioning.guidance * multiplier
    if cfg and eps_u is not None and conditioning.rescale > 0:
        guided = rescaled(eps_u, guided, scale, conditioning.rescale)
    if cfg and eps_u is not None and conditioning.dynthres is not None:
        from inference.worker.dynthres import thresholded

        x_in, dyn = sample[:batch], conditioning.dynthres
        guided = thresholded(eps_u, guided, x_in, timestep, scale, dyn, scheduler)
    if cfg and eps_u is not None and multiplier != 1.0:
        # What the pipeline's CFG at g turns into ε_u + g·m (guided − ε_u).
        guided = eps_u + (guided - eps_u) * multiplier
    if getattr(scheduler, "needs_uncond", False):
        scheduler.uncond_output = eps_u  # CFG++ renoises with it (None: no unconditional pass)
    result = torch.cat([eps_u, guided]) if cfg and eps_u is not None else guided
    if not wants_dict:
        return (result,)
    from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

    return UNet2DConditionOutput(sample=result)


def rescaled(eps_u: torch.Tensor, eps_c: torch.Tensor, scale: float, phi: float) -> torch.Tensor:
    """The conditional prediction that makes the pipeline's CFG, ε_u + g (ε − ε_u), equal
    diffusers' `rescale_noise_cfg` (Lin et al., "Common Diffusion Noise Schedules …"): the
    guided prediction rescaled to the conditional one's standard deviation, mixed by φ."""
    guided = eps_u + scale * (eps_c - eps_u)
    dims = list(range(1, guided.ndim))
    fixed = guided * (eps_c.std(dim=dims, keepdim=True) / guided.std(dim=dims, keepdim=True))
    final = phi * fixed + (1 - phi) * guided
    return eps_u + (final - eps_u) / scale


def _call(
    inner: Callable[..., Any],
    sample: torch.Tensor,
    timestep: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    rows: torch.Tensor,
    hidden: torch.Tensor,
    pooled: torch.Tensor | None,
    n: int,
) -> torch.Tensor:
    call_kwargs = {k: _rows(v, rows, n) for k, v in kwargs.items()}
    added = call_kwargs.get("added_cond_kwargs")
    if isinstance(added, dict) and pooled is not None and "text_embeds" in added:
        call_kwargs["added_cond_kwargs"] = {
            **added,
            "text_embeds": pooled.to(added["text_embeds"].dtype),
        }
    out = inner(
        _rows(sample, rows, n),
        _rows(timestep, rows, n),
        *args,
        encoder_hidden_states=hidden.to(sample.dtype),
        return_dict=False,
        **call_kwargs,
    )
    return out[0]
