"""`nanke worker` refuses to start, with a message saying what to fix, when it cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from nanke.cli import cli

TOML = """\
[[models]]
name = "base"
source = "{source}"
family = "sd15"
default = true
"""


def _run(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str) -> tuple[int, str]:
    for key in ("NANKE_BROKER_URL", "NANKE_DATABASE_URL", "NANKE_EVENTS_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["worker", *args])
    return result.exit_code, result.output


@pytest.fixture
def servers() -> dict[str, str]:
    return {
        "NANKE_BROKER_URL": "redis://127.0.0.1:6379/0",
        "NANKE_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1/none",
    }


def test_without_a_broker_it_points_to_nanke_run(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _run(monkeypatch, {})
    assert code == 1
    assert "NANKE_BROKER_URL" in out and "nanke run" in out
    assert "Traceback" not in out


def test_missing_models_file(
    monkeypatch: pytest.MonkeyPatch, servers: dict[str, str], tmp_path: Path
) -> None:
    code, out = _run(monkeypatch, {**servers, "NANKE_MODELS_FILE": str(tmp_path / "nope.toml")})
    assert code == 1 and "not found" in out and "Traceback" not in out


def test_a_model_that_is_not_there(
    monkeypatch: pytest.MonkeyPatch, servers: dict[str, str], tmp_path: Path
) -> None:
    toml = tmp_path / "models.toml"
    toml.write_text(TOML.format(source="./weights/missing"))
    code, out = _run(monkeypatch, {**servers, "NANKE_MODELS_FILE": str(toml)})
    assert code == 1 and "does not exist" in out and "models.toml" in out


def test_a_queue_no_model_serves(
    monkeypatch: pytest.MonkeyPatch, servers: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "base").mkdir()
    toml = tmp_path / "models.toml"
    toml.write_text(TOML.format(source="base"))
    code, out = _run(
        monkeypatch, {**servers, "NANKE_MODELS_FILE": str(toml)}, "--queues", "nanke.sdxl"
    )
    assert code == 1
    assert "no model in the registry serves queue(s) nanke.sdxl" in out
    assert "nanke.sd15" in out


def test_a_model_the_registry_lacks(
    monkeypatch: pytest.MonkeyPatch, servers: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "base").mkdir()
    toml = tmp_path / "models.toml"
    toml.write_text(TOML.format(source="base"))
    code, out = _run(monkeypatch, {**servers, "NANKE_MODELS_FILE": str(toml)}, "--models", "nope")
    assert code == 1
    assert "no model named nope in the registry" in out and "it has:" in out


def test_no_cuda_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, servers: dict[str, str], tmp_path: Path
) -> None:
    """A worker left at NANKE_WORKER__DEVICE=auto on a box without CUDA exits at start,
    naming the setting that allows the CPU, instead of painting there unnoticed."""
    import torch

    import nanke.roots.worker as root

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(root, "_probe_database", lambda *_: None)
    (tmp_path / "base").mkdir()
    toml = tmp_path / "models.toml"
    toml.write_text(TOML.format(source="base"))
    env = {**servers, "NANKE_MODELS_FILE": str(toml), "NANKE_DATA_DIR": str(tmp_path)}
    monkeypatch.delenv("NANKE_WORKER__DEVICE", raising=False)
    code, out = _run(monkeypatch, env)
    assert code == 1 and "Traceback" not in out
    assert "no CUDA device found" in out and "NANKE_WORKER__DEVICE=cpu" in out
    assert len(out.strip().splitlines()) == 1
