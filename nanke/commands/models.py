"""`nanke models pull NAME`: a model from the Hugging Face hub into the cache and models.toml."""

from __future__ import annotations

from pathlib import Path

import click

from nanke.models_pull import CURATED

_LIST = "; ".join(f"{name} ({c.about}: {c.hub_id})" for name, c in CURATED.items())


@click.group(name="models", help="Models: download from the Hugging Face hub.")
def command() -> None:
    pass


@command.command(
    "pull",
    help="Download NAME into the model cache (HF_HOME, ~/.cache/huggingface by default) with a "
    f"progress bar and add it to models.toml. NAME is one of: {_LIST}; or any hub id "
    "(owner/name) of a diffusers Stable Diffusion pipeline. Gated models need `hf auth login` "
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
    type=click.Choice(["sd15", "sd2", "sdxl"]),
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
