"""Sampler names: the canonical list and the aliases members type (A1111, k-diffusion)."""

from __future__ import annotations

import difflib
import re

from prompt.errors import PromptError
from prompt.values import quote

# The names A1111 users know, in the issue's order: diffusers' schedulers run them (bit-identical
# to stock diffusers), except DPM++ 2S a, DDIM and PLMS, which run natively as A1111 runs them.
DIFFUSERS_SAMPLERS: tuple[str, ...] = (
    "euler",
    "euler_a",
    "heun",
    "lms",
    "lms_karras",
    "ddim",
    "pndm",
    "dpm2",
    "dpm2_karras",
    "dpm2_a",
    "dpm2_a_karras",
    "dpm++_2m",
    "dpm++_2m_karras",
    "dpm++_2m_sde",
    "dpm++_2m_sde_karras",
    "dpm++_sde",
    "dpm++_sde_karras",
    "dpm++_2s_a",
    "dpm++_2s_a_karras",
    "unipc",
    "lcm",
    "dpm++_2m_exponential",
    "dpm++_2m_sde_exponential",
    "dpm++_sde_exponential",
)
# A1111 ≥ 1.9 "Schedule type"s (key → A1111's label).
SCHEDULES: dict[str, str] = {
    "automatic": "Automatic",
    "uniform": "Uniform",
    "karras": "Karras",
    "exponential": "Exponential",
    "polyexponential": "Polyexponential",
    "sgm_uniform": "SGM Uniform",
    "kl_optimal": "KL Optimal",
    "align_your_steps": "Align Your Steps",
    "simple": "Simple",
    "normal": "Normal",
    "ddim": "DDIM",
    "beta": "Beta",
}
# k-diffusion samplers Nanke also runs natively (inference/worker/ksamplers.py), on every
# schedule: the names above keep their diffusers scheduler; any other (sampler, schedule)
# of these runs natively.
NATIVE_BASES: tuple[str, ...] = (
    "euler",
    "euler_a",
    "heun",
    "dpm2",
    "dpm2_a",
    "dpm++_2s_a",
    "dpm++_2m",
    "dpm++_sde",
    "dpm++_2m_sde",
    "dpm++_2m_sde_heun",
    "dpm++_3m_sde",
    "restart",
)
_NAMED = tuple(k for k in SCHEDULES if k not in ("automatic", "uniform"))
NATIVE_SAMPLERS: tuple[str, ...] = (
    *(
        name
        for base in NATIVE_BASES
        for name in (base, *(f"{base}_{k}" for k in _NAMED))
        if name not in DIFFUSERS_SAMPLERS
    ),
    "dpm_fast",  # its own λ-uniform steps over the model's σ range: no schedule
    "ddim_cfgpp",  # A1111's "DDIM CFG++": DDIM's own timesteps, no schedule
)
SAMPLERS: tuple[str, ...] = DIFFUSERS_SAMPLERS + NATIVE_SAMPLERS
# What autocomplete offers: each sampler once per schedule diffusers names, the new ones bare
# (their schedule is the --schedule flag's autocomplete).
MENU_SAMPLERS: tuple[str, ...] = DIFFUSERS_SAMPLERS + tuple(
    name for name in (*NATIVE_BASES, "dpm_fast", "ddim_cfgpp") if name not in DIFFUSERS_SAMPLERS
)
# What "Automatic" means for each sampler in A1111 ≥ 1.9 (the rest: uniform).
AUTOMATIC: dict[str, str] = {
    "dpm++_2m": "karras",
    "dpm++_sde": "karras",
    "dpm++_2m_sde": "exponential",
    "dpm++_2m_sde_heun": "exponential",
    "dpm++_3m_sde": "exponential",
    "dpm++_2s_a": "karras",
    "dpm2": "karras",
    "dpm2_a": "karras",
    "restart": "karras",
}
# Samplers on the model's own timesteps (or, DPM fast, their own): always "Automatic".
OWN_SCHEDULE = frozenset({"ddim", "pndm", "unipc", "lcm", "dpm_fast", "ddim_cfgpp"})
# Longest first: "_sgm_uniform" before any shorter suffix it ends with.
_SUFFIXES = tuple(sorted((f"_{k}" for k in _NAMED), key=len, reverse=True))

# Normalised alias → canonical name, for names that normalisation alone does not reach.
_ALIASES: dict[str, str] = {
    "plms": "pndm",  # A1111 calls diffusers' PNDM "PLMS"
    "uni_pc": "unipc",
    "euler_ancestral": "euler_a",
    "ddim_cfg++": "ddim_cfgpp",  # A1111's label, "DDIM CFG++"
    "ddim_cfg_pp": "ddim_cfgpp",
}

