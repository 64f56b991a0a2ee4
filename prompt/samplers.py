"""Sampler names: the canonical list and the aliases members type (A1111, k-diffusion)."""

from __future__ import annotations

import difflib
import re

from prompt.errors import PromptError
from prompt.values import quote

SAMPLERS: tuple[str, ...] = (
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
)

# Normalised alias → canonical name, for names that normalisation alone does not reach.
_ALIASES: dict[str, str] = {
    "plms": "pndm",  # A1111 calls diffusers' PNDM "PLMS"
    "uni_pc": "unipc",
    "euler_ancestral": "euler_a",
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


def canonical_sampler(name: str) -> str:
    """The canonical name for `name` (any case; spaces, '-' and '_' interchangeable).

    Raises PromptError listing the closest known names when `name` is not a sampler.
    """
    found = find_sampler(name)
    if found is not None:
        return found
    key = _normalise(name)
    candidates = list(SAMPLERS) + list(_ALIASES)
    close = difflib.get_close_matches(key, candidates, n=6, cutoff=0.6)
    suggestions = list(dict.fromkeys(_ALIASES.get(c, c) for c in close))[:3]
    if suggestions:
        hint = "closest: " + ", ".join(suggestions)
    else:
        hint = "known samplers: " + ", ".join(SAMPLERS)
    raise PromptError(f"unknown sampler {quote(name.strip())}; {hint}", "--sampler")
