"""Every sampler paints a recognisable picture at its documented step count (schedule bugs show
up as pictures a person would reject), and `--tile` paints pictures that wrap around."""

from __future__ import annotations

from typing import Any

import numpy as np

from inference.samplers import NATIVE, SAMPLERS
from prompt.samplers import sampler_words, split_schedule
from tests.semantic.painting import imagine
from tests.semantic.scoring import label_pixels, read

# LCM's documented use (inference/samplers.py): 4-8 steps at cfg 1-2, for LCM models; on
# this ordinary model it gets its upper bound. DDIM CFG++ divides the CFG scale by 12.5, as
# A1111 does: its full guidance is --cfg 12.5 (at the default 7 it painted blue but 2 of 4
# circles, seeds 40-43, 2026-12-01). Every other sampler: the model's default steps.
DOCUMENTED = {"lcm": "--steps 8 --cfg 2", "ddim_cfgpp": "--cfg 12.5"}


def _covering() -> list[str]:
    """Every diffusers sampler, every native sampler on its own schedule, and every schedule
    once (on Euler): the native sampler x schedule pairs only combine those two (≈ 50 runs
    instead of ≈ 140, which cost 0.4-2 CPU s each)."""
    names = []
    for name, spec in SAMPLERS.items():
        base, schedule = split_schedule(name)
        if spec.scheduler != NATIVE or schedule is None or base == "euler":
            names.append(name)
    return names


def test_every_sampler_paints_the_prompt_at_its_documented_steps(
    trained_engine: Any, trained_registry: Any
) -> None:
    failed = {}
    for name in _covering():
        flags = " ".join([*sampler_words(name), DOCUMENTED.get(name, "")])
        images = imagine(trained_engine, trained_registry, f"a blue circle {flags}", 40, 4)
        readings = [read(i) for i in images]
        if sum(r.shows("blue", "circle") for r in readings) < 3:
            failed[name] = [(r.colour, r.shape) for r in readings]
    assert not failed, f"samplers that do not paint 'a blue circle' (of 4 seeds): {failed}"


def _wrapped_shapes(image: Any) -> int:
    """Edges (left/right, top/bottom) the shape crosses and continues across on the far side:
    shape-coloured pixels on both opposite borders in the same rows (columns)."""
    labels = label_pixels(image)
    shape = (labels >= 0) & (labels < 4)  # a shape colour, not a background
    across_sides = (shape[:, 0] & shape[:, -1]).sum()
    across_top = (shape[0, :] & shape[-1, :]).sum()
    return int(across_sides >= 3) + int(across_top >= 3)


def test_tile_paints_shapes_that_wrap_around_the_edges(
    trained_engine: Any, trained_registry: Any
) -> None:
    # Plain pictures keep their shape inside the frame (as every training picture did); a
    # tile has no edges, so the shape may sit across one and continue on the other side.
    prompt = "a red square on the left"
    plain = imagine(trained_engine, trained_registry, prompt, seed=80, count=8)
    tiled = imagine(trained_engine, trained_registry, f"{prompt} --tile", seed=80, count=8)
    assert sum(map(_wrapped_shapes, plain)) == 0
    assert sum(_wrapped_shapes(i) > 0 for i in tiled) >= 2, [read(i) for i in tiled]
    # The wrapped tile's seam is as smooth as its inside: opposite edges meet.
    for image in tiled:
        pixels = np.asarray(image, np.float32)
        seam = np.abs(pixels[:, 0] - pixels[:, -1]).mean()
        inside = np.abs(np.diff(pixels, axis=1)).mean()
        assert seam < 3 * inside + 2, (seam, inside)
