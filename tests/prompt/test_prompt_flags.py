"""Every row of the flag table: what a member types → the request fields they get."""

from __future__ import annotations

from typing import Any

import pytest

from prompt import PromptError, format_prompt, parse_prompt
from prompt.request import ImagineParams, LoraRef, PromptPart

UNSET: dict[str, Any] = {
    "negative_prompt": None,
    "aspect_ratio": None,
    "cfg": None,
    "sampler": None,
    "loras": (),
    "seed": None,
    "steps": None,
    "quality": None,
    "model": None,
    "chaos": None,
    "tile": False,
    "fast": False,
    "clip_skip": None,
    "dynthres": None,
}


def only(text: str) -> ImagineParams:
    requests = parse_prompt(text)
    assert len(requests) == 1
    return requests[0]


def changed(params: ImagineParams) -> dict[str, Any]:
    """The fields that differ from 'unset' (the parser applies no defaults)."""
    return {k: v for k, v in params.model_dump().items() if k in UNSET and v != UNSET[k]}


def loras(*pairs: tuple[str, float]) -> tuple[dict[str, Any], ...]:
    return tuple(LoraRef(name=n, weight=w).model_dump() for n, w in pairs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # --ar: reduced to lowest terms, 1:4 … 4:1
        ("a cat --ar 16:9", {"aspect_ratio": "16:9"}),
        ("a cat --ar 1920:1080", {"aspect_ratio": "16:9"}),
        ("a cat --ar 2:2", {"aspect_ratio": "1:1"}),
        ("a cat --ar 1:4", {"aspect_ratio": "1:4"}),
        ("a cat --ar 4:1", {"aspect_ratio": "4:1"}),
        ("a cat --ar 400:100", {"aspect_ratio": "4:1"}),
        # --cfg 1 … 30
        ("a cat --cfg 7", {"cfg": 7.0}),
        ("a cat --cfg 7.5", {"cfg": 7.5}),
        ("a cat --cfg 1", {"cfg": 1.0}),
        ("a cat --cfg 30", {"cfg": 30.0}),
        # --sampler: canonical or alias, may contain spaces
        ("a cat --sampler euler_a", {"sampler": "euler_a"}),
        ("a cat --sampler DPM++ 2M Karras", {"sampler": "dpm++_2m_karras"}),
        ("a cat --sampler Euler a --seed 3", {"sampler": "euler_a", "seed": 3}),
        # --lora NAME[:W], repeatable, default weight 1.0, −2 … 2
        ("a cat --lora watercolor", {"loras": loras(("watercolor", 1.0))}),
        ("a cat --lora watercolor:0.7", {"loras": loras(("watercolor", 0.7))}),
        ("a cat --lora a:-2 --lora b.v2_x-y:2", {"loras": loras(("a", -2.0), ("b.v2_x-y", 2.0))}),
        ("a cat --lora " + "n" * 64, {"loras": loras(("n" * 64, 1.0))}),
        # <lora:NAME:W> inline: same rules, removed from the text, order of appearance
        ("a <lora:ink:0.5> cat", {"loras": loras(("ink", 0.5))}),
        ("a <LORA:ink> cat", {"loras": loras(("ink", 1.0))}),
        ("<lora:a:1>x<lora:b:-1> --lora c:0.3", {"loras": loras(("a", 1), ("b", -1), ("c", 0.3))}),
        # A1111's <lora:NAME:TE:UNET> and te=/unet=; names with spaces (file stems)
        (
            "a <lora:ink:0.8:0.5> cat --lora b:1:0 --lora c:unet=0.3",
            {
                "loras": (
                    LoraRef(name="ink", weight=0.8, unet_weight=0.5).model_dump(),
                    LoraRef(name="b", weight=1, unet_weight=0).model_dump(),
                    LoraRef(name="c", weight=1, unet_weight=0.3).model_dump(),
                )
            },
        ),
        ("a <lora:x:te=0.5:unet=0.5> <lora:y:0.4:0.4>", {"loras": loras(("x", 0.5), ("y", 0.4))}),
        ("a <lora:my style v2:0.7> cat", {"loras": loras(("my style v2", 0.7))}),
        # --dynthres P[:M]: percentile 50 … 100, mimic scale 1 … 30 (default 7)
        ("a cat --dynthres 99.5", {"dynthres": {"percentile": 99.5, "mimic": 7.0}}),
        ("a cat --dynthres 90:4.5", {"dynthres": {"percentile": 90.0, "mimic": 4.5}}),
        # a tag stands for a space, wherever it is
        (
            "a<lora:a:1>--ar 2:1 <lora:b>",
            {"loras": loras(("a", 1), ("b", 1)), "aspect_ratio": "2:1"},
        ),
        # --seed 0 … 4294967295
        ("a cat --seed 0", {"seed": 0}),
        ("a cat --seed 4294967295", {"seed": 4294967295}),
        # --no: text up to the next flag
        ("a cat --no text, watermark", {"negative_prompt": "text, watermark"}),
        (
            "a cat --no  text,\twatermark  --ar 1:1",
            {"negative_prompt": "text, watermark", "aspect_ratio": "1:1"},
        ),
        # --steps 1 … 150
        ("a cat --steps 1", {"steps": 1}),
        ("a cat --steps 150", {"steps": 150}),
        # --q 0.25, 0.5, 1, 2
        ("a cat --q 0.25", {"quality": 0.25}),
        ("a cat --q .5", {"quality": 0.5}),
        ("a cat --q 1", {"quality": 1.0}),
        ("a cat --q 2", {"quality": 2.0}),
        # --model: one token
        ("a cat --model sdxl-turbo", {"model": "sdxl-turbo"}),
        # --chaos 0 … 100
        ("a cat --chaos 0", {"chaos": 0}),
        ("a cat --chaos 100", {"chaos": 100}),
        # --tile: no value
        ("a cat --tile", {"tile": True}),
        ("a cat --tile --ar 2:1", {"tile": True, "aspect_ratio": "2:1"}),
        # --fast: no value (the model's cache accelerator, not Midjourney's fast mode)
        ("a cat --fast", {"fast": True}),
        ("a cat --FAST --tile", {"fast": True, "tile": True}),
        # --clip-skip 1 … 12
        ("a cat --clip-skip 1", {"clip_skip": 1}),
        ("a cat --clip-skip 12", {"clip_skip": 12}),
        # no flags: nothing set, no defaults applied
        ("a cat", {}),
    ],
)
def test_flag_rows(text: str, expected: dict[str, Any]) -> None:
    assert changed(only(text)) == expected


