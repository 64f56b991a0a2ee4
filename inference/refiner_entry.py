"""An sdxl model's refiner, models.toml's `refiner` and `refiner_switch` (torch-free; the
cascade runs in inference/worker/refiner.py, docs/engine.md "SDXL refiner").

    refiner = "stabilityai/stable-diffusion-xl-refiner-1.0"  # diffusers folder or hub id
    refiner_switch = 0.8   # the fraction of the steps the base model runs (0.5 … 0.95)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.errors import RegistryError

REFINER_KEYS = frozenset({"refiner", "refiner_switch"})
DEFAULT_SWITCH = 0.8  # the SDXL report's hand-off: the refiner takes the last 20 % of the noise


@dataclass(frozen=True)
class RefinerEntry:
    source: str  # hub id or absolute folder
    kind: str  # "hub" or "dir"
    switch: float = DEFAULT_SWITCH

    @property
    def label(self) -> str:
        """How the PNG names it (A1111's `Refiner:` field): the folder's name or the hub id."""
        return self.source if self.kind == "hub" else Path(self.source).name


SourceFn = Callable[[Any, Path, str], tuple[str, str]]


def parse_refiner(
    table: dict[str, Any], family: str, base: Path, where: str, source: SourceFn
) -> RefinerEntry | None:
    if not REFINER_KEYS & set(table):
        return None
    if family != "sdxl":
        raise RegistryError(
            f"{where}: `refiner` is for sdxl models (SDXL's base + refiner cascade), not {family}"
        )
    if "refiner" not in table:
        raise RegistryError(f"{where}: `refiner_switch` needs `refiner` (a folder or hub id)")
    path, kind = source(table["refiner"], base, f"{where} `refiner`")
    if kind == "single_file":
        raise RegistryError(
            f"{where}: `refiner` must be a diffusers folder or hub id of an SDXL refiner"
        )
    switch = table.get("refiner_switch", DEFAULT_SWITCH)
    if isinstance(switch, bool) or not isinstance(switch, int | float) or not 0.5 <= switch <= 0.95:
        raise RegistryError(
            f"{where}: `refiner_switch` must be a number from 0.5 to 0.95 (the fraction of "
            "the steps the base model runs)"
        )
    return RefinerEntry(path, kind, float(switch))
