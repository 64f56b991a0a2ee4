"""`nanke models pull` against a local HTTP server standing in for the Hugging Face hub
(HF_ENDPOINT): what is fetched, where it lands (HF_HOME), what models.toml gains."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from inference.registry import load_registry
from nanke.models_pull import wanted_files
from tests.fixtures.fake_hub import CHECKER, PIPELINE, SHA, Hub, serve

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def hub() -> Iterator[str]:
    server = serve("127.0.0.1")
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


def test_pull_the_curated_upscaler_fetches_one_file_and_adds_upscaler(
    hub: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """realesrgan-x4: one .pth of a repo (not a pipeline) into the cache, and an [upscaler]
    table naming the repo and file; the fetched bytes load as a 4x RRDB network."""
    import io

    import torch

    from inference.tiny_upscaler import save_upscaler, tiny_rrdb
    from inference.worker.esrgan_arch import RRDBNet
    from inference.worker.upscaler_files import load_upscaler
    from tests.fixtures import fake_hub

    weights = save_upscaler(tiny_rrdb(), tmp_path / "w.pth", wrap="params_ema").read_bytes()
    files = {"RealESRGAN_x4.pth": weights, "RealESRGAN_x2.pth": b"x" * 50, "README.md": b"#"}
    monkeypatch.setitem(fake_hub.REPOS, "ai-forever/Real-ESRGAN", files)
    toml = tmp_path / "models.toml"
    toml.write_text('[[models]]\nname = "base"\nsource = "Org/base"\nfamily = "sd15"\n')
    Hub.fetched.clear()
    done = _pull(hub, tmp_path, toml, "realesrgan-x4")
    assert done.returncode == 0, done.stderr
    assert "added [upscaler]" in done.stdout
    assert Hub.fetched == ["ai-forever/Real-ESRGAN/RealESRGAN_x4.pth"]
    upscaler = load_registry(toml).upscaler
    assert upscaler is not None
    assert (upscaler.repo, upscaler.file, upscaler.name) == (
        "ai-forever/Real-ESRGAN",
        "RealESRGAN_x4.pth",
        "RealESRGAN_x4",
    )
    cached = tmp_path / "hub/models--ai-forever--Real-ESRGAN/snapshots" / SHA / "RealESRGAN_x4.pth"
    assert isinstance(load_upscaler(cached), RRDBNet)
    assert torch.load(io.BytesIO(cached.read_bytes()), weights_only=True).keys() == {"params_ema"}

    again = _pull(hub, tmp_path, toml, "realesrgan-x4")
    assert again.returncode == 0 and "already had" in again.stdout
    assert toml.read_text().count("[upscaler]") == 1
