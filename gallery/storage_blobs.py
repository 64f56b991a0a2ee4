"""Nanke's image storage (`pipeline.storage`, blocking calls) as the gallery's async BlobStore.

Each call runs in a worker thread, so a slow S3 read never stalls other requests.
"""

from __future__ import annotations

from typing import Protocol

import anyio.to_thread


class SyncStorage(Protocol):
    def put(self, key: str, data: bytes, content_type: str = ...) -> None: ...

    def get(self, key: str) -> bytes: ...  # raises KeyError (ObjectNotFoundError) if absent


class StorageBlobs:
    def __init__(self, storage: SyncStorage) -> None:
        self._storage = storage

    async def get(self, key: str) -> bytes | None:
        try:
            return await anyio.to_thread.run_sync(self._storage.get, key)
        except KeyError:
            return None

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await anyio.to_thread.run_sync(self._storage.put, key, data, content_type)
