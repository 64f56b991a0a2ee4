"""ImagineParams → the canonical prompt string that parses back to the same request."""

from __future__ import annotations

from prompt.image_flags import format_image_words
from prompt.loras import lora_weight_text
from prompt.request import ImagineParams
from prompt.samplers import sampler_words
from prompt.values import fmt_number


def escape_braces(text: str) -> str:
    """Escape what permutation expansion would otherwise consume: braces, and a comma that
    follows a backslash (`\\,` would become `,`)."""
    out: list[str] = []
    previous = ""
    for char in text:
        if char in "{}" or (char == "," and previous == "\\"):
            out.append("\\")
        out.append(char)
        previous = char
    return "".join(out)


def format_prompt(params: ImagineParams) -> str:
    """The prompt text, then every set flag in the table's order; inline LoRAs become --lora
    (unless a name holds a space)."""
    lead, image_flags = format_image_words(params)
    words = [*lead, escape_braces(params.prompt)]
    # A name with a space cannot be a `--lora` word: then every LoRA stays an inline tag (in
    # order, so the parse gives back the same list).
    inline = any(" " in lora.name for lora in params.loras)
    if inline:
        words += [f"<lora:{lora.name}:{lora_weight_text(lora)}>" for lora in params.loras]
    if params.negative_prompt:
        words += ["--no", escape_braces(params.negative_prompt)]
    if params.aspect_ratio is not None:
        words += ["--ar", params.aspect_ratio]
    if params.cfg is not None:
        words += ["--cfg", fmt_number(params.cfg)]
    if params.sampler is not None:
        words += sampler_words(params.sampler)
    for lora in () if inline else params.loras:
        weight = "" if lora.weight == 1.0 and lora.unet_weight is None else lora_weight_text(lora)
        words += ["--lora", f"{lora.name}:{weight}" if weight else lora.name]
    if params.seed is not None:
        words += ["--seed", str(params.seed)]
    if params.steps is not None:
        words += ["--steps", str(params.steps)]
    if params.quality is not None:
        words += ["--q", fmt_number(params.quality)]
    if params.model is not None:
        words += ["--model", params.model]
    if params.chaos is not None:
        words += ["--chaos", str(params.chaos)]
    if params.tile:
        words.append("--tile")
    if params.fast:
        words.append("--fast")
    if params.clip_skip is not None:
        words += ["--clip-skip", str(params.clip_skip)]
    if params.rescale is not None:
        words += ["--rescale", fmt_number(params.rescale)]
    if params.dynthres is not None:
        dyn = params.dynthres
        words += ["--dynthres", f"{fmt_number(dyn.percentile)}:{fmt_number(dyn.mimic)}"]
    if params.control is not None:
        control = params.control
        url = control.image.url if control.image is not None else None
        words += ["--cn", control.module, *([url] if url else [])]
        if control.weight != 1.0:
            words += ["--cw", fmt_number(control.weight)]
    words += image_flags
    return " ".join(words)
