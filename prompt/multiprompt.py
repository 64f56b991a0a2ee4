"""Midjourney multi-prompts: `space::2 ship` → parts 'space' (2.0) and 'ship' (1.0).

`::` always separates; a number right after it (followed by a space, ':' or the end) is the
weight of the part before it, otherwise that part weighs 1. A single ':' is text, so A1111's
`(word:1.3)` stays in the part. Empty parts are dropped; the weights must add up to more than 0.
"""

from __future__ import annotations

import re

from prompt.errors import PromptError
from prompt.request import PromptPart
from prompt.values import fmt_number

MAX_WEIGHT = 100.0
_WEIGHT = re.compile(r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})(?![^\s:])")


def split_parts(prompt: str) -> tuple[PromptPart, ...]:
    """The weighted parts of a prompt whose whitespace is already collapsed."""
    if "::" not in prompt:
        return (PromptPart(text=prompt, weight=1.0),)
    parts: list[PromptPart] = []

    def add(text: str, weight: float) -> None:
        if not -MAX_WEIGHT <= weight <= MAX_WEIGHT:
            raise PromptError(
                f"multi-prompt weight {fmt_number(weight)} is out of range: "
                f"use {fmt_number(-MAX_WEIGHT)} to {fmt_number(MAX_WEIGHT)}"
            )
        if text.strip():
            parts.append(PromptPart(text=text.strip(), weight=weight))

    start = 0
    while (sep := prompt.find("::", start)) >= 0:
        end = sep + 2
        match = _WEIGHT.match(prompt, end)
        weight = 1.0
        if match:
            weight, end = float(match.group()), match.end()
        add(prompt[start:sep], weight)
        start = end
    add(prompt[start:], 1.0)

    if not parts:
        raise PromptError("the prompt has no text, only '::': describe the image")
    total = sum(p.weight for p in parts)
    if total <= 0:
        raise PromptError(
            f"the multi-prompt weights add up to {fmt_number(total)}; they must add up to more "
            "than 0: raise a positive weight or lower a negative one"
        )
    return tuple(parts)
