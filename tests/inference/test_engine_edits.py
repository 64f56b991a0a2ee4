"""Zoom Out, Pan, Make Square and Vary (Region) on the tiny models with the real diffusers
inpainting pipelines: what the member did not select stays exactly as it was."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

from inference.canvas import render_mask
from inference.edits import pan_spec, region_spec, square_spec, zoom_spec
from inference.errors import BadRequestError
from inference.infotext import parse_infotext
from inference.worker.inpaint import SEAM_PX
from pipeline.contracts import JobKind, PanDirection
from tests.inference.engine_helpers import params, spec, with_gen

# "tiny" names a dedicated 9-channel inpainting checkpoint; "tiny-single-file" has none, so
# it repaints with the base model (masked img2img).
DEDICATED, BASE = "tiny", "tiny-single-file"


def _arr(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


@pytest.fixture(scope="module")
def square_parent(registry: Any, engine: Any) -> tuple[Any, Image.Image]:
    job = spec(registry, seed=11, steps=2)
    return job, engine.run(job).images[0]


@pytest.fixture(scope="module")
def wide_parent(registry: Any, engine: Any) -> tuple[Any, Image.Image]:
    job = spec(registry, seed=12, steps=2, aspect_ratio="3:1")
    return job, engine.run(job).images[0]


def _on(job: Any, model: str) -> Any:
    return with_gen(job, model=model)


@pytest.mark.parametrize(
    ("model", "direction", "size", "kept"),
    [
        (DEDICATED, PanDirection.LEFT, (128, 64), (slice(0, 64), slice(64, 128))),
        (BASE, PanDirection.DOWN, (64, 128), (slice(0, 64), slice(0, 64))),
    ],
)
def test_pan_keeps_the_source_exactly_and_paints_the_new_side(
    registry: Any, engine: Any, square_parent: Any, model: str, direction: Any, size: Any, kept: Any
) -> None:
    parent, source = square_parent
    job = pan_spec(_on(parent, model), 1, direction, "k/1.png", registry, seed=70)
    assert job.kind is JobKind.PAN and (job.generation.width, job.generation.height) == size
    out = engine.run(job, source=source)
    assert len(out.images) == 4 and out.grid is not None and out.seeds == [70, 71, 72, 73]
    for image in out.images:
        assert image.size == size
        pixels = _arr(image)
        assert np.array_equal(pixels[kept], _arr(source)), "the source's pixels, exactly"
        new = np.ones(pixels.shape[:2], bool)
        new[kept] = False
        assert pixels[new].std() > 1.0, "the new side is painted"
    assert len({img.tobytes() for img in out.images}) == 4
    info = parse_infotext(out.infotexts[0])
    assert info.params["Outpainting direction"] == direction.value
    assert info.params["Mask blur"] == str(SEAM_PX) and info.size == size


def test_zoom_out_shrinks_the_source_into_the_centre(
    registry: Any, engine: Any, square_parent: Any
) -> None:
    parent, source = square_parent
    job = zoom_spec(parent, 1, 2.0, "k/1.png", registry, seed=80)
    assert job.edit is not None and job.edit.box == (16, 16, 32, 32)
    out = engine.run(job, source=source)
    shrunk = _arr(source.resize((32, 32), Image.Resampling.LANCZOS))
    for image in out.images:
        assert image.size == (64, 64), "a grid at the model's size"
        assert np.array_equal(_arr(image)[16:48, 16:48], shrunk)
    assert parse_infotext(out.infotexts[0]).params["Zoom out"] == "2"
    # A remixed --ar changes the frame; the factor still shrinks the source.
    wide = zoom_spec(parent, 1, 1.5, "k/1.png", registry, params(aspect_ratio="3:1"))
    assert (wide.generation.width, wide.generation.height) == (128, 64)
    assert wide.edit is not None and wide.edit.box == (42, 10, 43, 43)


def test_make_square_grows_the_short_side(registry: Any, engine: Any, wide_parent: Any) -> None:
    parent, source = wide_parent
    assert source.size == (128, 64)
    job = square_spec(parent, 1, "k/1.png", registry, seed=90)
    out = engine.run(job, source=source)
    for image in out.images:
        assert image.size == (128, 128)
        assert np.array_equal(_arr(image)[32:96], _arr(source))
    with pytest.raises(BadRequestError, match="already square"):
        square_spec(with_gen(parent, width=64, height=64), 1, "k", registry)


@pytest.mark.parametrize("model", [DEDICATED, BASE])
def test_vary_region_repaints_only_the_region(
    registry: Any, engine: Any, square_parent: Any, model: str
) -> None:
    parent, source = square_parent
    job = region_spec(_on(parent, model), 1, "k/1.png", registry, region="left", seed=60)
    out = engine.run(job, source=source)
    original = _arr(source)
    for image in out.images:
        pixels = _arr(image)
        assert image.size == (64, 64)
        assert np.array_equal(pixels[:, 32:], original[:, 32:]), "outside the mask: untouched"
        inner = slice(0, 32 - SEAM_PX)
        assert np.abs(pixels[:, inner] - original[:, inner]).mean() > 1.0, "the region changed"
    info = parse_infotext(out.infotexts[0])
    assert info.params["Region"] == "left" and info.params["Inpaint area"] == "Whole picture"
    strength = "1" if model == DEDICATED else "0.85"
    assert info.params["Denoising strength"] == strength
    pipe = engine.pipelines.model(model).derived["inpaint"]
    assert pipe.unet.config.in_channels == (9 if model == DEDICATED else 4)


def test_a_drawn_mask_and_its_bad_forms(registry: Any, engine: Any, square_parent: Any) -> None:
    parent, source = square_parent
    job = region_spec(parent, 1, "k/1.png", registry, mask_key="mask.png", seed=61)
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (40, 8, 60, 30))
    out = engine.run(job, source=source, mask=mask)
    keep = np.asarray(mask) < 128
    assert np.array_equal(_arr(out.images[0])[keep], _arr(source)[keep])
    with pytest.raises(BadRequestError, match="selects nothing"):
        engine.run(job, source=source, mask=Image.new("L", (64, 64), 0))
    with pytest.raises(BadRequestError, match="whole image"):
        engine.run(job, source=source, mask=Image.new("L", (64, 64), 255))
    with pytest.raises(BadRequestError, match="32×32 but the image is 64×64"):
        engine.run(job, source=source, mask=Image.new("L", (32, 32), 255))
    with pytest.raises(BadRequestError, match="mask image is missing"):
        engine.run(job, source=source)


def test_sizes_and_limits_are_refused_before_any_work(registry: Any, square_parent: Any) -> None:
    parent, _ = square_parent
    for factor in (0.9, 2.5):
        with pytest.raises(BadRequestError, match=r"from 1\.0 to 2\.0"):
            zoom_spec(parent, 1, factor, "k", registry)
    with pytest.raises(BadRequestError, match="nothing to paint"):
        zoom_spec(parent, 1, 1.0, "k", registry)
    # The tiny model's limit is 16 × 64² = 65,536 px: repeated pans grow up to it.
    once = pan_spec(with_gen(parent, width=256, height=128), 1, PanDirection.LEFT, "k", registry)
    assert (once.generation.width, once.generation.height) == (384, 128)
    with pytest.raises(BadRequestError, match="beyond this model's limit of 65,536 pixels"):
        pan_spec(with_gen(parent, width=384, height=128), 1, PanDirection.LEFT, "k", registry)
    with pytest.raises(BadRequestError, match="unknown region"):
        region_spec(parent, 1, "k", registry, region="middle")
    with pytest.raises(BadRequestError, match="image 3 does not exist"):
        pan_spec(parent, 3, PanDirection.LEFT, "k", registry)


def test_preset_regions_cover_exactly_their_pixels() -> None:
    from inference.canvas import region_shapes

    left = np.asarray(render_mask(region_shapes("left"), (64, 48))) > 0
    assert left[:, :32].all() and not left[:, 32:].any()
    centre = np.asarray(render_mask(region_shapes("centre"), (64, 64))) > 0
    assert centre[16:48, 16:48].all() and centre.sum() == 32 * 32
    corner = np.asarray(render_mask(region_shapes("bottom-right"), (64, 64))) > 0
    assert corner[32:, 32:].all() and corner.sum() == 32 * 32


def test_u_on_a_pan_grid_picks_the_tile_as_it_is(
    registry: Any, engine: Any, square_parent: Any
) -> None:
    from inference.edits import pick_spec

    parent, source = square_parent
    pan = pan_spec(parent, 1, PanDirection.RIGHT, "k/1.png", registry, seed=5)
    grid = engine.run(pan, source=source)
    picked_job = pick_spec(pan, 3, "k/3.png")
    assert (picked_job.generation.width, picked_job.generation.seed) == (128, 7)
    picked = engine.run(picked_job, source=grid.images[2])
    assert picked.steps_run == 0 and picked.seeds == [7]
    assert np.array_equal(_arr(picked.images[0]), _arr(grid.images[2]))
    # ...and it pans again, growing the canvas.
    again = pan_spec(picked_job, 1, PanDirection.RIGHT, "k/p.png", registry)
    assert (again.generation.width, again.generation.height) == (192, 64)
