"""The diffusers side of the DiT families: one adapter module each, looked up by family name."""

from __future__ import annotations

from inference.worker.families.base import DitAdapter
from inference.worker.families.flux import FLUX
from inference.worker.families.flux2 import FLUX2
from inference.worker.families.sd3 import SD3
from inference.worker.families.zimage import ZIMAGE

ADAPTERS: dict[str, DitAdapter] = {a.spec.name: a for a in (FLUX, ZIMAGE, SD3, FLUX2)}


def adapter(family: str) -> DitAdapter | None:
    """The family's DiT adapter; None for sd15, sd2 and sdxl (the engine's own code paths)."""
    return ADAPTERS.get(family)
