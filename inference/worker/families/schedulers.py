"""A fresh flow-matching scheduler per job, on the model's own scheduler config (its shift)."""

from __future__ import annotations

from typing import Any

import diffusers

from inference.errors import UnknownSamplerError
from inference.families.spec import FLOW_SAMPLERS


def make_flow_scheduler(name: str, model_config: dict[str, Any]) -> Any:
    spec = FLOW_SAMPLERS.get(name)
    if spec is None:  # resolve refuses these first; a stored job may predate a change
        raise UnknownSamplerError(
            f"the sampler {name} does not run on flow-matching models; use one of: "
            + ", ".join(FLOW_SAMPLERS)
        )
    cls = getattr(diffusers, spec.scheduler)
    if spec.scheduler == "FlowMatchEulerDiscreteScheduler":
        return cls.from_config(model_config)
    return cls.from_config(
        model_config, **spec.options, flow_shift=float(model_config.get("shift", 1.0))
    )
