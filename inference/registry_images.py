"""models.toml sections for images in: ControlNet models per family, their preprocessors, and
the /describe models (torch-free; `inference/registry.py` reads them through here).

    [controlnet.sd15]               # per family: a diffusers ControlNetModel per module
    canny = "controlnets/sd15-canny"        # dir or hub id
    depth = "lllyasviel/control_v11f1p_sd15_depth"
    lineart = "controlnets/sd15-lineart"

    [preprocessors]                 # what turns a control image into the module's map
    depth = "depth-anything/Depth-Anything-V2-Small-hf"  # transformers depth estimation
    lineart = "annotators/lineart.safetensors"  # the "lineart" annotator network, as safetensors
                                    # (canny needs no model: it is computed)

    [describe]                      # /describe: a captioner plus CLIP ranking of vocabularies
    captioner = "Salesforce/blip-image-captioning-base"  # BlipForConditionalGeneration + processor
    clip = "openai/clip-vit-large-patch14"               # CLIPModel + processor
    vocab_dir = "vocab"             # optional: medium/style/artist/lighting .txt lists (default:
                                    # the lists shipped in inference/describe_vocab/)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.errors import RegistryError
from prompt.request import CONTROL_MODULES

FAMILIES = ("sd15", "sd2", "sdxl")
MAPPED_MODULES = ("depth", "lineart")  # canny is computed without a model
SourceFn = Callable[[Any, Path, str], tuple[str, str]]


@dataclass(frozen=True)
class Located:
    """A model the registry points at: hub id or absolute path, and which of them."""

    source: str
    kind: str  # "hub" | "dir" | "single_file"


@dataclass(frozen=True)
class DescribeEntry:
    captioner: Located
    clip: Located
    vocab_dir: Path | None = None


def _table(data: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RegistryError(f"models.toml: [{key}] must be a table")
    return value


def parse_controlnets(
    data: dict[str, Any], base: Path, source: SourceFn
) -> dict[str, dict[str, Located]]:
    """[controlnet.<family>] module = source → family → module → where its model is."""
    table = _table(data, "controlnet") or {}
    out: dict[str, dict[str, Located]] = {}
    for family, modules in table.items():
        where = f"models.toml [controlnet.{family}]"
        if family not in FAMILIES:
            raise RegistryError(f"{where}: the family must be one of {list(FAMILIES)}")
        if not isinstance(modules, dict):
            raise RegistryError(f"{where} must be a table of module = source")
        unknown = set(modules) - set(CONTROL_MODULES)
        if unknown:
            raise RegistryError(
                f"{where}: unknown modules {sorted(unknown)}; use {list(CONTROL_MODULES)}"
            )
        found: dict[str, Located] = {}
        for module, raw in modules.items():
            path, kind = source(raw, base, f"{where} `{module}`")
            if kind == "single_file":
                raise RegistryError(
                    f"{where} `{module}`: a ControlNet must be a diffusers folder or hub id"
                )
            found[module] = Located(path, kind)
        out[family] = found
    return out


def parse_preprocessors(data: dict[str, Any], base: Path, source: SourceFn) -> dict[str, Located]:
    table = _table(data, "preprocessors") or {}
    where = "models.toml [preprocessors]"
    unknown = set(table) - set(MAPPED_MODULES)
    if unknown:
        raise RegistryError(
            f"{where}: unknown keys {sorted(unknown)}; use {list(MAPPED_MODULES)} "
            "(canny needs no model)"
        )
    found: dict[str, Located] = {}
    for module, raw in table.items():
        path, kind = source(raw, base, f"{where} `{module}`")
        if module == "lineart" and kind != "single_file":
            raise RegistryError(f"{where} `lineart`: point it at the annotator's .safetensors file")
        if module == "depth" and kind == "single_file":
            raise RegistryError(
                f"{where} `depth`: a transformers depth-estimation folder or hub id, not a file"
            )
        found[module] = Located(path, kind)
    return found


def parse_describe(data: dict[str, Any], base: Path, source: SourceFn) -> DescribeEntry | None:
    table = _table(data, "describe")
    if table is None:
        return None
    where = "models.toml [describe]"
    unknown = set(table) - {"captioner", "clip", "vocab_dir"}
    if unknown:
        raise RegistryError(f"{where}: unknown keys {sorted(unknown)}")
    located = []
    for key in ("captioner", "clip"):
        if key not in table:
            raise RegistryError(f"{where}: `{key}` is required (a folder or hub id)")
        path, kind = source(table[key], base, f"{where} `{key}`")
        if kind == "single_file":
            raise RegistryError(f"{where} `{key}`: a transformers folder or hub id, not a file")
        located.append(Located(path, kind))
    vocab_dir = None
    if "vocab_dir" in table:
        if not isinstance(table["vocab_dir"], str):
            raise RegistryError(f"{where}: `vocab_dir` must be a folder path")
        vocab_dir = (base / Path(table["vocab_dir"]).expanduser()).resolve()
    return DescribeEntry(captioner=located[0], clip=located[1], vocab_dir=vocab_dir)
