"""LoRA references: `--lora NAME[:W]` and A1111's inline `<lora:NAME:W>`."""

from __future__ import annotations

import re

from prompt.errors import PromptError
from prompt.request import LORA_NAME_RE, LoraRef
from prompt.values import parse_float, quote

LORA_FLAG = "--lora"
_INLINE = re.compile(r"<lora:([^<>:]*)(?::([^<>]*))?>", re.IGNORECASE)


def make_lora(name: str, weight: str | None, flag: str | None) -> LoraRef:
    """Validate a LoRA name (a name, never a path) and its weight (−2 … 2, default 1)."""
    name = name.strip()
    if not LORA_NAME_RE.fullmatch(name) or ".." in name:
        raise PromptError(
            f"{quote(name)} is not a LoRA name: use up to 64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (a file name without its folder)",
            flag,
        )
    if weight is None:
        return LoraRef(name=name)
    return LoraRef(
        name=name, weight=parse_float(weight.strip(), f"LoRA {name} weight", -2, 2, flag)
    )


def parse_lora_flag(token: str) -> LoraRef:
    name, colon, weight = token.partition(":")
    return make_lora(name, weight if colon else None, LORA_FLAG)


def extract_inline_loras(text: str) -> tuple[list[LoraRef], str]:
    """Remove every `<lora:…>` tag from `text`; the tags' LoRAs in order of appearance.

    A tag becomes a space. That can join the text around it into a new tag, so we repeat
    until none is left: the returned text never holds a tag, which keeps format_prompt stable.
    """
    found: list[LoraRef] = []
    while match := _INLINE.search(text):
        found.append(make_lora(match.group(1), match.group(2), LORA_FLAG))
        text = text[: match.start()] + " " + text[match.end() :]
    return found, text
