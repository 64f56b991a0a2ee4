"""`nanke upscale JOB_DIR --index N [--mode subtle|creative|4x]`: one tile of a grid at 2x
(U1–U4, Upscale (Subtle)/(Creative)), or at 4x through the GAN upscaler (Upscale (4x))."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("upscale")
@click.argument("job_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--index", "index", type=click.IntRange(1, 4), required=True, help="Tile 1-4.")
@click.option(
    "--mode",
    type=click.Choice(["subtle", "creative", "4x"]),
    default="subtle",
    show_default=True,
    help="subtle keeps details; creative repaints more (both 2x, with the model); 4x runs "
    "models.toml's [upscaler] GAN (Real-ESRGAN), no denoising.",
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
    """Upscale image N of JOB_DIR to 2x (or 4x with --mode 4x); writes OUT/1.png and
    OUT/job.json."""
    from inference.registry import Registry
    from inference.resolve import upscale_4x_spec, upscale_spec
    from nanke.commands.job_folders import run_followup
    from pipeline.contracts import JobSpec, UpscaleMode

    def make(parent: JobSpec, key: str, registry: Registry) -> JobSpec:
        if mode == "4x":
            return upscale_4x_spec(parent, index, key, registry)
        return upscale_spec(parent, index, UpscaleMode(mode), key)

    run_followup(
        job_dir,
        index,
        models_file,
        out_dir,
        make,
        label=f"upscaling U{index}" + (" 4x" if mode == "4x" else ""),
        suffix=f"u{index}" + ("-4x" if mode == "4x" else ""),
    )
