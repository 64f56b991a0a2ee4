"""Shared by `nanke imagine / upscale / vary` (and the edits, nanke/commands/edit_jobs.py):
the engine, the progress bar and job folders.

A job folder holds `1.png` … `4.png`, `grid.png` (for grids) and `job.json`: the JobSpec as
run, the JobResult (file names as keys, seeds, timings) and the models.toml it used. Heavy
imports (torch, diffusers) happen inside the functions, never at import.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from inference.errors import EngineError
from inference.registry import Registry, default_registry, load_registry
from nanke.commands.control_files import folder_control, write_control
from pipeline.contracts import JobResult, JobSpec
from pipeline.errors import JobError

T = TypeVar("T")


@contextmanager
def user_errors() -> Iterator[None]:
    """Errors a user can fix become one line and exit status 1, never a traceback."""
    try:
        yield
    except EngineError as exc:
        raise click.ClickException(str(exc)) from None  # the CLI user is the operator
    except JobError as exc:  # an image URL that could not be used
        raise click.ClickException(exc.message) from None
    except OSError as exc:
        raise click.ClickException(f"{exc.strerror or exc}: {exc.filename or ''}".strip()) from None


def models_file_option() -> tuple[Path, bool]:
    """The configured models.toml, and whether it was set explicitly (env or .env)."""
    from nanke.settings import Settings, load_settings

    path = load_settings().models_file
    return path, path != Settings.model_fields["models_file"].default


def registry_for_job(models_file: Path | None, used: Path | None) -> Registry:
    """--models if given, else the models.toml the job was made with, else the configured one."""
    chosen = models_file or used
    if chosen is not None:
        return registry_from(chosen)
    return registry_from(*models_file_option())


def registry_from(path: Path, explicit: bool = True) -> Registry:
    """models.toml; with none configured and none present, the built-in default model."""
    if not explicit and not path.exists():
        registry = default_registry()
        model = registry.model()
        click.echo(
            f"no {path} here: using {model.source} from the Hugging Face hub "
            "(downloaded once, about 4 GB); write a models.toml to choose models "
            "(docs/engine.md)",
            err=True,
        )
        return registry
    return load_registry(path)


class _Progress:
    """A click progress bar that learns the step count from the first callback."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.done = 0

    def __call__(self, step: int, total: int, _latents: Any) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(step - self.done)
        self.done = step

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def make_engine(registry: Registry) -> Any:
    from nanke.roots.cli_engine import make_engine as build
    from nanke.settings import load_settings
    from pipeline.storage import build_storage

    settings = load_settings()
    worker = settings.worker
    if worker.compile is None:  # a one-off command would spend longer compiling than painting
        worker = worker.model_copy(update={"compile": False})
    return build(
        registry,
        library_logs=settings.library_logs,
        worker=worker,
        data_dir=settings.data_dir,
        storage=build_storage(settings.storage, settings.data_dir),  # member images by hash
    )


def run_engine(
    registry: Registry,
    spec: JobSpec,
    source: Any = None,
    label: str = "painting",
    engine: Any = None,
    mask: Any = None,
    control: Any = None,
) -> Any:
    """Run one job; pass `engine` to keep its models loaded across several jobs."""
    engine = engine or make_engine(registry)
    progress = _Progress(label)
    try:
        if mask is not None:  # only edits take a mask
            return engine.run(spec, source=source, on_progress=progress, mask=mask)
        if control is not None:  # only --cn jobs take a control image
            return engine.run(spec, source=source, on_progress=progress, control=control)
        return engine.run(spec, source=source, on_progress=progress)
    finally:
        progress.close()


def write_job(out_dir: Path, spec: JobSpec, output: Any, registry: Registry) -> JobResult:
    from pipeline.results import store_output

    out_dir.mkdir(parents=True, exist_ok=True)
    result = store_output(
        spec.job_id, output, lambda name, data: (out_dir / name).write_bytes(data)
    )
    job = {
        "spec": spec.model_dump(mode="json"),
        "result": result.model_dump(mode="json"),
        # None: the built-in default registry (no models.toml).
        "models_file": str(registry.path.resolve()) if registry.path else None,
    }
    (out_dir / "job.json").write_text(json.dumps(job, indent=2) + "\n", encoding="utf-8")
    return result


def read_job(job_dir: Path) -> tuple[JobSpec, Path | None]:
    path = job_dir / "job.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        used = data["models_file"]
        return JobSpec.model_validate(data["spec"]), Path(used) if used else None
    except FileNotFoundError:
        raise click.ClickException(
            f"{path} not found: JOB_DIR must be a folder written by `nanke imagine` or `nanke vary`"
        ) from None
    except (ValueError, KeyError, TypeError, ValidationError):
        raise click.ClickException(f"{path} is not a Nanke job file") from None


def tile_image(job_dir: Path, index: int) -> Any:
    from PIL import Image

    path = job_dir / f"{index}.png"
    if not path.is_file():
        raise click.ClickException(f"{path} not found: pick a tile that {job_dir} has")
    with Image.open(path) as image:
        return image.convert("RGB")


def report(out_dir: Path, result: JobResult, echo: Callable[[str], None] = click.echo) -> None:
    t = result.timings_ms
    extra = [key for key in (result.grid_key, result.control_map_key) if key]
    files = ", ".join([*(result.image_keys), *extra])
    echo(f"wrote {out_dir}/ ({files}, job.json)")
    echo(f"seeds {', '.join(map(str, result.seeds))} · {result.width}x{result.height}")
    if "upscale" in t:  # Upscale (4x): the GAN, no denoising
        echo(f"4x upscale {t['upscale']:.0f} ms · PNG {t.get('image_encode', 0):.0f} ms")
    else:
        echo(
            f"text encode {t.get('text_encode', 0):.0f} ms · denoise {t.get('denoise', 0):.0f} "
            f"ms ({t.get('denoise_per_step', 0):.0f} ms/step) · VAE decode "
            f"{t.get('vae_decode', 0):.0f} ms · PNG {t.get('image_encode', 0):.0f} ms"
        )
    flagged = [key for key, bad in zip(result.image_keys, result.nsfw, strict=False) if bad]
    if flagged:
        echo(f"note: the safety checker flagged {', '.join(flagged)} as possibly NSFW")


def run_followup(
    job_dir: Path,
    index: int,
    models_file: Path | None,
    out_dir: Path | None,
    make_spec: Callable[[JobSpec, str, Registry], JobSpec],
    label: str,
    suffix: str,
) -> None:
    """Shared body of `upscale` and `vary`: tile N of a job folder → a new job folder.
    `make_spec(parent, source_key, registry)` makes the job."""
    parent, used = read_job(job_dir)
    with user_errors():
        registry = registry_for_job(models_file, used)
        source = tile_image(job_dir, index)
        spec = make_spec(parent, str(job_dir / f"{index}.png"), registry)
        control = folder_control(job_dir, spec)
        output = run_engine(registry, spec, source, label=label, control=control)
        target = out_dir or job_dir.with_name(f"{job_dir.name}-{suffix}")
        write_control(target, control)
        report(target, write_job(target, spec, output, registry))
