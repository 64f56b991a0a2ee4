"""How a LoRA that does not load fails: one line naming it, no library chatter (shared by the
eager adapters, inference/worker/loras.py, and the compiled slots, lora_slots.py)."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from inference.errors import ModelFileError

LOAD_ERRORS = (ValueError, KeyError, RuntimeError, OSError)


@contextmanager
def quiet_lora_load() -> Iterator[None]:
    """No library logging while a LoRA loads: a wrong-architecture LoRA makes diffusers and
    transformers log dozens of size-mismatch lines before the exception we turn into one line."""
    loggers = [logging.getLogger(name) for name in ("diffusers", "transformers", "peft")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # peft's "Already found a `peft_config`" and kin
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def has_adapter(pipe: Any, name: str) -> bool:
    return any(name in names for names in pipe.get_list_adapters().values())


def load_failure(lora: str, path: Path, exc: BaseException | None) -> ModelFileError:
    """One line for the member (which LoRA, what to do); the path and the library's words go
    to the operator (log, job row). `exc` None: the file's keys matched no layer at all."""
    text = "" if exc is None else str(exc)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    mismatches = [line for line in lines if line.startswith("size mismatch")]
    if exc is None or mismatches or "ignore_mismatched_sizes" in text:
        why = "it is a LoRA for another kind of model (SD 1.5, SDXL, Flux, …), not this one"
        if exc is None:
            detail = "no key of the file matches a layer of the model"
        else:
            shown = f"{mismatches[0]} (+{len(mismatches) - 1} more)" if mismatches else lines[0]
            detail = f"{type(exc).__name__}: {shown}"
    else:
        why = "its file is damaged or it is not a LoRA for this model"
        detail = f"{type(exc).__name__}: {lines[0] if lines else repr(exc)}"
    return ModelFileError(
        f"LoRA {lora!r} could not be loaded: {why}. Try without it, or ask the server's operator",
        detail=f"{path}: {detail}",
    )
