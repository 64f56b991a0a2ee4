"""models.toml's [ip_adapter.<family>] sections: each family's IP-Adapter (torch-free; the
registry passes its own source parser in, as inference/registry_images.py's parsers take it)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.errors import RegistryError
from inference.families import FAMILIES

SourceFn = Callable[[Any, Path, str], tuple[str, str]]


@dataclass(frozen=True)
class IpAdapterEntry:
    """A family's IP-Adapter (diffusers `load_ip_adapter`): weights in `source`, the CLIP image
    encoder they were trained with, and optionally the Plus variant for --oref."""

    source: str  # absolute folder
    weight_name: str
    image_encoder: str  # absolute folder
    plus_weight_name: str | None = None


_WEIGHT_FILE = re.compile(r"[\w.-]{1,128}\.safetensors")


def parse_ip_adapters(tables: Any, base: Path, source: SourceFn) -> dict[str, IpAdapterEntry]:
    """[ip_adapter.<family>] tables → each family's adapter (local folders, file names)."""
    if tables is None:
        return {}
    if not isinstance(tables, dict):
        raise RegistryError("models.toml: [ip_adapter.<family>] must be tables")
    found: dict[str, IpAdapterEntry] = {}
    for family, table in tables.items():
        where = f"models.toml [ip_adapter.{family}]"
        if family not in FAMILIES or not isinstance(table, dict):
            raise RegistryError(f"{where}: name a family ({', '.join(sorted(FAMILIES))})")
        unknown = set(table) - {"source", "weight_name", "plus_weight_name", "image_encoder"}
        if unknown:
            raise RegistryError(f"{where}: unknown keys {sorted(unknown)}")
        found_source, kind = source(table.get("source"), base, where)
        encoder, encoder_kind = source(table.get("image_encoder"), base, f"{where} image_encoder")
        if kind != "dir" or encoder_kind != "dir":
            raise RegistryError(f"{where}: `source` and `image_encoder` must be local folders")
        names = [table.get("weight_name"), table.get("plus_weight_name")]
        if not isinstance(names[0], str) or not _WEIGHT_FILE.fullmatch(names[0]):
            raise RegistryError(f"{where}: `weight_name` must be a .safetensors file name")
        if names[1] is not None and (
            not isinstance(names[1], str) or not _WEIGHT_FILE.fullmatch(names[1])
        ):
            raise RegistryError(f"{where}: `plus_weight_name` must be a .safetensors file name")
        found[family] = IpAdapterEntry(found_source, names[0], encoder, names[1])
    return found
