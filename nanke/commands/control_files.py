"""ControlNet from the command line: `nanke imagine "P" --cn canny:c.png [--cw 0.8]` (or the
same flags inside the prompt). The control image is a local file; the job folder keeps it as
`control.png` beside the map the job was steered by (`control-map.png`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from prompt.request import ImagineParams

MAX_CONTROL_SIDE = 4096  # as the bot's image intake: larger images are refused


def with_cli_control(
    requests: list[ImagineParams], cn: str | None, cw: float | None
) -> list[ImagineParams]:
    """The `--cn MODULE:FILE` / `--cw W` options applied to every request (the prompt's own
    --cn, if any, is replaced: the option is the more explicit of the two)."""
    from prompt import PromptError
    from prompt.control import parse_cn, with_weight

    if cn is None and cw is None:
        return requests
    try:
        control = parse_cn(cn) if cn is not None else None
        out = []
        for params in requests:
            base = control or params.control
            out.append(params.model_copy(update={"control": with_weight(base, cw)}))
    except PromptError as exc:
        raise click.ClickException(exc.message) from None
    return out


def load_control(params: ImagineParams) -> Any:
    """The request's control image (RGB), or None without --cn; one-line errors."""
    if params.control is None:
        return None
    if params.control.image is None:
        raise click.ClickException(
            f"--cn {params.control.module} needs an image file: --cn {params.control.module}:FILE"
        )
    return open_image(Path(params.control.image), "--cn image")


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
