"""Compiled vs eager UNet on the CPU, side by side in one run (inductor, random weights).

A mid-size SD-shaped UNet (SD 1.5's block layout at a quarter of the width, cross-attention on
a 77-token context) with random weights; batch 2 (one image with CFG) on 32x32 latents. Reports
eager and compiled ms per UNet call (median of --runs after warm-up), their ratio, and the
compile time. The compile goes through the engine's own `Compiler` (fullgraph, static shapes).

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python bench/compile_cpu.py --runs 10
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from types import SimpleNamespace

import torch


def unet(width: int) -> torch.nn.Module:
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel(
        sample_size=32,
        block_out_channels=(width, 2 * width, 4 * width, 4 * width),
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        cross_attention_dim=4 * width,
        attention_head_dim=8,
        layers_per_block=2,
    ).eval()


def timed(model: torch.nn.Module, args: tuple[torch.Tensor, ...], runs: int) -> list[float]:
    out = []
    with torch.inference_mode():
        for _ in range(runs):
            start = time.perf_counter()
            model(*args)
            out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--width", type=int, default=64, help="first block channels (SD: 320)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from inference.worker.compiled import Compiler

    eager = unet(args.width)
    compiled = unet(args.width)
    Compiler("inductor").compile(
        SimpleNamespace(unet=compiled, vae=SimpleNamespace(decoder=torch.nn.Identity()))
    )
    inputs = (torch.randn(2, 4, 32, 32), torch.tensor(500.0), torch.randn(2, 77, 4 * args.width))
    timed(eager, inputs, 2)
    start = time.perf_counter()
    timed(compiled, inputs, 1)
    compile_s = time.perf_counter() - start
    timed(compiled, inputs, 1)
    # Interleaved, so both see the same load on a shared box.
    e, c = [], []
    for _ in range(args.runs):
        e += timed(eager, inputs, 1)
        c += timed(compiled, inputs, 1)
    params = sum(p.numel() for p in eager.parameters()) / 1e6
    load = os.getloadavg()
    me, mc = statistics.median(e), statistics.median(c)
    print(
        f"UNet {params:.0f} M params, batch 2, 32x32 latents, torch threads {args.threads}, "
        f"load average {load[0]:.1f} / {load[1]:.1f}"
    )
    print("| variant | ms per UNet call (median) | ratio |")
    print("|---|---:|---:|")
    print(f"| eager | {me:.1f} | 1.00 |")
    print(f"| compiled (inductor, first call {compile_s:.0f} s) | {mc:.1f} | {mc / me:.2f} |")


if __name__ == "__main__":
    main()
