"""The flag table and the split of a prompt into its text and its flags."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from enum import Enum

from prompt.errors import PromptError

# `--name`, or one em/en dash (phones turn `--` into a dash), at the start of a word. A name
# holds single hyphens only ('--clip-skip'), so '--no--ar' is two flags glued together.
_NAME = r"([A-Za-z][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*)"
FLAG_START = re.compile(r"(?<!\S)(?:--|[—–])" + _NAME)
# A flag glued to the end of the one before it: '--no—ar' (a dash typed for `--`) or '--tile--ar'.
_GLUED = re.compile(r"(?:--|[—–])" + _NAME)


class Value(Enum):
    TOKEN = "one token"  # anything after it is stray text
    TEXT = "text up to the next flag"
    NONE = "no value"


@dataclass(frozen=True)
class FlagSpec:
    name: str  # canonical, without dashes
    value: Value
    example: str  # shown when the value is missing
    repeatable: bool = False

    @property
    def flag(self) -> str:
        return f"--{self.name}"


FLAGS: dict[str, FlagSpec] = {
    spec.name: spec
    for spec in (
        FlagSpec("ar", Value.TOKEN, "16:9"),
        FlagSpec("cfg", Value.TOKEN, "7"),
        FlagSpec("sampler", Value.TEXT, "euler_a"),
        FlagSpec("schedule", Value.TEXT, "karras"),
        FlagSpec("lora", Value.TOKEN, "watercolor:0.7", repeatable=True),
        FlagSpec("seed", Value.TOKEN, "1234"),
        FlagSpec("no", Value.TEXT, "text, watermark"),
        FlagSpec("steps", Value.TOKEN, "30"),
        FlagSpec("q", Value.TOKEN, "1"),
        FlagSpec("model", Value.TOKEN, "sd15"),
        FlagSpec("chaos", Value.TOKEN, "50"),
        FlagSpec("tile", Value.NONE, ""),
        FlagSpec("fast", Value.NONE, ""),  # the model's cache accelerator (DiT families)
        FlagSpec("clip-skip", Value.TOKEN, "2"),
        FlagSpec("repeat", Value.TOKEN, "4"),
        FlagSpec("rescale", Value.TOKEN, "0.7"),
        FlagSpec("dynthres", Value.TOKEN, "99.5:7"),
        FlagSpec("iw", Value.TOKEN, "1.5"),
        FlagSpec("sref", Value.TEXT, "https://example.com/style.png"),
        FlagSpec("sw", Value.TOKEN, "100"),
        FlagSpec("oref", Value.TOKEN, "https://example.com/dog.png"),
        FlagSpec("ow", Value.TOKEN, "100"),
        FlagSpec("cn", Value.TEXT, "canny https://example.com/photo.png"),
        # --cn's weight (0 … 2) with --cn; else --ow's old name (prompt/control.py).
        FlagSpec("cw", Value.TOKEN, "1"),
    )
}

# Midjourney's long and short spellings of the same flags.
ALIASES: dict[str, str] = {
    "aspect": "ar",
    "quality": "q",
    "c": "chaos",
    "r": "repeat",
    "clipskip": "clip-skip",
    "cref": "oref",  # Midjourney's older name (a note says so)
}


@dataclass(frozen=True)
class FlagUse:
    spec: FlagSpec
    value: str  # raw text after the flag, up to the next flag


# Midjourney flags members type out of habit, and what Nanke offers instead.
MIDJOURNEY_ONLY = {
    "stylize": "use --cfg (how literally the prompt is followed)",
    "s": "it is Midjourney's --stylize; use --cfg (how literally the prompt is followed)",
    "v": "pick a model with --model instead (see /settings for the list)",
    "version": "pick a model with --model instead (see /settings for the list)",
    "niji": "pick a model with --model instead (see /settings for the list)",
    "style": "describe the style in the prompt, or use a LoRA with --lora",
    "weird": "use --chaos for more varied grids",
    "w": "use --chaos for more varied grids",
    "stop": "use --steps to choose how many steps run",
    "relax": "choose fast or relax mode with /settings mode",
    "turbo": "choose fast or relax mode with /settings mode",
}


def _lookup(typed: str) -> FlagSpec:
    key = typed.lower().replace("_", "-")
    key = ALIASES.get(key, key)
    if key in FLAGS:
        return FLAGS[key]
    shown = f"--{typed}" if len(typed) <= 30 else f"--{typed[:29]}…"
    if key in MIDJOURNEY_ONLY:
        hint = MIDJOURNEY_ONLY[key]
        raise PromptError(f"{shown} is a Midjourney flag Nanke does not have: {hint}", shown)
    # A suggestion only when it is close; a far one ("--tile" for "--stylize") misleads.
    best = difflib.get_close_matches(key, [*FLAGS, *ALIASES], n=1, cutoff=0.6)
    hint = f"did you mean --{ALIASES.get(best[0], best[0])}? " if best else ""
    known = ", ".join(f"--{name}" for name in FLAGS)
    raise PromptError(f"unknown flag {shown}: {hint}(flags: {known})", shown)


def split_flags(text: str) -> tuple[str, list[FlagUse]]:
    """The prompt text before the first flag, and each flag with its raw value."""
    starts: list[re.Match[str]] = []
    for match in FLAG_START.finditer(text):
        starts.append(match)
        # Without this the glued flag would be the first word of the value, and the canonical
        # form (which puts a space after the flag) would read it as a flag: no round trip.
        while glued := _GLUED.match(text, starts[-1].end()):
            starts.append(glued)
    if not starts:
        return text, []
    uses = []
    for match, following in zip(starts, [*starts[1:], None], strict=True):
        end = following.start() if following else len(text)
        uses.append(FlagUse(_lookup(match.group(1)), text[match.end() : end]))
    return text[: starts[0].start()], uses
