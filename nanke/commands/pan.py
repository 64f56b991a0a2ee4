"""`nanke pan JOB_DIR --direction left|right|up|down`: extend the canvas one way."""

from __future__ import annotations

from pathlib import Path

import click

from nanke.commands.edit_jobs import common_options, prompt_option


@click.command("pan")
@click.argument("job_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--direction",
    type=click.Choice(["left", "right", "up", "down"]),
    required=True,
    help="The side to extend, by half of that side.",
)
@prompt_option
@common_options
def command(
    job_dir: Path,
    direction: str,
    prompt_text: str | None,
    index: int,
    models_file: Path | None,
    out_dir: Path | None,
) -> None:
    """Extend image N of JOB_DIR on one side by half (its own pixels kept exactly) and paint
    the new part: a new 2x2 grid."""
    from inference.edits import pan_spec
    from nanke.commands.edit_jobs import run_edit
    from pipeline.contracts import PanDirection

    way = PanDirection(direction)
    run_edit(
        job_dir,
        index,
        models_file,
        out_dir,
        lambda parent, key, registry, params: pan_spec(parent, index, way, key, registry, params),
        label=f"panning {direction}",
        suffix=f"p{direction[0]}",
        prompt_text=prompt_text,
    )
