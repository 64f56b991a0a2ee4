"""The trained tiny model paints what the prompt says, through the engine's real code paths.

Each check reads the pictures as a person would (tests/semantic/scoring.py): which colour,
which shape, where, on which background.
"""

from __future__ import annotations

from typing import Any

from inference import tiny_shapes
from tests.semantic.painting import imagine
from tests.semantic.scoring import colour_fraction, follow_rate, read


def test_colour_and_shape_follow_the_prompt_in_nine_seeds_of_ten(
    trained_engine: Any, trained_registry: Any
) -> None:
    # Every colour x shape prompt over 4 seeds (48 pictures, the model's defaults: 20 steps,
    # CFG 7): at most 4 may show another colour or another shape.
    wrong = []
    for shape in tiny_shapes.SHAPES:
        for colour in tiny_shapes.COLOURS:
            prompt = f"a {colour} {shape}"
            for image in imagine(trained_engine, trained_registry, prompt, seed=1000, count=4):
                reading = read(image)
                if not reading.shows(colour, shape):
                    wrong.append((prompt, reading.colour, reading.shape))
    assert len(wrong) <= 4, f"{len(wrong)} of 48 pictures show something else: {wrong}"


def test_cfg_7_follows_the_prompt_more_than_cfg_1(
    trained_engine: Any, trained_registry: Any
) -> None:
    # Over 20 seeds: how many pictures show a blue shape, and how much of them is blue.
    prompt = "a blue circle"
    weak = imagine(trained_engine, trained_registry, f"{prompt} --cfg 1", seed=400, count=20)
    strong = imagine(trained_engine, trained_registry, f"{prompt} --cfg 7", seed=400, count=20)
    assert follow_rate(strong, "blue") >= follow_rate(weak, "blue") + 0.2
    blue_weak = sum(colour_fraction(i, "blue") for i in weak) / 20
    blue_strong = sum(colour_fraction(i, "blue") for i in strong) / 20
    assert blue_strong > 1.3 * blue_weak, (blue_weak, blue_strong)


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


def _colours(engine: Any, registry: Any, prompt: str, seed: int, count: int = 8) -> Any:
    """Mean shares of red and of blue pixels over `count` seeds."""
    images = imagine(engine, registry, prompt, seed=seed, count=count)
    red = sum(colour_fraction(i, "red") for i in images) / count
    blue = sum(colour_fraction(i, "blue") for i in images) / count
    return red, blue


def test_prompt_editing_and_and_land_between_their_parts(
    trained_engine: Any, trained_registry: Any
) -> None:
    def redness(prompt: str) -> float:
        red, blue = _colours(trained_engine, trained_registry, prompt, seed=500)
        painted[prompt] = red + blue
        return red - blue

    painted: dict[str, float] = {}
    red, blue = redness("a red square"), redness("a blue square")
    # The colour is settled in the first steps: red for the first 20 %, then blue.
    edited = redness("a [red:blue:0.2] square")
    both = redness("a red square AND a blue square")
    assert red > 0.1 > -0.1 > blue, (red, blue)
    assert blue + 0.1 * (red - blue) < edited < red - 0.1 * (red - blue), (blue, edited, red)
    assert blue + 0.05 * (red - blue) < both < red - 0.05 * (red - blue), (blue, both, red)
    # ... as a mix of red and blue, not as some other colour.
    plain = min(painted["a red square"], painted["a blue square"])
    assert painted["a [red:blue:0.2] square"] > 0.6 * plain, painted
    assert painted["a red square AND a blue square"] > 0.6 * plain, painted


def test_attention_weights_make_their_word_count_more(
    trained_engine: Any, trained_registry: Any
) -> None:
    # A1111 weights: the same words, only the emphasis differs.
    # Red minus blue (shares of the picture) over 8 seeds: emphasis moves it towards its word.
    red, blue = _colours(trained_engine, trained_registry, "a (red:1.5) and blue square", 510)
    red_up = red - blue
    red, blue = _colours(trained_engine, trained_registry, "a red and (blue:1.5) square", 510)
    blue_up = red - blue
    assert red_up > blue_up + 0.15, (red_up, blue_up)
