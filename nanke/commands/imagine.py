"""`nanke imagine PROMPT`: a 2x2 grid from the command line, with the real engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from nanke.commands.image_inputs import (
    cli_storage,
    fetched,
    image_options,
    stored_refs,
    with_references,
)


@click.command("imagine")
@click.argument("prompt", required=False)
@click.option(
    "--from",
    "from_image",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Take the prompt and settings from an A1111/Civitai PNG, JPEG or WebP.",
)
@click.option(
    "--models",
    "models_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="models.toml to use (default: NANKE_MODELS_FILE or ./models.toml).",
)
@click.option("--model", "model", help="Model name from models.toml (default: its default).")
@image_options
@click.option(
    "--cn",
    "cn",
    metavar="MODULE:FILE",
    help="ControlNet: canny, depth or lineart, and the image whose structure steers the grid.",
)
@click.option(
    "--cw",
    "cw",
    type=click.FloatRange(0, 2),
    help="ControlNet weight, 0 to 2 (default 1).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: out/<job id>).",
)
def command(
    prompt: str | None,
    from_image: Path | None,
    models_file: Path | None,
    model: str | None,
    cn: str | None,
    cw: float | None,
    out_dir: Path | None,
    **images: Any,
) -> None:
    """Paint a 2x2 grid for PROMPT (with --ar, --no, --seed, … flags as in Discord), or for
    the parameters of an A1111 image (--from IMAGE). Image prompts: --image FILE (or image
    URLs at the start of PROMPT) with --iw; style and object references: --sref, --oref.

    Writes OUT/grid.png, OUT/1.png … OUT/4.png and OUT/job.json.
    """
    from inference.resolve import imagine_spec
    from nanke.commands.control_files import load_control
    from nanke.commands.job_folders import models_file_option, registry_from, user_errors
    from prompt.extra_networks import extra_network_note

    path, explicit = (models_file, True) if models_file else models_file_option()
    if (prompt is None) == (from_image is None):
        raise click.UsageError("give a PROMPT or --from IMAGE (one of them)")
    if from_image is not None:
        with user_errors():
            prompt = _prompt_from_image(from_image, registry_from(path, explicit))
    assert prompt is not None
    storage = cli_storage()
    attached = stored_refs(images["images"], storage)
    requests = _parse(prompt, attached, cn, cw, storage)
    note = extra_network_note(prompt)
    if note:
        click.echo(f"note: {note}", err=True)
    with user_errors():
        registry = registry_from(path, explicit)
        if model:
            requests = [params.model_copy(update={"model": model}) for params in requests]
        requests = [with_references(params, images, storage) for params in requests]
        # Resolve every request first: a bad model or LoRA in request 3 fails before any work.
        specs = [imagine_spec(params, registry) for params in requests]
        for line in dict.fromkeys(n for spec in specs for n in spec.notes):  # once each
            click.echo(f"note: {line}", err=True)
        specs = fetched(specs, storage)  # image URLs: fetched and stored before any painting
        controls = [load_control(spec.generation, storage) for spec in specs]
        _paint(registry, specs, controls, out_dir or Path("out") / str(specs[0].job_id)[:8])


def _parse(prompt: str, attached: Any, cn: str | None, cw: float | None, storage: Any) -> list[Any]:
    from nanke.commands.control_files import with_cli_control
    from prompt import PromptError, parse_prompt

    try:
        requests = parse_prompt(prompt, attached)
    except PromptError as exc:
        flag = f" ({exc.flag})" if exc.flag else ""
        raise click.ClickException(f"{exc.message}{flag}") from None
    return with_cli_control(requests, cn, cw, storage)


def _paint(registry: Any, specs: list[Any], controls: list[Any], base: Path) -> None:
    from nanke.commands.control_files import write_control
    from nanke.commands.job_folders import make_engine, report, run_engine, write_job

    engine = make_engine(registry)  # one engine: models load once for all requests
    for n, (spec, control) in enumerate(zip(specs, controls, strict=True), start=1):
        target = base / str(n) if len(specs) > 1 else base
        output = run_engine(registry, spec, engine=engine, control=control)
        write_control(target, control)
        report(target, write_job(target, spec, output, registry))


def _prompt_from_image(image: Path, registry: Any) -> str:
    """The A1111 parameters of `image` as a prompt with flags; what is left out is said."""
    from inference.infotext import parse_infotext
    from inference.infotext_prompt import prompt_from_infotext
    from inference.png import read_any_parameters

    text = read_any_parameters(image.read_bytes())
    if text is None:
        raise click.ClickException(
            f"{image.name} holds no generation parameters (A1111 writes them into PNG, JPEG "
            "and WebP files; a re-saved or screenshotted image has none)"
        )
    prompt, notes = prompt_from_infotext(parse_infotext(text), registry)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"prompt: {prompt}", err=True)
    return prompt
