"""Inpainting and outpainting (inference/edits.py) on the trained tiny model: Vary (Region)
repaints only its region and follows the prompt there; Pan and Zoom Out continue the picture's
background into the new area."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from inference import tiny_shapes
from inference.edits import pan_spec, region_spec, zoom_spec
from pipeline.contracts import PanDirection
from prompt.parser import parse_prompt
from tests.semantic.painting import imagine_job
from tests.semantic.scoring import as_array, colour_fraction


def _drawn(picture: tiny_shapes.Picture) -> Image.Image:
    return Image.fromarray(tiny_shapes.draw(picture))


def test_vary_region_repaints_only_its_region_and_follows_the_prompt_there(
    trained_engine: Any, trained_registry: Any
) -> None:
    source = _drawn(tiny_shapes.Picture("square", "blue", "right", "white"))
    parent = imagine_job(trained_registry, "a blue square on the right", batch=1)
    original = as_array(source)

    def repaint(prompt: str) -> list[Image.Image]:
        remix = parse_prompt(prompt)[0]
        job = region_spec(
            parent, 1, "source", trained_registry, region="left", params=remix, seed=90
        )
        images = trained_engine.run(job, source=source).images
        for image in images:
            kept = as_array(image)[:, 32:]
            assert np.array_equal(kept, original[:, 32:]), "outside the region: untouched"
        return images

    def red_on_the_left(images: list[Image.Image]) -> list[float]:
        return [colour_fraction(i.crop((0, 0, 32, 64)), "red") for i in images]

    asked = red_on_the_left(repaint("a red circle on the left"))
    unasked = red_on_the_left(repaint("a blue square on the right"))
    assert sum(share > 0.1 for share in asked) >= 2, asked
    assert sum(asked) > sum(unasked) + 0.2, (asked, unasked)


def test_pan_and_zoom_out_continue_the_background(
    trained_engine: Any, trained_registry: Any
) -> None:
    for background in ("black", "gray"):
        picture = tiny_shapes.Picture("circle", "red", "centre", background)
        source = _drawn(picture)
        parent = imagine_job(trained_registry, picture.caption(), batch=1)
        pan = pan_spec(parent, 1, PanDirection.LEFT, "source", trained_registry, seed=95)
        panned = trained_engine.run(pan, source=source).images
        assert all(img.size == (128, 64) for img in panned)
        new_area = [colour_fraction(img.crop((0, 0, 56, 64)), background) for img in panned]
        assert min(new_area) > 0.7, (background, new_area)
        zoom = zoom_spec(parent, 1, 2.0, "source", trained_registry, seed=96)
        zoomed = trained_engine.run(zoom, source=source).images
        ring = np.ones((64, 64), bool)
        ring[12:52, 12:52] = False
        shares = [
            colour_fraction(np.asarray(image.convert("RGB"), np.float32)[ring][None], background)
            for image in zoomed
        ]
        # One seed in four (98, 2026-12-01) keeps the fill's pixel noise in part of the gray
        # ring (0.63 gray): a weakness of the model, noted in docs/engine.md.
        assert sum(share > 0.7 for share in shares) >= 3, (background, shares)
        assert min(shares) > 0.5, (background, shares)
