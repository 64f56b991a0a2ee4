"""docker/smoke.sh only: point discord.py in the bot container at the smoke's fake Discord.

Python imports `sitecustomize` at start-up; compose.smoke.yml puts this folder on the bot's
PYTHONPATH and sets NANKE_SMOKE_DISCORD_URL (http://host:port of the fake, which runs on the
host). Nothing else changes: the image, `nanke bot` and its settings are the real ones."""

import os
import sys

_url = os.environ.get("NANKE_SMOKE_DISCORD_URL")
if _url and sys.argv[1:2] == ["bot"]:  # `nanke bot`, not the healthchecks
    import discord.gateway
    import discord.http
    import yarl

    discord.http.Route.BASE = f"{_url}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(
        "ws" + _url.removeprefix("http") + "/gateway"
    )
