"""Image inputs in the prompt language (issue 15): image URLs at the start, --iw, --sref/--sw,
--oref/--ow, and Midjourney's older --cref/--cw as aliases of --oref/--ow.

Pure: URLs are only read here (http or https, one word each); whether one may be fetched is
decided at intake (`pipeline.image_urls.check_url`) and when the worker fetches it.
"""

from __future__ import annotations

import re
from typing import Any

from prompt.errors import PromptError
from prompt.request import MAX_IMAGE_PROMPTS, MAX_STYLE_REFS, ImageRef
from prompt.values import parse_float, parse_int, quote

_URL = re.compile(r"https?://\S{1,2040}", re.IGNORECASE)
CREF_NOTE = "--cref/--cw are Midjourney's older names: read as --oref/--ow"


def split_leading_urls(
    head: str, attached: tuple[ImageRef, ...] = ()
) -> tuple[tuple[ImageRef, ...], str]:
    """The image prompts (`attached` ones, then the URLs at the start of the prompt text, as
    Midjourney reads them), and the rest of the text."""
    words = head.split()
    urls: list[ImageRef] = list(attached)
    while words and words[0].lower().startswith(("http://", "https://")):
        urls.append(_image_url(words.pop(0), "image prompt"))
    if len(urls) > MAX_IMAGE_PROMPTS:
        raise PromptError(
            f"{len(urls)} image prompts: use at most {MAX_IMAGE_PROMPTS} images (URLs at the "
            "start of the prompt and attachments together)"
        )
    return tuple(urls), " ".join(words)


def _image_url(word: str, what: str, flag: str | None = None) -> ImageRef:
    if not _URL.fullmatch(word):
        raise PromptError(f"{quote(word)} is not an image URL for the {what}", flag)
    return ImageRef(url=word)


def _refs(value: str, flag: str) -> tuple[str, Any]:
    words = value.split()
    if len(words) > MAX_STYLE_REFS:
        raise PromptError(f"{flag} takes at most {MAX_STYLE_REFS} image URLs", flag)
    return "style_refs", tuple(_image_url(w, "style reference", flag) for w in words)


def _object(value: str, flag: str) -> tuple[str, Any]:
    return "object_ref", _image_url(value, "object reference", flag)


IMAGE_FIELD_PARSERS = {
    "iw": lambda v, f: ("image_weight", parse_float(v, f, 0, 3, f)),
    "sref": _refs,
    "sw": lambda v, f: ("style_weight", parse_int(v, f, 0, 1000, f)),
    "oref": _object,
    "ow": lambda v, f: ("object_weight", parse_int(v, f, 0, 1000, f)),
    # --cw is --ow's old name; with --cn (ControlNet) it is the ControlNet weight instead.
    "cw": lambda v, f: ("cw", parse_int(v, f, 0, 1000, f)),
}


def check_image_fields(fields: dict[str, Any], images: tuple[ImageRef, ...]) -> None:
    """What only the whole prompt can tell: weights without their images, --cw's meaning."""
    cw = fields.pop("cw", None)
    if cw is not None:
        if "object_weight" in fields:
            raise PromptError("--cw is --ow's old name: keep one", "--cw")
        fields["object_weight"] = cw
    if "image_weight" in fields and not images:
        raise PromptError(
            "--iw sets the weight of image prompts: put image URLs at the start of the "
            "prompt (or attach images), e.g. 'https://…/cat.png a cat --iw 1.5'",
            "--iw",
        )
    if "style_weight" in fields and not fields.get("style_refs"):
        raise PromptError("--sw goes with --sref, e.g. --sref https://…/style.png --sw 200", "--sw")
    if "object_weight" in fields and fields.get("object_ref") is None:
        raise PromptError("--ow goes with --oref, e.g. --oref https://…/dog.png --ow 200", "--ow")


def format_image_words(params: Any) -> tuple[list[str], list[str]]:
    """(words before the prompt text, flag words) of a request's URL images; stored
    (attached) images have no text form and are left out."""
    lead = [ref.url for ref in params.images if ref.url is not None]
    flags: list[str] = []
    if params.image_weight is not None:
        flags += ["--iw", _number(params.image_weight)]
    style = [ref.url for ref in params.style_refs if ref.url is not None]
    if style:
        flags += ["--sref", *style]
    if params.style_weight is not None and style:
        flags += ["--sw", str(params.style_weight)]
    if params.object_ref is not None and params.object_ref.url is not None:
        flags += ["--oref", params.object_ref.url]
        if params.object_weight is not None:
            flags += ["--ow", str(params.object_weight)]
    return lead, flags


def _number(value: float) -> str:
    return f"{value:g}"
