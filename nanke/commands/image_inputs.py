"""The CLI's image inputs (issue 15): `--image`, `--iw`, `--sref`, `--sw`, `--oref`, `--ow` on
`nanke imagine`, and the files of `nanke blend`. Each file goes through the same safe intake
as a Discord attachment (pipeline/image_intake.py) into the configured storage, where the
engine (and later `nanke vary|upscale` of the job folder) reads it by its hash.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from pipeline.contracts import JobSpec
from pipeline.storage import Storage
from prompt.request import ImageRef, ImagineParams

F = TypeVar("F", bound=Callable[..., Any])
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def image_options(command: F) -> F:
    options = [
        click.option("--image", "images", multiple=True, type=_FILE,
                     help="An image prompt (repeat for up to 5; with URLs at the prompt's start)."),
        click.option("--iw", type=click.FloatRange(0, 3),
                     help="Weight of the image prompts, 0–3 (default 1)."),
        click.option("--sref", "srefs", multiple=True, type=_FILE,
                     help="A style reference image (repeat for up to 5)."),
        click.option("--sw", type=click.IntRange(0, 1000),
                     help="Weight of the style references, 0–1000 (default 100)."),
        click.option("--oref", type=_FILE, help="An object / character reference image."),
        click.option("--ow", type=click.IntRange(0, 1000),
                     help="Weight of the object reference, 0–1000 (default 100)."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def cli_storage() -> Storage:
    from nanke.settings import load_settings
    from pipeline.storage import build_storage

    settings = load_settings()
    return build_storage(settings.storage, settings.data_dir)


def fetched(specs: list[JobSpec], storage: Storage) -> list[JobSpec]:
    """Each job's image URLs fetched (pinned, checked as NANKE_IMAGES__* say) and stored."""
    from nanke.settings import load_settings
    from pipeline.job_images import fetch_references

    policy = load_settings().images.policy()
    return [fetch_references(spec, storage, policy) for spec in specs]


def stored_refs(paths: tuple[Path, ...], storage: Storage) -> tuple[ImageRef, ...]:
    """Each file checked (Pillow limits, ≤ 4096², formats) and stored; one line per refusal."""
    from pipeline.image_intake import ImageRefused, store_bytes

    refs = []
    for path in paths:
        try:
            refs.append(ImageRef(sha256=store_bytes(storage, path.read_bytes()).sha256))
        except ImageRefused as exc:
            raise click.ClickException(f"{path.name}: {exc}") from None
    return (refs and tuple(refs)) or ()


def with_references(
    params: ImagineParams, options: dict[str, Any], storage: Storage
) -> ImagineParams:
    """The request with the command line's --iw, --sref/--sw and --oref/--ow applied."""
    update: dict[str, Any] = {}
    if options.get("iw") is not None:
        if not params.images:
            raise click.UsageError("--iw goes with --image (or image URLs at the prompt's start)")
        update["image_weight"] = options["iw"]
    if options.get("srefs"):
        update["style_refs"] = params.style_refs + stored_refs(options["srefs"], storage)
    if options.get("sw") is not None:
        update["style_weight"] = options["sw"]
    if options.get("oref") is not None:
        if params.object_ref is not None:
            raise click.UsageError("give one object reference: --oref in the prompt or here")
        update["object_ref"] = stored_refs((options["oref"],), storage)[0]
    if options.get("ow") is not None:
        update["object_weight"] = options["ow"]
    try:
        return ImagineParams.model_validate({**params.model_dump(), **update})
    except ValueError:
        raise click.UsageError("at most 5 images for --image and 5 for --sref") from None
