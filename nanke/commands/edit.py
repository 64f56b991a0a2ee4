"""`nanke edit JOB_DIR --index N "instruction"` and `nanke edit --image a.png "instruction"`:
/edit from the command line (the models.toml's `edit` model; a new grid folder)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from nanke.commands.edit_jobs import index_option
from pipeline.contracts import JobSpec
from prompt.request import ImagineParams

if TYPE_CHECKING:
    from inference.registry import Registry

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("edit")
@click.argument("first", metavar="[JOB_DIR] INSTRUCTION")
@click.argument("second", required=False, metavar="")
@index_option
@click.option(
    "--image",
    "images",
    multiple=True,
    type=_FILE,
    help="An image to edit instead of a job folder's (repeat for references, up to 3 on "
    "FLUX.2 [klein]: the first is edited).",
)
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), help="The first tile's seed.")
@click.option(
    "--models",
    "models_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="models.toml (default: the job's, else NANKE_MODELS_FILE or ./models.toml).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: JOB_DIR-edit, or out/<job id> with --image).",
)
def command(
    first: str,
    second: str | None,
    index: int,
    images: tuple[Path, ...],
    seed: int | None,
    models_file: Path | None,
    out_dir: Path | None,
) -> None:
    """Apply INSTRUCTION ("make it night", "add a red hat") to image N of JOB_DIR, or to
    --image files, with the model models.toml's `edit` names (FLUX.1 Kontext or FLUX.2
    [klein]): a 2x2 grid of four seeds. Writes grid.png, 1.png … 4.png and job.json."""
    if images and second is not None:
        raise click.UsageError("give a JOB_DIR or --image files, not both")
    if not images and second is None:
        raise click.UsageError(
            'give JOB_DIR and the instruction, e.g. nanke edit out/ab12 "make it night"'
        )
    instruction = first if images else second
    assert instruction is not None
    params = _parse(instruction)
    if images:
        _edit_files(images, params, seed, models_file, out_dir)
    else:
        _edit_folder(Path(first), index, params, seed, models_file, out_dir)


def _parse(instruction: str) -> ImagineParams:
    from prompt import PromptError, parse_prompt

    try:
        requests = parse_prompt(instruction)
    except PromptError as exc:
        raise click.ClickException(f"INSTRUCTION: {exc.message}") from None
    if len(requests) != 1:
        raise click.ClickException("give one instruction (no {a, b} or --repeat)")
    return requests[0]


def _notes(spec: JobSpec) -> None:
    for note in spec.notes:  # what the edit model's family changed or ignored
        click.echo(f"note: {note}", err=True)


def _edit_folder(
    job_dir: Path,
    index: int,
    params: ImagineParams,
    seed: int | None,
    models_file: Path | None,
    out_dir: Path | None,
) -> None:
    from inference.instruct import edit_from_job
    from nanke.commands.edit_jobs import run_edit

    def make_spec(parent: JobSpec, key: str, registry: Registry, _: object) -> JobSpec:
        spec = edit_from_job(parent, index, key, params, registry, seed=seed)
        _notes(spec)
        return spec

    run_edit(job_dir, index, models_file, out_dir, make_spec, label="editing", suffix="edit")


def _edit_files(
    images: tuple[Path, ...],
    params: ImagineParams,
    seed: int | None,
    models_file: Path | None,
    out_dir: Path | None,
) -> None:
    from inference.instruct import edit_spec
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
    from pipeline.image_intake import load_reference

    path, explicit = (models_file, True) if models_file else models_file_option()
    with user_errors():
        registry = registry_from(path, explicit)
        storage = cli_storage()
        refs = stored_refs(images, storage)  # the same checks as a Discord attachment
        assert refs[0].sha256 is not None
        size = load_reference(storage, refs[0].sha256).size
        spec = edit_spec(params, registry, size, images=refs, seed=seed)
        _notes(spec)
        output = run_engine(registry, spec, label="editing", engine=make_engine(registry))
        target = out_dir or Path("out") / str(spec.job_id)[:8]
        report(target, write_job(target, spec, output, registry))
