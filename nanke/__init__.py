"""Nanke (南柯): a self-hosted, Midjourney-style AI painting service for Discord.

This package is the top of the tree: the `nanke` command line (`nanke.cli`, one module per
subcommand in `nanke.commands`), the typed settings (`nanke.settings`, the only reader of the
environment) and one composition root per process (`nanke.roots`). docs/ARCHITECTURE.md has the map.
"""

__version__ = "0.1.0"
