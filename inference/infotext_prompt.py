"""An A1111 / Civitai image's parameters → a Nanke prompt with flags (torch-free).

`nanke imagine --from IMAGE` reads the image's text (`inference.png.read_any_parameters`),
parses it as A1111 does (`inference.infotext.parse_infotext`) and maps what Nanke has:
prompt, negative prompt, sampler and schedule type, steps, CFG scale, seed, size (as an aspect
ratio: Nanke sizes follow the model), clip skip, CFG rescale, the model when this server has
one of that name, and the LoRAs installed here. What cannot be mapped is named in the notes.
"""

from __future__ import annotations

from math import gcd

from inference.infotext import Infotext, lora_tag
from inference.registry import Registry
from prompt.request import MAX_SEED
from prompt.samplers import sampler_words

_MAX_RATIO = 4


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and value == value and abs(value) != float("inf") else None


def prompt_from_infotext(info: Infotext, registry: Registry) -> tuple[str, list[str]]:
    """(the prompt text with flags, notes on what was left out)."""
    # long: one mapping per A1111 field, each with its own note.
    notes: list[str] = []
    words = [" ".join(info.prompt.split()) or "untitled"]
    installed = set(registry.loras())
    for lora in info.loras:
        if lora.name in installed:
            words.append(lora_tag(lora))
        else:
            notes.append(f"LoRA {lora.name} is not installed here: left out")
    notes += [
        f"{tag} cannot be used here (name or weight): left out" for tag in info.unusable_loras
    ]
    params = info.params
    if info.negative_prompt:
        words += ["--no", " ".join(info.negative_prompt.split())]
    label = params.get("Sampler")
    if label:
        name = info.sampler_name
        if name is not None:
            words += sampler_words(name)
        else:
            schedule = params.get("Schedule type")
            shown = f"{label} ({schedule})" if schedule else label
            notes.append(f"sampler {shown} is not available here: using the default")
    steps = _number(params.get("Steps"))
    if steps is not None and steps == int(steps) and 1 <= steps <= 150:
        words += ["--steps", str(int(steps))]
    cfg = _number(params.get("CFG scale"))
    if cfg is not None and 1 <= cfg <= 30:
        words += ["--cfg", f"{cfg:g}"]
    seed = _number(params.get("Seed"))
    if seed is not None and seed == int(seed) and 0 <= seed <= MAX_SEED:
        words += ["--seed", str(int(seed))]
    size = info.size
    if size is not None and all(size):
        w, h = size
        if w <= _MAX_RATIO * h and h <= _MAX_RATIO * w:
            d = gcd(w, h)
            words += ["--ar", f"{w // d}:{h // d}"]
    skip = _number(params.get("Clip skip"))
    if skip is not None and skip == int(skip) and 1 <= skip <= 12:
        words += ["--clip-skip", str(int(skip))]
    rescale = _number(params.get("CFG Rescale"))
    if rescale is not None and 0 < rescale <= 1:
        words += ["--rescale", f"{rescale:g}"]
    if params.get("Dynamic thresholding enabled") == "True":
        percentile = _number(params.get("Threshold percentile")) or 100.0
        mimic = _number(params.get("Mimic scale")) or 7.0
        if 50 <= percentile <= 100 and 1 <= mimic <= 30:
            words += ["--dynthres", f"{percentile:g}:{mimic:g}"]
        else:
            notes.append("dynamic thresholding with these settings cannot be used here: left out")
    model = params.get("Model")
    if model and model in registry.models:
        words += ["--model", model]
    elif model:
        notes.append(f"model {model[:60]} is not on this server: using the default model")
    return " ".join(words), notes
