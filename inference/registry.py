"""The model registry: models.toml → which checkpoints exist and how to load them (torch-free).

Format (paths are relative to the models.toml file; see docs/engine.md):

    lora_dir = "loras"              # *.safetensors, name = file stem
    embeddings_dir = "embeddings"   # textual inversions, token = file stem

    [[models]]
    name = "sd15"
    source = "stable-diffusion-v1-5/stable-diffusion-v1-5"  # hub id | diffusers dir | .safetensors
    family = "sd15"                 # sd15 | sd2 | sdxl | flux | zimage | sd3 | flux2
    default_steps = 30              # optional, per family
    base_size = 512                 # optional, per family: the side of the base pixel area
    default = true                  # exactly one (or the first entry)
    # config = "dir or hub id"      # single files only: the diffusers layout to load them with
    # vae = "dir or hub id"         # optional: a diffusers VAE (for checkpoints shipped without)
    # inpaint = "dir or hub id"     # optional: this family's inpainting checkpoint (9-channel)
    # refiner = "dir or hub id"     # sdxl only: the refiner of the base + refiner cascade
    # refiner_switch = 0.8          # the fraction of the steps the base runs (0.5 … 0.95)
    # prediction_type, zero_terminal_snr, timestep_spacing, default_cfg, cfg_rescale: optional
    #                               # sd15/sd2/sdxl sampling keys (docs/engine.md)

    edit = "flux-kontext"           # optional, top level: the model /edit runs on
                                    # (inference/edit_model.py)
    [unclip], [safety_checker], [upscaler], [ip_adapter.<family>], [controlnet.<family>],
    [preprocessors], [describe]: optional sections, docs/engine.md
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from inference.edit_model import parse_edit_model
from inference.errors import ModelFileError, RegistryError, UnknownLoraError, UnknownModelError
from inference.families import FAMILIES
from inference.families.memory import MEMORY_KEYS, MemoryOptions, parse_memory_options
from inference.refiner_entry import REFINER_KEYS, RefinerEntry, parse_refiner
from inference.registry_adapters import IpAdapterEntry, parse_ip_adapters
from inference.registry_images import (
    DescribeEntry,
    Located,
    parse_controlnets,
    parse_describe,
    parse_preprocessors,
)
from inference.upscaler_entry import UpscalerEntry, parse_upscaler

Family = str  # a key of inference.families.FAMILIES
SourceKind = Literal["hub", "dir", "single_file"]

FAMILY_DEFAULTS: dict[str, tuple[int, int]] = {  # family → (base_size, default_steps)
    name: (spec.base_size, spec.default_steps) for name, spec in FAMILIES.items()
}
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_MODEL_KEYS = {
    "name",
    "source",
    "family",
    "default_steps",
    "base_size",
    "default",
    "config",
    "inpaint",
    "vae",
    "prediction_type",
    "zero_terminal_snr",
    "timestep_spacing",
    "default_cfg",
    "cfg_rescale",
    *MEMORY_KEYS,
    *REFINER_KEYS,
}
_PREDICTIONS = ("epsilon", "v_prediction")
_SPACINGS = ("leading", "linspace", "trailing")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    source: str  # hub id or absolute path
    kind: SourceKind
    family: Family
    default_steps: int
    base_size: int
    config: str | None = None  # single files: diffusers layout (dir or hub id)
    # A dedicated inpainting checkpoint (diffusers folder or hub id) for edits; else the base
    # model repaints with masked img2img.
    inpaint: str | None = None
    inpaint_kind: SourceKind = "dir"
    vae: str | None = None  # a diffusers VAE (dir or hub id) instead of the checkpoint's own
    # Stable Diffusion finetunes (docs/engine.md "v-prediction and few-step merges"):
    prediction_type: str | None = None  # "v_prediction" (NoobAI-XL v-pred…), else the model's
    zero_terminal_snr: bool = False  # rescale the betas to zero terminal SNR (v-pred models)
    timestep_spacing: str | None = None  # "trailing" for Lightning/Hyper/Turbo/DMD2 merges
    default_cfg: float | None = None  # the model's CFG when the member sets none
    cfg_rescale: float = 0.0  # the default --rescale (0.7 for zero-terminal-SNR models)
    memory: MemoryOptions = field(default_factory=MemoryOptions)  # DiT: quantize, offload, cache
    refiner: RefinerEntry | None = None  # sdxl: the refiner of the base + refiner cascade

    def scheduler_overrides(self) -> dict[str, Any]:
        """What this entry changes in the model's own scheduler config."""
        out: dict[str, Any] = {}
        if self.prediction_type is not None:
            out["prediction_type"] = self.prediction_type
        if self.zero_terminal_snr:
            out["rescale_betas_zero_snr"] = True
        return out

    def check_files(self) -> None:
        if self.kind != "hub" and not Path(self.source).exists():
            raise ModelFileError(
                f"model {self.name!r}: {self.source} does not exist; fix `source` in models.toml"
            )


