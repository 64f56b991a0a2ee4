"""A request's image inputs → the generation's `Reference`s, with their adapter scales
(torch-free; `inference.resolve` calls it, so the bot refuses before anything is charged).

Scales (IP-Adapter's `set_ip_adapter_scale`): image prompts `--iw` / 2 (default --iw 1 → 0.5,
a common text-and-image balance; --iw 3 → 1.5); style references `--sw` / 200 and object
references `--ow` / 200 (default 100 → 0.5, 1000 → 5). A family without an IP-Adapter in
models.toml refuses image inputs by name.
"""

from __future__ import annotations

from inference.errors import BadRequestError
from inference.registry import ModelEntry, Registry
from prompt.request import Generation, ImagineParams, Reference

DEFAULT_IMAGE_WEIGHT = 1.0
DEFAULT_STYLE_WEIGHT = 100
DEFAULT_OBJECT_WEIGHT = 100


def has_images(params: ImagineParams) -> bool:
    return bool(params.images or params.style_refs or params.object_ref)


def check_adapter(registry: Registry, entry: ModelEntry) -> None:
    if entry.family not in registry.ip_adapters:
        raise BadRequestError(
            f"the model {entry.name} cannot take image prompts or references on this server "
            "(no image-prompt adapter is configured for it): pick another model with --model, "
            "or leave the images out"
        )


def references(
    params: ImagineParams, registry: Registry, entry: ModelEntry
) -> tuple[Reference, ...]:
    if not has_images(params):
        return ()
    if not (params.blend and registry.unclip is not None):  # unCLIP blends without adapter
        check_adapter(registry, entry)
    iw = DEFAULT_IMAGE_WEIGHT if params.image_weight is None else params.image_weight
    sw = DEFAULT_STYLE_WEIGHT if params.style_weight is None else params.style_weight
    ow = DEFAULT_OBJECT_WEIGHT if params.object_weight is None else params.object_weight
    out = [Reference(role="image", image=ref, scale=iw / 2) for ref in params.images]
    out += [Reference(role="style", image=ref, scale=sw / 200) for ref in params.style_refs]
    if params.object_ref is not None:
        out.append(Reference(role="object", image=params.object_ref, scale=ow / 200))
    return tuple(out)


_INFOTEXT_NAMES = {
    "image": "Image prompts",
    "style": "Style references",
    "object": "Object reference",
}


def infotext_fields(gen: Generation) -> dict[str, str]:
    """The PNG parameters' record of a generation's images: each stored image's hash (its
    first 12 hex digits) and adapter scale, e.g. `Image prompts: 3f2a9c01b7de:0.5 …`."""
    out: dict[str, str] = {}
    for role, name in _INFOTEXT_NAMES.items():
        refs = [r for r in gen.references if r.role == role]
        if refs:
            out[name] = " ".join(f"{r.image.label}:{r.scale:g}" for r in refs)
    return out
