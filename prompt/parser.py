"""Text after `/imagine` → one ImagineParams per expanded request. No defaults are applied."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from prompt.attention import check_attention
from prompt.control import apply_cw, parse_cn
from prompt.errors import PromptError
from prompt.extra_networks import strip_extra_networks
from prompt.flags import FlagSpec, FlagUse, Value, split_flags
from prompt.image_flags import IMAGE_FIELD_PARSERS, check_image_fields, split_leading_urls
from prompt.loras import extract_inline_loras, parse_lora_flag
from prompt.multiprompt import split_parts
from prompt.permutations import expand_permutations
from prompt.request import MAX_SEED, NAME_RE, DynThres, ImageRef, ImagineParams, LoraRef
from prompt.samplers import canonical_sampler, canonical_schedule, find_sampler, split_schedule
from prompt.schedules import has_and, split_and
from prompt.values import parse_float, parse_int, quote

MAX_PROMPT_CHARS = 6000
MAX_REQUESTS = 10
MAX_RATIO = 4
MAX_AND = 8  # AND subprompts: each is one more UNet batch per step
MAX_AND_WEIGHT = 10.0
QUALITIES = (0.25, 0.5, 1.0, 2.0)
_MAX_SAMPLER_WORDS = 6  # the longest name, 'DPM++ 2M SDE Karras', has 4

# Control characters (other than whitespace, which is collapsed anyway) are never meant: they
# come from copy and paste, and Postgres cannot store NUL. They become spaces.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_RATIO = re.compile(r"([0-9]{1,9}):([0-9]{1,9})")


def collapse(text: str) -> str:
    return " ".join(text.split())


def parse_prompt(text: str, attached: tuple[ImageRef, ...] = ()) -> list[ImagineParams]:
    """Parse one /imagine prompt; PromptError (never another exception) when it is invalid.
    `attached`: images given beside the text (Discord attachments, the CLI's --image), which
    join the URLs at the start of the prompt as image prompts."""
    if len(text) > MAX_PROMPT_CHARS:
        raise PromptError(
            f"the prompt is {len(text):,} characters long; the limit is {MAX_PROMPT_CHARS:,}: "
            "shorten it"
        )
    text = _CONTROL.sub(" ", text)
    if not text.strip():
        raise PromptError("the prompt is empty: describe the image, e.g. 'a lighthouse at dusk'")
    variants = [_parse_one(v, attached) for v in expand_permutations(text, MAX_REQUESTS)]
    total = sum(repeat for _, repeat in variants)
    if total > MAX_REQUESTS:
        raise PromptError(
            f"this prompt would make {total} requests ({len(variants)} prompt(s) × --repeat); "
            f"the limit is {MAX_REQUESTS}: lower --repeat or use fewer {{…}} options",
            "--repeat",
        )
    return [_nth_repeat(params, k) for params, repeat in variants for k in range(repeat)]


def _nth_repeat(params: ImagineParams, k: int) -> ImagineParams:
    """Repeat k of a prompt with a fixed --seed starts 4 seeds further on (a grid uses
    seed..seed+3), so `--repeat 3 --seed 7` paints three different grids, not one three times."""
    if k == 0 or params.seed is None:
        return params
    return params.model_copy(update={"seed": (params.seed + 4 * k) % (MAX_SEED + 1)})


def _parse_one(text: str, attached: tuple[ImageRef, ...] = ()) -> tuple[ImagineParams, int]:
    # Inline tags go first: removing one can turn the text after it into a flag
    # ('<lora:x:1>--ar 2:1'), and a tag is a LoRA wherever it stands.
    inline_loras, text = extract_inline_loras(text)
    text = strip_extra_networks(text)[0]
    head, uses = split_flags(text)
    fields: dict[str, Any] = {}
    loras: list[LoraRef] = list(inline_loras)
    seen: set[str] = set()
    for use in uses:
        spec = use.spec
        if spec.name in seen and not spec.repeatable:
            raise PromptError(f"{spec.flag} is given twice: keep one", spec.flag)
        seen.add(spec.name)
        value = _value(use)
        if spec.name == "lora":
            loras.append(parse_lora_flag(value))
        else:
            field, parsed = _FIELD_PARSERS[spec.name](value, spec.flag)
            fields[field] = parsed
    _combine_schedule(fields)
    apply_cw(fields)  # --cn's weight, or --ow's old name
    images, head = split_leading_urls(head, attached)
    check_image_fields(fields, images)
    if images:
        fields["images"] = images
    names = [lora.name for lora in loras]
    for name in names:
        if names.count(name) > 1:
            raise PromptError(f"LoRA {name} is given twice: keep one", "--lora")

    prompt = collapse(head)
    if not prompt and images:
        raise PromptError(
            "add words after the image prompts: describe the image, e.g. "
            "'https://…/cat.png a cat in the snow' (to merge images alone, use /blend)"
        )
    if not prompt:
        raise PromptError(
            "the prompt has no text before its flags: describe the image first, "
            "e.g. 'a lighthouse --ar 16:9'"
        )
    if "steps" in fields and "quality" in fields:
        raise PromptError(
            "--q and --steps both choose the number of steps: keep one (--q multiplies the "
            "model's default steps, --steps sets them)",
            "--q",
        )
    parts = split_parts(prompt)
    if len(parts) > 1 and has_and(prompt):
        raise PromptError(
            "this prompt mixes Midjourney's '::' parts with A1111's AND: use one of them, e.g. "
            "'a cat :1.2 AND a dog :0.8' or 'a cat::1.2 a dog::0.8'"
        )
    _check_and(prompt)
    check_attention(prompt)
    check_attention(fields.get("negative_prompt") or "")
    repeat = fields.pop("repeat", 1)
    params = ImagineParams(prompt=prompt, parts=parts, loras=tuple(loras), **fields)
    return params, repeat


def _combine_schedule(fields: dict[str, Any]) -> None:
    """--sampler NAME [--schedule S] → one canonical sampler (A1111 ≥ 1.9: no schedule means
    the sampler's "Automatic" one)."""
    schedule = fields.pop("schedule", None)
    if "sampler" not in fields:
        if schedule is not None:
            raise PromptError(
                "--schedule goes with --sampler, e.g. --sampler DPM++ 2M --schedule karras",
                "--schedule",
            )
        return
    fields["sampler"] = canonical_sampler(fields["sampler"], schedule)


def _check_and(prompt: str) -> None:
    subprompts = split_and(prompt) if has_and(prompt) else []
    if len(subprompts) > MAX_AND:
        raise PromptError(
            f"this prompt has {len(subprompts)} AND subprompts; the limit is {MAX_AND}: "
            "each one runs the model again at every step"
        )
    for text, weight in subprompts:
        if not math.isfinite(weight) or abs(weight) > MAX_AND_WEIGHT:
            raise PromptError(
                f"the AND weight {weight:g} (after {quote(text.strip()[-30:])}) is out of range: "
                f"use -{MAX_AND_WEIGHT:g} to {MAX_AND_WEIGHT:g}, e.g. 'a cat :1.2 AND a dog'"
            )


def _value(use: FlagUse) -> str:
    """The flag's value; stray text after a one-token value is an error."""
    spec: FlagSpec = use.spec
    words = use.value.split()
    if spec.value is Value.NONE:
        if words:
            raise PromptError(
                f"move {quote(' '.join(words))} before {spec.flag}: {spec.flag} takes no value",
                spec.flag,
            )
        return ""
    if not words:
        raise PromptError(f"{spec.flag} needs a value, e.g. {spec.flag} {spec.example}", spec.flag)
    if spec.value is Value.TEXT:
        return " ".join(words)
    return words[0] if len(words) == 1 else _check_stray(spec, words)


def _check_stray(spec: FlagSpec, words: list[str]) -> str:
    # Validate the value first, so '--ar 16 9' says what is wrong with '16' rather than '9'.
    if spec.name == "lora":
        parse_lora_flag(words[0])
    else:
        _FIELD_PARSERS[spec.name](words[0], spec.flag)
    raise PromptError(
        f"move {quote(' '.join(words[1:]))} before {spec.flag}: "
        "only the flag's value may follow a flag",
        spec.flag,
    )


def _ratio(value: str, flag: str) -> tuple[str, Any]:
    match = _RATIO.fullmatch(value)
    if not match:
        raise PromptError(
            f"{flag} needs a ratio W:H of whole numbers, e.g. 16:9, not {quote(value)}", flag
        )
    width, height = int(match.group(1)), int(match.group(2))
    if not width or not height:
        raise PromptError(f"{flag} {value}: both sides must be positive, e.g. 16:9", flag)
    if width > MAX_RATIO * height or height > MAX_RATIO * width:
        raise PromptError(f"{flag} {value} is too extreme: use a ratio from 1:4 to 4:1", flag)
    gcd = math.gcd(width, height)
    return "aspect_ratio", f"{width // gcd}:{height // gcd}"


def _quality(value: str, flag: str) -> tuple[str, Any]:
    problem = PromptError(f"{flag} {quote(value)} is not a quality: use 0.25, 0.5, 1 or 2", flag)
    try:
        number = parse_float(value, flag, 0, 2, flag)
    except PromptError:
        raise problem from None
    if number not in QUALITIES:
        raise problem
    return "quality", number


def _sampler(value: str, flag: str) -> tuple[str, Any]:
    # Copied from A1111 or a guide, names often come quoted: "DPM++ 2M Karras".
    value = value.strip().strip("\"'“”‘’`").strip()
    try:
        # The schedule is chosen once every flag is read (_combine_schedule).
        return "sampler", canonical_sampler(value, "uniform" if _named(value) else None)
    except PromptError as unknown:
        # Names may hold spaces, so stray text shows up as an unknown name: find the sampler
        # the value starts with, if any, and point at the rest.
        words = value.split()
        for cut in range(min(len(words) - 1, _MAX_SAMPLER_WORDS), 0, -1):
            if find_sampler(" ".join(words[:cut])) is None:
                continue
            raise PromptError(
                f"move {quote(' '.join(words[cut:]))} before {flag}: "
                "only the flag's value may follow a flag",
                flag,
            ) from None
        raise unknown from None


def parse_dynthres(value: str, flag: str) -> DynThres:
    """`P[:M]`: percentile 50 … 100, mimic scale 1 … 30 (default 7, the extension's)."""
    percentile, colon, mimic = value.partition(":")
    return DynThres(
        percentile=parse_float(percentile, f"{flag} percentile", 50, 100, flag),
        mimic=parse_float(mimic, f"{flag} mimic scale", 1, 30, flag) if colon else 7.0,
    )


def _named(value: str) -> bool:
    found = find_sampler(value)
    return found is not None and split_schedule(found)[1] is None


def _model(value: str, flag: str) -> tuple[str, Any]:
    # A name, never a path.
    if not NAME_RE.fullmatch(value) or ".." in value:
        raise PromptError(
            f"{quote(value)} is not a model name: use letters, digits, '_', '.' or '-' "
            "(see the model list for the names)",
            flag,
        )
    return "model", value


# flag name → (ImagineParams field, parsed value); "repeat" is not a field, the parser uses it.
_FIELD_PARSERS: dict[str, Callable[[str, str], tuple[str, Any]]] = {
    "ar": _ratio,
    "cfg": lambda v, f: ("cfg", parse_float(v, f, 1, 30, f)),
    "sampler": _sampler,
    "schedule": lambda v, f: ("schedule", canonical_schedule(v)),
    "seed": lambda v, f: ("seed", parse_int(v, f, 0, MAX_SEED, f)),
    "no": lambda v, f: ("negative_prompt", v),
    "steps": lambda v, f: ("steps", parse_int(v, f, 1, 150, f)),
    "q": _quality,
    "model": _model,
    "chaos": lambda v, f: ("chaos", parse_int(v, f, 0, 100, f)),
    "tile": lambda v, f: ("tile", True),
    "fast": lambda v, f: ("fast", True),
    "clip-skip": lambda v, f: ("clip_skip", parse_int(v, f, 1, 12, f)),
    "repeat": lambda v, f: ("repeat", parse_int(v, f, 1, 10, f)),
    "rescale": lambda v, f: ("rescale", parse_float(v, f, 0, 1, f)),
    "dynthres": lambda v, f: ("dynthres", parse_dynthres(v, f)),
    **IMAGE_FIELD_PARSERS,
    "cn": lambda v, f: ("control", parse_cn(v)),
    "cw": lambda v, f: ("cw_text", v),  # its meaning depends on --cn: apply_cw
}
