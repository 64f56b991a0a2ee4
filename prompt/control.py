"""`--cn MODULE IMAGE` and `--cw W`: ControlNet as members type it.

    --cn canny https://example.com/pose.png --cw 0.8     a URL after the module
    --cn depth:https://example.com/room.jpg              or joined by a colon
    nanke imagine "…" --cn canny:c.png                   the CLI's option takes a file

`--cw` is the ControlNet weight (0 … 2, default 1) when `--cn` is present. Without `--cn` it is
Midjourney's old character-reference weight, `--ow`'s alias (prompt/image_flags.py).
"""

from __future__ import annotations

import re
from typing import Any

from prompt.errors import PromptError
from prompt.image_flags import IMAGE_FIELD_PARSERS
from prompt.request import CONTROL_MODULES, ControlModule, ControlRef, ImageRef
from prompt.values import parse_float, quote

_URL = re.compile(r"https?://\S{1,2040}", re.IGNORECASE)
CN_FLAG = "--cn"
CW_FLAG = "--cw"
MAX_IMAGE_CHARS = 2048
DEFAULT_CONTROL_WEIGHT = 1.0
MAX_CONTROL_WEIGHT = 2.0


def control_module(text: str) -> ControlModule:
    name = text.strip().lower()
    for module in CONTROL_MODULES:
        if module == name:
            return module
    known = ", ".join(CONTROL_MODULES)
    raise PromptError(
        f"{quote(text)} is not a ControlNet module: use one of {known}, "
        "e.g. --cn canny https://example.com/photo.png",
        CN_FLAG,
    )


def parse_cn(value: str) -> ControlRef:
    """`MODULE [IMAGE]` or `MODULE:IMAGE` → a ControlRef at the default weight."""
    words = value.split()
    if not words:
        raise PromptError(f"{CN_FLAG} needs a module, e.g. {CN_FLAG} canny URL", CN_FLAG)
    first, colon, joined = words[0].partition(":")
    module = control_module(first)
    images = ([joined] if colon and joined else []) + words[1:]
    if colon and not joined:
        raise PromptError(f"{CN_FLAG} {first}: put the image after the colon", CN_FLAG)
    if len(images) > 1:
        raise PromptError(
            f"move {quote(' '.join(images[1:]))} before {CN_FLAG}: it takes one module and "
            "one image",
            CN_FLAG,
        )
    image = images[0] if images else None
    if image is not None and len(image) > MAX_IMAGE_CHARS:
        raise PromptError(
            f"the {CN_FLAG} image address is {len(image):,} characters long; the limit is "
            f"{MAX_IMAGE_CHARS:,}",
            CN_FLAG,
        )
    if image is not None and not _URL.fullmatch(image):
        raise PromptError(
            f"{quote(image)} is not an image URL: --cn {module} https://example.com/photo.png",
            CN_FLAG,
        )
    return ControlRef(module=module, image=ImageRef(url=image) if image else None)


def parse_cw(value: str) -> float:
    return parse_float(value, CW_FLAG, 0, MAX_CONTROL_WEIGHT, CW_FLAG)


def apply_cw(fields: dict[str, Any]) -> None:
    """The parser's `--cw` (kept as text until every flag is read): with `--cn` the ControlNet
    weight, 0 … 2; without, `--ow`'s old name (prompt/image_flags.py reads it)."""
    text = fields.pop("cw_text", None)
    if text is None:
        return
    control = fields.get("control")
    if control is not None:
        fields["control"] = control.model_copy(update={"weight": parse_cw(text)})
    else:
        fields["cw"] = IMAGE_FIELD_PARSERS["cw"](text, CW_FLAG)[1]


def with_weight(control: ControlRef | None, weight: float | None) -> ControlRef | None:
    """The CLI's --cn with its --cw option (which is only ever the ControlNet weight)."""
    if weight is None:
        return control
    if control is None:
        raise PromptError(
            f"{CW_FLAG} is the ControlNet weight (0 to 2): it goes with {CN_FLAG}, e.g. "
            f"{CN_FLAG} canny URL {CW_FLAG} 0.8",
            CW_FLAG,
        )
    return control.model_copy(update={"weight": weight})
