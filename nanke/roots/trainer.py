"""The composition root of LoRA training (`nanke train`, and a worker serving the `train`
queue): the trainer on the device and precision `Settings.worker` says."""

from __future__ import annotations

from typing import Any

from inference.registry import Registry
from inference.settings import WorkerSettings


def make_trainer(registry: Registry, worker: WorkerSettings | None = None) -> Any:
    """The trainer (torch and diffusers load here, not at import). On the CPU it trains in
    float32; on a GPU the frozen weights use the worker's dtype and the LoRA float32."""
    from inference.worker import precision
    from inference.worker.library_logs import quiet_libraries
    from inference.worker.trainer import Trainer

    worker = worker or WorkerSettings()
    quiet_libraries()
    device = precision.resolve_device(worker.device)
    dtype = precision.resolve_dtype(worker.dtype, device)
    precision.set_threads(worker)
    return Trainer(registry, device, dtype)
