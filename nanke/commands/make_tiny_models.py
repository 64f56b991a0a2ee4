"""`nanke make-tiny-models DIR`: random-weight models to smoke-test Nanke without a GPU."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("make-tiny-models")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def command(directory: Path) -> None:
    """Write tiny random-weight models and a models.toml using them into DIRECTORY.

    The models are untrained: every image they paint is noise. They exist to test Nanke
    end to end without downloading weights or owning a GPU.
    """
    from inference.tiny import build_tiny_models
    from inference.worker.library_logs import quiet_libraries

    quiet_libraries()

    try:
        toml = build_tiny_models(directory)
    except OSError as exc:
        raise click.ClickException(f"cannot write {directory}: {exc.strerror or exc}") from None
    click.echo(f"wrote tiny random-weight models and {toml}")
    click.echo("these models are untrained: their images are noise (for smoke tests only)")
    click.echo(f'try: nanke imagine "a red fox in the snow" --models {toml}')
