from __future__ import annotations

from gallery.imagine_command import aspect_ratio, imagine_command
from gallery.listing import Recipe
from inference.contracts import LoraRef


def recipe(**changes: object) -> Recipe:
    base = dict(
        prompt="a cat",
        negative_prompt="",
        model="sd15",
        sampler="euler_a",
        steps=30,
        cfg=7.0,
        seed=42,
        width=512,
        height=512,
    )
    base.update(changes)
    return Recipe(**base)  # type: ignore[arg-type]


def test_pins_every_resolved_setting() -> None:
    assert imagine_command(recipe()) == (
        "/imagine a cat --ar 1:1 --model sd15 --sampler euler_a --steps 30 --cfg 7 --seed 42"
    )


def test_negative_loras_clip_skip_and_tiling() -> None:
    command = imagine_command(
        recipe(
            negative_prompt="text,  watermark",
            cfg=7.5,
            width=1024,
            height=576,
            loras=(LoraRef(name="ink", weight=0.6), LoraRef(name="film_grain", weight=1.0)),
            clip_skip=2,
            tile=True,
        )
    )
    assert command == (
        "/imagine a cat --no text, watermark --ar 16:9 --model sd15 --sampler euler_a"
        " --steps 30 --cfg 7.5 --seed 42 --lora ink:0.6 --lora film_grain:1 --clip-skip 2 --tile"
    )


def test_prompt_text_cannot_turn_into_flags_or_permutations() -> None:
    command = imagine_command(recipe(prompt="a {red, blue} cat --ar 9:16\nnew line"))
    assert command.startswith("/imagine a \\{red, blue\\} cat - ar 9:16 new line --ar 1:1")


def test_aspect_ratio_in_lowest_terms() -> None:
    assert aspect_ratio(768, 512) == "3:2"
    assert aspect_ratio(640, 640) == "1:1"
