"""`nanke pack LORA PACK`: run a prompt pack (curated templates) with a trained LoRA, one 2x2
grid per prompt, as `/pack` does in Discord."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("pack")
@click.argument("lora", required=False)
@click.argument("pack", required=False)
@click.option(
    "--packs",
    "packs_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Packs TOML file (default: the packs Nanke ships).",
)
@click.option(
    "--models",
    "models_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="models.toml to use (default: NANKE_MODELS_FILE or ./models.toml).",
)
@click.option("--weight", type=float, default=0.8, show_default=True, help="The LoRA's weight.")
@click.option("--seed", type=int, help="Seed of the first grid (then +1 per prompt).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: out/pack-LORA-PACK); one job folder per prompt.",
)
@click.option("--list", "list_only", is_flag=True, help="List the packs and exit.")
def command(
    lora: str | None,
    pack: str | None,
    packs_file: Path | None,
    models_file: Path | None,
    weight: float,
    seed: int | None,
    out_dir: Path | None,
    list_only: bool,
) -> None:
    """Paint every prompt of PACK with the LoRA named LORA (its trigger word is read from the
    file, as `nanke train` writes it)."""
    from inference.packs import DEFAULT_PACKS, load_packs, pick_pack
    from inference.resolve import imagine_spec
    from nanke.commands.job_folders import (
        make_engine,
        models_file_option,
        registry_from,
        report,
        run_engine,
        user_errors,
        write_job,
    )
    from prompt import PromptError, parse_prompt

    with user_errors():
        packs = load_packs(packs_file or DEFAULT_PACKS)
        if list_only:
            for p in packs.values():
                click.echo(f"{p.name}: {p.description} ({len(p.prompts)} prompts)")
            return
        if lora is None or pack is None:
            raise click.UsageError("give LORA and PACK (or --list)")
        chosen = pick_pack(packs, pack)
        path, explicit = (models_file, True) if models_file else models_file_option()
        registry = registry_from(path, explicit)
        subject = _subject_of(registry.lora_path(lora))
        try:
            requests = [parse_prompt(text)[0] for text in chosen.prompts_for(subject, lora, weight)]
        except PromptError as exc:
            raise click.ClickException(f"pack {pack!r}: {exc.message}") from None
        if seed is not None:
            requests = [r.model_copy(update={"seed": seed + i}) for i, r in enumerate(requests)]
        specs = [imagine_spec(params, registry) for params in requests]
        base = out_dir or Path("out") / f"pack-{lora}-{pack}"
        engine = make_engine(registry)
        for n, spec in enumerate(specs, start=1):
            click.echo(f"[{n}/{len(specs)}] {spec.params.prompt}")
            output = run_engine(registry, spec, engine=engine)
            report(base / str(n), write_job(base / str(n), spec, output, registry))


def _subject_of(path: Path) -> str:
    """ "<trigger> <class word>" from the LoRA's metadata (written by `nanke train`)."""
    from safetensors import safe_open

    with safe_open(str(path), "np") as fh:
        meta = fh.metadata() or {}
    trigger = meta.get("nanke_trigger")
    if not trigger:
        raise click.ClickException(
            f"{path.name} was not trained by Nanke (no trigger word in it): packs need a LoRA "
            "from `nanke train` or /train"
        )
    subject = meta.get("nanke_subject", "")
    return f"{trigger} {subject}".strip() if subject != "style" else f"{trigger} style"
