"""`nanke train NAME --images DIR`: a personal LoRA from 5-20 photos (DreamBooth-LoRA).

The LoRA goes into the models.toml's LoRA folder as NAME.safetensors (kohya keys: it also
loads in A1111 and ComfyUI), the 4 samples into --out. A run that is stopped (Ctrl-C, a
crash, kill -9) continues from its last checkpoint when the same command is run again.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import click

from inference.train_config import Subject


@click.command("train")
@click.argument("name")
@click.option(
    "--images",
    "images_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of 5-20 photos (PNG, JPEG, WebP; at least 512 px on the short side).",
)
@click.option("--model", help="Base model from models.toml (default: its default).")
@click.option("--steps", type=int, help="Training steps (default: per model family).")
@click.option(
    "--subject",
    type=click.Choice([s.value for s in Subject]),
    default=Subject.OBJECT.value,
    show_default=True,
    help="What the photos show; its word goes into the captions.",
)
@click.option("--trigger", help="The word that calls the subject up in prompts (default: nk+name).")
@click.option(
    "--models",
    "models_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="models.toml to use (default: NANKE_MODELS_FILE or ./models.toml).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the samples and the checkpoints (default: out/train-NAME).",
)
@click.option("--checkpoint-every", type=int, default=100, show_default=True, help="Steps.")
@click.option(
    "--prior-images",
    type=int,
    default=0,
    show_default=True,
    help="Prior preservation: paint this many class pictures first (0: off).",
)
@click.option("--min-side", type=int, default=512, show_default=True, hidden=True)
def command(
    name: str,
    images_dir: Path,
    model: str | None,
    steps: int | None,
    subject: str,
    trigger: str | None,
    models_file: Path | None,
    out_dir: Path | None,
    checkpoint_every: int,
    prior_images: int,
    min_side: int,
) -> None:
    """Train the LoRA NAME on the photos in --images and write 4 samples.

    Use it afterwards: nanke imagine "<trigger> ... --lora NAME:0.8".
    """
    from inference.train_config import build_request, estimated_gpu_seconds
    from inference.train_images import check_images
    from nanke.commands.job_folders import models_file_option, registry_from, user_errors

    path, explicit = (models_file, True) if models_file else models_file_option()
    with user_errors():
        registry = registry_from(path, explicit)
        entry = registry.model(model)
        if registry.lora_dir is None:
            raise click.ClickException(f'{path} has no lora_dir: add `lora_dir = "loras"`')
        target = registry.lora_dir / f"{name}.safetensors"
        request = build_request(
            name,
            entry.name,
            entry.family,
            subject=Subject(subject),
            trigger=trigger,
            steps=steps,
            resolution=entry.base_size,
            sample_steps=entry.default_steps,
            checkpoint_every=checkpoint_every,
            prior_images=prior_images,
        )
        if target.exists():
            raise click.ClickException(
                f"a LoRA named {name!r} already exists ({target}): choose another name"
            )
        files = sorted(p for p in images_dir.iterdir() if p.is_file())
        checked = check_images([(p.name, p.read_bytes()) for p in files], min_side=min_side)
        for note in checked.notes:
            click.echo(f"note: {note}", err=True)
        gpu = estimated_gpu_seconds(entry.family, request.steps) if entry.family else 0
        click.echo(
            f"training {name!r} on {entry.name} ({entry.family}): {len(checked.images)} "
            f"pictures, {request.steps} steps at {request.resolution} px, caption "
            f"{request.caption!r}; estimated GPU time {gpu / 60:.0f} min on a 24 GB GPU"
        )
        out = out_dir or Path("out") / f"train-{name}"
        _run(registry, request, checked.images, out, target)


def _run(registry: Any, request: Any, images: list[Any], out: Path, target: Path) -> None:
    from nanke.roots.trainer import make_trainer
    from nanke.settings import load_settings

    trainer = make_trainer(registry, load_settings().worker)
    workdir = out / "work"
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    seen: list[int] = []

    def progress(p: Any) -> None:
        if not seen and p.step > 1:
            click.echo(f"resuming from the checkpoint at step {p.step - 1}")
        seen.append(p.step)
        if p.preview is not None:  # the LoRA so far (every `preview_every` steps)
            p.preview.save(out / f"preview-{p.step}.png")
        if len(seen) == 1 or p.step % 10 == 0 or p.step == p.total:
            eta = f"  ETA {p.eta_s:.0f} s" if p.eta_s is not None else ""
            click.echo(f"step {p.step}/{p.total}  loss {p.loss:.4f}{eta}")

    result = trainer.train(request, images, workdir, target, on_progress=progress)
    for i, image in enumerate(result.samples, start=1):
        image.save(out / f"sample-{i}.png")
    shutil.rmtree(workdir, ignore_errors=True)
    click.echo(
        f"trained in {time.perf_counter() - started:.0f} s; probe loss "
        f"{result.probe_loss_before:.4f} -> {result.probe_loss_after:.4f}"
    )
    click.echo(f"wrote {target} and {len(result.samples)} samples in {out}")
    click.echo(f'use it: nanke imagine "{request.caption} --lora {request.name}:0.8"')
