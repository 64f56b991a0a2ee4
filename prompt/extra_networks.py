"""A1111 extra-network tags other than `<lora:…>`/`<lyco:…>`: removed, with a note.

A1111 reads `<kind:name:…>` tags (hypernetworks, …) and never feeds them to CLIP. Nanke loads
LoRAs and LyCORIS files (`prompt/loras.py`); any other tag is removed
from the text (a tag counts as a space) so it is not painted as words, and the member is
told which tags were ignored.
"""

from __future__ import annotations

import re

from prompt.errors import PromptError

_TAG = re.compile(r"<(\w+):([^<>]+)>")


def strip_extra_networks(text: str) -> tuple[str, list[str]]:
    """`text` without `<kind:…>` tags (LoRA tags are read before this), and the tags."""
    found: list[str] = []
    while match := _TAG.search(text):
        found.append(match.group(0))
        text = text[: match.start()] + " " + text[match.end() :]
    return text, found


def extra_network_note(text: str) -> str | None:
    """What to tell the member about the tags `parse_prompt` removed from `text`, if any."""
    from prompt.loras import extract_inline_loras

    try:
        _, without_loras = extract_inline_loras(text)
    except PromptError:  # a bad LoRA tag is the parser's error to report, not a note
        return None
    tags = strip_extra_networks(without_loras)[1]
    if not tags:
        return None
    shown = ", ".join(f"`{t[:60]}`" for t in tags[:5]) + (" …" if len(tags) > 5 else "")
    kinds = sorted({t[1:].split(":", 1)[0] for t in tags})
    return (
        f"Ignored {shown}: Nanke has no {', '.join(kinds)} networks (only `<lora:name:weight>`); "
        "the tag was removed from the prompt."
    )
