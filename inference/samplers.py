"""Canonical sampler names → diffusers scheduler class + config, as A1111 configures them.

Data only (torch-free): `inference.worker.schedulers` instantiates them with
`Class.from_config(model_scheduler_config, **kwargs)`. `label` is A1111's name, written into
the PNG `parameters` text so other tools recognise the sampler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inference.errors import UnknownSamplerError
from prompt.errors import PromptError
from prompt.samplers import (
    NATIVE_SAMPLERS,
    SCHEDULES,
    canonical_sampler,
    canonical_schedule,
    schedule_of,
    split_schedule,
)

DEFAULT_SAMPLER = "dpm++_2m_karras"


@dataclass(frozen=True)
class SamplerSpec:
    name: str
    label: str  # A1111 display name
    scheduler: str  # diffusers class name
    kwargs: dict[str, Any] = field(default_factory=dict)
    note: str = ""


# k-diffusion samplers in A1111 space their sigmas linearly over the model's timesteps
# ("linspace"); DDIM and PLMS use the original LDM "leading" spacing.
_K: dict[str, Any] = {"timestep_spacing": "linspace"}
_KARRAS: dict[str, Any] = {"use_karras_sigmas": True}
_EXP: dict[str, Any] = {"use_exponential_sigmas": True}
_TWICE = "2 model calls per step"
NATIVE = "KDiffusionScheduler"  # inference/worker/ksampler_scheduler.py
# A1111's labels of the samplers Nanke runs natively (with their own schedules).
_NATIVE_LABELS = {
    "euler": "Euler",
    "euler_a": "Euler a",
    "heun": "Heun",
    "dpm2": "DPM2",
    "dpm2_a": "DPM2 a",
    "dpm++_2s_a": "DPM++ 2S a",
    "dpm++_2m": "DPM++ 2M",
    "dpm++_sde": "DPM++ SDE",
    "dpm++_2m_sde": "DPM++ 2M SDE",
    "dpm++_2m_sde_heun": "DPM++ 2M SDE Heun",
    "dpm++_3m_sde": "DPM++ 3M SDE",
    "restart": "Restart",
    "dpm_fast": "DPM fast",
    "ddim_cfgpp": "DDIM CFG++",
    "ddim": "DDIM",
    "pndm": "PLMS",
}
_NATIVE_TWICE = {"heun", "dpm2", "dpm2_a", "dpm++_2s_a", "dpm++_sde", "restart"}
# Their own timesteps: no schedule.
_UNSCHEDULED = ("dpm_fast", "ddim_cfgpp", "ddim", "pndm")
_SCHEDULED = [base for base in _NATIVE_LABELS if base not in _UNSCHEDULED]


def _spec(name: str, label: str, scheduler: str, note: str = "", **kwargs: Any) -> SamplerSpec:
    return SamplerSpec(name, label, scheduler, kwargs, note)


SAMPLERS: dict[str, SamplerSpec] = {
    s.name: s
    for s in (
        _spec("euler", "Euler", "EulerDiscreteScheduler", **_K),
        _spec("euler_a", "Euler a", "EulerAncestralDiscreteScheduler", **_K),
        _spec("heun", "Heun", "HeunDiscreteScheduler", _TWICE, **_K),
        _spec("lms", "LMS", "LMSDiscreteScheduler", **_K),
        _spec("lms_karras", "LMS Karras", "LMSDiscreteScheduler", **_K, **_KARRAS),
        _spec("ddim", "DDIM", NATIVE),  # native, see below
        _spec("pndm", "PLMS", NATIVE),
        _spec("dpm2", "DPM2", "KDPM2DiscreteScheduler", _TWICE, **_K),
        _spec("dpm2_karras", "DPM2 Karras", "KDPM2DiscreteScheduler", _TWICE, **_K, **_KARRAS),
        _spec("dpm2_a", "DPM2 a", "KDPM2AncestralDiscreteScheduler", _TWICE, **_K),
        _spec(
            "dpm2_a_karras",
            "DPM2 a Karras",
            "KDPM2AncestralDiscreteScheduler",
            _TWICE,
            **_K,
            **_KARRAS,
        ),
        _spec("dpm++_2m", "DPM++ 2M", "DPMSolverMultistepScheduler", **_K),
        _spec("dpm++_2m_karras", "DPM++ 2M Karras", "DPMSolverMultistepScheduler", **_K, **_KARRAS),
        _spec(
            "dpm++_2m_sde",
            "DPM++ 2M SDE",
            "DPMSolverMultistepScheduler",
            algorithm_type="sde-dpmsolver++",
            **_K,
        ),
        _spec(
            "dpm++_2m_sde_karras",
            "DPM++ 2M SDE Karras",
            "DPMSolverMultistepScheduler",
            algorithm_type="sde-dpmsolver++",
            **_K,
            **_KARRAS,
        ),
        _spec("dpm++_sde", "DPM++ SDE", "DPMSolverSDEScheduler", _TWICE, **_K),
        _spec(
            "dpm++_sde_karras",
            "DPM++ SDE Karras",
            "DPMSolverSDEScheduler",
            _TWICE,
            **_K,
            **_KARRAS,
        ),
        _spec("dpm++_2s_a", "DPM++ 2S a", NATIVE),  # native, see below
        _spec("dpm++_2s_a_karras", "DPM++ 2S a Karras", NATIVE),
        # A1111's UniPC: variant bh1, order 3, ending at the model's last timestep (σ_min,
        # not 0; with σ = 0 diffusers' bh1 divides by it and gives NaN).
        _spec(
            "unipc",
            "UniPC",
            "UniPCMultistepScheduler",
            solver_type="bh1",
            solver_order=3,
            final_sigmas_type="sigma_min",
            **_K,
        ),
        _spec("lcm", "LCM", "LCMScheduler", "for LCM models/LoRAs: 4-8 steps, cfg 1-2"),
        _spec(
            "dpm++_2m_exponential",
            "DPM++ 2M Exponential",
            "DPMSolverMultistepScheduler",
            **_K,
            **_EXP,
        ),
        _spec(
            "dpm++_2m_sde_exponential",
            "DPM++ 2M SDE Exponential",
            "DPMSolverMultistepScheduler",
            algorithm_type="sde-dpmsolver++",
            **_K,
            **_EXP,
        ),
        _spec(
            "dpm++_sde_exponential",
            "DPM++ SDE Exponential",
            "DPMSolverSDEScheduler",
            _TWICE,
            **_K,
            **_EXP,
        ),
    )
}


def _native(name: str) -> SamplerSpec:
    base, schedule = split_schedule(name)
    note = "native k-diffusion sampler" + ("; " + _TWICE if base in _NATIVE_TWICE else "")
    if base == "ddim_cfgpp":
        note = "CFG++: A1111 divides the CFG scale by 12.5 (--cfg 12.5 is full guidance)"
    elif base in ("ddim", "pndm"):
        note = "A1111's timesteps: one model call fewer than steps" + (
            ", 2 on the first step" if base == "pndm" else ""
        )
    label = _NATIVE_LABELS[base]
    return _spec(name, label, NATIVE, note, sampler=base, schedule=schedule or "uniform")


SAMPLERS.update((name, _native(name)) for name in NATIVE_SAMPLERS)
# diffusers has no ancestral DPM++ 2S: the native sampler is A1111's, on every schedule. DDIM
# and PLMS are A1111's (≥ 1.6) too: its timesteps and step count, unlike diffusers' schedulers.
SAMPLERS.update(
    (name, _native(name)) for name in ("dpm++_2s_a", "dpm++_2s_a_karras", "ddim", "pndm")
)
_BY_LABEL = {s.label.lower(): s.name for s in SAMPLERS.values() if s.scheduler != NATIVE}
for _base, _label in _NATIVE_LABELS.items():
    _BY_LABEL.setdefault(_label.lower(), _base)
# A1111 < 1.9 wrote the schedule into the name: "DPM++ 2M SDE Heun Karras".
_BY_LABEL.update(
    (f"{label} {SCHEDULES[schedule]}".lower(), f"{base}_{schedule}")
    for base, label in _NATIVE_LABELS.items()
    if base in _SCHEDULED
    for schedule in ("karras", "exponential")
)


def sampler(name: str) -> SamplerSpec:
    spec = SAMPLERS.get(name)
    if spec is None:
        raise UnknownSamplerError(
            f"unknown sampler {name!r}; choose one of: {', '.join(sorted(SAMPLERS))}"
        )
    return spec


def a1111_labels(name: str) -> tuple[str, str]:
    """(Sampler, Schedule type) as A1111 ≥ 1.9 writes them: ('DPM++ 2M', 'Karras')."""
    base, _ = split_schedule(name)
    return sampler(base).label, SCHEDULES[schedule_of(name)]


def name_from_label(label: str, schedule_type: str | None = None) -> str | None:
    """A1111's Sampler (and Schedule type) → canonical name, or None if not ours.

    'DPM++ 2M Karras' (A1111 < 1.9) names its schedule; 'DPM++ 2M' with 'Schedule type:
    Uniform' is uniform, and without a Schedule type it is the sampler's Automatic schedule,
    as A1111 ≥ 1.9 reads it."""
    found = _BY_LABEL.get(label.strip().lower())
    if found is None:
        return None
    try:
        schedule = canonical_schedule(schedule_type) if schedule_type else None
        return canonical_sampler(found, schedule)
    except PromptError:
        return None
