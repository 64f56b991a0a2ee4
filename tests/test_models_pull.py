"""`nanke models pull` against a local HTTP server standing in for the Hugging Face hub
(HF_ENDPOINT): what is fetched, where it lands (HF_HOME), what models.toml gains."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote, urlparse

import pytest

from inference.registry import load_registry
from nanke.models_pull import wanted_files

ROOT = Path(__file__).resolve().parent.parent
SHA = "0123456789abcdef0123456789abcdef01234567"
UNET = {"_class_name": "UNet2DConditionModel", "cross_attention_dim": 768}
PIPELINE = {
    "model_index.json": json.dumps({"_class_name": "StableDiffusionPipeline"}).encode(),
    "unet/config.json": json.dumps(UNET).encode(),
    "unet/diffusion_pytorch_model.safetensors": b"u" * 5000,
    "unet/diffusion_pytorch_model.bin": b"old" * 100,
    "unet/diffusion_pytorch_model.fp16.safetensors": b"h" * 100,
    "vae/config.json": b"{}",
    "vae/diffusion_pytorch_model.safetensors": b"v" * 3000,
    "v1-5-pruned.ckpt": b"c" * 100,
    "v1-5-pruned-emaonly.safetensors": b"e" * 100,
    "README.md": b"# card",
}
CHECKER = {
    "config.json": b"{}",
    "preprocessor_config.json": b"{}",
    "pytorch_model.bin": b"b" * 200,
}
REPOS = {
    "stable-diffusion-v1-5/stable-diffusion-v1-5": PIPELINE,
    "someone/tiny-pipe": PIPELINE,
    "CompVis/stable-diffusion-safety-checker": CHECKER,
}


class Hub(http.server.BaseHTTPRequestHandler):
    fetched: ClassVar[list[str]] = []

    def _repo(self, parts: list[str]) -> tuple[str, dict[str, bytes]] | None:
        repo = "/".join(parts[:2])
        return (repo, REPOS[repo]) if repo in REPOS else None

    def _not_found(self) -> None:
        self.send_response(404)
        self.send_header("X-Error-Code", "RepositoryNotFound")
        self.send_header("Content-Length", "2")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b"{}")

    def _json(self, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        parts = [unquote(p) for p in urlparse(self.path).path.strip("/").split("/")]
        if parts[:2] == ["api", "models"]:
            found = self._repo(parts[2:])
            if found is None:
                return self._not_found()
            repo, files = found
            if "tree" in parts:
                return self._json(
                    [
                        {"type": "file", "path": p, "size": len(b), "oid": _oid(b)}
                        for p, b in files.items()
                    ]
                )
            siblings = [{"rfilename": p} for p in files]
            return self._json({"id": repo, "modelId": repo, "sha": SHA, "siblings": siblings})
        found = self._repo(parts)
        if found is None or parts[2:3] != ["resolve"]:
            return self._not_found()
        path = "/".join(parts[4:])
        body = found[1].get(path)
        if body is None:
            return self._not_found()
        self.send_response(200)
        self.send_header("X-Repo-Commit", SHA)
        self.send_header("ETag", f'"{_oid(body)}"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "GET":
            Hub.fetched.append(f"{found[0]}/{path}")
            self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


def _oid(body: bytes) -> str:
    return hashlib.sha1(body).hexdigest()


@pytest.fixture(scope="module")
def hub() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _pull(hub: str, home: Path, toml: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("NANKE_", "HF_"))},
        "HF_ENDPOINT": hub,
        "HF_HOME": str(home),
        "HF_HUB_DISABLE_XET": "1",
        "NANKE_MODELS_FILE": str(toml),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "nanke", "models", "pull", *args],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_only_what_diffusers_loads_is_fetched() -> None:
    assert sorted(wanted_files(list(PIPELINE))) == [
        "model_index.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors",
    ]
    assert sorted(wanted_files(list(CHECKER))) == sorted(CHECKER)


def test_pull_a_curated_name_into_hf_home_and_models_toml(hub: str, tmp_path: Path) -> None:
    toml = tmp_path / "models.toml"
    toml.write_text("# my models\n")
    Hub.fetched.clear()
    done = _pull(hub, tmp_path, toml, "sd15")
    assert done.returncode == 0, done.stderr
    assert "added sd15 (sd15)" in done.stdout
    snapshot = tmp_path / "hub/models--stable-diffusion-v1-5--stable-diffusion-v1-5/snapshots" / SHA
    assert (snapshot / "unet/diffusion_pytorch_model.safetensors").stat().st_size == 5000
    assert not (snapshot / "v1-5-pruned.ckpt").exists()
    assert all(not f.endswith((".ckpt", ".bin", ".md")) for f in Hub.fetched)
    assert toml.read_text().startswith("# my models\n")
    registry = load_registry(toml)
    entry = registry.model("sd15")
    assert (entry.source, entry.kind, entry.family) == (REPOS_SD15, "hub", "sd15")

    again = _pull(hub, tmp_path, toml, "sd15")
    assert again.returncode == 0 and "already had" in again.stdout
    assert len(tomllib.loads(toml.read_text())["models"]) == 1


REPOS_SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"


def test_pull_a_hub_id_and_the_safety_checker(hub: str, tmp_path: Path) -> None:
    toml = tmp_path / "models.toml"  # not there yet: created
    done = _pull(hub, tmp_path, toml, "someone/tiny-pipe")
    assert done.returncode == 0, done.stderr
    assert "added tiny-pipe (sd15)" in done.stdout  # the family read from unet/config.json
    checker = _pull(hub, tmp_path, toml, "safety-checker")
    assert checker.returncode == 0, checker.stderr
    registry = load_registry(toml)
    assert registry.model("tiny-pipe").family == "sd15"
    assert registry.safety_checker is not None
    assert registry.safety_checker.source == "CompVis/stable-diffusion-safety-checker"


def test_unknown_names_and_repos_are_one_line(hub: str, tmp_path: Path) -> None:
    toml = tmp_path / "models.toml"
    bad = _pull(hub, tmp_path, toml, "sd99")
    assert bad.returncode == 1 and "neither a known name" in bad.stderr
    missing = _pull(hub, tmp_path, toml, "nobody/nothing")
    assert missing.returncode == 1 and "not on the hub" in missing.stderr
    assert "Traceback" not in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    assert not toml.exists()
