"""--cn / --cw as members type them (ControlNet)."""

from __future__ import annotations

import pytest

from prompt import PromptError, format_prompt, parse_prompt
from prompt.request import ControlRef, ImageRef


def one(text: str) -> ControlRef | None:
    [params] = parse_prompt(text)
    return params.control


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a house --cn canny https://example.com/a.png",
            ControlRef(module="canny", image=ImageRef(url="https://example.com/a.png")),
        ),
        (
            "a house --cn depth:https://example.com/a.png --cw 0.4",
            ControlRef(module="depth", image=ImageRef(url="https://example.com/a.png"), weight=0.4),
        ),
        ("a house --cw 2 --cn LineArt", ControlRef(module="lineart", weight=2.0)),
        (
            "a house --cn canny:http://example.com/c.png --cw 0",
            ControlRef(module="canny", image=ImageRef(url="http://example.com/c.png"), weight=0),
        ),
    ],
)
def test_cn_takes_a_module_an_image_and_a_weight(text: str, expected: ControlRef) -> None:
    assert one(text) == expected


def test_without_cn_there_is_no_control() -> None:
    assert one("a house --ar 3:2") is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("a house --cn sketch https://example.com/a.png", "use one of canny, depth, lineart"),
        ("a house --cn", "--cn needs a value"),
        ("a house --cn canny https://a.example/1.png https://b.example/2.png", "one image"),
        ("a house --cn canny: --ar 1:1", "after the colon"),
        ("a house --cn canny https://a.example/1.png --cw 2.5", "out of range: use 0 to 2"),
        ("a house --cn canny https://a.example/1.png --cw strong", "needs a number from 0 to 2"),
        ("a house --cn canny photo.png", "'photo.png' is not an image URL"),
        # Without --cn, --cw is --ow's old name (whole numbers, with --oref).
        ("a house --cw 0.5", "needs a whole number from 0 to 1000"),
        ("a house --cw 50", "--ow goes with --oref"),
        ("a house --cn canny --cn depth", "--cn is given twice"),
    ],
)
def test_bad_control_input_is_a_clear_message(text: str, says: str) -> None:
    with pytest.raises(PromptError) as caught:
        parse_prompt(text)
    assert says in caught.value.message


def test_the_canonical_form_parses_back() -> None:
    for text in (
        "a house --cn depth https://example.com/a.png --cw 1.5",
        "a house --cn lineart",
        "a house --cn canny https://example.com/x.png --cw 0",
    ):
        [params] = parse_prompt(text)
        assert parse_prompt(format_prompt(params)) == [params]
        assert "--cn" in format_prompt(params)
