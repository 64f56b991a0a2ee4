"""Autocomplete for the /imagine prompt: completes the value of the flag being typed.

Only a hint: Discord lets a member send anything, so the parser validates again on submit."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from prompt.samplers import SCHEDULES

MAX_CHOICES = 25  # Discord's limit
MAX_CHOICE_VALUE = 100  # Discord's limit on a choice's name and value
COMMON_RATIOS = ("1:1", "2:3", "3:2", "4:5", "5:4", "9:16", "16:9", "3:4", "4:3", "21:9", "1:2")

# The last flag in the text and what has been typed of its value so far.
_TAIL = re.compile(
    r"(?:^|\s)(?:--|—|–)(?P<flag>[a-z][a-z-]*)\s+(?P<value>(?:(?!\s(?:--|—|–)).)*)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Choice:
    name: str
    value: str


class Catalog:
    def __init__(
        self,
        *,
        samplers: Sequence[str],
        models: Callable[[], Sequence[str]],
        lora_dir: Path | None,
    ) -> None:
        self._samplers = samplers
        self._models = models
        self._lora_dir = lora_dir

    def loras(self, typed: str) -> list[str]:
        """LoRA names (file stems) containing `typed`, prefix matches first, at most 25.

        Scans lazily so a folder with thousands of files still answers quickly."""
        if self._lora_dir is None or not self._lora_dir.is_dir():
            return []
        needle = typed.split(":", 1)[0].strip().lower()
        prefix: list[str] = []
        inner: list[str] = []
        for path in self._lora_dir.iterdir():
            if path.suffix.lower() != ".safetensors":
                continue
            stem = path.stem
            if " " in stem:  # `--lora` takes one word: such a LoRA is typed as <lora:a b:w>
                continue
            low = stem.lower()
            if low.startswith(needle):
                prefix.append(stem)
            elif needle in low:
                inner.append(stem)
        return (sorted(prefix) + sorted(inner))[:MAX_CHOICES]

    def values_for(self, flag: str, typed: str) -> list[str]:
        flag = flag.lower()
        if flag == "sampler":
            return _matching(self._samplers, typed)
        if flag == "model":
            return _matching(self._models(), typed)
        if flag == "ar":
            return _matching(COMMON_RATIOS, typed)
        if flag == "schedule":
            return _matching(tuple(SCHEDULES), typed)
        if flag == "lora":
            return self.loras(typed)
        return []

    def suggest(self, text: str) -> list[Choice]:
        """Whole-prompt completions for the flag value at the end of `text`."""
        match = _TAIL.search(text)
        if match is None:
            return _as_is(text)
        typed = match["value"]
        head = text[: len(text) - len(typed)]
        choices = []
        for value in self.values_for(match["flag"], typed.strip()):
            full = head + value
            if len(full) <= MAX_CHOICE_VALUE:
                choices.append(Choice(full, full))
        return choices[:MAX_CHOICES] or _as_is(text)


def _matching(values: Iterable[str], typed: str) -> list[str]:
    needle = typed.strip().lower()
    ordered = sorted(values, key=lambda v: (not v.lower().startswith(needle), v))
    return [v for v in ordered if needle in v.lower()][:MAX_CHOICES]


def _as_is(text: str) -> list[Choice]:
    # Offer what was typed so the member's own text stays selectable.
    if 0 < len(text) <= MAX_CHOICE_VALUE:
        return [Choice(text, text)]
    return []
