"""A small fake Discord on 127.0.0.1 that real discord.py logs into (REST + gateway).

It answers what a bot needs to start (users/@me, applications/@me, gateway/bot, command sync),
speaks the gateway (HELLO → IDENTIFY → READY → GUILD_CREATE, heartbeats, RESUME with replay of
missed dispatches), sends INTERACTION_CREATE for a slash command, and records every REST call,
including multipart uploads, so tests can assert exactly what reached "Discord"."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

_EPOCH_MS = 1420070400000
_ids = itertools.count(1)


def snowflake() -> int:
    return ((int(time.time() * 1000) - _EPOCH_MS) << 22) | (next(_ids) % 4096)


def _now() -> str:
    return "2026-11-23T00:00:00.000000+00:00"


async def until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class Upload:
    method: str
    path: str
    payload: Any  # the JSON body (a dict, or a list for command sync)
    files: dict[str, bytes]  # filename → bytes


@dataclass
class FakeDiscord:
    app_id: int = field(default_factory=snowflake)
    bot_id: int = field(default_factory=snowflake)
    guild_id: int = field(default_factory=snowflake)
    channel_id: int = field(default_factory=snowflake)
    user_id: int = field(default_factory=snowflake)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[Upload] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    identifies: int = 0
    # perf_counter() when each interaction was sent and when its first callback arrived.
    sent_at: dict[str, float] = field(default_factory=dict)
    acked_at: dict[str, float] = field(default_factory=dict)
    resumes: int = 0
    # The bot's permissions in the channel, as Discord computes them (117760: View Channel,
    # Send Messages, Embed Links, Attach Files, Read Message History).
    app_permissions: int = 117760
    # Channels where posting a message is refused with 403 Missing Permissions.
    forbidden_channels: set[int] = field(default_factory=set)
    dm_channel_id: int = field(default_factory=snowflake)
    # When set, REST calls with another bot token get 401 Unauthorized, as from Discord.
    accepted_token: str | None = None
    _sequence: int = 0
    _log: list[dict[str, Any]] = field(default_factory=list)
    _ws: web.WebSocketResponse | None = None
    _connected: asyncio.Event = field(default_factory=asyncio.Event)
    _interactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    port: int = 0

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    # --- the world ---------------------------------------------------------------------
    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": str(self.bot_id),
            "username": "nanke",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
        }

    def _member_user(self, user_id: int | None = None) -> dict[str, Any]:
        return {
            "id": str(user_id or self.user_id),
            "username": "alice",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
        }

    def _guild(self) -> dict[str, Any]:
        everyone = {
            "id": str(self.guild_id),
            "name": "@everyone",
            "permissions": "117760",
            "position": 0,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        return {
            "id": str(self.guild_id),
            "name": "Fake Guild",
            "owner_id": str(self.user_id),
            "unavailable": False,
            "member_count": 2,
            "large": False,
            "features": [],
            "roles": [everyone],
            "emojis": [],
            "stickers": [],
            "threads": [],
            "channels": [
                {
                    "id": str(self.channel_id),
                    "type": 0,
                    "name": "art",
                    "position": 0,
                    "permission_overwrites": [],
                    "nsfw": False,
                    "guild_id": str(self.guild_id),
                }
            ],
            "members": [
                {
                    "user": self._bot_user(),
                    "roles": [],
                    "joined_at": _now(),
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                }
            ],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "joined_at": _now(),
            "premium_tier": 0,
        }

    def _message(
        self,
        channel_id: int,
        payload: dict[str, Any],
        files: dict[str, bytes],
        message_id: int | None = None,
        interaction: bool = False,
    ) -> dict[str, Any]:
        message_id = message_id or snowflake()
        attachments = [
            {
                "id": str(snowflake()),
                "filename": name,
                "size": len(data),
                "url": f"https://cdn.fake/{name}",
                "proxy_url": f"https://cdn.fake/{name}",
            }
            for name, data in files.items()
        ]
        previous = self.messages.get(message_id, {})
        message = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "guild_id": str(self.guild_id),
            "author": self._bot_user(),
            "type": 20 if interaction else 0,
            "content": payload.get("content", previous.get("content", "")),
            "timestamp": _now(),
            "edited_timestamp": _now() if previous else None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments
            if "attachments" in payload or files
            else previous.get("attachments", []),
            "embeds": payload.get("embeds") or [],
            "pinned": False,
            "components": payload["components"]
            if "components" in payload
            else previous.get("components", []),
            "flags": payload.get("flags", previous.get("flags", 0)) or 0,
            "nonce": payload.get("nonce"),
            "webhook_id": str(self.app_id) if interaction else None,
        }
        self.messages[message_id] = message
        return message

    # --- gateway -----------------------------------------------------------------------
    async def _send(self, op: int, d: Any, t: str | None = None, record: bool = True) -> None:
        frame: dict[str, Any] = {"op": op, "d": d, "s": None, "t": t}
        if op == 0:
            self._sequence += 1
            frame["s"] = self._sequence
            if record:
                self._log.append(frame)
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_str(json.dumps(frame))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        await ws.send_str(
            json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        )
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            op = frame["op"]
            if op == 1:
                await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
            elif op == 2:
                self.identifies += 1
                await self._send(
                    0,
                    {
                        "v": 10,
                        "user": self._bot_user(),
                        "session_id": "fake-session",
                        "guilds": [{"id": str(self.guild_id), "unavailable": True}],
                        "resume_gateway_url": self.gateway_url,
                        "shard": [0, 1],
                        "application": {"id": str(self.app_id), "flags": 0},
                    },
                    "READY",
                )
                await self._send(0, self._guild(), "GUILD_CREATE")
                self._connected.set()
            elif op == 6:
                self.resumes += 1
                since = frame["d"]["seq"] or 0
                for missed in [f for f in self._log if f["s"] > since]:
                    await ws.send_str(json.dumps(missed))
                await ws.send_str(
                    json.dumps({"op": 0, "d": {}, "s": self._sequence, "t": "RESUMED"})
                )
                self._connected.set()
        return ws

    async def drop_connection(self) -> None:
        """Close the gateway as Discord does on a server hiccup (resumable code 4000)."""
        self._connected.clear()
        assert self._ws is not None
        await self._ws.close(code=4000, message=b"fake hiccup")

    async def redeliver(self, interaction: dict[str, Any]) -> None:
        """Send an interaction again, as Discord may after a resume."""
        await self._send(0, interaction, "INTERACTION_CREATE")

    async def send_slash(
        self, name: str, user_id: int | None = None, **options: str
    ) -> dict[str, Any]:
        """Dispatch INTERACTION_CREATE for `/name option:value` by a member (default: alice);
        returns the interaction."""
        interaction_id = snowflake()
        token = f"token-{interaction_id}"
        command = next(c for c in self.commands if c["name"] == name)
        payload = {
            "id": str(interaction_id),
            "application_id": str(self.app_id),
            "type": 2,
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
                "user": self._member_user(user_id),
                "roles": [],
                "joined_at": _now(),
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": "117760",
            },
            "data": {
                "id": command["id"],
                "name": name,
                "type": 1,
                "options": [{"name": k, "type": 3, "value": v} for k, v in options.items()],
            },
            "app_permissions": str(self.app_permissions),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        self._interactions[token] = {"id": interaction_id, "original": None}
        self.sent_at[token] = time.perf_counter()
        await self._send(0, payload, "INTERACTION_CREATE")
        return payload

    # --- REST --------------------------------------------------------------------------
    async def _body(self, request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        if request.content_type.startswith("multipart/"):
            payload: dict[str, Any] = {}
            files: dict[str, bytes] = {}
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":
                    payload = json.loads(await part.text())  # type: ignore[union-attr]
                else:
                    files[part.filename or part.name or "file"] = await part.read()  # type: ignore[union-attr]
            return payload, files
        if request.can_read_body:
            return await request.json(), {}
        return {}, {}

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        payload, files = await self._body(request)
        self.requests.append(Upload(request.method, path, payload, files))
        auth = request.headers.get("Authorization")
        if self.accepted_token and auth and auth != f"Bot {self.accepted_token}":
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        parts = path.strip("/").split("/")
        method = request.method

        def ok(data: Any) -> web.Response:
            return _json(data)

        if path == "/users/@me":
            return ok(self._bot_user())
        if path == "/oauth2/applications/@me":
            return ok(
                {
                    "id": str(self.app_id),
                    "name": "nanke",
                    "icon": None,
                    "description": "",
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "verify_key": "0" * 64,
                    "flags": 0,
                    "owner": self._member_user(),
                }
            )
        if path == "/gateway/bot":
            return ok(
                {
                    "url": self.gateway_url,
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 999,
                        "reset_after": 0,
                        "max_concurrency": 1,
                    },
                }
            )
        if parts[:1] == ["applications"] and parts[-1] == "commands" and method == "PUT":
            self.commands = [
                {
                    **c,
                    "id": str(snowflake()),
                    "application_id": str(self.app_id),
                    "version": "1",
                    "default_member_permissions": c.get("default_member_permissions"),
                }
                for c in payload  # type: ignore[union-attr]
            ]
            return ok(self.commands)
        if parts[0] == "interactions" and parts[-1] == "callback":
            token = parts[2]
            state = self._interactions[token]
            if state.get("acknowledged"):
                message = "Interaction has already been acknowledged."
                return _json({"message": message, "code": 40060}, status=400)
            state["acknowledged"] = True
            self.acked_at[token] = time.perf_counter()
            kind = payload["type"]
            message_id = None
            if kind in (4, 5):  # a message or a deferred ("thinking") one
                data = payload.get("data") or {}
                message_id = snowflake()
                state["original"] = message_id
                self._message(
                    self.channel_id,
                    {
                        "content": data.get("content", ""),
                        "flags": (data.get("flags") or 0) | (128 if kind == 5 else 0),
                    },
                    files,
                    message_id,
                    interaction=True,
                )
            return ok(
                {
                    "interaction": {
                        "id": str(state["id"]),
                        "type": 2,
                        "response_message_id": str(message_id) if message_id else None,
                        "response_message_loading": kind == 5,
                        "response_message_ephemeral": False,
                    },
                    "resource": {
                        "type": kind,
                        "message": self.messages.get(message_id) if message_id else None,
                    },
                }
            )
        if parts[0] == "webhooks":
            token = parts[2]
            state = self._interactions[token]
            if parts[-1] == "@original" and method == "PATCH":
                return ok(
                    self._message(
                        self.channel_id, payload, files, state["original"], interaction=True
                    )
                )
            if parts[-1] == "@original" and method == "DELETE":
                self.messages.pop(state["original"], None)
                return web.Response(status=204)
            if method == "POST":
                return ok(self._message(self.channel_id, payload, files, interaction=True))
            if method == "PATCH":
                return ok(
                    self._message(self.channel_id, payload, files, int(parts[-1]), interaction=True)
                )
        if parts[0] == "channels" and parts[-1] == "messages" and method == "POST":
            if int(parts[1]) in self.forbidden_channels:
                return _json({"message": "Missing Permissions", "code": 50013}, status=403)
            return ok(self._message(int(parts[1]), payload, files))
        if path == "/users/@me/channels" and method == "POST":  # open a DM
            dm = {"id": str(self.dm_channel_id), "type": 1, "last_message_id": None}
            return ok({**dm, "recipients": [self._member_user(int(payload["recipient_id"]))]})
        if parts[0] == "users" and len(parts) == 2 and method == "GET":
            return ok(self._member_user(int(parts[1])))
        return _json({"message": f"fake: no route {method} {path}", "code": 0}, status=404)


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py parses a body as JSON only when Content-Type is exactly application/json.
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"}
    )
