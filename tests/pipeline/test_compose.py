"""docker-compose.yml checked against what Compose requires, without a Docker engine.

`bash docker/smoke.sh` builds and runs the stack for real (CI runs it); this fast test re-checks
the rules `docker compose config` enforces that a typo would break (top-level keys, service
references, named volumes, dependency conditions, required variables) plus what the deployment
relies on (docs/deploy.md), so a mistake shows without a Docker engine.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TOP_LEVEL = {"version", "name", "services", "networks", "volumes", "configs", "secrets"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_structure_is_what_compose_accepts(compose: dict[str, Any]) -> None:
    assert {k for k in compose if not k.startswith("x-")} <= TOP_LEVEL
    services = compose["services"]
    declared_volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        if "build" in service:
            assert (ROOT / service["build"]["dockerfile"]).is_file(), name
        command = service.get("command", [])
        assert isinstance(command, list) and all(isinstance(c, str) for c in command), name
        for dep, spec in (service.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            assert spec["condition"] in CONDITIONS, name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith(("/", ".", "$")):
                assert source in declared_volumes, f"{name} uses undeclared volume {source}"
        for key in ("environment",):
            env = service.get(key, {})
            assert isinstance(env, dict) and all(isinstance(v, str) for v in env.values()), name


def test_required_services_and_pipeline_settings(compose: dict[str, Any]) -> None:
    s = compose["services"]
    assert {"postgres", "redis", "migrate", "bot", "worker", "gallery"} <= set(s)
    assert s["postgres"]["healthcheck"]["test"]
    assert any(v.endswith("/var/lib/postgresql/data") for v in s["postgres"]["volumes"])
    redis_cmd = " ".join(s["redis"]["command"])
    assert "--appendonly yes" in redis_cmd and "--maxmemory-policy noeviction" in redis_cmd
    assert s["migrate"]["command"] == ["nanke", "migrate"] and s["migrate"]["restart"] == "no"
    for svc in ("bot", "worker", "gallery"):
        assert s[svc]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert s["bot"]["command"] == ["nanke", "bot"]
    assert s["gallery"]["command"][:2] == ["nanke", "web"]
    worker = s["worker"]
    assert worker["command"][:2] == ["nanke", "worker"]
    (device,) = worker["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert s["flower"]["profiles"] == ["flower"]
    assert s["minio"]["profiles"] == ["minio"] and s["minio-bucket"]["profiles"] == ["minio"]
    for name, service in s.items():
        if "profiles" not in service and name != "migrate":
            assert service.get("restart") == "unless-stopped", name


def test_every_required_variable_is_in_env_example() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z_0-9]+)=", example, re.MULTILINE))
    required = {m.group(1) for m in VAR.finditer(text) if not (m.group(2) or "").startswith(":-")}
    assert required and required <= documented, required - documented


def test_images_bot_without_torch_worker_with_exact_torch() -> None:
    bot = (ROOT / "docker/bot.Dockerfile").read_text()
    worker = (ROOT / "docker/worker.Dockerfile").read_text()
    instructions = [line for line in bot.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in instructions if "torch" in line or "[worker" in line]
    assert re.search(r"pip install torch==2\.13\.0$", worker, re.MULTILINE) and "[worker" in worker


@pytest.mark.parametrize("dockerfile", ["bot", "worker"])
def test_images_take_their_base_as_an_argument(dockerfile: str) -> None:
    # The official image by default; docker/smoke.sh builds FROM one made of Debian packages.
    text = (ROOT / f"docker/{dockerfile}.Dockerfile").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] == "ARG BASE_IMAGE=python:3.11-slim-bookworm"
    assert lines[1] == "FROM ${BASE_IMAGE}"
    # The shared volumes' mount points exist, owned by the container user (uid 1000).
    assert "useradd --uid 1000" in text and "mkdir -p /data/images" in text
    assert "USER nanke" in text and "VOLUME" not in text


NANKE_SERVICES = ("migrate", "bot", "worker", "gallery", "models")


def test_every_nanke_service_reads_the_same_env_file(compose: dict[str, Any]) -> None:
    for name in NANKE_SERVICES:
        service = compose["services"][name]
        assert service["env_file"] == "${NANKE_ENV_FILE:-.env}", name
        assert service["environment"]["NANKE_MODELS_FILE"] == "/models/models.toml", name


def test_models_is_a_one_shot_tool_that_alone_writes_the_models_folder(
    compose: dict[str, Any],
) -> None:
    s = compose["services"]
    tool = s["models"]
    assert tool["profiles"] == ["tools"]  # `docker compose run --rm models pull sd15`; never `up`
    assert tool["entrypoint"] == ["nanke", "models"] and tool["restart"] == "no"
    assert tool["image"] == s["worker"]["image"]  # huggingface_hub is in the worker image
    assert "deploy" not in tool and "depends_on" not in tool  # no GPU, no database
    # Writable models folder (models.toml gains the entry), the workers' cache (HF_HOME).
    assert set(tool["volumes"]) == {
        "${NANKE_MODELS_DIR:-./models}:/models",
        "model-cache:/cache/huggingface",
    }
    for name, service in s.items():
        if name != "models":
            assert not any(":/models" in v and not v.endswith(":ro")
                           for v in service.get("volumes", [])), name  # fmt: skip


def test_volumes_healthchecks_and_loopback_ports(compose: dict[str, Any]) -> None:
    s = compose["services"]
    models = "${NANKE_MODELS_DIR:-./models}:/models:ro"
    assert models in s["bot"]["volumes"] and models in s["worker"]["volumes"]
    for name in ("bot", "worker", "gallery"):
        assert "images:/data/images" in s[name]["volumes"], name
        assert s[name]["healthcheck"]["test"][:3] == ["CMD", "nanke", "healthcheck"], name
    assert "model-cache:/cache/huggingface" in s["worker"]["volumes"]  # the image's HF_HOME
    assert "model-cache" in compose["volumes"]
    for name in ("gallery", "flower", "minio"):
        for port in s[name]["ports"]:
            bind = re.match(r"(\$\{[^}]*\}|[^:]*):", port).group(1)  # type: ignore[union-attr]
            assert bind == "127.0.0.1" or bind == f"${{NANKE_{name.upper()}_BIND:-127.0.0.1}}", port


def test_no_secret_has_a_default() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in ("POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "FLOWER_BASIC_AUTH"):
        for m in re.finditer(r"\$\{" + secret + r"(:?[-?][^}]*)?\}", text):
            fallback = m.group(1) or ""
            assert fallback.startswith(":?") or fallback == ":-", m.group(0)


def test_smoke_override_parses() -> None:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!reset", lambda loader, node: None)
    smoke = yaml.load((ROOT / "docker/compose.smoke.yml").read_text(), Loader=Loader)
    assert set(smoke["services"]) <= {"postgres", "redis", *NANKE_SERVICES}
    assert smoke["services"]["worker"]["deploy"] is None  # no GPU reservation in the smoke
    # ... so the worker must be told the CPU is meant, or it refuses to start.
    assert smoke["services"]["worker"]["environment"]["NANKE_WORKER__DEVICE"] == "cpu"
