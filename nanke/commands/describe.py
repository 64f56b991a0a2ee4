"""`nanke describe IMAGE`: four numbered prompt suggestions for an image, as /describe gives."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("describe")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--models",
    "models_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="models.toml to use (default: NANKE_MODELS_FILE or ./models.toml).",
)
def command(image: Path, models_file: Path | None) -> None:
    """Print four prompts that would make IMAGE (PNG, JPEG, WebP or GIF): a caption from the
    [describe] captioner plus the medium, style, artist and lighting CLIP ranks best.

    Paste one after `nanke imagine` (or /imagine) to paint it.
    """
    from nanke.commands.control_files import open_image
    from nanke.commands.job_folders import (
        make_engine,
        models_file_option,
        registry_from,
        user_errors,
    )

    path, explicit = (models_file, True) if models_file else models_file_option()
    picture = open_image(image, "the image")
    with user_errors():
        registry = registry_from(path, explicit)
        if registry.describe is None:
            raise click.ClickException(
                f"{registry.path or 'the models file'} has no [describe] section: add a "
                "captioner and a CLIP model (docs/engine.md)"
            )
        click.echo("describing…", err=True)
        from inference.worker.describe import Describer

        engine = make_engine(registry)  # the configured device and dtype
        checker = engine.safety_checker()  # as /describe: a flagged image is not described
        if checker is not None and checker.flags([picture])[0]:
            raise click.ClickException(
                f"{image} was flagged by the configured safety checker: it is not described"
            )
        description = Describer(registry, engine.device, engine.dtype).describe(picture)
    for n, prompt in enumerate(description.prompts, start=1):
        click.echo(f"{n}. {prompt}")