@pytest.mark.parametrize("count", [1, 3, 10])
def test_repeat_makes_identical_requests(count: int) -> None:
    requests = parse_prompt(f"a cat --ar 2:3 --repeat {count}")
    assert len(requests) == count
    assert all(r == requests[0] for r in requests)


def test_repeat_with_a_seed_paints_different_grids() -> None:
    # A grid uses seed..seed+3, so repeat k starts 4k further on (wrapping at 2**32).
    requests = parse_prompt("a cat --seed 4294967291 --repeat 3")
    assert [r.seed for r in requests] == [4294967291, 4294967295, 3]
    assert {r.model_copy(update={"seed": None}) for r in requests} == {
        requests[0].model_copy(update={"seed": None})
    }


@pytest.mark.parametrize(
    "text",
    [
        "a cat --AR 16:9 --Seed 3",
        "a cat —ar 16:9 —seed 3",  # em dash (phones)
        "a cat –ar 16:9 –seed 3",  # en dash
        "a cat --aspect 16:9 --SEED 3",  # Midjourney's long name
        "a cat\n--ar 16:9\t--seed   3  ",
        "a cat --ar 16:9 --seed\x003",  # a control character is a space
    ],
)
def test_flag_spellings(text: str) -> None:
    assert changed(only(text)) == {"aspect_ratio": "16:9", "seed": 3}
    assert only(text).prompt == "a cat"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a cat --quality 2 --c 5 --clip_skip 2", {"quality": 2.0, "chaos": 5, "clip_skip": 2}),
        ("a cat --clipskip 3 --r 1", {"clip_skip": 3}),
    ],
)
def test_flag_aliases(text: str, expected: dict[str, Any]) -> None:
    assert changed(only(text)) == expected


@pytest.mark.parametrize(
    "text",
    ["a cat --tile—ar 2:1", "a cat --tile--ar 2:1", "a cat --tile–ar 2:1", "a cat —tile—ar 2:1"],
)
def test_flags_glued_together_are_two_flags(text: str) -> None:
    """A flag typed right after another ('--tile—ar', a phone's dash for `--`) is its own flag,
    not the first word of the other's value."""
    params = only(text)
    assert changed(params) == {"tile": True, "aspect_ratio": "2:1"}
    assert parse_prompt(format_prompt(params)) == [params]


def test_a_flag_glued_to_no_leaves_no_empty_negative() -> None:
    with pytest.raises(PromptError, match="--no needs a value") as caught:
        parse_prompt("a cat --no—ar 2:1")
    assert caught.value.flag == "--no"


@pytest.mark.parametrize(
    ("text", "prompt"),
    [
        ("  a   lighthouse\n\tat dusk  ", "a lighthouse at dusk"),
        ("a <lora:ink:0.5> cat --ar 1:1", "a cat"),
        ("well-known cat—dog — ok", "well-known cat—dog — ok"),  # dashes inside words
        ("a (word:1.3) [b] \\(c\\) --tile", "a (word:1.3) [b] \\(c\\)"),
        ("a -- b --5", "a -- b --5"),  # a dash not followed by a letter is text
        ("nul\x00 and\x07bell", "nul and bell"),  # control characters become spaces
        ("100% \\{literal\\}", "100% {literal}"),
    ],
)
def test_prompt_text(text: str, prompt: str) -> None:
    assert only(text).prompt == prompt


def test_one_part_of_weight_one_without_multiprompt() -> None:
    params = only("a (house:1.3) at 12:30 --ar 3:2")
    assert params.parts == (PromptPart(text="a (house:1.3) at 12:30", weight=1.0),)


def test_full_example_from_the_design() -> None:
    params = only("a lighthouse at dusk --ar 16:9 --sampler dpm++_2m_karras --lora watercolor:0.7")
    assert params.prompt == "a lighthouse at dusk"
    assert changed(params) == {
        "aspect_ratio": "16:9",
        "sampler": "dpm++_2m_karras",
        "loras": loras(("watercolor", 0.7)),
    }
