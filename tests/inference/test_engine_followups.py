"""upscale, vary (subtle / strong with and without unCLIP) and reroll on the tiny models."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference.infotext import parse_infotext
from inference.resolve import reroll_spec, upscale_spec, vary_spec
from pipeline.contracts import JobKind, UpscaleMode
from tests.inference.engine_helpers import diff, pixels, spec, with_gen


@pytest.fixture(scope="module")
def parent(registry: Any, engine: Any) -> tuple[Any, Any]:
    job = spec(registry, batch=4, seed=500, steps=4)
    return job, engine.run(job)


def test_upscale_is_exactly_2x_in_both_modes(registry: Any, engine: Any, parent: Any) -> None:
    job, out = parent
    tile = out.images[1]
    subtle_job = upscale_spec(job, 2, UpscaleMode.SUBTLE, "k/2.png")
    subtle = engine.run(subtle_job, source=tile)
    steps: list[tuple[int, int]] = []
    creative = engine.run(
        upscale_spec(job, 2, UpscaleMode.CREATIVE, "k/2.png"),
        source=tile,
        on_progress=lambda step, total, latents: steps.append((step, total)),
    )
    assert steps == [(1, 2), (2, 2)], "progress counts the img2img steps that run"
    for result in (subtle, creative):
        assert len(result.images) == 1 and result.grid is None
        assert result.images[0].size == (tile.width * 2, tile.height * 2)
        assert result.seeds == [501], "the tile's own seed"
    # img2img runs int(steps × strength) steps: creative repaints more.
    assert (subtle.steps_run, creative.steps_run) == (1, 2)
    assert diff(subtle, creative) > 0.5
    info = parse_infotext(subtle.infotexts[0])
    assert info.params["Denoising strength"] == "0.3" and info.size == (128, 128)
    again = engine.run(subtle_job, source=tile)
    assert np.array_equal(pixels(again), pixels(subtle)), "same seed, same upscale"
    # Few steps × low strength still repaints at least one step.
    short = upscale_spec(with_gen(job, steps=1), 2, UpscaleMode.SUBTLE, "k/2.png")
    assert engine.run(short, source=tile).steps_run == 1


def test_vary_subtle_is_a_new_grid_from_the_tile(registry: Any, engine: Any, parent: Any) -> None:
    job, out = parent
    varied_job = vary_spec(job, 3, strong=False, source_key="k/3.png", seed=900)
    varied = engine.run(varied_job, source=out.images[2])
    assert varied_job.kind == JobKind.VARY_SUBTLE
    assert len(varied.images) == 4 and varied.grid is not None
    assert varied.images[0].size == out.images[2].size and varied.seeds == [900, 901, 902, 903]
    assert len({img.tobytes() for img in varied.images}) == 4
    assert parse_infotext(varied.infotexts[0]).params["Denoising strength"] == "0.6"
    other = engine.run(varied_job, source=out.images[0])
    assert diff(varied, other) > 0.5, "the source tile matters"


def test_vary_strong_uses_unclip_and_its_noise_level(
    registry: Any, engine: Any, parent: Any
) -> None:
    from inference.worker.engine import Engine

    job, out = parent
    strong_job = vary_spec(job, 1, strong=True, source_key="k/1.png", seed=77)
    steps: list[int] = []
    strong = engine.run(
        strong_job, source=out.images[0], on_progress=lambda step, total, lat: steps.append(step)
    )
    assert steps == [1, 2, 3, 4], "unCLIP reports progress too"
    assert engine.pipelines.unclip() is not None
    assert len(strong.images) == 4 and strong.images[0].size == (64, 64)
    params = parse_infotext(strong.infotexts[0]).params
    assert "Denoising strength" not in params
    # The PNG names the unCLIP model that painted it (its folder name, not its path).
    assert registry.unclip is not None
    assert params["Model"] == Path(registry.unclip.source).name == "tiny-unclip"
    assert params["Variation of"] == job.generation.model and "Model hash" not in params
    assert params["Noise level"] == str(registry.unclip.noise_level)
    # Tiny random models react weakly to the image embedding, but they do react.
    assert diff(strong, engine.run(strong_job, source=out.images[3])) > 0.1
    assert registry.unclip is not None
    calmer = dataclasses.replace(registry.unclip, noise_level=0)
    calm_engine = Engine(dataclasses.replace(registry, unclip=calmer))
    assert diff(calm_engine.run(strong_job, source=out.images[0]), strong) > 0.1


def test_vary_strong_with_unclip_does_not_claim_loras_it_cannot_apply(
    registry: Any, engine: Any, parent: Any
) -> None:
    job, out = parent
    with_lora = with_gen(job, loras=[{"name": "ink", "weight": 0.7}])
    strong = engine.run(
        vary_spec(with_lora, 1, strong=True, source_key="k/1.png", seed=77), source=out.images[0]
    )
    assert "<lora:" not in strong.infotexts[0]
    subtle = engine.run(
        vary_spec(with_lora, 1, strong=False, source_key="k/1.png", seed=77), source=out.images[0]
    )
    assert "<lora:ink:0.7>" in subtle.infotexts[0]


def test_vary_strong_without_unclip_is_high_strength_img2img(
    registry: Any, engine: Any, parent: Any
) -> None:
    from inference.worker.engine import Engine

    job, out = parent
    no_unclip = Engine(dataclasses.replace(registry, unclip=None))
    strong_job = vary_spec(job, 1, strong=True, source_key="k/1.png", seed=77)
    strong = no_unclip.run(strong_job, source=out.images[0])
    subtle = no_unclip.run(
        vary_spec(job, 1, strong=False, source_key="k/1.png", seed=77), source=out.images[0]
    )
    assert parse_infotext(strong.infotexts[0]).params["Denoising strength"] == "0.85"
    assert strong.steps_run == 3 and subtle.steps_run == 2
    assert diff(strong, subtle) > 0.5


def test_reroll_is_the_same_request_with_new_seeds(registry: Any, engine: Any, parent: Any) -> None:
    job, out = parent
    rerolled = engine.run(reroll_spec(job, seed=600))
    assert rerolled.seeds == [600, 601, 602, 603] and diff(rerolled, out) > 0.5
    assert parse_infotext(rerolled.infotexts[0]).prompt == job.generation.prompt
