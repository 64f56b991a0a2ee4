"""`nanke square JOB_DIR`: Make Square, outpaint a wide or tall image to 1:1."""

from __future__ import annotations

from pathlib import Path

import click

from nanke.commands.edit_jobs import common_options, prompt_option


@click.command("square")
@click.argument("job_dir", type=click.Path(file_okay=False, path_type=Path))
@prompt_option
@common_options
def command(
    job_dir: Path,
    prompt_text: str | None,
    index: int,
    models_file: Path | None,
    out_dir: Path | None,
) -> None:
    """Grow the short side of image N of JOB_DIR to the long one (its pixels kept, centred)
    and paint the new parts: a new 2x2 grid."""
    from inference.edits import square_spec
    from nanke.commands.edit_jobs import run_edit

    run_edit(
        job_dir,
        index,
        models_file,
        out_dir,
        lambda parent, key, registry, params: square_spec(parent, index, key, registry, params),
        label="making it square",
        suffix="sq",
        prompt_text=prompt_text,
    )
