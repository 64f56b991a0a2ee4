"""The `/imagine …` command that makes an image again, from its resolved recipe.

It pins everything that was resolved at run time (seed, steps, cfg, sampler, model), so a
member's or a model's defaults changing later does not change what the command makes. The
text is the prompt language's canonical form (`bot.prompt.format_prompt`), which parses back
to the same request.
"""

from __future__ import annotations

import re
from math import gcd

from bot.prompt import format_prompt
from gallery.listing import Recipe
from inference.contracts import ImagineParams, PromptPart

# Stored prompts never hold a flag (the parser stops at the first), but an entry's text may
# come from elsewhere: a flag-looking word would be read as a flag, so break its dashes apart.
_FLAG_LIKE = re.compile(r"(?<!\S)(--|—|–)(?=[A-Za-z])")


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
        clip_skip=recipe.clip_skip,
    )
    return f"/imagine {format_prompt(params)}"
