"""Every sampler a member can pick (each name autocomplete offers) runs on the tiny SDXL model
and in an inpainting edit job: the two pipelines test_engine_generation.py's sampler test
(SD 1.5 txt2img) does not reach. Two steps each; the arithmetic is test_ksamplers.py's."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from PIL import Image

from inference.edits import region_spec
from inference.infotext import parse_infotext
from inference.registry import ModelEntry
from inference.samplers import NATIVE, SAMPLERS
from prompt.samplers import MENU_SAMPLERS
from tests.inference.engine_helpers import pixels, spec, with_gen


@pytest.fixture(scope="module")
def xl(registry: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    from inference.tiny import build_sdxl
    from inference.worker.engine import Engine

    folder = tmp_path_factory.mktemp("tiny-sdxl") / "tiny-sdxl"
    build_sdxl(folder)
    entry = ModelEntry("xl", str(folder), "dir", "sdxl", 2, 64)
    with_xl = dataclasses.replace(registry, models={**registry.models, "xl": entry})
    return with_xl, Engine(with_xl)


@pytest.mark.parametrize("name", MENU_SAMPLERS)
def test_every_sampler_paints_on_sdxl(xl: tuple[Any, Any], name: str) -> None:
    registry, engine = xl
    out = engine.run(spec(registry, model="xl", sampler=name, steps=2, seed=3))
    image = pixels(out)
    assert image.shape == (1, 64, 64, 3) and image.std() > 1
    scheduler = engine.pipelines.model("xl").base.scheduler
    assert type(scheduler).__name__ == SAMPLERS[name].scheduler
    if SAMPLERS[name].scheduler == NATIVE:
        assert scheduler.config.sdxl  # Align Your Steps reads SDXL's own table
    assert parse_infotext(out.infotexts[0]).sampler_name == name


@pytest.fixture(scope="module")
def parent(registry: Any, engine: Any) -> tuple[Any, Image.Image]:
    job = spec(registry, seed=11, steps=2)
    return job, engine.run(job).images[0]


@pytest.mark.parametrize("name", MENU_SAMPLERS)
def test_every_sampler_repaints_only_the_region(
    registry: Any, engine: Any, parent: tuple[Any, Image.Image], name: str
) -> None:
    """Vary (Region) on the dedicated inpainting checkpoint: the pipeline blends the kept
    pixels back between steps through the sampler's own `add_noise`."""
    job, source = parent
    edit = region_spec(with_gen(job, sampler=name), 1, "k/1.png", registry, region="left", seed=60)
    out = engine.run(with_gen(edit, batch=1), source=source)
    before = np.asarray(source, dtype=np.int16)
    after = np.asarray(out.images[0], dtype=np.int16)
    assert np.array_equal(after[:, 32:], before[:, 32:]), "outside the region: untouched"
    assert np.abs(after[:, :24] - before[:, :24]).mean() > 1.0, "the region is repainted"
    assert parse_infotext(out.infotexts[0]).sampler_name == name
