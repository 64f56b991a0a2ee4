"""LoRA adapters on a warm pipeline: loaded once per model, switched with `set_adapters`.

Several LoRAs combine with their own weights; a job without LoRAs disables them (the base
weights are never reloaded). At most `max_loaded` adapters stay loaded per model.
"""

from __future__ import annotations

import re
import weakref
from collections import OrderedDict
from typing import Any

from inference.errors import ModelFileError
from inference.registry import Registry
from prompt.request import LoraRef


def adapter_name(lora: str) -> str:
    # peft adapter names become module attribute keys: keep them identifier-like.
    return "lora_" + re.sub(r"\W", "_", lora)


class LoraManager:
    def __init__(self, registry: Registry, max_loaded: int = 8) -> None:
        self.registry = registry
        self.max_loaded = max_loaded
        # Per pipeline object, dropped with it (an evicted model must not leave stale state).
        self._loaded: weakref.WeakKeyDictionary[Any, OrderedDict[str, None]] = (
            weakref.WeakKeyDictionary()
        )

    def apply(self, pipe: Any, loras: tuple[LoraRef, ...]) -> None:
        loaded = self._loaded.setdefault(pipe, OrderedDict())
        for lora in loras:
            name = adapter_name(lora.name)
            if name in loaded:
                loaded.move_to_end(name)
                continue
            path = self.registry.lora_path(lora.name)
            self._evict(pipe, loaded, keep={adapter_name(x.name) for x in loras})
            try:
                pipe.load_lora_weights(str(path), adapter_name=name)
            except (ValueError, KeyError, RuntimeError, OSError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                # The member learns which LoRA and what to do; the path and the library's
                # words go to the operator (log, job row).
                raise ModelFileError(
                    f"LoRA {lora.name!r} could not be loaded: its file is damaged or it is not "
                    "a LoRA for this model. Try without it, or ask the server's operator",
                    detail=f"{path}: {type(exc).__name__}: {first}",
                ) from None
            loaded[name] = None
        if loras:
            pipe.enable_lora()
            pipe.set_adapters(
                [adapter_name(x.name) for x in loras], adapter_weights=[x.weight for x in loras]
            )
        elif loaded:
            pipe.disable_lora()

    def _evict(self, pipe: Any, loaded: OrderedDict[str, None], keep: set[str]) -> None:
        for name in list(loaded):
            if len(loaded) < self.max_loaded:
                return
            if name not in keep:
                pipe.delete_adapters(name)
                del loaded[name]
