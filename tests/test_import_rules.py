"""DESIGN.md's import rules, checked in fresh interpreters so nothing else has loaded torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "diffusers", "transformers", "compel", "peft", "accelerate")

# Modules of `inference` that are allowed to import torch (the worker side).
WORKER_ONLY = ("inference.worker", "inference.tiny")

_PROBE = r"""
import importlib, json, pkgutil, sys
pkg_name, skip = sys.argv[1], tuple(json.loads(sys.argv[2]))
pkg = importlib.import_module(pkg_name)
names = [pkg_name]
for info in pkgutil.walk_packages(pkg.__path__, pkg_name + "."):
    if info.name.startswith(skip) or info.name.endswith("__main__"):
        continue
    names.append(info.name)
for name in names:
    if not name.startswith(skip):
        importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted(m.split(".")[0] for m in sys.modules)}))
"""


def _import_all(package: str) -> tuple[list[str], set[str]]:
    skip = list(WORKER_ONLY) if package == "inference" else []
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, package, json.dumps(skip)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, f"importing {package} failed:\n{out.stderr}"
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["modules"], set(data["loaded"])


@pytest.mark.parametrize("package", ["bot", "db", "gallery", "inference", "nanke"])
def test_torch_free(package: str) -> None:
    modules, loaded = _import_all(package)
    assert modules, package
    heavy = sorted(set(HEAVY) & loaded)
    assert not heavy, f"importing every module of {package} loaded {heavy}"


def test_db_imports_no_other_layer() -> None:
    _, loaded = _import_all("db")
    assert not ({"bot", "inference", "gallery", "discord", "nanke"} & loaded)


def test_inference_imports_neither_bot_nor_discord() -> None:
    _, loaded = _import_all("inference")
    assert not ({"bot", "discord"} & loaded)
