"""`nanke init`: ask the few things an admin decides, write `.env` and `models.toml`."""

from __future__ import annotations

from pathlib import Path

import click

from nanke.init_files import DEFAULT_MODELS, MODEL_CHOICES, MODES, TINY

_MODELS_HELP = (
    "sd15 (SD 1.5), sdxl (SDXL base), sd21-unclip (strong variations), safety-checker (NSFW "
    "filter), or tiny (random test models that paint noise, alone)"
)


@click.command(name="init")
@click.option(
    "--token",
    envvar="NANKE_DISCORD__TOKEN",
    default=None,
    help="The Discord bot token (developer portal → Bot → Reset Token). Also read from "
    "NANKE_DISCORD__TOKEN, which keeps it off the command line.",
)
@click.option(
    "--application-id",
    type=click.IntRange(min=1),
    default=None,
    help="The application id, for the invite link (default: read from the token).",
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default=None,
    help="one-box: `nanke run` on this machine (SQLite, in-process queue). production: "
    "docker compose (Postgres, Redis, GPU workers, web gallery), with random passwords.",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    type=click.Choice(MODEL_CHOICES),
    help=f"A model to list in models.toml (repeat for several): {_MODELS_HELP}. The first "
    f"painting model is the default. Default: {' + '.join(DEFAULT_MODELS)}.",
)
@click.option(
    "--dir",
    "target",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to write .env and models.toml (run nanke and docker compose from there).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing .env / models.toml.")
@click.option(
    "--non-interactive",
    is_flag=True,
    help="Never prompt (scripts): --token (or NANKE_DISCORD__TOKEN) and --mode are required.",
)
def command(
    token: str | None,
    application_id: int | None,
    mode: str | None,
    models: tuple[str, ...],
    target: Path,
    force: bool,
    non_interactive: bool,
) -> None:
    """Set up a new deployment: write .env (mode 0600) and models.toml, then print the
    commands to run next (download the models, migrate, check, start).

    Asks for what it is not given: the bot token, one box or production, which models.
    Production gets strong random passwords for Postgres, MinIO and Flower (change them
    freely; none has a default). Refuses to overwrite existing files without --force.
    """
    from nanke.init_files import Answers, InitError, plan, write

    if non_interactive:
        missing = [f for f, v in (("--token", token), ("--mode", mode)) if not v]
        if missing:
            raise click.UsageError(f"{' and '.join(missing)} required with --non-interactive")
    else:
        token = token or click.prompt(
            "Discord bot token", hide_input=True, value_proc=_checked_token
        )
        mode = mode or click.prompt(
            "One box (nanke run) or production (docker compose)?",
            type=click.Choice(MODES),
            default="one-box",
        )
        if not models:
            answer = click.prompt(
                f"Models ({_MODELS_HELP}), separated by commas",
                default=",".join(DEFAULT_MODELS),
            )
            models = tuple(m.strip() for m in answer.split(","))
    assert token is not None and mode in MODES
    answers = Answers(token, mode, models or DEFAULT_MODELS, application_id)
    try:
        found = plan(answers)
        written = write(target, found, force=force)
    except InitError as exc:
        raise click.ClickException(str(exc)) from None
    for path in written:
        click.echo(f"wrote {path}")
    if answers.models == (TINY,) and mode == "one-box":
        _build_tiny(target / found.models_toml.parent)
    click.echo(f"\ninvite the bot: {found.invite_url}")
    click.echo("next, from " + (str(target) if target != Path(".") else "this folder") + ":")
    for step in found.next_steps:
        click.echo(f"  {step}")


def _checked_token(value: str) -> str:
    """Re-ask (click shows the message) until the answer looks like a bot token."""
    from nanke.init_files import InitError, application_id_of, require_token_text
    from nanke.settings import SettingsError

    try:
        application_id_of(require_token_text(value))
    except (InitError, SettingsError) as exc:
        raise click.BadParameter(str(exc)) from None
    return value.strip()


def _build_tiny(directory: Path) -> None:
    try:
        from inference.tiny import build_tiny_models
        from inference.worker.library_logs import quiet_libraries
    except ImportError:
        raise click.ClickException(
            "tiny models need torch and diffusers: pip install 'nanke[worker]' and run "
            f"`nanke make-tiny-models {directory}`"
        ) from None
    quiet_libraries()
    try:
        toml = build_tiny_models(directory)
    except OSError as exc:
        raise click.ClickException(f"cannot write {directory}: {exc.strerror or exc}") from None
    click.echo(f"wrote tiny random-weight models and {toml} (their images are noise)")
