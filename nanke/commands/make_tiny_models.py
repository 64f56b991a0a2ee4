"""`nanke make-tiny-models DIR`: tiny models to smoke-test Nanke without a GPU or a download.

By default random-weight models (they paint noise; fast, for tests of plumbing and speed).
With `--trained`, a tiny model trained here on coloured shapes (minutes on a CPU): it paints
the prompt's colour, shape and place on a plain background (docs/engine.md, "Semantic tests").
"""

from __future__ import annotations

import time
from pathlib import Path

import click


@click.command("make-tiny-models")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--trained",
    is_flag=True,
    help="Train a tiny model on coloured shapes (minutes on a CPU) instead of writing "
    "random weights: it paints coloured shapes rather than noise.",
)
@click.option(
    "--families",
    is_flag=True,
    help="Also write tiny random FLUX.1, Z-Image, SD 3.5 and FLUX.2 [klein] models "
    "(models tiny-flux, tiny-zimage, tiny-sd3, tiny-flux2).",
)
def command(directory: Path, trained: bool, families: bool) -> None:
    """Write tiny test models and a models.toml using them into DIRECTORY.

    Without --trained the models are untrained: every image they paint is noise. They exist to
    test Nanke end to end without downloading weights or owning a GPU. With --trained, Nanke
    trains a small text-to-image model on pictures of circles, squares and triangles (red,
    green, blue, yellow; left, right, top, bottom; white, black or gray backgrounds).
    """
    from inference.worker.library_logs import quiet_libraries

    quiet_libraries()
    try:
        if trained:
            _trained(directory)
        else:
            _random(directory, families)
    except OSError as exc:
        raise click.ClickException(f"cannot write {directory}: {exc.strerror or exc}") from None


def _random(directory: Path, families: bool) -> None:
    from inference.tiny import build_tiny_models
    from inference.tiny_upscaler import add_tiny_upscaler

    toml = build_tiny_models(directory)
    add_tiny_upscaler(directory, toml)  # Upscale (4x)
    if families:
        from inference.tiny_families import build_family_models

        build_family_models(directory, toml)
    click.echo(f"wrote tiny random-weight models (and a tiny 4x upscaler) and {toml}")
    click.echo("these models are untrained: their images are noise (for smoke tests only)")
    click.echo(f'try: nanke imagine "a red fox in the snow" --models {toml}')


def _trained(directory: Path) -> None:
    from inference.tiny_trained import build_trained_models

    started = time.perf_counter()

    def progress(stage: str, step: int, total: int, loss: float) -> None:
        elapsed = time.perf_counter() - started
        click.echo(f"[{elapsed:5.1f} s] {stage:5} step {step:4}/{total}  loss {loss:.4f}")

    toml = build_trained_models(directory, progress=progress)
    click.echo(f"trained in {time.perf_counter() - started:.0f} s; wrote {toml}")
    click.echo(f'try: nanke imagine "a red circle" --models {toml}')
    click.echo(f'     nanke imagine "a blue square on the left <lora:green:0.8>" --models {toml}')
