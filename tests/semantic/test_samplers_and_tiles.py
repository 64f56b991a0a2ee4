"""Every sampler paints a recognisable picture at its documented step count, and `--tile`
pictures wrap around: schedule bugs and padding bugs show up as pictures a person would reject."""

from __future__ import annotations

from typing import Any

import numpy as np

from inference.samplers import SAMPLERS
from prompt.samplers import sampler_words
from tests.semantic.painting import imagine
from tests.semantic.scoring import as_array, read

# LCM's documented use (inference/samplers.py): 4-8 steps at cfg 1-2, for LCM models; on
# this ordinary model it gets its upper bound. Every other sampler: the model's default steps.
DOCUMENTED = {"lcm": "--steps 8 --cfg 2"}


def test_every_sampler_paints_the_prompt_at_its_documented_steps(
    trained_engine: Any, trained_registry: Any
) -> None:
    failed = {}
    for name in SAMPLERS:
        flags = " ".join([*sampler_words(name), DOCUMENTED.get(name, "")])
        images = imagine(trained_engine, trained_registry, f"a blue circle {flags}", 40, 4)
        readings = [read(i) for i in images]
        if sum(r.shows("blue", "circle") for r in readings) < 3:
            failed[name] = [(r.colour, r.shape) for r in readings]
    assert not failed, f"samplers that do not paint 'a blue circle' (of 4 seeds): {failed}"


def _seam(image: Any) -> float:
    """How much the picture jumps from its last column back to its first, relative to how
    much neighbouring columns differ inside it (≈ 1 for a picture that wraps around)."""
    pixels = as_array(image)
    inside = np.abs(np.diff(pixels, axis=1)).mean()
    across = np.abs(pixels[:, -1] - pixels[:, 0]).mean()
    return float(across / max(inside, 1e-6))


def test_tile_pictures_wrap_around(trained_engine: Any, trained_registry: Any) -> None:
    prompt = "a green circle on the right on a gray background"
    plain = imagine(trained_engine, trained_registry, prompt, seed=5, count=6)
    tiled = imagine(trained_engine, trained_registry, f"{prompt} --tile", seed=5, count=6)
    seams = [_seam(i) for i in tiled]
    assert max(seams) < 3.0, seams
    assert np.mean(seams) < 0.5 * np.mean([_seam(i) for i in plain])
