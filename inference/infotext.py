"""A1111-compatible PNG `parameters` text: build it from a Generation and parse it back.

Layout, as AUTOMATIC1111 writes it (and Civitai, ComfyUI loaders and others read it):

    a red fox in the snow <lora:ink:0.7>
    Negative prompt: blurry
    Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.0, Seed: 42,
    Size: 512x512, Model: sd15   (one line in the PNG)

LoRAs travel as `<lora:name:weight>` tags at the end of the prompt, as in A1111.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from inference.samplers import a1111_labels, name_from_label
from prompt.errors import PromptError
from prompt.loras import make_lora
from prompt.request import Generation, LoraRef

_PAIR = re.compile(r'\s*([A-Za-z][\w \-/]*):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')
_LORA_TAG = re.compile(r"\s*<lora:([^:<>]+):([^<>]+)>")
NEGATIVE = "Negative prompt:"


def _fmt(value: float) -> str:
    return f"{value:g}"


def _quote(value: str) -> str:
    if any(c in value for c in ',:"\n'):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def lora_tag(lora: LoraRef) -> str:
    """`<lora:name:w>`, or `<lora:name:te:unet>` when the UNet weight differs (A1111's syntax)."""
    unet = "" if lora.unet_weight is None else f":{_fmt(lora.unet_weight)}"
    return f"<lora:{lora.name}:{_fmt(lora.weight)}{unet}>"


def _plain(value: float) -> str:
    """A number A1111's AND weight pattern reads (no exponent)."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def a1111_prompt(gen: Generation) -> str:
    """The prompt as A1111 reads it: a `::` multi-prompt becomes `a :w₁ AND b :w₂`, each
    weight the part's share, as Nanke mixes them (normalised by their sum)."""
    parts = gen.parts
    if len(parts) < 2:
        return gen.prompt
    total = sum(p.weight for p in parts)
    norm = total if total > 0 else sum(abs(p.weight) for p in parts) or 1.0
    return " AND ".join(f"{p.text.strip()} :{_plain(p.weight / norm)}" for p in parts)


def build_infotext(
    gen: Generation,
    seed: int | None = None,
    denoising_strength: float | None = None,
    extra: dict[str, str] | None = None,
) -> str:
    """The `parameters` text of one image (`seed`: that image's own seed)."""
    prompt = a1111_prompt(gen) + "".join(f" {lora_tag(x)}" for x in gen.loras)
    sampler_label, schedule_label = a1111_labels(gen.sampler)
    fields: dict[str, str] = {
        "Steps": str(gen.steps),
        "Sampler": sampler_label,
        "Schedule type": schedule_label,
        "CFG scale": _fmt(gen.cfg),
        "Seed": str(gen.seed if seed is None else seed),
        "Size": f"{gen.width}x{gen.height}",
        "Model": gen.model,
    }
    if gen.clip_skip and gen.clip_skip > 1:
        fields["Clip skip"] = str(gen.clip_skip)
    if denoising_strength is not None:
        fields["Denoising strength"] = _fmt(denoising_strength)
    if gen.tile:
        fields["Tiling"] = "True"
    if gen.chaos:
        fields["Chaos"] = str(gen.chaos)
    if gen.rescale:
        fields["CFG Rescale"] = _fmt(gen.rescale)
    if gen.dynthres is not None:  # the Dynamic Thresholding extension's own keys
        fields["Dynamic thresholding enabled"] = "True"
        fields["Mimic scale"] = _fmt(gen.dynthres.mimic)
        fields["Threshold percentile"] = _fmt(gen.dynthres.percentile)
    fields.update(extra or {})
    lines = [prompt]
    if gen.negative_prompt:
        lines.append(f"{NEGATIVE} {gen.negative_prompt}")
    lines.append(", ".join(f"{k}: {_quote(v)}" for k, v in fields.items()))
    return "\n".join(lines)


@dataclass
class Infotext:
    prompt: str
    negative_prompt: str = ""
    params: dict[str, str] = field(default_factory=dict)
    loras: list[LoraRef] = field(default_factory=list)
    # `<lora:…>` tags Nanke cannot use as written (a name with spaces, a weight beyond ±2).
    unusable_loras: list[str] = field(default_factory=list)

    @property
    def sampler_name(self) -> str | None:
        label = self.params.get("Sampler")
        return name_from_label(label, self.params.get("Schedule type")) if label else None

    @property
    def size(self) -> tuple[int, int] | None:
        match = re.fullmatch(r"(\d+)x(\d+)", self.params.get("Size", ""))
        return (int(match[1]), int(match[2])) if match else None


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_infotext(text: str) -> Infotext:
    """Parse A1111 `parameters` text the way A1111's own reader does (lenient, never raises)."""
    lines = text.strip().split("\n")
    params: dict[str, str] = {}
    if lines:
        pairs = _PAIR.findall(lines[-1])
        if len(pairs) >= 3:  # A1111's rule: the last line holds the settings
            params = {k.strip(): _unquote(v) for k, v in pairs}
            lines = lines[:-1]
    prompt_lines: list[str] = []
    negative_lines: list[str] = []
    for line in lines:
        if line.startswith(NEGATIVE) and not negative_lines:
            negative_lines.append(line[len(NEGATIVE) :].strip())
        elif negative_lines:
            negative_lines.append(line)
        else:
            prompt_lines.append(line)
    prompt = "\n".join(prompt_lines)
    loras: list[LoraRef] = []
    unusable: list[str] = []
    for match in _LORA_TAG.finditer(prompt):
        try:
            loras.append(make_lora(match[1], match[2], None))
        except (ValueError, PromptError):  # pydantic's ValidationError is a ValueError too
            unusable.append(match[0].strip())
    prompt = _LORA_TAG.sub("", prompt).strip() if loras or unusable else prompt.strip()
    return Infotext(prompt, "\n".join(negative_lines).strip(), params, loras, unusable)
