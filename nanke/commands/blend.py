"""`nanke blend A.png B.png [C.png …] [--dimensions 3:2]`: /blend from the command line."""

from __future__ import annotations

from pathlib import Path

import click

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("blend")
@click.argument("images", nargs=-1, type=_FILE)
@click.option(
    "--dimensions",
    type=click.Choice(["1:1", "2:3", "3:2"]),
    default="1:1",
    show_default=True,
    help="square 1:1, portrait 2:3 or landscape 3:2.",
)
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), help="The first tile's seed.")
@click.option(
    "--models",
    "models_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="models.toml to use (default: NANKE_MODELS_FILE or ./models.toml).",
)
@click.option("--model", "model", help="Model name from models.toml (default: its default).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: out/<job id>).",
)
def command(
    images: tuple[Path, ...],
    dimensions: str,
    seed: int | None,
    models_file: Path | None,
    model: str | None,
    out_dir: Path | None,
) -> None:
    """Blend 2 to 5 IMAGES (PNG, JPEG, WebP, GIF) into a 2x2 grid: unCLIP fuses their CLIP
    image embeddings where models.toml has [unclip], else the image-prompt adapter attends to
    all of them. Writes OUT/grid.png, OUT/1.png … OUT/4.png and OUT/job.json."""
    from inference.resolve import imagine_spec
    from nanke.commands.image_inputs import cli_storage, stored_refs
    from nanke.commands.job_folders import (
        make_engine,
        models_file_option,
        registry_from,
        report,
        run_engine,
        user_errors,
        write_job,
    )
    from prompt.blend import MAX_IMAGES, MIN_IMAGES, blend_params

    if not MIN_IMAGES <= len(images) <= MAX_IMAGES:
        raise click.UsageError(f"give {MIN_IMAGES} to {MAX_IMAGES} images, not {len(images)}")
    path, explicit = (models_file, True) if models_file else models_file_option()
    with user_errors():
        registry = registry_from(path, explicit)
        refs = stored_refs(images, cli_storage())
        params = blend_params(refs, dimensions)
        params = params.model_copy(update={"model": model, "seed": seed})
        spec = imagine_spec(params, registry)
        target = out_dir or Path("out") / str(spec.job_id)[:8]
        output = run_engine(registry, spec, label="blending", engine=make_engine(registry))
        report(target, write_job(target, spec, output, registry))
