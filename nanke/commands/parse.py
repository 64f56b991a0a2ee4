"""`nanke parse`: what an /imagine prompt asks for, for a person or (with --json) for tools."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import click

from prompt import PromptError, format_prompt, parse_prompt
from prompt.request import ImagineParams

# The keys of one request object, in order: the JSON contract of `nanke parse --json`.
REQUEST_KEYS = (
    "prompt",
    "parts",
    "negative_prompt",
    "aspect_ratio",
    "cfg",
    "sampler",
    "loras",
    "seed",
    "steps",
    "quality",
    "model",
    "chaos",
    "tile",
    "clip_skip",
    "rescale",
    "dynthres",
)
ERROR_EXIT = 2


def request_object(params: ImagineParams) -> dict[str, Any]:
    dumped = params.model_dump(mode="json")
    return {key: dumped[key] for key in REQUEST_KEYS}


def result_object(prompt: str) -> tuple[dict[str, Any], bool]:
    """`{"requests": […]}` or `{"error": {…}}`, and whether the prompt parsed."""
    try:
        requests = parse_prompt(prompt)
    except PromptError as error:
        return {"error": {"message": error.message, "flag": error.flag}}, False
    return {"requests": [request_object(params) for params in requests]}, True


def describe(requests: list[ImagineParams]) -> str:
    """A person's view: each request's canonical prompt, then every field (unset = default)."""
    lines: list[str] = []
    for number, params in enumerate(requests, 1):
        lines.append(f"request {number} of {len(requests)}: {format_prompt(params)}")
        for key, value in request_object(params).items():
            if key == "parts":
                shown = "  ".join(f"{part['text']!r} ×{part['weight']:g}" for part in value)
            elif key == "loras":
                shown = ", ".join(_lora_text(lora) for lora in value) or "none"
            elif value is None:
                shown = "(default)"
            elif key == "dynthres":
                shown = f"percentile {value['percentile']:g}, mimic scale {value['mimic']:g}"
            else:
                shown = str(value).lower() if isinstance(value, bool) else str(value)
            lines.append(f"  {key.replace('_', ' '):<17}{shown}")
    return "\n".join(lines)


def _lora_text(lora: dict[str, Any]) -> str:
    unet = lora.get("unet_weight")
    return f"{lora['name']}:{lora['weight']:g}" + ("" if unet is None else f" (UNet {unet:g})")


def _stdin_lines() -> Iterator[str]:
    # Binary, split on '\n' only: a prompt may hold U+2028 or \x1c, which str.splitlines
    # would treat as line breaks. Undecodable bytes become U+FFFD rather than a traceback.
    for raw in sys.stdin.buffer:
        yield raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", errors="replace")


@click.command(
    name="parse",
    context_settings={"ignore_unknown_options": True, "help_option_names": ["-h", "--help"]},
)
@click.option(
    "--json", "as_json", is_flag=True, help='Print JSON: {"requests": [...]} or {"error": {...}}.'
)
@click.argument("prompt", nargs=-1, required=True, type=click.UNPROCESSED)
def command(as_json: bool, prompt: tuple[str, ...]) -> None:
    """Parse an /imagine PROMPT and show the request(s) it makes.

    Quote the prompt, or pass it as words: `nanke parse a lighthouse --ar 16:9`.
    With PROMPT `-`, read one prompt per line from stdin and print one result per line
    (as JSON with --json); the exit status is then 0 whatever the prompts hold. A single
    prompt that does not parse exits with status 2. The language: docs/prompt-language.md.
    """
    if prompt == ("-",):
        for line in _stdin_lines():
            if as_json:
                click.echo(json.dumps(result_object(line)[0]))
                continue
            try:
                click.echo(describe(parse_prompt(line)))
            except PromptError as error:
                click.echo(f"error: {error.message}")
        return
    text = " ".join(prompt)
    if as_json:
        result, ok = result_object(text)
        click.echo(json.dumps(result))
        if not ok:
            raise SystemExit(ERROR_EXIT)
        return
    try:
        requests = parse_prompt(text)
    except PromptError as error:
        click.echo(f"error: {error.message}", err=True)
        raise SystemExit(ERROR_EXIT) from None
    click.echo(describe(requests))
