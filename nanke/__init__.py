"""Nanke (南柯): a self-hosted, Midjourney-style AI painting service for Discord.

This package is the composition root: the `nanke` command line and the typed settings.
The product lives in the top-level packages `bot`, `inference`, `db` and `gallery`.
"""

__version__ = "0.1.0"
