"""`nanke models pull`: a model from the Hugging Face hub into the model cache (HF_HOME), then
its entry in models.toml, so the worker loads it from the cache without downloading again.

A short list of curated names maps to hub ids; any `owner/name` hub id works too. Only what
diffusers loads is fetched: the pipeline's components in safetensors (not the single-file
checkpoints, EMA copies, fp16 duplicates, ONNX or Flax weights a repo may also hold).
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_SKIP = re.compile(
    r"(\.ckpt|\.onnx|\.onnx_data|\.msgpack|\.h5|\.pb|\.md)$|non[-_]ema|\.fp16\.|emaonly"
)


class PullError(Exception):
    """One line for the admin: what went wrong and what to do."""


@dataclass(frozen=True)
class Curated:
    hub_id: str
    section: str  # "models", "unclip", "safety_checker" or "upscaler"
    family: str | None = None
    about: str = ""
    file: str | None = None  # one file of the repo (the upscaler), not a pipeline
    licence: str = ""  # this checkpoint's licence (else its family's, `nanke models list`)


CURATED: dict[str, Curated] = {
    "sd15": Curated("stable-diffusion-v1-5/stable-diffusion-v1-5", "models", "sd15", "SD 1.5"),
    "sdxl": Curated("stabilityai/stable-diffusion-xl-base-1.0", "models", "sdxl", "SDXL base"),
    "flux-schnell": Curated(
        "black-forest-labs/FLUX.1-schnell",
        "models",
        "flux",
        "FLUX.1 schnell, 4 steps",
        licence="Apache-2.0",
    ),
    "flux-dev": Curated(
        "black-forest-labs/FLUX.1-dev",
        "models",
        "flux",
        "FLUX.1 dev (gated)",
        licence="FLUX.1 [dev] Non-Commercial License",
    ),
    "flux-kontext": Curated(
        "black-forest-labs/FLUX.1-Kontext-dev",
        "models",
        "flux",
        "FLUX.1 Kontext dev (editing)",
        licence="FLUX.1 [dev] Non-Commercial License",
    ),
    "zimage-turbo": Curated("Tongyi-MAI/Z-Image-Turbo", "models", "zimage", "Z-Image-Turbo"),
    "sd35-medium": Curated(
        "stabilityai/stable-diffusion-3.5-medium", "models", "sd3", "SD 3.5 Medium (gated)"
    ),
    "sd35-large": Curated(
        "stabilityai/stable-diffusion-3.5-large", "models", "sd3", "SD 3.5 Large (gated)"
    ),
    "flux2-klein": Curated(
        "black-forest-labs/FLUX.2-klein-4B",
        "models",
        "flux2",
        "FLUX.2 [klein] 4B",
        licence="Apache-2.0",
    ),
    "sd21-unclip": Curated(
        "stabilityai/stable-diffusion-2-1-unclip", "unclip", None, "SD 2.1 unCLIP (variations)"
    ),
    "safety-checker": Curated(
        "CompVis/stable-diffusion-safety-checker", "safety_checker", None, "NSFW safety checker"
    ),
    # Real-ESRGAN's x4 RRDB generator (BasicSR layout), as the ruDALL-E authors host it.
    "realesrgan-x4": Curated(
        "ai-forever/Real-ESRGAN",
        "upscaler",
        None,
        "Real-ESRGAN 4x, for Upscale (4x)",
        file="RealESRGAN_x4.pth",
    ),
}


@dataclass(frozen=True)
class Pulled:
    name: str
    hub_id: str
    section: str
    family: str | None
    path: Path  # the snapshot in the cache
    added: bool  # False: models.toml already had it


def resolve(name: str, family: str | None, as_name: str | None) -> tuple[str, Curated]:
    """NAME → (the models.toml name, what to fetch)."""
    if name in CURATED:
        curated = CURATED[name]
        if family and curated.family and family != curated.family:
            raise PullError(f"{name} is family {curated.family}, not {family}")
        return as_name or name, curated
    if not HUB_ID.fullmatch(name):
        known = ", ".join(CURATED)
        raise PullError(f"{name!r} is neither a known name ({known}) nor a hub id like owner/name")
    default = name.split("/", 1)[1].lower()
    chosen = as_name or re.sub(r"[^a-z0-9_.-]", "-", default)
    if not _NAME.fullmatch(chosen):
        raise PullError(f"{chosen!r} is not a usable model name: pass --name")
    return chosen, Curated(name, "models", family)


def wanted_files(files: list[str]) -> list[str]:
    """What diffusers loads from a repo: a pipeline's config and component folders (or, for a
    single model like the safety checker, its root files), safetensors over .bin."""
    files = [f for f in files if not _SKIP.search(f)]
    pipeline = "model_index.json" in files
    kept = [f for f in files if "/" in f or not pipeline or f.endswith(".json")]
    folders_with_safetensors = {
        str(PurePosixPath(f).parent) for f in kept if f.endswith(".safetensors")
    }
    return [
        f
        for f in kept
        if not (f.endswith(".bin") and str(PurePosixPath(f).parent) in folders_with_safetensors)
        and not (pipeline and "/" not in f and f.endswith(".safetensors"))
    ]


# A downloaded pipeline's class → its family (the Stable Diffusion ones are told by the UNet).
_PIPELINE_FAMILIES = {
    "FluxPipeline": "flux",
    "FluxKontextPipeline": "flux",
    "ZImagePipeline": "zimage",
    "StableDiffusion3Pipeline": "sd3",
    "Flux2KleinPipeline": "flux2",
}


def family_of(snapshot: Path) -> str | None:
    """The family from a downloaded pipeline's configs, None if they do not say."""
    try:
        index = json.loads((snapshot / "model_index.json").read_text())
        pipeline = str(index.get("_class_name", ""))
        if pipeline in _PIPELINE_FAMILIES:
            return _PIPELINE_FAMILIES[pipeline]
        if "XL" in pipeline:
            return "sdxl"
        unet = json.loads((snapshot / "unet" / "config.json").read_text())
    except (OSError, ValueError):
        return None
    dim = unet.get("cross_attention_dim")
    return {768: "sd15", 1024: "sd2"}.get(dim) if isinstance(dim, int) else None


