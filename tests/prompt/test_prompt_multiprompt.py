"""Midjourney `::` multi-prompts, and how they live beside A1111's single-colon weights."""

from __future__ import annotations

import pytest

from prompt import parse_prompt


def parts(text: str) -> list[tuple[str, float]]:
    (params,) = parse_prompt(text)
    return [(p.text, p.weight) for p in params.parts]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("space::2 ship", [("space", 2.0), ("ship", 1.0)]),
        ("hot:: dog", [("hot", 1.0), ("dog", 1.0)]),
        ("hot::dog", [("hot", 1.0), ("dog", 1.0)]),
        ("space ship", [("space ship", 1.0)]),
        ("a::1.5 b::.5 c::-0.5", [("a", 1.5), ("b", 0.5), ("c", -0.5)]),
        ("a::2 b::-1", [("a", 2.0), ("b", -1.0)]),
        ("still life:: fruit::-.5", [("still life", 1.0), ("fruit", -0.5)]),
        ("cat::3", [("cat", 3.0)]),
        ("hot dog::", [("hot dog", 1.0)]),  # a trailing '::' adds nothing
        ("::2 cat", [("cat", 1.0)]),  # an empty part is dropped
        ("a::2x b", [("a", 1.0), ("2x b", 1.0)]),  # '2x' is text, not a weight
        # A1111 attention syntax: a single colon is not a separator
        ("(word:1.3) rest", [("(word:1.3) rest", 1.0)]),
        ("(red:1.2) car::2 (blue:0.8) sky", [("(red:1.2) car", 2.0), ("(blue:0.8) sky", 1.0)]),
        ("at 12:30::2 noon", [("at 12:30", 2.0), ("noon", 1.0)]),
        # flags and inline LoRAs are not part of any part
        ("a <lora:ink:0.5>::2 b --ar 2:1", [("a", 2.0), ("b", 1.0)]),
    ],
)
def test_parts(text: str, expected: list[tuple[str, float]]) -> None:
    assert parts(text) == expected


def test_prompt_keeps_the_weights_text() -> None:
    (params,) = parse_prompt("space::2   ship --ar 16:9")
    assert params.prompt == "space::2 ship"
