"""Upscale (4x): time and peak memory of a full-size RealESRGAN_x4plus network (RRDBNet, 23
blocks, 64 features; random weights: the arithmetic is the same) on one image, tiled as the
worker runs it (`inference/worker/gan_upscale.py`).

    .venv/bin/python -m bench.upscale_4x --size 128 --tile 64 --threads 1
    .venv/bin/python -m bench.upscale_4x --size 1024 --tile 512 --device cuda

On CUDA the peak is `torch.cuda.max_memory_allocated`; on the CPU the process's peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from inference.worker.esrgan_arch import RRDBNet, SRVGGNetCompact
from inference.worker.gan_upscale import upscale_tiled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128, help="input side in pixels")
    parser.add_argument("--tile", type=int, default=64)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--net", default="rrdb", choices=["rrdb", "compact"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    net = RRDBNet() if args.net == "rrdb" else SRVGGNetCompact()
    net = net.eval().requires_grad_(False).to(device=device, dtype=dtype)
    image = torch.rand(1, 3, args.size, args.size, device=device)
    with torch.inference_mode():
        upscale_tiled(net, image[:, :, :32, :32], args.tile, args.overlap)  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        out = upscale_tiled(net, image, args.tile, args.overlap)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    if device.type == "cuda":
        peak = f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB on the GPU"
    else:
        peak = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB RSS"
    print(
        f"{args.net} {args.size}² → {out.shape[-1]}² tile {args.tile} overlap {args.overlap} "
        f"{args.device} {args.dtype} threads {args.threads}: {seconds:.2f} s, peak {peak}"
    )


if __name__ == "__main__":
    main()
