"""Warm-up at worker start: every served model, the safety checker and the 4x upscaler (when
configured), one tiny job per bucket.

Without it the first member after every restart pays for loading, CUDA initialisation and
(when compiled) compilation. With compilation on, each common `--ar` of each model is one
shape bucket (inference/worker/compiled.py) and gets its own job here; eager engines need one
job per model. Jobs run 2 steps: a graph does not depend on the step count.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from inference.resolve import imagine_spec
from prompt.request import ImagineParams, PromptPart

log = logging.getLogger(__name__)

# The aspect ratios members use most; others compile on their first job.
BUCKET_ASPECTS = ("1:1", "2:3", "3:2", "16:9", "9:16")
_PROMPT = "warm-up"


def warm_up(engine: Any, models: list[str]) -> float:
    """Load, check and exercise everything `engine` serves; returns the seconds it took."""
    start = time.perf_counter()
    engine.load_models(models)
    engine.safety_checker()
    if getattr(engine.registry, "upscaler", None) is not None:
        engine.gan_upscaler()  # a bad [upscaler] fails the start, not a member's job
    aspects = BUCKET_ASPECTS if getattr(engine, "compiler", None) is not None else ("1:1",)
    jobs = 0
    for model in models:
        for aspect in aspects:
            params = ImagineParams(
                prompt=_PROMPT,
                parts=(PromptPart(text=_PROMPT),),
                model=model,
                aspect_ratio=aspect,
                steps=2,
                seed=0,
            )
            engine.run(imagine_spec(params, engine.registry), None, None)
            jobs += 1
    seconds = time.perf_counter() - start
    log.info(
        "warm-up done in %.1f s: %d model(s), safety checker, %d job(s) (%s)",
        seconds,
        len(models),
        jobs,
        "one per shape bucket" if len(aspects) > 1 else "eager: one per model",
    )
    return seconds
