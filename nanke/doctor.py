"""`nanke doctor`'s checks: one line each, so an admin sees what is wrong with a deployment.

Each check returns a `Check`: ok (True), failed (False) or skipped (None), and one line that
says what was found or what to fix. Nothing here raises for a failed check.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from nanke.settings import Settings

DISCORD_API = "https://discord.com/api/v10"
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: skipped
    detail: str

    def line(self) -> str:
        mark = {True: "ok  ", False: "FAIL", None: "skip"}[self.ok]
        return f"{mark}  {self.name:<9} {self.detail}"


def check_database(settings: Settings) -> Check:
    from nanke.database import safe_url

    url = settings.effective_database_url
    where = safe_url(url)
    try:
        current, head = asyncio.run(asyncio.wait_for(_revisions(settings), TIMEOUT_S))
    except Exception as exc:  # asyncpg, OSError, timeouts: all "cannot reach"
        cause = getattr(exc, "orig", None) or exc
        return Check("database", False, f"cannot reach {where} ({type(cause).__name__}: {cause})")
    if current is None:
        return Check("database", False, f"{where} has no Nanke tables: run `nanke migrate`")
    if current != head:
        return Check(
            "database", False, f"{where} is at revision {current}, not {head}: run `nanke migrate`"
        )
    return Check("database", True, f"{where} at revision {current} (latest)")


async def _revisions(settings: Settings) -> tuple[str | None, str | None]:
    from alembic.script import ScriptDirectory

    from db.migrate import alembic_config, current_revision
    from nanke.database import open_engine

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    async with open_engine(settings) as engine:
        return await current_revision(engine), head


def check_broker(settings: Settings) -> Check:
    url = settings.broker_url
    if not url:
        return Check("broker", None, "none set: one box, in-process queue (`nanke run`)")
    import redis

    from nanke.database import safe_url

    where = safe_url(url)
    try:
        client = redis.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=5)
        client.ping()
    except Exception as exc:  # redis.ConnectionError, auth errors, bad URLs
        return Check("broker", False, f"cannot reach {where} ({exc})")
    return Check("broker", True, f"{where} answers")


def check_models(settings: Settings) -> Check:
    from inference.errors import EngineError
    from inference.registry import load_registry

    try:
        registry = load_registry(settings.models_file)
        for entry in registry.models.values():
            entry.check_files()
    except EngineError as exc:
        return Check("models", False, str(exc))
    names = ", ".join(registry.models)
    upscaler = registry.upscaler
    if upscaler is not None and upscaler.path is not None and not Path(upscaler.path).is_file():
        return Check("models", False, f"[upscaler]: {upscaler.path} does not exist; fix `source`")
    gan = f"; Upscale (4x): {upscaler.name}" if upscaler is not None else ""
    return Check(
        "models", True, f"{settings.models_file}: {names} (default {registry.default}){gan}"
    )


def check_packs(settings: Settings) -> Check:
    """Which packs file /pack offers (NANKE_PACKS_FILE, else the shipped one) and its packs."""
    from inference.errors import RegistryError
    from inference.packs import DEFAULT_PACKS, load_packs

    path = settings.packs_file or DEFAULT_PACKS
    try:
        packs = load_packs(path)
    except RegistryError as exc:
        return Check("packs", False, exc.message)
    which = "" if settings.packs_file else " (shipped; set NANKE_PACKS_FILE for your own)"
    return Check("packs", True, f"{path}{which}: {', '.join(packs)}")


def check_gpu() -> Check:
    try:
        from inference.worker.precision import describe_gpus
    except ImportError:  # the bot and gallery images have no torch
        return Check("gpu", None, "torch is not installed here (run doctor in the worker)")
    gpus = describe_gpus()
    if not gpus:
        return Check("gpu", None, "no GPU: a worker needs NANKE_WORKER__DEVICE=cpu to paint here")
    return Check("gpu", True, "; ".join(gpus))


def check_discord(settings: Settings, api: str, offline: bool) -> Check:
    from nanke.settings import SettingsError, require_token

    try:
        token = require_token(settings.discord)
    except SettingsError as exc:
        return Check("discord", False, str(exc))
    if offline:
        return Check("discord", None, "token set; not checked (--offline)")
    try:
        status, body = asyncio.run(asyncio.wait_for(_get_me(api, token), TIMEOUT_S))
    except Exception as exc:  # aiohttp.ClientError, OSError, timeouts
        return Check("discord", False, f"cannot reach {api} ({type(exc).__name__}: {exc})")
    if status == 401:
        return Check("discord", False, "Discord refused the token (401): reset it and update .env")
    if status != 200:
        return Check("discord", False, f"GET /users/@me answered {status}")
    user = json.loads(body)
    return Check("discord", True, f"token valid: {user.get('username')} (id {user.get('id')})")


async def _get_me(api: str, token: str) -> tuple[int, str]:
    import aiohttp

    headers = {"Authorization": f"Bot {token}"}
    url = f"{api.rstrip('/')}/users/@me"
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, await response.text()


def check_gallery(settings: Settings) -> Check:
    if not settings.gallery_url:
        return Check("gallery", None, "NANKE_GALLERY_URL not set")
    url = f"{settings.gallery_url.rstrip('/')}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        return Check("gallery", False, f"cannot reach {url} ({exc})")
    if status != 200:
        return Check("gallery", False, f"{url} answered {status}")
    return Check("gallery", True, f"{url} answers")


def check_editor(settings: Settings) -> Check:
    """The region editor (Draw the region…): the web app at NANKE_GALLERY_URL serves it,
    reaches its table and accepts links signed with this NANKE_EDITOR_SECRET."""
    import time
    import uuid

    from pipeline.editor_links import EditorLink, sign

    if not settings.gallery_url:
        return Check("editor", None, "NANKE_GALLERY_URL not set: Draw the region… is off")
    if settings.editor_secret is None:
        return Check(
            "editor",
            None,
            "NANKE_EDITOR_SECRET not set: Draw the region… is off (the Vary (Region) menu "
            "works without it)",
        )
    base = settings.gallery_url.rstrip("/")
    # A link to no row (random ids): it proves the secrets match and can open nothing.
    probe = EditorLink(uuid.uuid4(), 0, uuid.uuid4(), 1, int(time.time()) + 300)
    token = sign(probe, settings.editor_secret.get_secret_value().encode())
    url = f"{base}/healthz/editor?probe={token}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except (OSError, ValueError) as exc:
        return Check(
            "editor", False, f"cannot reach {base} ({exc}): Draw the region… links would not open"
        )
    return _editor_verdict(base, status, body)


def _editor_verdict(base: str, status: int, body: bytes) -> Check:
    """What the web app's /healthz/editor answer means for the operator."""
    try:
        answer = json.loads(body) if body else {}
        state, secret = answer.get("editor"), answer.get("secret")
    except (ValueError, AttributeError):
        state, secret = None, None
    if state is None:
        return Check(
            "editor",
            False,
            f"{base}/healthz/editor answered {status}: is NANKE_GALLERY_URL Nanke's web app "
            "(`nanke web` or `nanke run`), reachable at that address?",
        )
    if state == "off":
        return Check(
            "editor",
            False,
            f"the web app at {base} has no region editor: set NANKE_EDITOR_SECRET for "
            "`nanke web` too (the same value as here)",
        )
    if state != "on":
        return Check(
            "editor", False, f"the web app at {base} cannot read its database: check its logs"
        )
    if secret != "matches":
        return Check(
            "editor",
            False,
            f"the web app at {base} has another NANKE_EDITOR_SECRET: it would refuse every "
            "link the bot signs; give both the same value",
        )
    return Check("editor", True, f"{base}/edit/… answers and accepts this secret's links")


def run_checks(settings: Settings, *, api: str = DISCORD_API, offline: bool = False) -> list[Check]:
    return [
        check_database(settings),
        check_broker(settings),
        check_models(settings),
        check_packs(settings),
        check_gpu(),
        check_discord(settings, api, offline),
        check_gallery(settings),
        check_editor(settings),
    ]
