"""The `/imagine …` command that makes an image again, from the job that made it.

A `Recipe` is the fully resolved settings of one image (seed of that tile, steps, cfg, sampler,
model, LoRAs, size). The command pins all of them, so a member's or a model's defaults changing
later does not change what it makes, and it is the prompt language's canonical form
(`format_prompt`), which parses back to the same request. Used by the web gallery and by the
bot's /gallery listings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from math import gcd
from typing import Any

from pydantic import ValidationError

from prompt.canonical import format_prompt
from prompt.request import DynThres, Generation, ImagineParams, LoraRef, PromptPart

# Stored prompts never hold a flag (the parser stops at the first), but an entry's text may
# come from elsewhere: a flag-looking word would be read as a flag, so break its dashes apart.
_FLAG_LIKE = re.compile(r"(?<!\S)(--|—|–)(?=[A-Za-z])")


@dataclass(frozen=True)
class Recipe:
    prompt: str
    negative_prompt: str
    model: str
    sampler: str
    steps: int
    cfg: float
    seed: int
    width: int
    height: int
    loras: tuple[LoraRef, ...] = ()
    clip_skip: int | None = None
    tile: bool = False
    fast: bool = False
    rescale: float = 0.0
    dynthres: DynThres | None = None
    # The member images it was made with, for people: "Image prompt 3f2a9c01b7de (0.5)".
    inputs: tuple[str, ...] = ()


def aspect_ratio(width: int, height: int) -> str:
    div = gcd(width, height) or 1
    return f"{width // div}:{height // div}"


def _text(value: str) -> str:
    return _FLAG_LIKE.sub(lambda m: m.group(1)[0] + " ", " ".join(value.split()))


def imagine_command(recipe: Recipe) -> str:
    prompt = _text(recipe.prompt)
    params = ImagineParams(
        prompt=prompt,
        parts=(PromptPart(text=prompt),),
        negative_prompt=_text(recipe.negative_prompt) or None,
        aspect_ratio=aspect_ratio(recipe.width, recipe.height),
        cfg=recipe.cfg,
        sampler=recipe.sampler,
        loras=recipe.loras,
        seed=recipe.seed,
        steps=recipe.steps,
        model=recipe.model,
        tile=recipe.tile,
        fast=recipe.fast,
        clip_skip=recipe.clip_skip,
        rescale=recipe.rescale or None,
        dynthres=recipe.dynthres,
    )
    return f"/imagine {format_prompt(params)}"


@dataclass(frozen=True)
class MadeBy:
    """What the database knows about how an image was made."""

    kind: str  # the job's kind
    request: dict[str, Any]  # the job's contract JSON (JobSpec)
    seed: int  # the image's own seed
    width: int
    height: int
    prompt: str  # as shared, for when the request cannot be read
    # For an upscale: the job it upscaled, and that tile's seed when its image row is known.
    parent_request: dict[str, Any] | None = None
    parent_seed: int | None = None


def recipe_of(made: MadeBy) -> Recipe:
    """An upscale is remade from the job it upscaled (its prompt and settings, that tile's
    seed): `/imagine` makes the grid again, and U on that tile makes the upscale."""
    request, seed = made.request, made.seed
    if made.kind == "upscale" and made.parent_request is not None:
        request = made.parent_request
        parent = _generation(request)
        index = (made.request.get("source") or {}).get("index")
        if made.parent_seed is not None:
            seed = made.parent_seed
        elif parent is not None and isinstance(index, int):
            seed = parent.seed + index - 1  # the contract: tile i (1-based) uses seed + i - 1
    gen = _generation(request)
    if gen is None:  # an unreadable request: the prompt and size still remake something close
        return Recipe(made.prompt, "", "default", "euler_a", 30, 7.0, seed, made.width, made.height)
    return Recipe(
        prompt=gen.prompt,
        negative_prompt=gen.negative_prompt,
        model=gen.model,
        sampler=gen.sampler,
        steps=gen.steps,
        cfg=gen.cfg,
        seed=seed,
        width=gen.width,
        height=gen.height,
        loras=gen.loras,
        clip_skip=gen.clip_skip,
        tile=gen.tile,
        fast=gen.fast,
        rescale=gen.rescale,
        dynthres=gen.dynthres,
        inputs=inputs_of(gen),
    )


_ROLES = {"image": "Image prompt", "style": "Style reference", "object": "Object reference"}


def inputs_of(gen: Generation) -> tuple[str, ...]:
    """The images a generation used, each named by its stored hash (12 hex digits, as the PNG
    parameters name it) or URL, with its weight."""
    out = [f"{_ROLES[r.role]} {r.image.label} ({r.scale:g})" for r in gen.references]
    control = gen.control
    if control is not None and control.image is not None:
        out.append(f"ControlNet {control.module} {control.image.label} ({control.weight:g})")
    return tuple(out)


def _generation(request: dict[str, Any]) -> Generation | None:
    try:
        return Generation.model_validate(request.get("generation"))
    except ValidationError:
        return None