@dataclass(frozen=True)
class UnclipEntry:
    source: str
    kind: SourceKind
    noise_level: int = 200


@dataclass(frozen=True)
class SafetyCheckerEntry:
    source: str  # hub id or absolute directory
    kind: SourceKind


@dataclass(frozen=True)
class Registry:
    models: dict[str, ModelEntry]
    default: str
    lora_dir: Path | None = None
    embeddings_dir: Path | None = None
    unclip: UnclipEntry | None = None
    safety_checker: SafetyCheckerEntry | None = None
    upscaler: UpscalerEntry | None = None  # Upscale (4x)
    path: Path | None = field(default=None, compare=False)
    ip_adapters: dict[str, IpAdapterEntry] = field(default_factory=dict)  # family → adapter
    # Images in (inference/registry_images.py): family → module → ControlNet, module → its
    # preprocessor, and the /describe models.
    controlnets: dict[str, dict[str, Located]] = field(default_factory=dict)
    preprocessors: dict[str, Located] = field(default_factory=dict)
    describe: DescribeEntry | None = None
    edit: str | None = None  # the model `/edit` runs on (top-level `edit`)

    def model(self, name: str | None = None) -> ModelEntry:
        entry = self.models.get(name or self.default)
        if entry is None:
            known = ", ".join(sorted(self.models))
            raise UnknownModelError(f"unknown model {name!r}; this server has: {known}")
        return entry

    def loras(self) -> list[str]:
        if self.lora_dir is None or not self.lora_dir.is_dir():
            return []
        return sorted(p.stem for p in self.lora_dir.glob("*.safetensors"))

    def lora_path(self, name: str) -> Path:
        if self.lora_dir is not None:
            path = self.lora_dir / f"{name}.safetensors"
            if path.is_file() and path.parent == self.lora_dir:
                return path
        known = ", ".join(self.loras()) or "none installed"
        raise UnknownLoraError(f"unknown LoRA {name!r}; available: {known}")

    def embeddings(self) -> list[Path]:
        if self.embeddings_dir is None or not self.embeddings_dir.is_dir():
            return []
        found = [*self.embeddings_dir.glob("*.safetensors"), *self.embeddings_dir.glob("*.pt")]
        return sorted(found)


def _source(raw: Any, base: Path, where: str) -> tuple[str, SourceKind]:
    if not isinstance(raw, str) or not raw.strip():
        raise RegistryError(
            f"{where}: `source` must be a hub id, a directory or a .safetensors file"
        )
    raw = raw.strip()
    if raw.endswith((".ckpt", ".pt", ".pth", ".bin")):
        raise RegistryError(
            f"{where}: {raw} is a pickle checkpoint (it can run code); use a .safetensors file"
        )
    path = (base / Path(raw).expanduser()).resolve()
    if raw.endswith(".safetensors"):
        return str(path), "single_file"
    local = raw.startswith(("/", ".", "~")) or path.exists()
    if not local and _HUB_ID.fullmatch(raw):
        return raw, "hub"
    return str(path), "dir"


