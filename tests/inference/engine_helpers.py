"""Shared helpers for the engine tests (tiny models, 64 px, few steps)."""

from __future__ import annotations

from typing import Any

import numpy as np

from inference.resolve import imagine_spec
from pipeline.contracts import JobSpec
from prompt.request import ImagineParams, PromptPart

PROMPT = "a red fox in the snow, watercolor"


def params(text: str = PROMPT, **kw: Any) -> ImagineParams:
    kw.setdefault("seed", 42)
    kw.setdefault("steps", 2)
    kw.setdefault("parts", (PromptPart(text=text),))
    return ImagineParams(prompt=text, **kw)


def spec(registry: Any, text: str = PROMPT, batch: int = 1, **kw: Any) -> JobSpec:
    job = imagine_spec(params(text, **kw), registry)
    return with_gen(job, batch=batch)


def with_gen(job: JobSpec, **update: Any) -> JobSpec:
    gen = job.generation.model_validate({**job.generation.model_dump(), **update})
    return job.model_copy(update={"generation": gen})


def pixels(out: Any) -> np.ndarray:
    return np.stack([np.asarray(img, dtype=np.int16) for img in out.images])


def diff(a: Any, b: Any) -> float:
    """Mean absolute pixel difference (0-255) between two outputs or arrays."""
    pa = a if isinstance(a, np.ndarray) else pixels(a)
    pb = b if isinstance(b, np.ndarray) else pixels(b)
    return float(np.abs(pa - pb).mean())
