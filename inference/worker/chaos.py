"""--chaos: per-tile random perturbation of the prompt embedding (docs/engine.md).

Tile i's conditioning is  e_i = e + (chaos / 100) · std(e) · z_i,  where e is the encoded
prompt, std(e) its standard deviation over all values, and z_i standard normal noise drawn from
a CPU generator seeded with tile i's seed. chaos 0 leaves every tile on the prompt; higher
values push each tile further from it, each in its own direction, so the four tiles differ more
from the prompt and from one another. The noise depends only on the tile's seed, so an upscale
of a tile (run with that seed) sees the same conditioning.
"""

from __future__ import annotations

import torch


def apply_chaos(embeds: torch.Tensor, chaos: int, seeds: list[int]) -> torch.Tensor:
    """`embeds` [1, L, D] → [len(seeds), L, D], tile i perturbed with seed seeds[i]."""
    batch = embeds.expand(len(seeds), *embeds.shape[1:]).clone()
    if chaos <= 0:
        return batch
    scale = (chaos / 100.0) * float(embeds.float().std())
    for i, seed in enumerate(seeds):
        gen = torch.Generator().manual_seed(seed)
        noise = torch.randn(embeds.shape[1:], generator=gen, dtype=torch.float32)
        batch[i] += (noise * scale).to(device=batch.device, dtype=batch.dtype)
    return batch
