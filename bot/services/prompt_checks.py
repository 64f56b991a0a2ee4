"""/imagine's text (and attached images) → requests, with every check that needs no database:
the prompt language, valid text, and the image URLs' form, scheme and any literal address
(decimal, octal, hex, IPv6, IPv4-mapped…) that is private or reserved. No DNS and no
connection here: the worker fetches (pipeline/image_fetch.py). Refusals are InvalidPrompt,
before anything is charged."""

from __future__ import annotations

from collections.abc import Sequence

from bot.services.errors import InvalidPrompt
from pipeline.image_urls import FetchPolicy, UrlRefused, check_url
from prompt import PromptError, parse_prompt
from prompt.request import ControlRef, ImageRef, ImagineParams


def sentence(message: str) -> str:
    return f"{message[:1].upper()}{message[1:]} (nothing was charged)"


def is_text(text: str) -> bool:
    """False for a lone surrogate (a broken emoji half), which no database can store."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_request(
    text: str,
    attached: tuple[ImageRef, ...],
    policy: FetchPolicy,
    control: ImageRef | None = None,
) -> list[ImagineParams]:
    """`control`: the stored `control` attachment, the image of the prompt's `--cn MODULE`."""
    if not is_text(text):
        raise InvalidPrompt(
            sentence("the prompt holds characters that are not valid text; type it again")
        )
    try:
        requests = parse_prompt(text, attached)
    except PromptError as exc:
        raise InvalidPrompt(sentence(exc.message), exc.flag) from None
    if control is not None:
        requests = [with_control_image(params, control) for params in requests]
    check_image_urls(requests, policy)
    return requests


def keep_control_image(params: ImagineParams, before: ControlRef | None) -> ImagineParams:
    """Remix: a `--cn MODULE` the box left without an image keeps the image the job ran with
    (an attachment has no text form, so the box shows only the module)."""
    if params.control is None or params.control.image is not None:
        return params
    if before is None or before.image is None:
        return params
    return with_control_image(params, before.image)


def with_control_image(params: ImagineParams, image: ImageRef) -> ImagineParams:
    """The `control` attachment as the image of the prompt's --cn."""
    control = params.control
    if control is None:
        raise InvalidPrompt(
            sentence(
                "the `control` image is for ControlNet: add --cn canny (or depth, lineart) to "
                "the prompt"
            ),
            "--cn",
        )
    if control.image is not None:
        raise InvalidPrompt(
            sentence(f"--cn {control.module} has a URL and a `control` attachment: keep one"),
            "--cn",
        )
    return params.model_copy(update={"control": control.model_copy(update={"image": image})})


def image_urls(params: ImagineParams) -> list[str]:
    refs = [*params.images, *params.style_refs]
    if params.object_ref is not None:
        refs.append(params.object_ref)
    if params.control is not None and params.control.image is not None:  # --cn URL
        refs.append(params.control.image)
    return [ref.url for ref in refs if ref.url is not None]


def check_image_urls(requests: Sequence[ImagineParams], policy: FetchPolicy) -> None:
    for params in requests:
        for url in image_urls(params):
            try:
                check_url(url, policy)
            except UrlRefused as exc:
                shown = url if len(url) <= 80 else url[:79] + "…"
                raise InvalidPrompt(f"{shown}: {exc} Nothing was charged.") from None
