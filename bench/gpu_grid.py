# ruff: noqa: E402  (the sys.path fix below must run before the project imports)
"""The GPU benchmark: diffusers' own pipeline vs Nanke's engine on the same work, one command.

Builds the public architectures with random weights (configs: docs/reference/architectures.md;
`--tiny`: the test models), saves them, and loads them through the engine's real loading code.
Work: a 2x2 SD 1.5 grid at 512², 30 steps, CFG 7, DPM++ 2M Karras, run by diffusers'
`StableDiffusionPipeline` (bf16, SDPA, eager, batch 4) and by our engine (eager, and compiled
where --compile or CUDA); then our upscale (2x, subtle), vary (subtle) and an SDXL 1024² grid.
p50/p95 over --runs after warm-up, split into text encoding, ms per step, VAE decode, image
encoding and compile (first-call) time, printed as the table rows docs/BENCHMARKS.md uses,
with the fraction of the compute floor (FACTS.md: 0.257 s SD 1.5 grid, 2.1 s SDXL grid on an
H100 at 790 TFLOP/s bf16) where the device is CUDA.

    PYTHONPATH=. .venv/bin/python bench/gpu_grid.py --device cpu --tiny      # CI, < 1 min
    PYTHONPATH=wheels:. python bench/gpu_grid.py --device cuda               # H100/H200
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch

FLOOR_S = {"sd15_grid": 0.257, "sdxl_grid": 2.1}  # H100 bf16 compute floors (FACTS.md)
_ARCH = ROOT / "docs" / "reference" / "architectures.json"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tiny", action="store_true", help="tiny test models (CI)")
    parser.add_argument("--runs", type=int, default=None, help="timed runs (10; tiny: 2)")
    parser.add_argument("--steps", type=int, default=None, help="steps (30; tiny: 2)")
    parser.add_argument("--compile", choices=("auto", "on", "off"), default="auto")
    parser.add_argument("--skip-sdxl", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    return parser


def build_full(out: Path, family: str, dtype: torch.dtype) -> None:
    """A full-size random-weight pipeline saved in diffusers' layout."""
    import diffusers
    import transformers

    from inference.tiny import clip_tokenizer

    arch = json.loads(_ARCH.read_text())
    torch.manual_seed(0)
    tok = clip_tokenizer()
    sched = diffusers.DPMSolverMultistepScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
    )
    vae = diffusers.AutoencoderKL(**arch["vae"])
    te = transformers.CLIPTextModel(transformers.CLIPTextConfig(**arch["clip_l"]))
    if family == "sd15":
        pipe: Any = diffusers.StableDiffusionPipeline(
            vae=vae,
            text_encoder=te,
            tokenizer=tok,
            scheduler=sched,
            unet=diffusers.UNet2DConditionModel(**arch["sd15_unet"]),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    else:
        te2 = transformers.CLIPTextModelWithProjection(
            transformers.CLIPTextConfig(**arch["clip_bigg"])
        )
        pipe = diffusers.StableDiffusionXLPipeline(
            vae=vae,
            text_encoder=te,
            text_encoder_2=te2,
            tokenizer=tok,
            tokenizer_2=tok,
            scheduler=sched,
            unet=diffusers.UNet2DConditionModel(**arch["sdxl_unet"]),
        )
    pipe.to(dtype).save_pretrained(out)


def build_models(tmp: Path, args: Any, dtype: torch.dtype) -> Path:
    if args.tiny:
        from inference.tiny import build_sdxl, build_tiny_models

        toml = build_tiny_models(tmp)
        build_sdxl(tmp / "tiny-sdxl")
        toml.write_text(
            toml.read_text() + '\n[[models]]\nname = "xl"\nsource = "tiny-sdxl"\n'
            'family = "sdxl"\ndefault_steps = 4\nbase_size = 64\n'
        )
        return toml
    build_full(tmp / "sd15", "sd15", dtype)
    lines = ['[[models]]\nname = "sd15"\nsource = "sd15"\nfamily = "sd15"\ndefault = true\n']
    if not args.skip_sdxl:
        build_full(tmp / "sdxl", "sdxl", dtype)
        lines.append('[[models]]\nname = "xl"\nsource = "sdxl"\nfamily = "sdxl"\n')
    (tmp / "models.toml").write_text("\n".join(lines))
    return tmp / "models.toml"


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: Any, runs: int, device: str) -> tuple[float, list[float], Any]:
    """(first call s, timed runs s, last result)."""
    start = time.perf_counter()
    result = fn()
    _sync(device)
    first = time.perf_counter() - start
    fn()  # warm-up
    times = []
    for _ in range(runs):
        _sync(device)
        start = time.perf_counter()
        result = fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return first, times, result


