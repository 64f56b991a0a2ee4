"""The whole engine in bfloat16 on the CPU: dtype mistakes show up here, without a GPU.

txt2img with two LoRAs, chaos and tile, img2img (upscale), Stable unCLIP (strong variation) and
the safety checker, all in bfloat16, give finite, non-constant images. Kept small (64 px, 2
steps): bfloat16 convolutions are several times slower than float32 on most CPUs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from inference.resolve import upscale_spec, vary_spec
from pipeline.contracts import UpscaleMode
from prompt.request import LoraRef
from tests.inference.engine_helpers import pixels, spec


@pytest.fixture(scope="module")
def bf16(registry: Any) -> Any:
    from inference.worker.engine import Engine

    return Engine(registry, device="cpu", dtype=torch.bfloat16, preview_every_steps=2)


def _sane(out: Any) -> None:
    image = pixels(out)
    assert np.isfinite(image).all() and image.std() > 1
    assert out.pngs and all(isinstance(flag, bool) for flag in out.nsfw)


def test_txt2img_with_loras_chaos_tile_and_the_checker_in_bfloat16(
    registry: Any, bf16: Any
) -> None:
    loras = (LoraRef(name="ink", weight=0.8), LoraRef(name="glow", weight=0.5))
    job = spec(registry, batch=2, steps=2, seed=11, loras=loras, chaos=40, tile=True)
    previews: list[Any] = []
    out = bf16.run(job, on_progress=lambda s, t, lat: previews.append(lat))
    _sane(out)
    assert bf16.pipelines.model("tiny").base.unet.dtype == torch.bfloat16
    assert bf16.safety_checker() is not None and len(out.nsfw) == 2
    assert out.timings_ms["safety_check"] > 0


def test_img2img_and_unclip_in_bfloat16(registry: Any, bf16: Any) -> None:
    parent = spec(registry, batch=2, steps=2, seed=5)
    tile = bf16.run(parent).images[0]
    _sane(bf16.run(upscale_spec(parent, 1, UpscaleMode.SUBTLE, "k/1.png"), source=tile))
    strong = vary_spec(parent, 1, True, "k/1.png")
    strong = strong.model_copy(
        update={"generation": strong.generation.model_copy(update={"batch": 1, "steps": 2})}
    )
    _sane(bf16.run(strong, source=tile))
    assert bf16.pipelines.unclip().pipe.unet.dtype == torch.bfloat16
