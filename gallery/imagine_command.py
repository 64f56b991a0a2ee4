"""The `/imagine …` command that makes an image again, from its resolved recipe.

It pins everything that was resolved at run time (seed, steps, cfg, sampler, model), so a
member's or a model's defaults changing later does not change what the command makes.
"""

from __future__ import annotations

import re
from math import gcd

from gallery.listing import Recipe

# Braces start permutations in the prompt language; a stored prompt is already expanded.
_BRACES = re.compile(r"([{}])")
# A flag-looking run inside the prompt text would be read as a flag: break the dashes apart.
_FLAG_LIKE = re.compile(r"(?<!\S)(--|—|–)(?=[A-Za-z])")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def aspect_ratio(width: int, height: int) -> str:
    div = gcd(width, height) or 1
    return f"{width // div}:{height // div}"


def _text(value: str) -> str:
    flat = " ".join(value.split())
    return _FLAG_LIKE.sub(lambda m: m.group(1)[0] + " ", _BRACES.sub(r"\\\1", flat))


def imagine_command(recipe: Recipe) -> str:
    parts = ["/imagine", _text(recipe.prompt)]
    if recipe.negative_prompt.strip():
        parts += ["--no", _text(recipe.negative_prompt)]
    parts += ["--ar", aspect_ratio(recipe.width, recipe.height)]
    parts += ["--model", recipe.model, "--sampler", recipe.sampler]
    parts += ["--steps", str(recipe.steps), "--cfg", _number(recipe.cfg)]
    parts += ["--seed", str(recipe.seed)]
    for lora in recipe.loras:
        parts += ["--lora", f"{lora.name}:{_number(lora.weight)}"]
    if recipe.clip_skip is not None:
        parts += ["--clip-skip", str(recipe.clip_skip)]
    if recipe.tile:
        parts.append("--tile")
    return " ".join(parts)