def _int(table: dict[str, Any], key: str, default: int, where: str, lo: int, hi: int) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise RegistryError(f"{where}: `{key}` must be a whole number from {lo} to {hi}")
    return value


def _model(table: Any, base: Path, index: int) -> tuple[ModelEntry, bool]:
    where = f"models.toml [[models]] #{index + 1}"
    if not isinstance(table, dict):
        raise RegistryError(f"{where}: expected a table")
    unknown = set(table) - _MODEL_KEYS
    if unknown:
        raise RegistryError(f"{where}: unknown keys {sorted(unknown)}")
    name = table.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[\w.-]{1,64}", name):
        raise RegistryError(f"{where}: `name` must be 1-64 letters, digits, '_', '.' or '-'")
    where = f"models.toml model {name!r}"
    family = table.get("family")
    if family not in FAMILY_DEFAULTS:
        raise RegistryError(f"{where}: `family` must be one of {sorted(FAMILY_DEFAULTS)}")
    base_size, steps = FAMILY_DEFAULTS[family]
    source, kind = _source(table.get("source"), base, where)
    config = table.get("config")
    if config is not None:
        if not isinstance(config, str):
            raise RegistryError(f"{where}: `config` must be a directory or hub id")
        config = _source(config, base, where)[0]
    vae: str | None = None
    if "vae" in table:
        vae, vae_kind = _source(table["vae"], base, f"{where} `vae`")
        if vae_kind == "single_file":
            raise RegistryError(f"{where}: `vae` must be a diffusers VAE folder or hub id")
    inpaint: str | None = None
    inpaint_kind: SourceKind = "dir"
    if "inpaint" in table:
        inpaint, inpaint_kind = _source(table["inpaint"], base, f"{where} `inpaint`")
        if inpaint_kind == "single_file":
            raise RegistryError(
                f"{where}: `inpaint` must be a diffusers folder or hub id of an inpainting "
                "checkpoint, not a single file"
            )
    entry = ModelEntry(
        name=name,
        source=source,
        kind=kind,
        family=family,
        default_steps=_int(table, "default_steps", steps, where, 1, 150),
        base_size=_int(table, "base_size", base_size, where, 64, 2048),
        config=config,
        inpaint=inpaint,
        inpaint_kind=inpaint_kind,
        vae=vae,
        refiner=parse_refiner(table, family, base, where, _source),
    )
    entry = _sampling_keys(entry, table, where)
    spec = FAMILIES[family]
    memory = parse_memory_options(table, family, spec.clip_only, base, where, spec.caches)
    entry = replace(entry, memory=memory)
    if entry.base_size % 64:
        raise RegistryError(f"{where}: `base_size` must be a multiple of 64")
    if not FAMILIES[family].clip_only and (kind == "single_file" or inpaint or vae):
        raise RegistryError(
            f"{where}: a {family} model is a diffusers folder or hub id (single files, "
            "`inpaint` and `vae` are for sd15, sd2 and sdxl)"
        )
    return entry, bool(table.get("default", False))


def _sampling_keys(entry: ModelEntry, table: dict[str, Any], where: str) -> ModelEntry:
    """prediction_type, zero_terminal_snr, timestep_spacing, default_cfg, cfg_rescale."""
    keys = (
        "prediction_type",
        "zero_terminal_snr",
        "timestep_spacing",
        "default_cfg",
        "cfg_rescale",
    )
    given = {k: table[k] for k in keys if k in table}
    if given and not FAMILIES[entry.family].clip_only:
        raise RegistryError(f"{where}: {sorted(given)} are for sd15, sd2 and sdxl models")
    for key, choices in (("prediction_type", _PREDICTIONS), ("timestep_spacing", _SPACINGS)):
        if key in given and given[key] not in choices:
            raise RegistryError(f"{where}: `{key}` must be one of {', '.join(choices)}")
    if not isinstance(given.get("zero_terminal_snr", False), bool):
        raise RegistryError(f"{where}: `zero_terminal_snr` must be true or false")
    for key, lo, hi in (("default_cfg", 1.0, 30.0), ("cfg_rescale", 0.0, 1.0)):
        value = given.get(key, lo)
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise RegistryError(f"{where}: `{key}` must be a number from {lo:g} to {hi:g}")
    changes: dict[str, Any] = {k: float(v) if "cfg" in k else v for k, v in given.items()}
    return replace(entry, **changes)


