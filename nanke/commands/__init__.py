"""One module per `nanke` subcommand, each exposing `command` (a click.Command)."""
