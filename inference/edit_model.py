"""Which model edits by instruction (`/edit`, `nanke edit`): models.toml's top-level
`edit = "<model name>"`, a [[models]] entry of a family with an edit pipeline (torch-free).

    edit = "flux-kontext"           # FLUX.1 Kontext (family flux): FluxKontextPipeline
    # edit = "flux2-klein"          # FLUX.2 [klein] (family flux2): reference editing, ≤ 3 images

The entry is an ordinary model (it may also paint /imagine jobs with --model); editing derives
its edit pipeline from it with `from_pipe` (shared weights). No `edit` key: /edit is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from inference.errors import BadRequestError, RegistryError
from inference.families import FAMILIES, FamilySpec

if TYPE_CHECKING:
    from inference.registry import ModelEntry, Registry

# What each edit pipeline is called, and how many images (the edited one and references) it takes.
EDIT_PIPELINES = {
    "FluxKontextPipeline": ("FLUX.1 Kontext", 1),
    "Flux2KleinPipeline": ("FLUX.2 [klein]", 3),
}
NOT_SET_UP = (
    "editing by instruction is not set up on this server (no edit model in models.toml); "
    "ask its operator"
)


def editing_families() -> list[str]:
    return [name for name, spec in FAMILIES.items() if spec.edit_pipeline]


def parse_edit_model(data: dict[str, Any], models: dict[str, ModelEntry]) -> str | None:
    """models.toml's `edit`, checked: a model it lists, of a family that edits."""
    name = data.get("edit")
    if name is None:
        return None
    where = "models.toml `edit`"
    if not isinstance(name, str) or name not in models:
        raise RegistryError(
            f"{where} must name a [[models]] entry (one of: {', '.join(sorted(models))})"
        )
    family = models[name].family
    if not FAMILIES[family].edit_pipeline:
        raise RegistryError(
            f"{where}: model {name!r} is a {family} model, which does not edit by "
            f"instruction; use a model of family {' or '.join(editing_families())}"
        )
    return name


def edit_entry(registry: Registry) -> tuple[ModelEntry, FamilySpec]:
    """The edit model and its family; BadRequestError (nothing charged) when none is set."""
    if registry.edit is None:
        raise BadRequestError(NOT_SET_UP)
    entry = registry.model(registry.edit)
    return entry, FAMILIES[entry.family]


def edit_pipeline(spec: FamilySpec) -> tuple[str, int]:
    """(what people call the family's editor, the most images it takes)."""
    assert spec.edit_pipeline is not None
    return EDIT_PIPELINES[spec.edit_pipeline]
