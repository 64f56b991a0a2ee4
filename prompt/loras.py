"""LoRA references: `--lora NAME[:W[:UNET_W]]` and A1111's inline `<lora:NAME:W[:UNET_W]>`."""

from __future__ import annotations

import re

from prompt.errors import PromptError
from prompt.request import LORA_NAME_RE, LoraRef
from prompt.values import fmt_number, parse_float, quote

LORA_FLAG = "--lora"
# `<lyco:…>` is A1111's LyCORIS tag (LoHa, LoKr, …): the same file folder and syntax.
_INLINE = re.compile(r"<(?:lora|lyco):([^<>:]*)(?::([^<>]*))?>", re.IGNORECASE)


def make_lora(name: str, weight: str | None, flag: str | None) -> LoraRef:
    """Validate a LoRA name (a name, never a path) and its weights (−2 … 2, default 1).

    `weight` is A1111's: `W` (both parts), `TE:UNET`, or named `te=W` / `unet=W`.
    """
    name = name.strip()
    if not LORA_NAME_RE.fullmatch(name) or ".." in name or "  " in name:
        raise PromptError(
            f"{quote(name)} is not a LoRA name: use up to 64 letters, digits, spaces, '_', '.' "
            "or '-', starting with a letter or digit (a file name without its folder)",
            flag,
        )
    if weight is None:
        return LoraRef(name=name)
    te, unet = _weights(name, weight, flag)
    return LoraRef(name=name, weight=1.0 if te is None else te, unet_weight=unet)


def _weights(name: str, text: str, flag: str | None) -> tuple[float | None, float | None]:
    """(text-encoder weight, UNet weight or None for "same") of `W`, `TE:UNET`, `te=…:unet=…`."""
    named: dict[str, str] = {}
    positional: list[str] = []
    for item in text.split(":"):
        key, eq, value = item.partition("=")
        if eq:
            if key.strip().lower() not in ("te", "unet"):
                raise PromptError(
                    f"LoRA {name}: {quote(item.strip())} is not supported "
                    "(use `<lora:name:weight>` or `<lora:name:te_weight:unet_weight>`)",
                    flag,
                )
            named[key.strip().lower()] = value
        else:
            positional.append(item)
    if len(positional) > 2:
        raise PromptError(
            f"LoRA {name}: too many weights (use `name:weight` or `name:te_weight:unet_weight`)",
            flag,
        )
    te_text = named.get("te", positional[0] if positional else None)
    unet_text = named.get("unet", positional[1] if len(positional) > 1 else None)
    te = (
        None
        if te_text is None
        else parse_float(te_text.strip(), f"LoRA {name} weight", -2, 2, flag)
    )
    unet = (
        None
        if unet_text is None
        else parse_float(unet_text.strip(), f"LoRA {name} UNet weight", -2, 2, flag)
    )
    if te is None and unet is not None:
        te = 1.0  # A1111: `unet=` alone leaves the text encoder at 1
    return te, None if unet == te else unet


def lora_weight_text(lora: LoraRef) -> str:
    """`W` or `TE:UNET`, as A1111 and `--lora` read them."""
    text = fmt_number(lora.weight)
    return text if lora.unet_weight is None else f"{text}:{fmt_number(lora.unet_weight)}"


def parse_lora_flag(token: str) -> LoraRef:
    name, colon, weight = token.partition(":")
    return make_lora(name, weight if colon else None, LORA_FLAG)


def extract_inline_loras(text: str) -> tuple[list[LoraRef], str]:
    """Remove every `<lora:…>` (or `<lyco:…>`) tag from `text`; the tags' LoRAs in order.

    A tag becomes a space. That can join the text around it into a new tag, so we repeat
    until none is left: the returned text never holds a tag, which keeps format_prompt stable.
    """
    found: list[LoraRef] = []
    while match := _INLINE.search(text):
        found.append(make_lora(match.group(1), match.group(2), LORA_FLAG))
        text = text[: match.start()] + " " + text[match.end() :]
    return found, text
