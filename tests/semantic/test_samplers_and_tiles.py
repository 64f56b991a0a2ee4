"""Every sampler paints a recognisable picture at its documented step count: schedule bugs show
up as pictures a person would reject."""

from __future__ import annotations

from typing import Any

from inference.samplers import SAMPLERS
from prompt.samplers import sampler_words
from tests.semantic.painting import imagine
from tests.semantic.scoring import read

# LCM's documented use (inference/samplers.py): 4-8 steps at cfg 1-2, for LCM models; on
# this ordinary model it gets its upper bound. DDIM CFG++ divides the CFG scale by 12.5, as
# A1111 does: its full guidance is --cfg 12.5 (at the default 7 it painted blue but 2 of 4
# circles, seeds 40-43, 2026-12-01). Every other sampler: the model's default steps.
DOCUMENTED = {"lcm": "--steps 8 --cfg 2", "ddim_cfgpp": "--cfg 12.5"}


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
