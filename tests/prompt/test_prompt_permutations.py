"""`{a, b}` permutations and --repeat: how many requests a prompt makes, and in what order."""

from __future__ import annotations

import pytest

from prompt import PromptError, parse_prompt


def prompts(text: str) -> list[str]:
    return [params.prompt for params in parse_prompt(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a {red, green} bird", ["a red bird", "a green bird"]),
        # the leftmost group varies slowest
        ("{a, b} {1, 2}", ["a 1", "a 2", "b 1", "b 2"]),
        # nested groups
        ("{a {x, y}, b}", ["a x", "a y", "b"]),
        ("{big {red, blue}, small} car", ["big red car", "big blue car", "small car"]),
        # one option, empty option
        ("a {solo} bird", ["a solo bird"]),
        ("a {, tiny} bird", ["a bird", "a tiny bird"]),
        # escapes: literal braces and commas
        ("a \\{b, c\\} d", ["a {b, c} d"]),
        ("{a\\, b, c}", ["a, b", "c"]),
        # other backslashes are kept for A1111 attention syntax
        ("\\(word\\) {a, b}", ["\\(word\\) a", "\\(word\\) b"]),
    ],
)
def test_expansion(text: str, expected: list[str]) -> None:
    assert prompts(text) == expected


def test_permutations_work_inside_flags() -> None:
    requests = parse_prompt("a cat --ar {1:1, 16:9} --sampler {Euler a, DPM++ 2M}")
    assert [(r.aspect_ratio, r.sampler) for r in requests] == [
        ("1:1", "euler_a"),
        ("1:1", "dpm++_2m_karras"),
        ("16:9", "euler_a"),
        ("16:9", "dpm++_2m_karras"),
    ]


def test_permutations_can_make_flags() -> None:
    requests = parse_prompt("a cat {--tile, --chaos 5}")
    assert [(r.tile, r.chaos) for r in requests] == [(True, None), (False, 5)]


def test_repeat_multiplies_each_permutation_in_order() -> None:
    requests = parse_prompt("a {red, blue} cat --repeat 3")
    assert [r.prompt for r in requests] == ["a red cat"] * 3 + ["a blue cat"] * 3


def test_repeat_can_differ_between_permutations() -> None:
    assert prompts("{a --repeat 2, b}") == ["a", "a", "b"]


def test_exactly_ten_requests_is_allowed() -> None:
    assert len(parse_prompt("{a,b,c,d,e} --repeat 2")) == 10
    assert len(parse_prompt("{a,b,c,d,e,f,g,h,i,j}")) == 10


def test_huge_permutation_counts_are_rejected_without_building_them() -> None:
    # 2**300 prompts: only counted, never expanded.
    with pytest.raises(PromptError, match="over a billion"):
        parse_prompt("{a,b}" * 300)
