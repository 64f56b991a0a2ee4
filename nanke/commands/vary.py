"""`nanke vary JOB_DIR --index N --strength subtle|strong`: a new grid from one tile (V1–V4)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("vary")
@click.argument("job_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--index", "index", type=click.IntRange(1, 4), required=True, help="Tile 1-4.")
@click.option(
    "--strength",
    type=click.Choice(["subtle", "strong"]),
    required=True,
    help="subtle stays close to the tile; strong wanders (Stable unCLIP if configured).",
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
    help="Output folder (default: JOB_DIR-vN).",
)
def command(
    job_dir: Path, index: int, strength: str, models_file: Path | None, out_dir: Path | None
) -> None:
    """Paint a new 2x2 grid from tile N of JOB_DIR; writes a job folder like `imagine`."""
    from inference.resolve import vary_spec
    from nanke.commands.job_folders import run_followup

    run_followup(
        job_dir,
        index,
        models_file,
        out_dir,
        lambda parent, key, _registry: vary_spec(parent, index, strength == "strong", key),
        label=f"varying V{index}",
        suffix=f"v{index}",
    )
