"""LoRAs on a compiled UNet without recompiling: fixed adapter slots, hot-swapped weights.

A compiled graph guards on the module structure and on Python values: loading, deleting,
enabling or re-weighting peft adapters the usual way (`set_adapters` writes floats) changes
both, so every LoRA switch would recompile. Instead each compiled UNet gets `SLOTS` adapters
before it is compiled (filled with the first installed LoRA, weight 0), padded to `MAX_RANK`,
with tensor scalings (diffusers' `enable_lora_hotswap` / peft's
`prepare_model_for_compiled_hotswap`); all slots are always active. A job's LoRAs are
hot-swapped into slots (same tensors, new values) and weighted by filling the scaling tensors
in place; unused slots get weight 0, which leaves the base output exactly unchanged. A LoRA's
text-encoder part (kohya files often have one) stays an ordinary peft adapter on the text
encoder, which is not compiled.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from inference.errors import BadRequestError

SLOTS = 4  # LoRAs one job may combine on a compiled worker
MAX_RANK = 128
_UNET_PREFIXES = ("unet.", "lora_unet_")


def slot_name(i: int) -> str:
    return f"nanke_slot_{i}"


def split_lora(
    path: Path, pipe: Any = None
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(UNet part, text-encoder part) of a LoRA file, in its own key format (LoHa / LoKr
    rewritten as kohya LoRA keys, with `pipe`'s layer shapes)."""
    from safetensors.torch import load_file

    from inference.worker.lycoris import is_lycoris, layer_shapes, to_lora

    tensors = load_file(str(path))
    if is_lycoris(path):
        tensors = to_lora(tensors, layer_shapes(pipe) if pipe is not None else None)
    unet = {k: v for k, v in tensors.items() if k.startswith(_UNET_PREFIXES)}
    return unet, {k: v for k, v in tensors.items() if k not in unet}


class LoraSlots:
    """The slots of one compiled pipeline's UNet."""

    def __init__(self, pipe: Any, first_lora: Path, slots: int = SLOTS) -> None:
        from peft.utils.hotswap import prepare_model_for_compiled_hotswap

        self.pipe = pipe
        unet_part, _ = split_lora(first_lora, pipe)
        self.slots = slots
        for i in range(slots):
            pipe.load_lora_weights(dict(unet_part), adapter_name=slot_name(i))
        names = [slot_name(i) for i in range(slots)]
        pipe.unet.set_adapters(names, [1.0] * slots)  # all active, for good
        prepare_model_for_compiled_hotswap(
            pipe.unet, target_rank=MAX_RANK, config=pipe.unet.peft_config
        )
        self.holds: OrderedDict[int, str | None] = OrderedDict((i, None) for i in range(slots))
        self._units: dict[int, list[tuple[Any, float]]] = {}
        # The compiled graph's view of each slot: every LoRA matrix's shape, dtype, device.
        self._shapes: dict[int, list[tuple[Any, torch.Size, torch.dtype, torch.device]]] = {}
        for i in range(slots):
            self._record_units(i)
            self._weigh(i, 0.0)
            self._shapes[i] = [(w, w.shape, w.dtype, w.device) for w in self._matrices(i)]

    def _layers(self, slot: int) -> list[Any]:
        from peft.tuners.lora import LoraLayer

        name = slot_name(slot)
        return [
            m for m in self.pipe.unet.modules() if isinstance(m, LoraLayer) and name in m.scaling
        ]

    def _matrices(self, slot: int) -> list[Any]:
        name = slot_name(slot)
        return [
            getattr(m, part)[name].weight
            for m in self._layers(slot)
            for part in ("lora_A", "lora_B")
        ]

    def _restore_shapes(self, slot: int) -> bool:
        """Put back zero matrices of the compiled shapes wherever a swap changed one (a file
        for another model can be swapped in silently); True if any had changed."""
        changed = False
        now = self._matrices(slot)
        for weight, (_, shape, dtype, device) in zip(now, self._shapes[slot], strict=True):
            if weight.shape != shape or weight.dtype != dtype or weight.device != device:
                weight.data = torch.zeros(shape, dtype=dtype, device=device)
                changed = True
        return changed

    def _record_units(self, slot: int) -> None:
        """alpha / r of what the slot holds now, per layer (a hot-swap resets the scalings)."""
        name = slot_name(slot)
        self._units[slot] = [(m, float(m.scaling[name])) for m in self._layers(slot)]

    def _weigh(self, slot: int, weight: float) -> None:
        name = slot_name(slot)
        with torch.no_grad():
            for module, unit in self._units[slot]:
                module.scaling[name].fill_(unit * weight)

    def apply(self, loras: list[tuple[str, Path, float]]) -> None:
        """Put these (name, path, weight) LoRAs in slots; every other slot gets weight 0."""
        if len(loras) > self.slots:
            raise BadRequestError(f"at most {self.slots} LoRAs per job on this worker")
        wanted = {name for name, _, _ in loras}
        used: dict[int, float] = {}
        for name, path, weight in loras:
            slot = next((s for s, held in self.holds.items() if held == name), None)
            if slot is None:
                slot = next(
                    s for s, held in self.holds.items() if held not in wanted and s not in used
                )
                self._swap_in(slot, name, path)
            self.holds.move_to_end(slot)
            used[slot] = weight
        for slot in self.holds:
            self._weigh(slot, used.get(slot, 0.0))

    def _swap_in(self, slot: int, name: str, path: Path) -> None:
        """Hot-swap LoRA `name` into `slot`. A file that does not fit (another architecture,
        a rank above MAX_RANK, damaged) is a one-line ModelFileError; the slot then holds
        nothing (weight 0, refilled by the next LoRA it gets) and every other slot is as it
        was, so the worker's next job runs normally."""
        from inference.worker.lora_errors import LOAD_ERRORS, load_failure, quiet_lora_load

        self.holds[slot] = None  # whatever happens, it no longer holds what it held
        self._weigh(slot, 0.0)
        try:
            unet_part, _ = split_lora(path, self.pipe)
            if not unet_part:
                raise load_failure(name, path, None)
            with quiet_lora_load():
                self.pipe.load_lora_weights(unet_part, adapter_name=slot_name(slot), hotswap=True)
        except LOAD_ERRORS as exc:
            self._restore_shapes(slot)
            self._weigh(slot, 0.0)
            raise load_failure(name, path, exc) from None
        if self._restore_shapes(slot):
            self._weigh(slot, 0.0)
            raise load_failure(name, path, ValueError("size mismatch for the slot's LoRA layers"))
        self.holds[slot] = name
        self._record_units(slot)