_SEPARATORS = re.compile(r"[\s_-]+")


def _normalise(name: str) -> str:
    """Lower case, one '_' between words, 'dpmpp'→'dpm++', 'dpm_2'→'dpm2', no 'k_' prefix."""
    text = _SEPARATORS.sub("_", name.strip().lower()).strip("_")
    text = text.replace("dpmpp", "dpm++")
    text = re.sub(r"dpm\+\+(?=[a-z0-9])", "dpm++_", text)  # "dpm++2m" → "dpm++_2m"
    text = re.sub(r"^k_", "", text)  # k-diffusion: k_euler_a, k_dpmpp_2m
    text = re.sub(r"\bdpm_2(?=_|$)", "dpm2", text)  # k_dpm_2, k_dpm_2_a
    text = re.sub(r"(?<=_)ancestral(?=_|$)", "a", text)  # k_dpm_2_ancestral, dpm++ 2s ancestral
    return text


def find_sampler(name: str) -> str | None:
    """The canonical name for `name`, or None (cheap: no suggestions)."""
    key = _normalise(name)
    if key in SAMPLERS:
        return key
    return _ALIASES.get(key)


def split_schedule(name: str) -> tuple[str, str | None]:
    """A canonical name → (the sampler without schedule, the schedule it names or None)."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)], suffix[1:]
    return name, None


def schedule_of(name: str) -> str:
    """The schedule a canonical sampler runs (a SCHEDULES key; "automatic" for DDIM & co)."""
    base, schedule = split_schedule(name)
    return "automatic" if base in OWN_SCHEDULE else schedule or "uniform"


def canonical_schedule(value: str) -> str:
    """An A1111 schedule label ('SGM Uniform', 'karras') → its key; PromptError."""
    key = _SEPARATORS.sub("_", value.strip().strip("\"'").lower()).strip("_")
    if key in SCHEDULES:
        return key
    raise PromptError(
        f"unknown schedule {quote(value.strip())}: use {', '.join(SCHEDULES)}", "--schedule"
    )


def canonical_sampler(name: str, schedule: str | None = None) -> str:
    """The canonical name for `name` (any case; spaces, '-' and '_' interchangeable), with
    `schedule` (a canonical_schedule key). As in A1111 ≥ 1.9, a sampler named without a
    schedule runs its "Automatic" one: 'DPM++ 2M' is Karras, 'DPM++ 2M SDE' Exponential.

    Raises PromptError listing the closest known names when `name` is not a sampler.
    """
    found = find_sampler(name)
    if found is not None:
        return _with_schedule(found, schedule)
    key = _normalise(name)
    candidates = list(SAMPLERS) + list(_ALIASES)
    close = difflib.get_close_matches(key, candidates, n=6, cutoff=0.6)
    suggestions = list(dict.fromkeys(_ALIASES.get(c, c) for c in close))[:3]
    if suggestions:
        hint = "closest: " + ", ".join(suggestions)
    else:
        bases = dict.fromkeys(split_schedule(n)[0] for n in SAMPLERS)
        hint = "known samplers: " + ", ".join(bases) + " (each with --schedule)"
    raise PromptError(f"unknown sampler {quote(name.strip())}; {hint}", "--sampler")


def _with_schedule(found: str, schedule: str | None) -> str:
    base, named = split_schedule(found)
    if schedule is not None and named is not None and schedule not in (named, "automatic"):
        raise PromptError(
            f"--sampler {found} already names the {named} schedule: drop one of them",
            "--schedule",
        )
    chosen = named or schedule or "automatic"
    if base in OWN_SCHEDULE:
        if chosen not in ("automatic", "uniform"):
            raise PromptError(
                f"{base} runs on its own timesteps: it takes no --schedule", "--schedule"
            )
        return base
    if chosen == "automatic":
        chosen = AUTOMATIC.get(base, "uniform")
    name = base if chosen == "uniform" else f"{base}_{chosen}"
    if name not in SAMPLERS:
        raise PromptError(
            f"{base} has no {chosen} schedule in Nanke: use "
            + ", ".join(schedule_of(n) for n in SAMPLERS if split_schedule(n)[0] == base),
            "--schedule",
        )
    return name


def sampler_words(name: str) -> list[str]:
    """The flags that give back canonical sampler `name` when parsed."""
    base, named = split_schedule(name)
    if named is None and base not in OWN_SCHEDULE and AUTOMATIC.get(base, "uniform") != "uniform":
        return ["--sampler", name, "--schedule", "uniform"]
    return ["--sampler", name]
