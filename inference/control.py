"""ControlNet rules the bot and the CLI apply before anything is charged, and what the PNG says
about a ControlNet job (torch-free; the worker side is inference/worker/controlnet.py).

A job may use `--cn MODULE` when its model's family has a ControlNet for MODULE in models.toml
and MODULE's preprocessor is configured (canny is computed and needs none). The infotext carries
the A1111 ControlNet extension's unit line: `ControlNet 0: "Module: canny, Model: …, Weight: 1"`.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from inference.errors import BadRequestError
from inference.registry import ModelEntry, Registry
from inference.registry_images import MAPPED_MODULES
from prompt.request import ControlRef, Generation
from prompt.schedules import has_and, is_scheduled

CANNY_LOW, CANNY_HIGH = 100, 200  # A1111's default canny thresholds (Threshold A / B)


def check_control(control: ControlRef | None, entry: ModelEntry, registry: Registry) -> None:
    """BadRequestError (a member-safe message) when this model cannot run this ControlNet."""
    if control is None:
        return
    family = registry.controlnets.get(entry.family, {})
    if control.module not in family:
        offered = ", ".join(sorted(family))
        if offered:
            raise BadRequestError(
                f"--cn {control.module} is not set up for the {entry.name} model; it has: {offered}"
            )
        raise BadRequestError(
            f"the {entry.name} model has no ControlNet on this server: --cn needs another "
            "--model, or an admin adds one in models.toml"
        )
    if control.module in MAPPED_MODULES and control.module not in registry.preprocessors:
        raise BadRequestError(
            f"--cn {control.module} needs its preprocessor, which this server has not set up: "
            "use --cn canny, or ask an admin"
        )


def check_control_prompt(gen: Generation) -> None:
    """ControlNet runs with one text conditioning per step: refuse AND and prompt editing."""
    if gen.control is None:
        return
    texts = [part.text for part in gen.parts] + [gen.negative_prompt]
    if (len(gen.parts) == 1 and has_and(gen.parts[0].text)) or any(map(is_scheduled, texts)):
        raise BadRequestError(
            "--cn does not combine with AND or [from:to:when] prompt editing yet: "
            "remove one of them"
        )


def model_name(registry: Registry, family: str, module: str) -> str:
    """The ControlNet's name as the PNG shows it: its folder's or hub id's last part."""
    located = registry.controlnets[family][module]
    return PurePosixPath(located.source.replace("\\", "/")).name


def control_fields(
    registry: Registry, family: str, control: ControlRef, image_hash: str, size: int
) -> dict[str, str]:
    """The A1111 ControlNet extension's unit line, plus the control image's content hash."""
    unit = [
        f"Module: {control.module}",
        f"Model: {model_name(registry, family, control.module)}",
        f"Weight: {control.weight:g}",
        "Resize Mode: Crop and Resize",
        f"Processor Res: {size}",
    ]
    if control.module == "canny":
        unit += [f"Threshold A: {CANNY_LOW}", f"Threshold B: {CANNY_HIGH}"]
    unit += ["Guidance Start: 0", "Guidance End: 1", "Control Mode: Balanced"]
    return {"ControlNet 0": ", ".join(unit), "ControlNet 0 Image": image_hash}
