"""`nanke models pull NAME`: a model from the Hugging Face hub into the cache and models.toml."""

from __future__ import annotations

from pathlib import Path

import click

from inference.families import FAMILIES
from nanke.models_pull import CURATED

_LIST = "; ".join(f"{name} ({c.about}: {c.hub_id})" for name, c in CURATED.items())


@click.group(name="models", help="Models: list them with their licences; download from the hub.")
def command() -> None:
    pass


@command.command(
    "pull",
    help="Download NAME into the model cache (HF_HOME, ~/.cache/huggingface by default) with a "
    f"progress bar and add it to models.toml. NAME is one of: {_LIST}; or any hub id "
    "(owner/name) of a diffusers pipeline of a known family. Gated models need `hf auth login` "
    "or HF_TOKEN. Restart the bot and the workers to use it.",
)
@click.argument("name")
@click.option(
    "--models",
    "models_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The models.toml to add it to (default: NANKE_MODELS_FILE, else ./models.toml).",
)
@click.option(
    "--family",
    type=click.Choice(list(FAMILIES)),
    default=None,
    help="A hub id's family when its configs do not tell (they usually do).",
)
@click.option("--name", "as_name", default=None, help="Its name in models.toml (/imagine --model).")
def pull(name: str, models_file: Path | None, family: str | None, as_name: str | None) -> None:
    from nanke.models_pull import PullError
    from nanke.models_pull import pull as do_pull
    from nanke.settings import load_settings

    toml = models_file or load_settings().models_file
    try:
        pulled = do_pull(name, toml, family=family, as_name=as_name)
    except PullError as exc:
        raise click.ClickException(str(exc)) from None
    where = "models" if pulled.section == "models" else f"[{pulled.section}]"
    what = f"{pulled.name} ({pulled.family})" if pulled.section == "models" else where
    if pulled.added:
        click.echo(f"{pulled.hub_id} is in {pulled.path}; added {what} to {toml}")
    else:
        click.echo(f"{pulled.hub_id} is in {pulled.path}; {toml} already had {what}")
    if name in ("flux-kontext", "flux2-klein"):  # editing models: /edit needs them named
        click.echo(f'for /edit, put edit = "{pulled.name}" at the top of {toml}')


@command.command(
    "list",
    help="The models in models.toml (name, family, source, licence), then the curated names "
    "`nanke models pull` knows, with their families' licences.",
)
@click.option(
    "--models",
    "models_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The models.toml to read (default: NANKE_MODELS_FILE, else ./models.toml).",
)
def list_models(models_file: Path | None) -> None:
    from inference.errors import RegistryError
    from inference.registry import load_registry
    from nanke.settings import load_settings

    toml = models_file or load_settings().models_file
    if toml.exists():
        try:
            registry = load_registry(toml)
        except RegistryError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(f"{toml}:")
        for entry in registry.models.values():
            mark = " (default)" if entry.name == registry.default else ""
            mark += " (edit)" if entry.name == registry.edit else ""
            click.echo(f"  {entry.name}{mark}  family {entry.family}  source {entry.source}")
            click.echo(f"      licence: {FAMILIES[entry.family].licence}")
    else:
        click.echo(f"{toml}: not found (nanke models pull NAME writes it)")
    click.echo("curated (nanke models pull NAME):")
    for name, curated in CURATED.items():
        licence = curated.licence or (
            FAMILIES[curated.family].licence if curated.family else "see its model card"
        )
        click.echo(f"  {name}  {curated.about}: {curated.hub_id}")
        click.echo(f"      licence: {licence}")
