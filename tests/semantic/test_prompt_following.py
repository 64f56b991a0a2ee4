"""The trained tiny model paints what the prompt says, through the engine's real code paths.

Each check reads the pictures as a person would (tests/semantic/scoring.py): which colour,
which shape, where, on which background.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.semantic.painting import imagine
from tests.semantic.scoring import colour_fraction, mean_prompt_score, read

# The model trained within today's time budget follows the colour word but not yet the shape,
# position or background (docs/engine.md, "Semantic tests"): these fail on it, and must pass
# once it does.
NOT_YET = pytest.mark.xfail(
    strict=True, reason="trained tiny model paints the colour, not yet the shape or place (#22)"
)


@NOT_YET
@pytest.mark.parametrize(
    ("prompt", "colour", "shape"),
    [("a red circle", "red", "circle"), ("a blue square", "blue", "square"),
     ("a green triangle", "green", "triangle")],
)  # fmt: skip
def test_colour_and_shape_follow_the_prompt(
    trained_engine: Any, trained_registry: Any, prompt: str, colour: str, shape: str
) -> None:
    images = imagine(trained_engine, trained_registry, prompt, seed=100, count=10)
    readings = [read(image) for image in images]
    hits = [r for r in readings if r.shows(colour, shape)]
    assert len(hits) >= 9, f"{prompt!r}: {readings}"
    # "mostly red pixels where a circle is": the shape is big enough to see, in the centre.
    assert all(r.position == "centre" and r.area > 0.05 for r in hits), readings


@NOT_YET
def test_position_and_background_follow_the_prompt(
    trained_engine: Any, trained_registry: Any
) -> None:
    prompt = "a yellow square on the left on a black background"
    readings = [read(i) for i in imagine(trained_engine, trained_registry, prompt, seed=7)]
    placed = [r for r in readings if (r.position, r.background) == ("left", "black")]
    assert len(placed) >= 7, readings
    top = [read(i) for i in imagine(trained_engine, trained_registry, "a red circle at the top")]
    assert sum(r.position == "top" for r in top) >= 7, top


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


@NOT_YET
def test_cfg_7_follows_the_prompt_more_than_cfg_1(
    trained_engine: Any, trained_registry: Any
) -> None:
    prompt = "a blue triangle on the right"
    score = {
        cfg: mean_prompt_score(
            imagine(trained_engine, trained_registry, f"{prompt} --cfg {cfg}", seed=1, count=20),
            "blue",
            "triangle",
            "right",
        )
        for cfg in (1, 7)
    }
    assert score[7] > 0.5, score
    assert score[1] < score[7] - 0.1, score


def test_attention_weights_tip_a_mixed_prompt(trained_engine: Any, trained_registry: Any) -> None:
    def redness(prompt: str) -> float:
        images = imagine(trained_engine, trained_registry, prompt, seed=11, count=10)
        return sum(colour_fraction(i, "red") - colour_fraction(i, "blue") for i in images)

    assert redness("a (red:1.5) and blue square") > redness("a red and (blue:1.5) square") + 0.1