def parse_registry(data: dict[str, Any], base: Path) -> Registry:
    tables = data.get("models")
    if not isinstance(tables, list) or not tables:
        raise RegistryError("models.toml: add at least one [[models]] entry")
    models: dict[str, ModelEntry] = {}
    defaults: list[str] = []
    for i, table in enumerate(tables):
        entry, is_default = _model(table, base, i)
        if entry.name in models:
            raise RegistryError(f"models.toml: model name {entry.name!r} appears twice")
        models[entry.name] = entry
        if is_default:
            defaults.append(entry.name)
    if len(defaults) > 1:
        raise RegistryError(f"models.toml: only one model may say default = true, not {defaults}")
    unclip = None
    if "unclip" in data:
        table = data["unclip"]
        if not isinstance(table, dict):
            raise RegistryError("models.toml: [unclip] must be a table")
        source, kind = _source(table.get("source"), base, "models.toml [unclip]")
        level = _int(table, "noise_level", 200, "models.toml [unclip]", 0, 999)
        unclip = UnclipEntry(source=source, kind=kind, noise_level=level)

    def folder(key: str) -> Path | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise RegistryError(f"models.toml: `{key}` must be a folder path")
        return (base / Path(value).expanduser()).resolve()

    return Registry(
        models=models,
        default=defaults[0] if defaults else next(iter(models)),
        lora_dir=folder("lora_dir"),
        embeddings_dir=folder("embeddings_dir"),
        unclip=unclip,
        safety_checker=_safety_checker(data.get("safety_checker"), base),
        upscaler=parse_upscaler(data.get("upscaler"), base),
        ip_adapters=parse_ip_adapters(data.get("ip_adapter"), base, _source),
        controlnets=parse_controlnets(data, base, _source),
        preprocessors=parse_preprocessors(data, base, _source),
        describe=parse_describe(data, base, _source),
        edit=parse_edit_model(data, models),
    )


def _safety_checker(table: Any, base: Path) -> SafetyCheckerEntry | None:
    where = "models.toml [safety_checker]"
    if table is None:
        return None
    if not isinstance(table, dict):
        raise RegistryError(f"{where} must be a table")
    unknown = set(table) - {"source"}
    if unknown:
        raise RegistryError(f"{where}: unknown keys {sorted(unknown)}")
    source, kind = _source(table.get("source"), base, where)
    if kind == "single_file":
        raise RegistryError(
            f"{where}: `source` must be a hub id or a directory holding the checker saved "
            "with save_pretrained and its preprocessor_config.json, not a single file"
        )
    return SafetyCheckerEntry(source=source, kind=kind)


DEFAULT_HUB_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"


def default_registry() -> Registry:
    """What runs with no models.toml at all: SD 1.5 from the hub (downloaded on first use)."""
    entry = ModelEntry(
        name="sd15",
        source=DEFAULT_HUB_MODEL,
        kind="hub",
        family="sd15",
        default_steps=FAMILY_DEFAULTS["sd15"][1],
        base_size=FAMILY_DEFAULTS["sd15"][0],
    )
    return Registry(models={entry.name: entry}, default=entry.name)


def load_registry(path: Path) -> Registry:
    """Read models.toml; relative paths in it are relative to its folder."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegistryError(
            f"{path} not found: write a models.toml (see docs/engine.md) or run "
            "`nanke make-tiny-models DIR` for test models"
        ) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RegistryError(f"{path} is not valid TOML: {exc}") from None
    return dataclasses.replace(parse_registry(data, path.resolve().parent), path=path)
