"""Image storage: a local directory (default) or an S3-compatible bucket (MinIO), torch-free.

Keys are relative, `/`-separated and derived from the job id (`jobs/<job_id>/…`), so a
duplicate run of a job writes only under its own job's prefix. Every key is validated before
it touches a path or a bucket: no absolute paths, no `..`, no hidden or empty segments.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from pipeline.settings import StorageSettings

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_KEY_LENGTH = 512


class StorageError(RuntimeError):
    """The storage backend failed or is misconfigured."""


class InvalidKeyError(ValueError):
    """A storage key that could escape its root or is malformed."""


class ObjectNotFoundError(KeyError):
    """No object under that key."""


def validate_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidKeyError(f"storage key must be 1–{MAX_KEY_LENGTH} characters: {key!r}")
    for segment in key.split("/"):
        if not _SEGMENT.fullmatch(segment):
            raise InvalidKeyError(f"invalid storage key {key!r} (bad segment {segment!r})")
    if ".." in key:
        raise InvalidKeyError(f"invalid storage key {key!r} ('..' is not allowed)")
    return key


def job_prefix(job_id: UUID) -> str:
    return f"jobs/{job_id}/"


def job_key(job_id: UUID, *parts: str) -> str:
    """`jobs/<job_id>/<parts…>`, validated."""
    return validate_key(job_prefix(job_id) + "/".join(parts))


class Storage(Protocol):
    def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[str]: ...

    def delete_prefix(self, prefix: str) -> int: ...


def _check_prefix(prefix: str) -> str:
    if prefix:
        validate_key(prefix.rstrip("/"))
    return prefix


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage:
    """Files under `root`; each write is a temp file renamed into place, so a reader (or a
    crash) never sees half an image."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        if not path.is_relative_to(self.root):  # e.g. a symlink planted inside root
            raise InvalidKeyError(f"storage key {key!r} leaves the storage directory")
        return path

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Durable when it returns: the file's bytes, its name and any folder made for it are
        fsynced, so a power loss after the job's commit never leaves an empty image behind."""
        path = self._path(key)
        self._make_dirs(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)

    def _make_dirs(self, folder: Path) -> None:
        """mkdir -p, fsyncing the parent of each folder it creates (its name is an entry there)."""
        missing = []
        while not folder.is_dir() and folder != self.root and folder.is_relative_to(self.root):
            missing.append(folder)
            folder = folder.parent
        if not self.root.is_dir():
            self.root.mkdir(parents=True, exist_ok=True)
        for created in reversed(missing):
            created.mkdir(exist_ok=True)
            _fsync_dir(created.parent)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise ObjectNotFoundError(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self.root / _check_prefix(prefix)
        start = base if prefix.endswith("/") or not prefix else base.parent
        if not start.is_dir():
            return []
        keys = (p.relative_to(self.root).as_posix() for p in start.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and "/.tmp-" not in f"/{k}")

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list(prefix)
        for key in keys:
            self._path(key).unlink(missing_ok=True)
        return len(keys)


class S3Storage:
    """An S3-compatible bucket (MinIO, AWS, …) through boto3."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def _name(self, key: str) -> str:
        return self._prefix + validate_key(key)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._client.put_object(
            Bucket=self._bucket, Key=self._name(key), Body=data, ContentType=content_type
        )

    def get(self, key: str) -> bytes:
        try:
            reply = self._client.get_object(Bucket=self._bucket, Key=self._name(key))
        except self._client.exceptions.NoSuchKey:
            raise ObjectNotFoundError(key) from None
        body: bytes = reply["Body"].read()
        return body

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self._bucket, Key=self._name(key))
        except self._client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def list(self, prefix: str) -> list[str]:
        _check_prefix(prefix)
        keys: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=self._prefix + prefix):
            keys.extend(obj["Key"][len(self._prefix) :] for obj in page.get("Contents", []))
        return sorted(keys)

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list(prefix)
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000
            chunk = keys[start : start + 1000]
            self._client.delete_objects(
                Bucket=self._bucket,
                Delete={"Objects": [{"Key": self._prefix + k} for k in chunk], "Quiet": True},
            )
        return len(keys)


def build_storage(settings: StorageSettings, data_dir: Path) -> Storage:
    """The configured backend (composition roots call this)."""
    if settings.backend == "local":
        return LocalStorage(settings.local_dir or data_dir / "images")
    if not settings.s3_bucket:
        raise StorageError("NANKE_STORAGE__S3_BUCKET is required when NANKE_STORAGE__BACKEND=s3")
    try:
        import boto3
    except ImportError:
        raise StorageError("the s3 storage backend needs boto3: pip install 'nanke[s3]'") from None
    secret = settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None
    client = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=secret,
    )
    return S3Storage(client, settings.s3_bucket, settings.s3_prefix)
