"""The `nanke` command. Subcommands live in `nanke.commands.*` and are imported only when run,
so `nanke --help` and `nanke parse` never pay for torch or diffusers."""

from __future__ import annotations

import importlib
from typing import Any

import click

from nanke import __version__

# name → "module:attribute" of a click.Command. Keep alphabetical.
_COMMANDS: dict[str, tuple[str, str]] = {
    "admin": ("nanke.commands.admin", "Operator tools: quotas, plans, web gallery."),
    "blend": ("nanke.commands.blend", "Blend 2 to 5 images into a 2x2 grid."),
    "bot": ("nanke.commands.bot", "Run the Discord bot."),
    "config": ("nanke.commands.config", "Settings: print the table of every NANKE_ variable."),
    "describe": ("nanke.commands.describe", "Print four prompts that would make an image."),
    "doctor": ("nanke.commands.doctor", "Check a deployment: database, broker, models, GPU, ..."),
    "edit": ("nanke.commands.edit", "Change an image by instruction (a 2x2 grid)."),
    "healthcheck": ("nanke.commands.healthcheck", "Container healthcheck: bot, worker or web."),
    "imagine": ("nanke.commands.imagine", "Paint a 2x2 grid for a prompt."),
    "init": ("nanke.commands.init", "Set up a deployment: write .env and models.toml."),
    "inpaint": ("nanke.commands.inpaint", "Repaint a masked region of a job folder's image."),
    "make-tiny-models": ("nanke.commands.make_tiny_models", "Write tiny test models (noise)."),
    "migrate": ("nanke.commands.migrate", "Upgrade the database to the latest schema."),
    "models": (
        "nanke.commands.models",
        "List models and licences; download one from the Hugging Face hub.",
    ),
    "pack": ("nanke.commands.pack", "Paint a prompt pack with a trained LoRA."),
    "pan": ("nanke.commands.pan", "Extend a job folder's image left, right, up or down."),
    "parse": ("nanke.commands.parse", "Parse an /imagine prompt and show the request(s)."),
    "queue": ("nanke.commands.queue", "The job queue per model: nanke queue stats."),
    "run": ("nanke.commands.run", "Run the bot with an embedded worker (one box, no Redis)."),
    "square": ("nanke.commands.square", "Outpaint a job folder's image to 1:1."),
    "train": ("nanke.commands.train", "Train a personal LoRA from 5-20 photos."),
    "upscale": ("nanke.commands.upscale", "Upscale one tile of a job folder to 2x."),
    "vary": ("nanke.commands.vary", "Paint a new grid from one tile of a job folder."),
    "web": ("nanke.commands.web", "Serve the public community galleries on the web."),
    "worker": ("nanke.commands.worker", "Run a GPU worker (Celery, one per GPU)."),
    "zoom": ("nanke.commands.zoom", "Zoom out of a job folder's image (a new grid)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = module.command
        return command

    def invoke(self, ctx: click.Context) -> Any:
        # A bad NANKE_* setting is the operator's to fix: one message per field, no traceback.
        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise
        except Exception as exc:
            # Imported here, not above: `nanke healthcheck` runs every few seconds in each
            # container and needs no pydantic.
            from pydantic import ValidationError
            from pydantic_settings import SettingsError as SourceError

            if isinstance(exc, SourceError):  # e.g. NANKE_DISCORD__ADMIN_IDS='[1': not JSON
                cause = f" ({exc.__cause__})" if exc.__cause__ else ""
                raise click.ClickException(
                    f"invalid settings (env or .env): {exc}{cause}; list and section values "
                    "are JSON, e.g. NANKE_DISCORD__ADMIN_IDS='[123, 456]'"
                ) from None
            if not isinstance(exc, ValidationError) or exc.title != "Settings":
                raise
            problems = "; ".join(
                f"NANKE_{'__'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
            )
            raise click.ClickException(f"invalid settings (env or .env): {problems}") from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help without importing each command module.
        rows = [(name, _COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nanke")
def cli() -> None:
    """Nanke (南柯): a self-hosted, Midjourney-style AI painting service for Discord.

    Run `nanke COMMAND --help` for the options of each command.
    """


def main(argv: list[str] | None = None) -> Any:
    return cli.main(args=argv, prog_name="nanke")


if __name__ == "__main__":
    main()
