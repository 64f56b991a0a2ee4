"""Start-up failures of `nanke web` and `nanke imagine` are one actionable line (#21 item 16):
the real commands in their own processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures.redis_server import free_port

ROOT = Path(__file__).resolve().parents[1]


def _nanke(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nanke", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_nanke_web_on_an_unmigrated_database_says_run_migrate(fresh_postgres_url, tmp_path):
    # Before: it started and answered every page with HTTP 500 (so this run would time out).
    env = {"NANKE_DATABASE_URL": fresh_postgres_url, "NANKE_DATA_DIR": str(tmp_path)}
    done = _nanke(["web", "--port", str(free_port())], env, timeout=120)
    assert done.returncode == 1
    assert "run `nanke migrate` first" in done.stderr
    assert "Traceback" not in done.stderr


def test_offline_first_run_of_imagine_names_the_hub_and_the_way_out(tmp_path):
    (tmp_path / "models.toml").write_text(
        '[[models]]\nname = "sd15"\nsource = "stable-diffusion-v1-5/stable-diffusion-v1-5"\n'
        'family = "sd15"\ndefault = true\n'
    )
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}  # offline, empty cache
    args = ["imagine", "a fox", "--models", str(tmp_path / "models.toml")]
    done = _nanke([*args, "--out", str(tmp_path / "out")], env, timeout=300)
    assert done.returncode == 1
    line = done.stderr.strip().splitlines()[-1]
    assert "the hub is unreachable" in line and "make-tiny-models" in line
    assert "stacktrace" not in done.stderr and "Traceback" not in done.stderr
