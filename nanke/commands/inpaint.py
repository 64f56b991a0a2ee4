"""`nanke inpaint JOB_DIR --mask MASK.png`: Vary (Region), repaint only the white part."""

from __future__ import annotations

from pathlib import Path

import click

from inference.canvas import REGIONS
from nanke.commands.edit_jobs import common_options, prompt_option


@click.command("inpaint")
@click.argument("job_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--mask",
    "mask_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A PNG at the image's size: white = repaint, black = keep.",
)
@click.option(
    "--region",
    type=click.Choice(list(REGIONS)),
    help="A preset region instead of --mask (as the Discord menu).",
)
@prompt_option
@common_options
def command(
    job_dir: Path,
    mask_file: Path | None,
    region: str | None,
    prompt_text: str | None,
    index: int,
    models_file: Path | None,
    out_dir: Path | None,
) -> None:
    """Repaint the masked part of image N of JOB_DIR (everything else kept exactly): a new
    2x2 grid. Give --mask or --region."""
    from inference.edits import region_spec
    from nanke.commands.edit_jobs import run_edit

    if (mask_file is None) == (region is None):
        raise click.UsageError("give either --mask MASK.png or --region NAME")
    run_edit(
        job_dir,
        index,
        models_file,
        out_dir,
        lambda parent, key, registry, params: region_spec(
            parent,
            index,
            key,
            registry,
            region=region,
            mask_key="mask.png" if mask_file is not None else None,
            params=params,
        ),
        label="repainting the region",
        suffix=f"r{index}",
        prompt_text=prompt_text,
        mask_file=mask_file,
    )