def download(hub_id: str, cache_dir: Path | None = None, file: str | None = None) -> Path:
    """Fetch what diffusers needs of `hub_id` (or only `file` of it) into the hub cache
    (HF_HOME), with progress bars; returns the snapshot folder (or the file)."""
    try:
        from huggingface_hub import HfApi, hf_hub_download, snapshot_download
    except ImportError:
        raise PullError(
            "nanke models pull needs huggingface_hub: run it where the worker extra is installed "
            "(pip install 'nanke[worker]', or the worker image)"
        ) from None
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    try:
        if file is not None:
            return Path(hf_hub_download(hub_id, file, cache_dir=cache_dir))
        files = wanted_files(HfApi().list_repo_files(hub_id))
        if not files:
            raise PullError(f"{hub_id} holds no weights diffusers can load")
        return Path(snapshot_download(hub_id, allow_patterns=files, cache_dir=cache_dir))
    except RepositoryNotFoundError:
        raise PullError(_NOT_THERE.format(hub_id=hub_id)) from None
    except HfHubHTTPError as exc:
        response = getattr(exc, "response", None)
        if response is not None and response.status_code in (401, 403, 404):
            raise PullError(_NOT_THERE.format(hub_id=hub_id)) from None
        raise PullError(f"downloading {hub_id} failed: {_first_line(exc)}") from None
    except OSError as exc:
        raise PullError(f"downloading {hub_id} failed: {_first_line(exc)}") from None


_NOT_THERE = (
    "{hub_id} is not on the hub (or is gated/private: accept its license, then run "
    "`hf auth login` or set HF_TOKEN)"
)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def add_to_models_toml(toml: Path, name: str, what: Curated, family: str | None) -> bool:
    """Append the entry (keeping the file's comments); False if it is already there."""
    text = toml.read_text(encoding="utf-8") if toml.exists() else ""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PullError(f"{toml} is not valid TOML ({exc}); fix it and pull again") from None
    if what.section == "models":
        for model in data.get("models", []):
            if model.get("name") == name:
                if model.get("source") == what.hub_id:
                    return False
                raise PullError(
                    f"{toml} already has a model named {name!r} (source {model.get('source')}): "
                    "pass --name"
                )
        if family is None:
            raise PullError(f"cannot tell {what.hub_id}'s family: pass --family (e.g. sdxl)")
        block = f'[[models]]\nname = "{name}"\nsource = "{what.hub_id}"\nfamily = "{family}"\n'
    elif what.file is not None:
        current = data.get(what.section)
        if isinstance(current, dict):
            if current.get("repo") == what.hub_id and current.get("file") == what.file:
                return False
            raise PullError(f"{toml} already has an [{what.section}]: remove it to replace it")
        block = f'[{what.section}]\nrepo = "{what.hub_id}"\nfile = "{what.file}"\n'
    else:
        current = data.get(what.section)
        if isinstance(current, dict):
            if current.get("source") == what.hub_id:
                return False
            raise PullError(f"{toml} already has a [{what.section}] ({current.get('source')})")
        block = f'[{what.section}]\nsource = "{what.hub_id}"\n'
    try:
        toml.parent.mkdir(parents=True, exist_ok=True)
        _append(toml, text, block)
    except OSError as exc:
        raise PullError(
            f"downloaded, but cannot write {toml} ({exc.strerror or exc}); add this yourself: "
            + block.replace("\n", " ").strip()
        ) from None
    return True


def _append(toml: Path, text: str, block: str) -> None:
    separator = (
        "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
    )
    toml.write_text(text + separator + block, encoding="utf-8")


def pull(name: str, toml: Path, *, family: str | None = None, as_name: str | None = None) -> Pulled:
    entry_name, what = resolve(name, family, as_name)
    path = download(what.hub_id, file=what.file)
    if what.section == "models":
        family = family or what.family or family_of(path)
    added = add_to_models_toml(toml, entry_name, what, family)
    return Pulled(entry_name, what.hub_id, what.section, family, path, added)
