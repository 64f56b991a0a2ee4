"""The trained tiny model, built once per change of its training code and cached across sessions.

`trained_models` runs `nanke make-tiny-models --trained DIR` (as a user would) into
~/.cache/nanke-tests/trained-<hash>/, where <hash> covers the training code and the library
versions; later sessions reuse it. Parallel sessions serialise on a lock file and the directory
appears by an atomic rename, so nobody ever sees half a model. Fixtures for tests on top:

    trained_models   Path of its models.toml (model "shapes", LoRA "green")
    trained_registry the loaded registry
    trained_engine   an Engine on it (CPU, float32), shared by the whole session
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

CACHE = Path.home() / ".cache" / "nanke-tests"


def training_key() -> str:
    """Hash of everything that decides the trained weights: its code and the libraries."""
    from inference import tiny, tiny_trained

    digest = hashlib.sha256()
    for path in (*tiny_trained.TRAINING_SOURCES, Path(tiny.__file__)):
        digest.update(path.read_bytes())
    for package in ("torch", "diffusers", "transformers", "peft", "numpy"):
        digest.update(f"{package}=={metadata.version(package)}".encode())
    return digest.hexdigest()[:16]


def _train_into(final: Path) -> None:
    import torch
    from click.testing import CliRunner

    from nanke.cli import cli

    scratch = Path(tempfile.mkdtemp(prefix=final.name + ".tmp-", dir=final.parent))
    threads = torch.get_num_threads()
    # One thread: on a shared, loaded machine a second one spins and costs ~5x the CPU time.
    torch.set_num_threads(1)
    try:
        result = CliRunner().invoke(cli, ["make-tiny-models", "--trained", str(scratch)])
        assert result.exit_code == 0, result.output
        (scratch / "training.log").write_text(result.output, encoding="utf-8")
        scratch.rename(final)  # atomic: the cache holds a whole model or none
    finally:
        torch.set_num_threads(threads)
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def trained_models() -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    final = CACHE / f"trained-{training_key()}"
    with open(CACHE / f"{final.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session training the same model: wait
        if not (final / "models.toml").is_file():
            _train_into(final)
    return final / "models.toml"


@pytest.fixture(scope="session")
def trained_registry(trained_models: Path) -> Any:
    from inference.registry import load_registry

    return load_registry(trained_models)


@pytest.fixture(scope="session")
def trained_engine(trained_registry: Any) -> Any:
    import torch

    from inference.worker.engine import Engine

    torch.set_num_threads(1)
    return Engine(trained_registry, device="cpu")
