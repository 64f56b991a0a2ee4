"""Paint with the trained tiny model through the engine, as `nanke imagine` and the worker do.

    images = imagine(engine, registry, "a red circle --cfg 7", seed=0, count=8)
    images = follow_up(engine, parent_job, source_image, kind="vary_strong", seed=3)

A prompt is parsed by the real parser (flags, `--no`, `<lora:…>`, `(word:1.5)`), resolved
against the registry and run by `Engine.run`; tiles i of a batch use seed + i.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from inference.resolve import imagine_spec, upscale_spec, vary_spec
from pipeline.contracts import JobSpec, UpscaleMode
from prompt.parser import parse_prompt
from tests.inference.engine_helpers import with_gen


def imagine_job(registry: Any, prompt: str, seed: int = 0, batch: int = 8, **gen: Any) -> JobSpec:
    params = parse_prompt(prompt)[0]
    if params.seed is None:
        params = params.model_copy(update={"seed": seed})
    return with_gen(imagine_spec(params, registry), batch=batch, **gen)


def imagine(
    engine: Any, registry: Any, prompt: str, seed: int = 0, count: int = 8, **gen: Any
) -> list[Image.Image]:
    """`count` pictures for seeds seed … seed + count - 1, in grids of up to 4 (as users get)."""
    images: list[Image.Image] = []
    for first in range(0, count, 4):
        job = imagine_job(registry, prompt, seed + first, min(4, count - first), **gen)
        images += engine.run(job).images
    return images


def follow_up(
    engine: Any,
    parent: JobSpec,
    source: Image.Image,
    kind: str,
    seed: int = 0,
    count: int = 4,
    **gen: Any,
) -> list[Image.Image]:
    """Upscale (subtle, strength 0.3), Vary Subtle (0.6) or Vary Strong (0.85 without unCLIP)
    of `source` as a tile of `parent`; `gen` overrides the parent's generation (a new prompt)."""
    if kind == "upscale":
        return list(
            engine.run(
                with_gen(upscale_spec(parent, 1, UpscaleMode.SUBTLE, "source"), **gen),
                source=source,
            ).images
        )
    images: list[Image.Image] = []
    for first in range(0, count, 4):
        job = vary_spec(
            parent, 1, strong=kind == "vary_strong", source_key="source", seed=seed + first
        )
        job = with_gen(job, batch=min(4, count - first), **gen)
        images += engine.run(job, source=source).images
    return images
