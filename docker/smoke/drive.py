"""docker/smoke.sh's Discord side: a fake Discord on the host, the compose stack's bot logged
into it, and a member who paints, upscales and shares, while the worker is restarted mid-job.

Run by docker/smoke.sh with the repository's .venv (it reuses tests/bot/wire/fake_discord.py):

    python docker/smoke/drive.py --bind IP --gallery-port N --user-id ID -- docker compose ...

The trailing command is the compose invocation (project, files, env file) the script uses; the
driver starts the bot, worker and gallery with it once the fake listens, and restarts the worker
through it. Every check prints one line; the first failure raises (exit 1).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from aiohttp import web
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "bot" / "wire"))
from fake_discord import FakeDiscord, Upload, snowflake, until

T0 = time.monotonic()


PASSED = 0


def check(what: str) -> None:
    global PASSED
    PASSED += 1
    print(f"  ok   {what}  (+{time.monotonic() - T0:.0f}s)", flush=True)


NICK = "Alice the Painter"


class ContainerDiscord(FakeDiscord):
    """The fake, listening on a host address a container can reach (docker0's), advertising
    the name the bot container resolves to it, and able to press buttons and send
    subcommands."""

    bind: str = "127.0.0.1"
    advertised: str = "127.0.0.1"

    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        # Stopping must not wait for the bot's gateway connection to end (60 s by default).
        self._runner = web.AppRunner(app, shutdown_timeout=2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.bind, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.url

    @property
    def url(self) -> str:
        return f"http://{self.advertised}:{self.port}"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.advertised}:{self.port}/gateway"

    def _base(self, kind: int, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        interaction_id = snowflake()
        token = f"token-{interaction_id}"
        payload = {
            "id": str(interaction_id),
            "application_id": str(self.app_id),
            "type": kind,
            "token": token,
            "version": 1,
            "guild_id": str(self.guild_id),
            "channel_id": str(self.channel_id),
            "channel": {
                "id": str(self.channel_id),
                "type": 0,
                "guild_id": str(self.guild_id),
                "name": "art",
                "position": 0,
                "permission_overwrites": [],
                "nsfw": False,
            },
            "member": {
                "user": self._member_user(),
                "nick": NICK,  # the display name the web gallery shows
                "roles": [],
                "joined_at": "2026-11-23T00:00:00.000000+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": "117760",
            },
            "data": data,
            "app_permissions": "117760",
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        self._interactions[token] = {"id": interaction_id, "original": None}
        self.sent_at[token] = time.perf_counter()
        return token, payload

    async def send_subcommand(self, group: str, name: str, **options: Any) -> str:
        """`/group name option:value`; a channel option is passed as ("channel", id)."""
        command = next(c for c in self.commands if c["name"] == group)
        resolved: dict[str, Any] = {}
        opts = []
        for key, value in options.items():
            if isinstance(value, tuple) and value[0] == "channel":
                channel = self._guild()["channels"][0]
                resolved.setdefault("channels", {})[str(value[1])] = {
                    **channel,
                    "permissions": "117760",
                }
                opts.append({"name": key, "type": 7, "value": str(value[1])})
            else:
                opts.append({"name": key, "type": 3, "value": value})
        data = {
            "id": command["id"],
            "name": group,
            "type": 1,
            "options": [{"name": name, "type": 1, "options": opts}],
            "resolved": resolved,
        }
        token, payload = self._base(2, data)
        await self._send(0, payload, "INTERACTION_CREATE")
        return token

    async def imagine(self, prompt: str) -> tuple[str, int]:
        payload = await self.send_slash("imagine", prompt=prompt)
        return payload["token"], int(payload["id"])

    async def press(self, message: dict[str, Any], custom_id: str) -> str:
        token, payload = self._base(3, {"custom_id": custom_id, "component_type": 2})
        payload["message"] = message
        await self._send(0, payload, "INTERACTION_CREATE")
        return token

    def uploads(self, token: str) -> list[Upload]:
        return [
            r for r in self.requests if token in r.path and any(n.endswith(".png") for n in r.files)
        ]

    def texts(self, token: str) -> list[str]:
        """What the bot said for one interaction: callbacks, edits and followups."""
        said = []
        for r in self.requests:
            if token in r.path and isinstance(r.payload, dict):
                data = r.payload.get("data") if "/callback" in r.path else r.payload
                said.append((data or {}).get("content") or "")
        return said

    def original(self, token: str) -> dict[str, Any]:
        return self.messages[self._interactions[token]["original"]]


def button(message: dict[str, Any], label: str) -> str:
    for row in message["components"]:
        for b in row["components"]:
            if b.get("label") == label or (b.get("emoji") or {}).get("name") == label:
                return str(b["custom_id"])
    raise AssertionError(f"no {label} button on message: {message['components']}")


def png_size(data: bytes) -> tuple[int, int]:
    size: tuple[int, int] = Image.open(io.BytesIO(data)).size
    return size


def pixels(data: bytes) -> bytes:
    return Image.open(io.BytesIO(data)).convert("RGB").tobytes()


def http_get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


class Stack:
    def __init__(self, compose: list[str], env: dict[str, str]) -> None:
        self.compose = compose
        self.env = {**os.environ, **env}

    async def run(self, *args: str, timeout: float = 600) -> str:
        proc = await asyncio.create_subprocess_exec(
            *self.compose,
            *args,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            raise AssertionError(f"compose {' '.join(args)} took over {timeout:.0f} s") from None
        text = out.decode(errors="replace")
        if proc.returncode != 0:
            raise AssertionError(f"compose {' '.join(args)} failed:\n{text}")
        return text

    async def sql(self, query: str) -> list[list[str]]:
        out = await self.run(
            "exec", "-T", "postgres", "psql", "-U", "nanke", "-d", "nanke", "-tAF", "|", "-c", query
        )
        return [line.split("|") for line in out.splitlines() if line.strip()]


async def main(args: argparse.Namespace) -> None:
    fake = ContainerDiscord(user_id=args.user_id)
    fake.bind, fake.advertised = args.bind, args.advertised
    url = await fake.start()
    check(f"fake Discord listening on {args.bind}:{fake.port} (containers: {url})")
    stack = Stack(args.compose, {"NANKE_SMOKE_DISCORD_URL": url})
    gallery = f"http://127.0.0.1:{args.gallery_port}"
    try:
        await drive(fake, stack, gallery)
    finally:
        await fake.stop()


async def drive(fake: ContainerDiscord, stack: Stack, gallery: str) -> None:
    await stack.run("up", "-d", "--wait", "--wait-timeout", "420", "bot", "worker", "gallery")
    check("bot, worker and gallery up and healthy (compose up --wait: every healthcheck passed)")
    await fake.wait_connected(timeout=60)
    await until(lambda: bool(fake.commands), "the slash commands' sync", timeout=30)
    assert fake.identifies == 1, fake.identifies
    names = sorted(c["name"] for c in fake.commands)
    check(f"bot container logged into the fake Discord, synced /{', /'.join(names)}")

    token = await fake.send_subcommand(
        "admin", "gallery-channel", channel=("channel", fake.channel_id)
    )
    await until(
        lambda: any("now go to" in t for t in fake.texts(token)), "/admin gallery-channel", 60
    )
    check("/admin gallery-channel answered")
    # A server's web gallery is private until an admin opens it.
    token = await fake.send_subcommand("admin", "gallery", visibility="public")
    await until(
        lambda: any("public web gallery" in t for t in fake.texts(token)), "/admin gallery", 60
    )
    check("/admin gallery public answered")

    # 1. /imagine → grid
    token, _ = await fake.imagine("a lighthouse at dusk --ar 4:1")
    await until(lambda: len(fake.uploads(token)) >= 1, "the grid upload", timeout=180)
    (grid,) = fake.uploads(token)
    png = next(iter(grid.files.values()))
    assert png_size(png) == (256, 128), f"grid is {png_size(png)}, not 2x2 tiles of 128x64"
    labels = [
        b.get("label") or b["emoji"]["name"]
        for r in grid.payload["components"]
        for b in r["components"]
    ]
    assert labels == ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "🔄"], labels
    check("/imagine: the worker container painted, the bot posted the grid with U1-U4, V1-V4, 🔄")

    # 2. U1 → upscale
    upscale_token = await fake.press(fake.original(token), button(fake.original(token), "U1"))
    await until(lambda: len(fake.uploads(upscale_token)) >= 1, "the upscale upload", timeout=180)
    (upscale,) = fake.uploads(upscale_token)
    upscale_png = next(iter(upscale.files.values()))
    check(f"U1: upscale posted ({'x'.join(map(str, png_size(upscale_png)))} px)")

    # 3. ⭐ Share → gallery channel post, then the gallery container serves it
    message = fake.original(upscale_token)
    share_token = await fake.press(message, button(message, "⭐"))
    await until(lambda: any("Shared to" in t for t in fake.texts(share_token)), "the share", 60)
    posts = [
        r
        for r in fake.requests
        if r.method == "POST" and r.path == f"/channels/{fake.channel_id}/messages" and r.files
    ]
    assert len(posts) == 1, posts
    check("⭐ Share: posted to the gallery channel")

    status, body = http_get(f"{gallery}/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"}, (status, body)
    check(f"gallery container: GET /healthz -> 200 {body.decode()} (host -> published port)")
    status, body = http_get(f"{gallery}/api/g/{fake.guild_id}")
    items = json.loads(body)["items"]
    assert status == 200 and len(items) == 1, body
    names = (json.loads(body)["guild"]["name"], items[0]["author"]["name"])
    assert names == ("Fake Guild", NICK), names
    check(f"gallery shows the server's and member's names stored at the share: {names}")
    status, full = http_get(gallery + items[0]["image_url"])
    assert status == 200 and pixels(full) == pixels(upscale_png), "gallery image differs"
    check(
        "gallery container serves the shared image from the shared volume (same pixels as posted)"
    )
    status, thumb = http_get(gallery + items[0]["thumbnail_url"])
    assert status == 200 and thumb[:4] == b"RIFF", thumb[:16]
    check("gallery made its WebP thumbnail (the images volume is writable by the container user)")

    # 4. a long job, the worker restarted mid-job → it finishes once. 100 Heun steps are 200
    # model calls: seconds on an idle CPU, a minute on a busy one. The restart comes at the
    # first progress edit, without grace (a warm shutdown would let the job finish first).
    token, interaction_id = await fake.imagine("a slow storm --steps 100 --sampler heun")

    def progressed() -> bool:
        return any("%" in t for t in fake.texts(token))

    await until(progressed, "a progress edit from the long job", timeout=180)
    query = f"select state, attempts from jobs where interaction_id = {interaction_id}"
    rows, _ = await asyncio.gather(stack.sql(query), stack.run("restart", "-t", "0", "worker"))
    assert rows == [["running", "1"]], f"the long job was not running at the restart: {rows}"
    check("long job running (attempt 1, progress shown): worker container restarted mid-job")
    await until(
        lambda: len(fake.uploads(token)) >= 1, "the long job's grid after the restart", timeout=300
    )
    await asyncio.sleep(3)  # a second post would show itself now
    uploads = fake.uploads(token)
    assert len(uploads) == 1, f"{len(uploads)} grids posted for one job"
    rows = await stack.sql(
        f"select state, attempts, cost_milli from jobs where interaction_id = {interaction_id}"
    )
    assert len(rows) == 1 and rows[0][:2] == ["posted", "2"], rows
    check("after the restart the job ran again (attempt 2) and was posted exactly once")
    ledger = await stack.sql(
        "select l.kind, count(*) from quota_ledger l join jobs j on l.job_id = j.id "
        f"where j.interaction_id = {interaction_id} group by l.kind order by l.kind"
    )
    assert ledger == [["hold", "1"], ["settle", "1"]], ledger
    check("its credits were held once and settled once (no double charge, no refund)")
    await stack.run("exec", "-T", "worker", "nanke", "healthcheck", "worker")
    check("restarted worker healthy again")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bind", required=True, help="host address the fake listens on")
    parser.add_argument("--advertised", default="host.docker.internal")
    parser.add_argument("--gallery-port", type=int, required=True)
    parser.add_argument("--user-id", type=int, required=True, help="the member (an admin)")
    parser.add_argument("--count-file", help="where to write how many checks passed")
    parser.add_argument("compose", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.compose[:1] == ["--"]:
        args.compose = args.compose[1:]
    return args


if __name__ == "__main__":
    arguments = parse_args()
    try:
        asyncio.run(main(arguments))
    except AssertionError as exc:
        print(f"  FAIL {exc}", flush=True)
        sys.exit(1)
    finally:
        if arguments.count_file:
            Path(arguments.count_file).write_text(f"{PASSED}\n")
