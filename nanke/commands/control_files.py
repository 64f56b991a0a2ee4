"""ControlNet from the command line: `nanke imagine "P" --cn canny:c.png [--cw 0.8]` (or
`--cn canny URL` inside the prompt, fetched as the worker fetches it). The control image is
checked and stored content-addressed, as the bot's images; the job folder also keeps it as
`control.png` beside the map the job was steered by (`control-map.png`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from pipeline.storage import Storage
from prompt.request import Generation, ImagineParams

MAX_CONTROL_SIDE = 4096  # as the bot's image intake: larger images are refused


def with_cli_control(
    requests: list[ImagineParams], cn: str | None, cw: float | None, storage: Storage
) -> list[ImagineParams]:
    """The `--cn MODULE:FILE` / `--cw W` options applied to every request (they replace a
    --cn in the prompt). The file is checked and stored as the bot's images are."""
    from nanke.commands.image_inputs import stored_refs
    from prompt import PromptError
    from prompt.control import control_module, with_weight
    from prompt.request import ControlRef

    if cn is None and cw is None:
        return requests
    try:
        control = None
        if cn is not None:
            module, colon, file = cn.partition(":")
            if not colon or not file:
                raise click.ClickException("--cn takes MODULE:FILE, e.g. --cn canny:photo.png")
            if not Path(file).is_file():
                raise click.ClickException(f"--cn image {file} not found")
            image = stored_refs((Path(file),), storage)[0]
            control = ControlRef(module=control_module(module), image=image)
        out = []
        for params in requests:
            base = control or params.control
            out.append(params.model_copy(update={"control": with_weight(base, cw)}))
    except PromptError as exc:
        raise click.ClickException(exc.message) from None
    return out


def load_control(gen: Generation, storage: Storage) -> Any:
    """The job's stored control image (fetched first when it was a URL), or None."""
    from pipeline.image_intake import load_reference

    if gen.control is None:
        return None
    image = gen.control.image
    if image is None or image.sha256 is None:
        raise click.ClickException(
            f"--cn {gen.control.module} needs an image: --cn {gen.control.module}:FILE"
        )
    return load_reference(storage, image.sha256)


def open_image(path: Path, what: str) -> Any:
    """A local image file as RGB (its first frame), within the intake's size limit."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise click.ClickException(f"{what} {path} not found")
    try:
        with Image.open(path) as image:
            if max(image.size) > MAX_CONTROL_SIDE:
                raise click.ClickException(
                    f"{what} {path.name} is {image.width}×{image.height}; the limit is "
                    f"{MAX_CONTROL_SIDE} pixels a side"
                )
            image.seek(0)
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise click.ClickException(f"{what} {path.name} is not a readable image: {exc}") from None


def write_control(out_dir: Path, image: Any) -> None:
    """Keep the control image with the job (re-encoded, no metadata)."""
    if image is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        image.save(out_dir / "control.png", format="PNG")


def folder_control(job_dir: Path, spec: Any) -> Any:
    """A follow-up of a --cn job reuses the control image its folder kept."""
    if spec.generation.control is None:
        return None
    from PIL import Image

    path = job_dir / "control.png"
    if not path.is_file():
        raise click.ClickException(f"{path} not found: this --cn job's folder lost its image")
    with Image.open(path) as image:
        return image.convert("RGB")
