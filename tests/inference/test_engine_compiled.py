"""The compiled engine on the CPU: no graph breaks in the UNet forward, no recompiles after the
first job of each shape bucket, whatever the sampler, LoRAs or chaos (docs/engine.md).

torch._dynamo traces for real with `fullgraph=True` (a graph break is an error), into a
backend that only counts graphs and runs them eagerly, so the test proves what the GPU worker
relies on without paying for inductor's code generation.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from inference.resolve import upscale_spec
from pipeline.contracts import UpscaleMode
from prompt.request import LoraRef
from tests.inference.engine_helpers import diff, spec

INK, GLOW = LoraRef(name="ink", weight=0.8), LoraRef(name="glow", weight=0.5)
# (aspect ratio, tile) buckets on the tiny model (base 64 px): 64x64, 128x64; tile is its own
# graph (circular padding is a different convolution).
MIXED_JOBS: list[dict[str, Any]] = [
    {"sampler": "euler"},
    {"sampler": "dpm++_2m_karras", "loras": (INK,)},
    {"aspect_ratio": "3:1", "sampler": "ddim"},
    {"sampler": "euler_a", "loras": (INK, GLOW), "chaos": 30},
    {"tile": True},
    {"aspect_ratio": "3:1", "loras": (GLOW,), "chaos": 70},
    {"sampler": "unipc", "loras": ()},
    {"tile": True, "loras": (GLOW, INK), "sampler": "heun"},
    {"sampler": "dpm++_sde", "loras": (GLOW,)},
    {"aspect_ratio": "3:1", "sampler": "lms_karras", "loras": (INK, GLOW)},
    {"chaos": 100, "sampler": "pndm"},
    {"loras": (INK,), "sampler": "dpm2_a"},
    {"aspect_ratio": "3:1", "tile": False, "chaos": 10},
    {"tile": True, "chaos": 50, "loras": (INK,)},
    {"loras": (GLOW, INK), "sampler": "dpm++_2m_sde"},
    {"sampler": "lcm"},
    {"aspect_ratio": "3:1", "loras": (INK,), "sampler": "euler"},
    {"loras": ()},
    {"tile": True, "sampler": "ddim"},
    {"loras": (GLOW,), "chaos": 20, "sampler": "dpm++_2s_a"},
]


@pytest.fixture(scope="module")
def compiled(registry: Any) -> tuple[Any, Any]:
    from torch._dynamo.testing import CompileCounter

    from inference.worker.compiled import Compiler
    from inference.worker.engine import Engine

    torch._dynamo.reset()
    counter = CompileCounter()
    engine = Engine(registry, device="cpu", compiler=Compiler(counter, lora_slots=2))
    return engine, counter


@pytest.mark.slow
def test_a_mixed_sequence_of_20_jobs_compiles_once_per_bucket(
    registry: Any, compiled: tuple[Any, Any], engine: Any
) -> None:
    compiled_engine, counter = compiled
    seen: dict[tuple[int, int, bool], int] = {}
    for i, kw in enumerate(MIXED_JOBS):
        job = spec(registry, batch=2, steps=2, seed=100 + i, **kw)
        before = counter.frame_count
        compiled_engine.run(job)
        gen = job.generation
        bucket = (gen.width, gen.height, gen.tile)
        if bucket in seen:
            assert counter.frame_count == before, f"job {i} {kw} recompiled {bucket}"
        else:
            assert counter.frame_count > before, "a new bucket compiles"
            seen[bucket] = i
    assert set(seen) == {(64, 64, False), (128, 64, False), (64, 64, True)}
    # UNet + VAE decoder per bucket, nothing more.
    assert counter.frame_count == 2 * len(seen)


@pytest.mark.slow
def test_compiled_slots_match_the_eager_engine(
    registry: Any, compiled: tuple[Any, Any], engine: Any
) -> None:
    compiled_engine, _ = compiled
    # <lora:glow:0.2:1>: the slot weighs the UNet part, the text encoder's adapter the rest.
    split = LoraRef(name="glow", weight=0.2, unet_weight=1.0)
    for loras in [(), (INK,), (INK, GLOW), (split,)]:
        job = spec(registry, batch=2, steps=2, seed=9, loras=loras)
        # Unused slots at weight 0 leave the base output unchanged; used ones match peft's.
        assert diff(compiled_engine.run(job), engine.run(job)) < 0.5, loras


@pytest.mark.slow
def test_an_upscale_is_one_more_bucket(registry: Any, compiled: tuple[Any, Any]) -> None:
    compiled_engine, counter = compiled
    parent = spec(registry, batch=2, steps=2, seed=3)
    tile = compiled_engine.run(parent).images[0]
    job = upscale_spec(parent, 1, UpscaleMode.SUBTLE, "k/1.png")
    compiled_engine.run(job, source=tile)
    after_first = counter.frame_count
    compiled_engine.run(upscale_spec(parent, 2, UpscaleMode.CREATIVE, "k/2.png"), source=tile)
    assert counter.frame_count == after_first


@pytest.mark.slow
def test_a_mis_shaped_lora_leaves_the_slots_usable(
    registry: Any, tmp_path: Any, compiled: tuple[Any, Any]
) -> None:
    """A LoRA that does not fit the model (an SDXL-wide one on SD 1.5) is a one-line error on
    a compiled worker too, and the slot it was swapped into works for the next job."""
    import dataclasses
    import shutil

    import numpy as np
    from safetensors.torch import load_file, save_file

    from inference.errors import ModelFileError
    from tests.inference.engine_helpers import pixels

    for name in ("ink", "glow"):
        shutil.copy(registry.lora_dir / f"{name}.safetensors", tmp_path / f"{name}.safetensors")
    wide = load_file(str(registry.lora_dir / "glow.safetensors"))
    for key in [k for k in wide if "attn2_to_k" in k and "lora_down" in k]:
        wide[key] = torch.zeros(wide[key].shape[0], wide[key].shape[1] * 2)
    save_file(wide, str(tmp_path / "wide.safetensors"))
    with_wide = dataclasses.replace(registry, lora_dir=tmp_path)
    compiled_engine, _ = compiled
    compiled_engine.registry = with_wide
    compiled_engine.loras.registry = with_wide
    try:
        job = spec(with_wide, batch=2, steps=2, seed=12)
        base = pixels(compiled_engine.run(job))
        glow = spec(with_wide, batch=2, steps=2, seed=12, loras=(GLOW,))
        with_glow = pixels(compiled_engine.run(glow))
        for _ in range(3):  # more failures than slots: none may be left broken
            bad = spec(with_wide, batch=2, steps=2, seed=12, loras=(LoraRef(name="wide"),))
            with pytest.raises(ModelFileError) as error:
                compiled_engine.run(bad)
            assert "LoRA 'wide' could not be loaded" in error.value.message
            assert "\n" not in error.value.message
        assert np.array_equal(pixels(compiled_engine.run(glow)), with_glow)
        assert np.array_equal(pixels(compiled_engine.run(job)), base)
        ink = spec(with_wide, batch=2, steps=2, seed=12, loras=(INK, GLOW))
        assert diff(compiled_engine.run(ink), with_glow) > 0.1
    finally:
        compiled_engine.registry = registry
        compiled_engine.loras.registry = registry
