"""The /imagine command that remakes an image: it pins every setting and parses back."""

from __future__ import annotations

from typing import Any

import pytest

from prompt import parse_prompt
from prompt.remake import Recipe, aspect_ratio, imagine_command
from prompt.request import LoraRef


def recipe(**changes: Any) -> Recipe:
    base: dict[str, Any] = dict(
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
    return Recipe(**base)


def test_pins_every_resolved_setting() -> None:
    assert imagine_command(recipe()) == (
        "/imagine a cat --ar 1:1 --cfg 7 --sampler euler_a --seed 42 --steps 30 --model sd15"
    )


RECIPES = [
    recipe(),
    recipe(
        prompt="a (red:1.2) fox::2 snow",
        negative_prompt="text,  watermark",
        cfg=7.5,
        width=1024,
        height=576,
        loras=(LoraRef(name="ink", weight=0.6), LoraRef(name="film_grain", weight=1.0)),
        clip_skip=2,
        tile=True,
        sampler="dpm++_2m_karras",
    ),
    recipe(prompt="a {red, blue} cat --ar 9:16\nnew line", width=768, height=512),
]


@pytest.mark.parametrize("r", RECIPES)
def test_the_command_parses_back_to_the_recipe(r: Recipe) -> None:
    command = imagine_command(r)
    assert command.startswith("/imagine ")
    [params] = parse_prompt(command.removeprefix("/imagine "))
    assert params.aspect_ratio == aspect_ratio(r.width, r.height)
    assert (params.seed, params.steps, params.cfg) == (r.seed, r.steps, r.cfg)
    assert (params.sampler, params.model) == (r.sampler, r.model)
    assert params.loras == r.loras
    assert (params.clip_skip, params.tile) == (r.clip_skip, r.tile)
    assert (params.negative_prompt or "") == " ".join(r.negative_prompt.split())


def test_prompt_text_cannot_turn_into_flags_or_permutations() -> None:
    command = imagine_command(recipe(prompt="a {red, blue} cat --ar 9:16\nnew line"))
    [params] = parse_prompt(command.removeprefix("/imagine "))
    assert params.prompt == "a {red, blue} cat - ar 9:16 new line"
    assert params.aspect_ratio == "1:1"


def test_aspect_ratio_in_lowest_terms() -> None:
    assert aspect_ratio(768, 512) == "3:2"
    assert aspect_ratio(640, 640) == "1:1"


def test_the_recipe_names_the_images_a_job_used_by_hash_and_weight() -> None:
    from prompt.remake import MadeBy, recipe_of
    from prompt.request import ControlRef, Generation, ImageRef, PromptPart, Reference

    stored = "3f2a9c01b7de" + "0" * 52
    gen = Generation(
        model="sd15",
        prompt="a cat",
        parts=(PromptPart(text="a cat"),),
        width=512,
        height=512,
        steps=30,
        cfg=7.0,
        sampler="euler_a",
        seed=7,
        references=(
            Reference(role="image", image=ImageRef(sha256=stored), scale=0.75),
            Reference(role="style", image=ImageRef(url="https://x.example/s.png"), scale=0.5),
        ),
        control=ControlRef(module="canny", image=ImageRef(sha256="ab" * 32), weight=0.6),
    )
    request = {"generation": gen.model_dump(mode="json")}
    made = recipe_of(MadeBy("imagine", request, 7, 512, 512, "a cat"))
    assert made.inputs == (
        "Image prompt 3f2a9c01b7de (0.75)",
        "Style reference https://x.example/s.png (0.5)",
        "ControlNet canny abababababab (0.6)",
    )
    assert recipe_of(MadeBy("imagine", {"generation": {}}, 7, 64, 64, "x")).inputs == ()
