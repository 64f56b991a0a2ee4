"""LoRA adapters on a warm pipeline: loaded once per model, switched with `set_adapters`.

Several LoRAs combine with their own weights; a job without LoRAs disables them (the base
weights are never reloaded). At most `max_loaded` adapters stay loaded per model. On a compiled
UNet the UNet side goes through hot-swapped slots instead (inference/worker/lora_slots.py).
"""

from __future__ import annotations

import hashlib
import re
import weakref
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inference.errors import UnknownLoraError
from inference.registry import Registry
from inference.worker.lora_errors import LOAD_ERRORS, has_adapter, load_failure, quiet_lora_load
from inference.worker.lora_slots import LoraSlots, split_lora
from inference.worker.lycoris import lora_source
from prompt.request import LoraRef


def adapter_name(lora: str) -> str:
    # peft adapter names become module attribute keys: keep them identifier-like, and unique
    # ("my style" and "my_style" are two files).
    digest = hashlib.sha1(lora.encode()).hexdigest()[:8]
    return "lora_" + re.sub(r"\W", "_", lora) + "_" + digest


def _id(lora: LoraRef) -> str:
    # Two members' "mia" are two adapters: a stored LoRA is known by its storage key.
    return lora.name if lora.key is None else lora.key


def load_adapter(pipe: Any, lora: str, path: Path, source: Any, name: str) -> None:
    """`pipe.load_lora_weights(source)` as adapter `name`, all or nothing: a LoRA that fails
    (or fits no layer) leaves no part of itself behind, so the next job is exactly as before."""
    try:
        if isinstance(source, str):  # a file: LoHa / LoKr are rewritten as LoRAs first
            source = lora_source(pipe, path)
        with quiet_lora_load():
            pipe.load_lora_weights(source, adapter_name=name)
        if not has_adapter(pipe, name):
            raise load_failure(lora, path, None)
    except LOAD_ERRORS as exc:
        if has_adapter(pipe, name):
            with quiet_lora_load():
                pipe.delete_adapters(name)
        raise load_failure(lora, path, exc) from None


def adapter_weights(pipe: Any, name: str, lora: LoraRef) -> float | dict[str, float]:
    """The weight `set_adapters` takes: one number, or per component for `<lora:n:te:unet>`
    (the second weight goes to the denoiser: a UNet, or a DiT family's transformer)."""
    if lora.unet_weight is None:
        return lora.weight
    parts = [part for part, names in pipe.get_list_adapters().items() if name in names]
    return {part: lora.unet if part in ("unet", "transformer") else lora.weight for part in parts}


class LoraManager:
    def __init__(self, registry: Registry, max_loaded: int = 8, *, slots: int = 0) -> None:
        self.registry = registry
        self.slots = slots  # > 0: compiled UNets get this many hot-swap slots
        self.max_loaded = max_loaded
        self._slots: weakref.WeakKeyDictionary[Any, LoraSlots] = weakref.WeakKeyDictionary()
        # Compiled mode: LoRAs whose text-encoder part is loaded as a plain adapter.
        self._te_loaded: set[str] = set()
        self._te_checked: set[str] = set()
        # Per pipeline object, dropped with it (an evicted model must not leave stale state).
        self._loaded: weakref.WeakKeyDictionary[Any, OrderedDict[str, None]] = (
            weakref.WeakKeyDictionary()
        )
        # Members' trained LoRAs: storage key → a local file (inference/stored_loras.py); the
        # composition root sets it where the worker has storage.
        self.fetch_stored: Callable[[str], Path] | None = None

    def _path(self, lora: LoraRef) -> Path:
        if lora.key is None:
            return self.registry.lora_path(lora.name)
        if self.fetch_stored is None:
            raise UnknownLoraError(f"LoRA {lora.name!r} is stored, and this worker has no storage")
        return self.fetch_stored(lora.key)

    def prepare_slots(self, pipe: Any) -> None:
        """Before compiling `pipe`: give its UNet the hot-swap slots (when LoRAs are installed)."""
        installed = self.registry.loras()
        if self.slots and installed and pipe not in self._slots:
            self._slots[pipe] = LoraSlots(pipe, self.registry.lora_path(installed[0]), self.slots)

    def apply(self, pipe: Any, loras: tuple[LoraRef, ...]) -> None:
        slots = self._slots.get(pipe)
        if slots is not None:
            self._apply_text_encoder(pipe, loras)
            slots.apply([(_id(x), self._path(x), x.unet) for x in loras])
            return
        loaded = self._loaded.setdefault(pipe, OrderedDict())
        for lora in loras:
            name = adapter_name(_id(lora))
            if name in loaded:
                loaded.move_to_end(name)
                continue
            path = self._path(lora)
            self._evict(pipe, loaded, keep={adapter_name(_id(x)) for x in loras})
            load_adapter(pipe, lora.name, path, str(path), name)
            loaded[name] = None
        if loras:
            names = [adapter_name(_id(x)) for x in loras]
            pipe.enable_lora()
            pipe.set_adapters(
                names,
                adapter_weights=[
                    adapter_weights(pipe, n, x) for n, x in zip(names, loras, strict=True)
                ],
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

    def _apply_text_encoder(self, pipe: Any, loras: tuple[LoraRef, ...]) -> None:
        """The text-encoder parts of these LoRAs as plain peft adapters (compiled mode)."""
        active: list[tuple[str, float]] = []
        for lora in loras:
            name = adapter_name(_id(lora))
            if name not in self._te_checked:
                _, te_part = split_lora(self._path(lora), pipe)
                if te_part:
                    path = self._path(lora)
                    load_adapter(pipe, lora.name, path, te_part, name)
                    self._te_loaded.add(name)
                self._te_checked.add(name)
            if name in self._te_loaded:
                active.append((name, lora.weight))
        from diffusers.loaders.lora_base import (
            disable_lora_for_text_encoder,
            enable_lora_for_text_encoder,
            set_adapters_for_text_encoder,
        )

        if active:
            enable_lora_for_text_encoder(pipe.text_encoder)
            set_adapters_for_text_encoder(
                [n for n, _ in active], pipe.text_encoder, [w for _, w in active]
            )
        elif self._te_loaded:
            disable_lora_for_text_encoder(pipe.text_encoder)
