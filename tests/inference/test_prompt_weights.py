"""A1111's documented examples for its attention parser, plus the edge cases it promises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inference.prompt_weights import parse_attention


def _approx(frags: list[tuple[str, float]]) -> list[tuple[str, float]]:
    return [(t, round(w, 6)) for t, w in frags]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("normal text", [("normal text", 1.0)]),
        ("an (important) word", [("an ", 1.0), ("important", 1.1), (" word", 1.0)]),
        ("(unbalanced", [("unbalanced", 1.1)]),
        ("\\(literal\\]", [("(literal]", 1.0)]),
        ("(unnecessary)(parens)", [("unnecessaryparens", 1.1)]),
        (
            "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
            [
                ("a ", 1.0),
                ("house", 1.573),
                (" ", 1.1),
                ("on", 1.0),
                (" a ", 1.1),
                ("hill", 0.55),
                (", sun, ", 1.1),
                ("sky", 1.4641),
                (".", 1.1),
            ],
        ),
        ("((word))", [("word", 1.21)]),
        ("[word]", [("word", round(1 / 1.1, 6))]),
        ("[[word]]", [("word", round(1 / 1.21, 6))]),
        ("(word:1.3)", [("word", 1.3)]),
        ("(word: 0.5 )", [("word", 0.5)]),
        ("a: b", [("a: b", 1.0)]),
        ("stray ) closer ]", [("stray ) closer ]", 1.0)]),
        ("", [("", 1.0)]),
        ("a BREAK b", [("a", 1.0), ("BREAK", -1.0), ("b", 1.0)]),
        ("a\\\\b", [("a\\b", 1.0)]),
    ],
)
def test_a1111_examples(text: str, expected: list[tuple[str, float]]) -> None:
    assert _approx(parse_attention(text)) == _approx(expected)


@given(st.text(alphabet=st.sampled_from(list("ab ()[]:\\.1234BREAK")), max_size=60))
def test_never_raises_and_keeps_text(text: str) -> None:
    frags = parse_attention(text)
    assert frags
    assert all(isinstance(t, str) and isinstance(w, float) for t, w in frags)
