"""The trained tiny model paints what the prompt says, through the engine's real code paths.

Each check reads the pictures as a person would (tests/semantic/scoring.py): which colour,
which shape, where, on which background.
"""

from __future__ import annotations

from typing import Any

from tests.semantic.painting import imagine
from tests.semantic.scoring import colour_fraction, read

# The model trained within today's time budget follows the colour word but not yet the shape,
# position or background (docs/engine.md, "Semantic tests"): these fail on it, and must pass
# once it does.


def test_negative_prompt_removes_red(trained_engine: Any, trained_registry: Any) -> None:
    free = imagine(trained_engine, trained_registry, "a circle", seed=300, count=16)
    banned = imagine(trained_engine, trained_registry, "a circle --no red", seed=300, count=16)
    red_free = sum(read(i).colour == "red" for i in free)
    red_banned = sum(read(i).colour == "red" for i in banned)
    assert red_free >= 2, "without --no, some circles are red (the colour is left open)"
    assert red_banned == 0, f"--no red still painted {red_banned} red circles of 16"
    assert sum(colour_fraction(i, "red") for i in banned) < 0.2 * sum(
        colour_fraction(i, "red") for i in free
    )


def test_attention_weights_tip_a_mixed_prompt(trained_engine: Any, trained_registry: Any) -> None:
    def redness(prompt: str) -> float:
        images = imagine(trained_engine, trained_registry, prompt, seed=11, count=10)
        return sum(colour_fraction(i, "red") - colour_fraction(i, "blue") for i in images)

    assert redness("a (red:1.5) and blue square") > redness("a red and (blue:1.5) square") + 0.1
