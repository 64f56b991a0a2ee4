"""The composition root of the engine in CLI processes (`nanke imagine|upscale|vary`), of the
one-box worker thread and of `nanke worker`: the diffusers engine as `Settings.worker` says."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

from inference.registry import Registry
from inference.settings import WorkerSettings
from pipeline.storage import Storage


def make_engine(
    registry: Registry,
    *,
    library_logs: bool = False,
    max_models: int | None = None,
    worker: WorkerSettings | None = None,
    data_dir: Path = Path("data"),
    require_gpu: bool = False,
    storage: Storage | None = None,
) -> Any:
    """The engine (torch and diffusers load here, not at import). `require_gpu`: a GPU worker
    process, where NANKE_WORKER__DEVICE=auto without CUDA is an error, not the CPU."""
    worker = worker or WorkerSettings()
    if max_models is not None:
        worker = worker.model_copy(update={"max_models": max(max_models, worker.max_models)})
    cache = worker.compile_cache_dir or data_dir / "compile-cache"
    # inductor reads its cache location from the environment when it first loads; set it here,
    # in the one layer that owns the environment, before torch is imported.
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache.resolve()))
    os.environ.setdefault("TORCHINDUCTOR_FX_GRAPH_CACHE", "1")
    from inference.worker.engine import Engine
    from pipeline.image_intake import load_reference

    engine = Engine.from_settings(
        registry,
        worker,
        library_logs=library_logs,
        require_gpu=require_gpu,
        # Member images (image prompts, references) are read from the job's storage.
        load_reference=None if storage is None else partial(load_reference, storage),
    )
    if storage is not None:  # members' trained LoRAs (--lora NAME of /train) come from storage
        from inference.stored_loras import StoredLoras

        engine.loras.fetch_stored = StoredLoras(storage, data_dir / "lora-cache").path
    return engine
