"""Members' trained LoRAs on a worker: fetched from storage by key into a local cache (torch-free).

The bot has already decided who may use which LoRA (db/loras.py) and put its storage key into the
job's `LoraRef.key`; the worker only fetches that file. Keys are checked against the one shape
the bot writes, so a job can never name another kind of object. A cached file is reused (the
key carries the training job's id, so a new LoRA never has an old key).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from inference.errors import UnknownLoraError
from pipeline.storage import ObjectNotFoundError

KEY_RE = re.compile(r"loras/[0-9]{1,20}/[0-9a-f-]{36}\.safetensors")


def lora_key(user_id: int, job_id: object) -> str:
    """Where a training job's LoRA is stored (the key the bot and the worker agree on)."""
    return f"loras/{user_id}/{job_id}.safetensors"


class Blobs(Protocol):
    def get(self, key: str) -> bytes: ...


class StoredLoras:
    def __init__(self, storage: Blobs, cache_dir: Path) -> None:
        self._storage = storage
        self._cache = cache_dir

    def path(self, key: str) -> Path:
        if not KEY_RE.fullmatch(key):
            raise UnknownLoraError("this LoRA's storage key is not one Nanke writes")
        dest = self._cache / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".safetensors")
        if dest.is_file():
            return dest
        try:
            data = self._storage.get(key)
        except ObjectNotFoundError:
            raise UnknownLoraError(
                "this LoRA is no longer stored (its owner deleted it); try without it"
            ) from None
        self._cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._cache, suffix=".part")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, dest)  # atomic: a second worker thread never reads half a file
        return dest
