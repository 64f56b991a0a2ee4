"""The sdxl family path (two text encoders, pooled embeddings) on a tiny SDXL pipeline."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference.registry import ModelEntry
from inference.resolve import upscale_spec
from pipeline.contracts import UpscaleMode
from tests.inference.engine_helpers import diff, pixels, spec


@pytest.fixture(scope="module")
def xl(registry: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    from inference.tiny import build_sdxl
    from inference.worker.engine import Engine

    folder = tmp_path_factory.mktemp("tiny-sdxl") / "tiny-sdxl"
    build_sdxl(folder)
    entry = ModelEntry("xl", str(folder), "dir", "sdxl", 2, 64)
    with_xl = dataclasses.replace(registry, models={**registry.models, "xl": entry})
    return with_xl, Engine(with_xl)


def test_sdxl_imagine_clip_skip_and_upscale(xl: tuple[Any, Path]) -> None:
    registry, engine = xl
    job = spec(registry, model="xl", batch=2)
    out = engine.run(job)
    assert len(out.images) == 2 and out.images[0].size == (64, 64)
    assert np.array_equal(pixels(engine.run(job)), pixels(out))
    assert diff(engine.run(spec(registry, model="xl", batch=2, clip_skip=2)), out) > 0.5
    assert diff(engine.run(spec(registry, "a castle", model="xl", batch=2)), out) > 0.5
    up = engine.run(upscale_spec(job, 2, UpscaleMode.SUBTLE, "k/2.png"), source=out.images[1])
    assert up.images[0].size == (128, 128) and up.seeds == [out.seeds[1]]


def test_sdxl_pan_keeps_the_source_through_the_xl_inpainting_pipeline(
    xl: tuple[Any, Path],
) -> None:
    """No inpainting checkpoint: the base SDXL model repaints by masked img2img."""
    from inference.edits import pan_spec
    from pipeline.contracts import PanDirection

    registry, engine = xl
    job = spec(registry, model="xl", batch=1)
    source = engine.run(job).images[0]
    panned = engine.run(pan_spec(job, 1, PanDirection.RIGHT, "k/1.png", registry), source=source)
    assert [img.size for img in panned.images] == [(128, 64)] * 4
    kept = np.asarray(source, dtype=np.int16)
    for image in panned.images:
        assert np.array_equal(np.asarray(image, dtype=np.int16)[:, :64], kept)
    assert type(engine.pipelines.model("xl").derived["inpaint"]).__name__ == (
        "StableDiffusionXLInpaintPipeline"
    )


def test_sdxl_embedding_loads_into_both_encoders(xl: tuple[Any, Any], tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    from inference.worker.embeddings import load_embeddings
    from inference.worker.prompt_encoding import chunk_tokens

    registry, engine = xl
    pipe = engine.pipelines.model("xl").base
    gen = torch.Generator().manual_seed(4)
    width = pipe.text_encoder.get_input_embeddings().weight.shape[1]
    width_2 = pipe.text_encoder_2.get_input_embeddings().weight.shape[1]
    vectors = {"clip_l": torch.randn(2, width, generator=gen)}
    vectors["clip_g"] = torch.randn(2, width_2, generator=gen)
    save_file(vectors, str(tmp_path / "xltok.safetensors"))
    before = pixels(engine.run(spec(registry, "a xltok fox", model="xl")))
    assert load_embeddings(pipe, [tmp_path / "xltok.safetensors"], sdxl=True) == ["xltok"]
    try:
        for tokenizer in (pipe.tokenizer, pipe.tokenizer_2):
            assert len(chunk_tokens(tokenizer, "a xltok fox")[0]) == 4  # a, tok, tok_1, fox
        after = pixels(engine.run(spec(registry, "a xltok fox", model="xl")))
        assert diff(before, after) > 0.2
    finally:
        for tokenizer, encoder in (
            (pipe.tokenizer, pipe.text_encoder),
            (pipe.tokenizer_2, pipe.text_encoder_2),
        ):
            pipe.unload_textual_inversion(
                tokens=["xltok", "xltok_1"], tokenizer=tokenizer, text_encoder=encoder
            )


def test_sdxl_prompt_editing_and_and_carry_pooled_embeddings(xl: tuple[Any, Any]) -> None:
    registry, engine = xl

    def run(text: str) -> Any:
        return pixels(engine.run(spec(registry, text, model="xl", batch=2, steps=3)))

    red = run("a red fox")
    assert np.array_equal(run("a [red:blue:1.0] fox"), red)
    assert diff(run("a red fox :0.5 AND a red fox :0.5"), red) < 0.5
    assert diff(run("a red fox AND a blue fox"), red) > 0.2
