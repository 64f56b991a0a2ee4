"""models.toml `[upscaler]`: the GAN upscaler behind Upscale (4x) (torch-free).

    [upscaler]
    source = "upscalers/RealESRGAN_x4plus.pth"  # a .pth or .safetensors file, or:
    # repo = "ai-forever/Real-ESRGAN"           # a hub repository …
    # file = "RealESRGAN_x4.pth"                # … and the file in it
    # name = "RealESRGAN x4plus"                # optional: the PNG's `Postprocess upscaler`

Paths are relative to models.toml. Without the table, Upscale (4x) is not offered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from inference.errors import RegistryError

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_SUFFIXES = (".pth", ".safetensors")
_KEYS = {"source", "repo", "file", "name"}
WHERE = "models.toml [upscaler]"


@dataclass(frozen=True)
class UpscalerEntry:
    name: str  # what the PNG parameters call it
    path: str | None = None  # an absolute file path, or
    repo: str | None = None  # a hub repository and
    file: str | None = None  # the file in it


def _file_name(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip().endswith(_SUFFIXES):
        raise RegistryError(f"{WHERE}: `{key}` must name a .pth or .safetensors file")
    return value.strip()


def parse_upscaler(table: Any, base: Path) -> UpscalerEntry | None:
    """The [upscaler] table (None when absent); one line per mistake."""
    if table is None:
        return None
    if not isinstance(table, dict):
        raise RegistryError(f"{WHERE} must be a table")
    unknown = set(table) - _KEYS
    if unknown:
        raise RegistryError(f"{WHERE}: unknown keys {sorted(unknown)}")
    name = table.get("name")
    if name is not None and (not isinstance(name, str) or not 1 <= len(name.strip()) <= 64):
        raise RegistryError(f"{WHERE}: `name` must be 1-64 characters")
    if "source" in table:
        if "repo" in table or "file" in table:
            raise RegistryError(f"{WHERE}: give either `source` or `repo` and `file`, not both")
        source = _file_name(table["source"], "source")
        path = (base / Path(source).expanduser()).resolve()
        return UpscalerEntry(name=(name or path.stem).strip(), path=str(path))
    repo = table.get("repo")
    if not isinstance(repo, str) or not _HUB_ID.fullmatch(repo):
        raise RegistryError(
            f"{WHERE}: set `source` (a .pth or .safetensors file) or `repo` (owner/name on "
            "the hub) and `file`"
        )
    file = _file_name(table.get("file"), "file")
    stem = PurePosixPath(file).stem
    return UpscalerEntry(name=(name or stem).strip(), repo=repo, file=file)
