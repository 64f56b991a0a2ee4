"""Training checkpoints: written atomically every N steps, read back on a restart.

A checkpoint holds the step, the LoRA weights, the optimizer state, the random generator's
state and the losses so far, plus a fingerprint of the run (request and pictures): a worker
that restarts the same run after a crash (or kill -9) continues from the last checkpoint with
the same random draws as an uninterrupted run; a checkpoint of another run is ignored.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

CHECKPOINT = "checkpoint.pt"


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass
class Checkpoint:
    fingerprint: str
    step: int
    lora: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    generator: torch.Tensor
    losses: list[float] = field(default_factory=list)


def save_checkpoint(folder: Path, ckpt: Checkpoint) -> None:
    payload = {
        "fingerprint": ckpt.fingerprint,
        "step": ckpt.step,
        "lora": {k: v.detach().cpu() for k, v in ckpt.lora.items()},
        "optimizer": ckpt.optimizer,
        "generator": ckpt.generator,
        "losses": list(ckpt.losses),
    }
    with atomic_path(folder / CHECKPOINT) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(folder: Path, fingerprint: str) -> Checkpoint | None:
    """The run's last checkpoint, or None (none yet, unreadable, or another run's)."""
    path = folder / CHECKPOINT
    if not path.is_file():
        return None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError):
        return None
    if data.get("fingerprint") != fingerprint:
        return None
    return Checkpoint(
        fingerprint=data["fingerprint"],
        step=int(data["step"]),
        lora=data["lora"],
        optimizer=data["optimizer"],
        generator=data["generator"],
        losses=[float(x) for x in data["losses"]],
    )
