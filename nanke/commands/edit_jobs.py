"""Shared by `nanke zoom / pan / square / inpaint`: one image of a job folder → a new grid.

The new folder is like `vary`'s (grid.png, 1-4.png, job.json); `inpaint` also keeps the mask
it used as `mask.png`, and job.json records the source image and the mask."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from inference.registry import Registry
from pipeline.contracts import JobSpec
from prompt.request import ImagineParams

MakeSpec = Callable[[JobSpec, str, Registry, ImagineParams | None], JobSpec]


def index_option(func: Any) -> Any:
    return click.option(
        "--index",
        "index",
        type=click.IntRange(1, 4),
        default=1,
        show_default=True,
        help="Which image of JOB_DIR (a grid's tile 1-4; an upscale has only 1).",
    )(func)


def common_options(func: Any) -> Any:
    func = click.option(
        "--out",
        "out_dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Output folder (default: JOB_DIR-<edit>).",
    )(func)
    func = click.option(
        "--models",
        "models_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="models.toml (default: the one the job used).",
    )(func)
    return index_option(func)


def prompt_option(func: Any) -> Any:
    return click.option(
        "--prompt",
        "prompt_text",
        help="A new prompt (flags as in /imagine, e.g. --ar 16:9); default: the job's own.",
    )(func)


def parse_one(text: str | None) -> ImagineParams | None:
    if text is None:
        return None
    from prompt import PromptError, parse_prompt

    try:
        requests = parse_prompt(text)
    except PromptError as exc:
        flag = f" ({exc.flag})" if exc.flag else ""
        raise click.ClickException(f"--prompt: {exc.message}{flag}") from None
    if len(requests) != 1:
        raise click.ClickException("--prompt must be one prompt (no {a, b} or --repeat)")
    return requests[0]


def run_edit(
    job_dir: Path,
    index: int,
    models_file: Path | None,
    out_dir: Path | None,
    make_spec: MakeSpec,
    *,
    label: str,
    suffix: str,
    prompt_text: str | None = None,
    mask_file: Path | None = None,
) -> None:
    from inference.canvas import load_mask
    from nanke.commands.job_folders import (
        read_job,
        registry_for_job,
        report,
        run_engine,
        tile_image,
        user_errors,
        write_job,
    )

    parent, used = read_job(job_dir)
    params = parse_one(prompt_text)
    target = out_dir or job_dir.with_name(f"{job_dir.name}-{suffix}")
    with user_errors():
        registry = registry_for_job(models_file, used)
        source = tile_image(job_dir, index)
        mask = None
        if mask_file is not None:
            mask = load_mask(mask_file.read_bytes(), source.size, name=str(mask_file))
        spec = make_spec(parent, str(job_dir / f"{index}.png"), registry, params)
        if mask is not None:
            assert spec.edit is not None
            edit = spec.edit.model_copy(update={"mask_key": str(target / "mask.png")})
            spec = spec.model_copy(update={"edit": edit})
        output = run_engine(registry, spec, source, label=label, mask=mask)
        result = write_job(target, spec, output, registry)
        if mask is not None:
            mask.save(target / "mask.png")
        report(target, result)
