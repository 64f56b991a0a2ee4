"""`nanke doctor` against the real local Postgres and Redis, a stand-in Discord and gallery."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from nanke.cli import cli
from tests.fixtures.redis_server import free_port
from tests.fixtures.web_app import serve_web_app

TOKEN = "MTIz.good.token"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._send(200, {"ok": True})
        elif self.path == "/api/v10/users/@me":
            if self.headers.get("Authorization") == f"Bot {TOKEN}":
                self._send(200, {"id": "42", "username": "nanke"})
            else:
                self._send(401, {"message": "401: Unauthorized", "code": 0})
        else:
            self._send(404, {})

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def stand_in() -> Iterator[str]:
    """Discord's /users/@me and the gallery's /healthz on one local HTTP server."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def healthy(
    postgres_url: str, stand_in: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    (tmp_path / "base").mkdir()
    toml = tmp_path / "models.toml"
    toml.write_text('[[models]]\nname = "base"\nsource = "base"\nfamily = "sd15"\n')
    env = {
        "NANKE_DATABASE_URL": postgres_url,
        "NANKE_BROKER_URL": "redis://127.0.0.1:6379/0",
        "NANKE_MODELS_FILE": str(toml),
        "NANKE_DISCORD__TOKEN": TOKEN,
        "NANKE_GALLERY_URL": stand_in,
        "NANKE_SMOKE_DISCORD_URL": stand_in,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def _doctor(monkeypatch: pytest.MonkeyPatch, *args: str, **env: str) -> tuple[int, list[str]]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["doctor", *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output.splitlines()


def _line(lines: list[str], name: str) -> str:
    return next(line for line in lines if line.split()[1:2] == [name])


@pytest.mark.usefixtures("healthy")
def test_a_healthy_deployment_passes_one_line_per_check(monkeypatch: pytest.MonkeyPatch) -> None:
    code, lines = _doctor(monkeypatch)
    assert code == 0, lines
    assert [line.split()[1] for line in lines] == [
        "database", "broker", "models", "packs", "gpu", "discord", "gallery", "editor",
    ]  # fmt: skip
    assert _line(lines, "packs").startswith("ok") and "shipped" in _line(lines, "packs")
    assert "(latest)" in _line(lines, "database")
    assert _line(lines, "discord").startswith("ok") and "nanke (id 42)" in _line(lines, "discord")
    assert _line(lines, "models").startswith("ok") and "base" in _line(lines, "models")
    assert _line(lines, "gallery").startswith("ok")
    assert not _line(lines, "gpu").startswith("FAIL")
    assert _line(lines, "editor").startswith("skip") and "NANKE_EDITOR_SECRET" in _line(
        lines, "editor"
    )


@pytest.mark.usefixtures("healthy")
def test_wrong_ports_fail_with_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    dead = free_port()
    code, lines = _doctor(
        monkeypatch,
        NANKE_DATABASE_URL=f"postgresql+asyncpg://postgres@127.0.0.1:{dead}/nanke",
        NANKE_BROKER_URL=f"redis://127.0.0.1:{dead}/0",
        NANKE_GALLERY_URL=f"http://127.0.0.1:{dead}",
    )
    assert code == 1
    for name in ("database", "broker", "gallery"):
        line = _line(lines, name)
        assert line.startswith("FAIL") and "cannot reach" in line and str(dead) in line
    assert _line(lines, "models").startswith("ok")


@pytest.mark.usefixtures("healthy")
def test_an_unmigrated_database_says_run_migrate(
    monkeypatch: pytest.MonkeyPatch, fresh_postgres_url: str
) -> None:
    code, lines = _doctor(monkeypatch, NANKE_DATABASE_URL=fresh_postgres_url)
    assert code == 1 and "nanke migrate" in _line(lines, "database")


@pytest.mark.usefixtures("healthy")
def test_a_refused_token_and_missing_models(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, lines = _doctor(
        monkeypatch,
        NANKE_DISCORD__TOKEN="MTIz.revoked",
        NANKE_MODELS_FILE=str(tmp_path / "nope.toml"),
    )
    assert code == 1
    assert _line(lines, "discord").startswith("FAIL") and "401" in _line(lines, "discord")
    assert _line(lines, "models").startswith("FAIL") and "not found" in _line(lines, "models")


@pytest.mark.usefixtures("healthy")
def test_offline_skips_the_discord_call(monkeypatch: pytest.MonkeyPatch) -> None:
    code, lines = _doctor(monkeypatch, "--offline", NANKE_DISCORD__TOKEN="MTIz.revoked")
    assert code == 0 and _line(lines, "discord").startswith("skip")


def test_help_lists_the_checks() -> None:
    result = CliRunner().invoke(cli, ["doctor", "--help"])
    assert result.exit_code == 0 and "--offline" in result.output and "migrated" in result.output
    assert "doctor" in CliRunner().invoke(cli, ["--help"]).output


SECRET = "doctor-editor-secret-0123456789"


@pytest.mark.usefixtures("healthy")
def test_the_editor_check_asks_the_web_app_and_says_what_is_wrong(
    monkeypatch: pytest.MonkeyPatch, postgres_url: str, tmp_path: Path
) -> None:
    with serve_web_app(postgres_url, tmp_path, SECRET) as url:
        code, lines = _doctor(monkeypatch, NANKE_GALLERY_URL=url, NANKE_EDITOR_SECRET=SECRET)
        assert code == 0, lines
        assert _line(lines, "editor").startswith("ok") and url in _line(lines, "editor")
        # The bot's secret differs from the web app's: every link would be refused.
        code, lines = _doctor(monkeypatch, NANKE_EDITOR_SECRET="another-secret-9876543210")
        assert code == 1 and _line(lines, "editor").startswith("FAIL")
        assert "another NANKE_EDITOR_SECRET" in _line(lines, "editor")
    with serve_web_app(postgres_url, tmp_path, None) as url:  # `nanke web` without the secret
        code, lines = _doctor(monkeypatch, NANKE_GALLERY_URL=url, NANKE_EDITOR_SECRET=SECRET)
        assert code == 1 and _line(lines, "gallery").startswith("ok")
        assert "has no region editor: set NANKE_EDITOR_SECRET" in _line(lines, "editor")


@pytest.mark.usefixtures("healthy")
def test_the_editor_check_names_a_url_that_is_not_nankes_web_app(
    monkeypatch: pytest.MonkeyPatch, stand_in: str
) -> None:
    code, lines = _doctor(monkeypatch, NANKE_EDITOR_SECRET=SECRET)  # the stand-in: no editor
    assert code == 1 and "is NANKE_GALLERY_URL Nanke's web app" in _line(lines, "editor")
    dead = f"http://127.0.0.1:{free_port()}"
    code, lines = _doctor(monkeypatch, NANKE_GALLERY_URL=dead)
    assert code == 1 and _line(lines, "editor").startswith(f"FAIL  editor    cannot reach {dead}")


@pytest.mark.usefixtures("healthy")
def test_the_models_check_names_the_upscaler_and_a_missing_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    toml = tmp_path / "models.toml"
    base = toml.read_text()
    (tmp_path / "x4.pth").write_bytes(b"weights")
    toml.write_text(base + '[upscaler]\nsource = "x4.pth"\nname = "RealESRGAN x4plus"\n')
    code, lines = _doctor(monkeypatch)
    assert code == 0 and "Upscale (4x): RealESRGAN x4plus" in _line(lines, "models")
    toml.write_text(base + '[upscaler]\nsource = "gone.pth"\n')
    code, lines = _doctor(monkeypatch)
    line = _line(lines, "models")
    assert code == 1 and line.startswith("FAIL") and "[upscaler]" in line and "gone.pth" in line


@pytest.mark.usefixtures("healthy")
def test_the_packs_check_names_the_admins_file_or_what_is_wrong_in_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    packs = tmp_path / "packs.toml"
    packs.write_text('[[packs]]\nname = "pets"\nprompts = ["{subject} on a sofa"]\n')
    code, lines = _doctor(monkeypatch, "--offline", NANKE_PACKS_FILE=str(packs))
    assert code == 0 and _line(lines, "packs").startswith("ok"), lines
    assert f"{packs}: pets" in _line(lines, "packs")
    packs.write_text('[[packs]]\nname = "pets"\nprompts = ["on a sofa"]\n')
    code, lines = _doctor(monkeypatch, "--offline")
    line = _line(lines, "packs")
    assert code == 1 and line.startswith("FAIL") and "each with {subject}" in line, line
