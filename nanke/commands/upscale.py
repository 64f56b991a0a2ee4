"""`nanke upscale JOB_DIR --index N`: one tile of a grid at 2x (U1–U4)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("upscale")
@click.argument("job_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--index", "index", type=click.IntRange(1, 4), required=True, help="Tile 1-4.")
@click.option(
    "--mode",
    type=click.Choice(["subtle", "creative"]),
    default="subtle",
    show_default=True,
    help="subtle keeps details; creative repaints more.",
)
@click.option(
    "--models",
    "models_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="models.toml (default: the one the job used).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: JOB_DIR-uN).",
)
def command(
    job_dir: Path, index: int, mode: str, models_file: Path | None, out_dir: Path | None
) -> None:
    """Upscale tile N of the grid in JOB_DIR to 2x; writes OUT/1.png and OUT/job.json."""
    from inference.resolve import upscale_spec
    from nanke.commands.job_folders import run_followup
    from pipeline.contracts import UpscaleMode

    run_followup(
        job_dir,
        index,
        models_file,
        out_dir,
        lambda parent, key: upscale_spec(parent, index, UpscaleMode(mode), key),
        label=f"upscaling U{index}",
        suffix=f"u{index}",
    )
