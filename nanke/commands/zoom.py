"""`nanke zoom JOB_DIR --factor 2|1.5|F`: Zoom Out, a new grid around a shrunk image."""

from __future__ import annotations

from pathlib import Path

import click

from nanke.commands.edit_jobs import common_options, prompt_option


@click.command("zoom")
@click.argument("job_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--factor",
    type=float,
    required=True,
    help="How far to zoom out, 1.0 to 2.0 (2 = the image becomes half as wide and tall).",
)
@prompt_option
@common_options
def command(
    job_dir: Path,
    factor: float,
    prompt_text: str | None,
    index: int,
    models_file: Path | None,
    out_dir: Path | None,
) -> None:
    """Shrink image N of JOB_DIR into the centre of a canvas at the model's size and paint
    around it: a new 2x2 grid (a --prompt with --ar changes the frame)."""
    from inference.edits import zoom_spec
    from nanke.commands.edit_jobs import run_edit

    if not 1.0 <= factor <= 2.0:
        raise click.BadParameter(f"{factor:g} is not from 1.0 to 2.0", param_hint="--factor")
    run_edit(
        job_dir,
        index,
        models_file,
        out_dir,
        lambda parent, key, registry, params: zoom_spec(
            parent, index, factor, key, registry, params
        ),
        label=f"zooming out {factor:g}x",
        suffix=f"z{factor:g}",
        prompt_text=prompt_text,
    )
