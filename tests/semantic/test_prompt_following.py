"""The trained tiny model paints what the prompt says, through the engine's real code paths.

Each check reads the pictures as a person would (tests/semantic/scoring.py): which colour,
which shape, where, on which background.
"""

from __future__ import annotations

from typing import Any

from inference import tiny_shapes
from tests.semantic.painting import imagine
from tests.semantic.scoring import colour_fraction, mean_prompt_score, read

# Every colour and every shape, each shape in two colours.
PAIRS = [
    ("red", "circle"),
    ("blue", "square"),
    ("green", "triangle"),
    ("yellow", "square"),
    ("blue", "circle"),
    ("red", "triangle"),
]


def test_colour_and_shape_follow_the_prompt(trained_engine: Any, trained_registry: Any) -> None:
    wrong = []
    for i, (colour, shape) in enumerate(PAIRS):
        images = imagine(trained_engine, trained_registry, f"a {colour} {shape}", 100 + 10 * i, 4)
        readings = [read(img) for img in images]
        wrong += [(colour, shape, r) for r in readings if not r.shows(colour, shape)]
    assert len(wrong) <= 2, f"{len(wrong)} of 24 pictures miss colour or shape: {wrong}"


def test_position_and_background_follow_the_prompt(
    trained_engine: Any, trained_registry: Any
) -> None:
    placed = []
    for i, where in enumerate(["left", "right", "top", "bottom"]):
        words = tiny_shapes.POSITION_WORDS[where]
        images = imagine(trained_engine, trained_registry, f"a red square{words}", 200 + i, 4)
        placed += [read(img).position == where for img in images]
    assert sum(placed) >= 14, f"{sum(placed)} of 16 shapes where the prompt put them"
    backgrounds = []
    for i, background in enumerate(["black", "gray", "white"]):
        words = "" if background == "white" else f" on a {background} background"
        images = imagine(trained_engine, trained_registry, f"a yellow circle{words}", 250 + i, 4)
        backgrounds += [read(img).background == background for img in images]
    assert sum(backgrounds) >= 11, f"{sum(backgrounds)} of 12 on the prompted background"


def test_cfg_7_follows_the_prompt_more_than_cfg_1(
    trained_engine: Any, trained_registry: Any
) -> None:
    prompt = "a blue triangle"
    weak = imagine(trained_engine, trained_registry, f"{prompt} --cfg 1", seed=400, count=20)
    strong = imagine(trained_engine, trained_registry, f"{prompt} --cfg 7", seed=400, count=20)
    weak_score = mean_prompt_score(weak, "blue", "triangle")
    strong_score = mean_prompt_score(strong, "blue", "triangle")
    assert strong_score > weak_score + 0.1, (weak_score, strong_score)


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


def _redness(engine: Any, registry: Any, prompt: str, seed: int = 11, count: int = 8) -> float:
    """Mean share of red minus share of blue pixels (−1 … 1) over `count` seeds."""
    images = imagine(engine, registry, prompt, seed=seed, count=count)
    return sum(colour_fraction(i, "red") - colour_fraction(i, "blue") for i in images) / count


def test_attention_weights_tip_a_mixed_prompt(trained_engine: Any, trained_registry: Any) -> None:
    red = _redness(trained_engine, trained_registry, "a (red:1.5) and blue square", count=10)
    blue = _redness(trained_engine, trained_registry, "a red and (blue:1.5) square", count=10)
    assert red > blue + 0.01, (red, blue)


def test_prompt_editing_and_and_land_between_their_parts(
    trained_engine: Any, trained_registry: Any
) -> None:
    def redness(prompt: str) -> float:
        return _redness(trained_engine, trained_registry, prompt, seed=500)

    red, blue = redness("a red square"), redness("a blue square")
    edited = redness("a [red:blue:0.5] square")
    both = redness("a red square AND a blue square")
    assert red > 0.1 > -0.1 > blue, (red, blue)
    margin = 0.1 * (red - blue)
    assert blue + margin < edited < red - margin, (blue, edited, red)
    assert blue + margin < both < red - margin, (blue, both, red)