def baseline(model_dir: Path, args: Any, dtype: torch.dtype, steps: int, size: int) -> Any:
    """diffusers' own StableDiffusionPipeline: bf16, SDPA (its default), eager, batch 4."""
    import diffusers

    pipe = diffusers.StableDiffusionPipeline.from_pretrained(model_dir, dtype=dtype)
    pipe.to(args.device)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = diffusers.DPMSolverMultistepScheduler.from_config(
        pipe.scheduler.config, use_karras_sigmas=True
    )
    gen = torch.Generator(args.device).manual_seed(0)
    return lambda: (
        pipe(
            "a red fox in the snow",
            num_inference_steps=steps,
            guidance_scale=7.0,
            num_images_per_prompt=4,
            height=size,
            width=size,
            generator=gen,
        ).images
    )


def our_engine(models: Path, args: Any, compiled: bool) -> Any:
    from inference.registry import load_registry
    from inference.settings import WorkerSettings
    from inference.worker.engine import Engine

    worker = WorkerSettings(
        device=args.device, dtype="bfloat16", compile=compiled, threads=args.threads
    )
    return Engine.from_settings(load_registry(models), worker)


def our_jobs(engine: Any, model: str, xl: str | None, steps: int) -> dict[str, Any]:
    from inference.resolve import imagine_spec, upscale_spec, vary_spec
    from pipeline.contracts import UpscaleMode
    from prompt.request import ImagineParams, PromptPart

    def spec(name: str) -> Any:
        text = "a red fox in the snow"
        params = ImagineParams(
            prompt=text,
            parts=(PromptPart(text=text),),
            model=name,
            steps=steps,
            seed=0,
            sampler="dpm++_2m_karras",
        )
        return imagine_spec(params, engine.registry)

    def run(job: Any, source: Any = None) -> Any:
        out = engine.run(job, source, None)
        out.encode()  # off the engine thread in a worker; timed here as image_encode
        return out

    parent = spec(model)
    tile = engine.run(parent, None, None).images[0]
    jobs = {
        "SD1.5 grid": lambda: run(parent),
        "SD1.5 upscale": lambda: run(upscale_spec(parent, 1, UpscaleMode.SUBTLE, "k"), tile),
        "SD1.5 vary": lambda: run(vary_spec(parent, 1, False, "k"), tile),
    }
    if xl is not None:
        jobs["SDXL grid"] = lambda: run(spec(xl))
    return jobs


def row(
    name: str, first: float, times: list[float], out: Any, base: float | None, device: str
) -> str:
    p50, p95 = statistics.median(times), pct(times, 0.95)
    t = out.timings_ms if out is not None and hasattr(out, "timings_ms") else {}
    ratio = f"{base / p50:.2f}x" if base else "–"
    floor = FLOOR_S.get(
        "sd15_grid"
        if name.startswith("SD1.5 grid")
        else "sdxl_grid"
        if name.startswith("SDXL grid")
        else "",
        0,
    )
    roof = f"{floor / p50:.0%}" if floor and device.startswith("cuda") else "–"
    return (
        f"| {name} | {p50:.3f} | {p95:.3f} | {ratio} | {roof} | {t.get('text_encode', 0):.0f} "
        f"| {t.get('denoise_per_step', 0):.1f} | {t.get('vae_decode', 0):.0f} "
        f"| {t.get('image_encode', 0):.0f} | {first:.1f} |"
    )


def main() -> None:
    args = _parser().parse_args()
    torch.set_num_threads(args.threads)
    runs = args.runs or (2 if args.tiny else 10)
    steps = args.steps or (2 if args.tiny else 30)
    compiled = {"on": True, "off": False}.get(args.compile, args.device.startswith("cuda"))
    size, model = (64, "tiny") if args.tiny else (512, "sd15")
    xl = None if args.skip_sdxl else "xl"
    started = time.perf_counter()
    print(
        f"device {args.device}, torch {torch.__version__}, {runs} runs, {steps} steps, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        "| work | p50 s | p95 s | diffusers / ours | roofline | text ms | ms/step "
        "| VAE ms | PNG ms | first call s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp_dir:
        models = build_models(Path(tmp_dir), args, torch.bfloat16)
        base_dir = Path(tmp_dir) / ("tiny-sd15" if args.tiny else "sd15")
        first, times, _ = timed(
            baseline(base_dir, args, torch.bfloat16, steps, size), runs, args.device
        )
        print(row("SD1.5 grid, diffusers", first, times, None, None, args.device))
        base_p50 = statistics.median(times)
        for label, on in [("eager", False)] + ([("compiled", True)] if compiled else []):
            engine = our_engine(models, args, on)
            for name, job in our_jobs(engine, model, xl, steps).items():
                first, times, out = timed(job, runs, args.device)
                base = base_p50 if name == "SD1.5 grid" else None
                print(row(f"{name}, ours {label}", first, times, out, base, args.device))
            del engine
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
