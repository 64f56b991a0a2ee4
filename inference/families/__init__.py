"""Model families: one torch-free description each (`spec.FamilySpec`), looked up by name."""

from __future__ import annotations

from inference.errors import RegistryError
from inference.families.flux import FLUX
from inference.families.flux2 import FLUX2
from inference.families.sd import SD2, SD15, SDXL
from inference.families.sd3 import SD3
from inference.families.spec import FLOW_SAMPLERS, FamilySpec, FlowSampler
from inference.families.zimage import ZIMAGE

__all__ = ["FAMILIES", "FLOW_SAMPLERS", "FamilySpec", "FlowSampler", "family"]

FAMILIES: dict[str, FamilySpec] = {f.name: f for f in (SD15, SD2, SDXL, FLUX, ZIMAGE, SD3, FLUX2)}


def family(name: str) -> FamilySpec:
    spec = FAMILIES.get(name)
    if spec is None:
        raise RegistryError(f"unknown model family {name!r}; one of: {', '.join(FAMILIES)}")
    return spec
