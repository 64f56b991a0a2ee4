"""Image storage: round trips, atomic local writes, keys that cannot escape, S3 via moto."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from pipeline.settings import StorageSettings
from pipeline.storage import (
    InvalidKeyError,
    LocalStorage,
    ObjectNotFoundError,
    S3Storage,
    Storage,
    build_storage,
    job_key,
    validate_key,
)

BAD_KEYS = [
    "",
    "/etc/passwd",
    "../secret",
    "jobs/../../x",
    "jobs/a/..",
    "jobs//a.png",
    "jobs/a/",
    ".hidden",
    "jobs/.tmp-x",
    "jobs\\a.png",
    "jobs/a b.png",
    "jobs/é.png",
    "a" * 600,
]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return build_storage(StorageSettings(local_dir=tmp_path / "img"), tmp_path)
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"b{uuid.uuid4().hex[:10]}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_bucket(Bucket=bucket)
    settings = StorageSettings(
        backend="s3",
        s3_bucket=bucket,
        s3_endpoint_url=endpoint,
        s3_access_key="test",
        s3_secret_key="test",
        s3_prefix="nanke",
    )
    built = build_storage(settings, tmp_path)
    assert isinstance(built, S3Storage)
    return built


def test_round_trip_list_and_delete(storage: Storage) -> None:
    job = uuid.uuid4()
    keys = [job_key(job, "1", f"tile-{i}.png") for i in (1, 2)] + [job_key(job, "1", "grid.png")]
    for i, key in enumerate(keys):
        storage.put(key, b"png%d" % i, "image/png")
    other = job_key(uuid.uuid4(), "1", "grid.png")
    storage.put(other, b"other")

    assert storage.get(keys[0]) == b"png0"
    assert storage.exists(keys[2]) and not storage.exists(job_key(job, "2", "grid.png"))
    assert storage.list(f"jobs/{job}/") == sorted(keys)
    storage.put(keys[0], b"again")  # overwrite
    assert storage.get(keys[0]) == b"again"

    assert storage.delete_prefix(f"jobs/{job}/") == 3
    assert storage.list(f"jobs/{job}/") == []
    assert storage.get(other) == b"other"
    with pytest.raises(ObjectNotFoundError):
        storage.get(keys[0])


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_rejected_before_any_io(storage: Storage, key: str) -> None:
    with pytest.raises(InvalidKeyError):
        storage.put(key, b"x")
    with pytest.raises(InvalidKeyError):
        storage.get(key)


def test_job_keys_derive_from_the_job_id() -> None:
    job = uuid.UUID(int=7)
    assert job_key(job, "2", "tile-1.png") == f"jobs/{job}/2/tile-1.png"
    with pytest.raises(InvalidKeyError):
        job_key(job, "..", "x")
    assert validate_key("jobs/a-b_c.d/e.png") == "jobs/a-b_c.d/e.png"


def test_local_writes_are_atomic_and_leave_no_temp_files(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    key = job_key(uuid.uuid4(), "1", "grid.png")
    storage.put(key, b"a" * 100_000)
    storage.put(key, b"b" * 10)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p.name for p in files] == ["grid.png"]
    assert storage.get(key) == b"b" * 10


def test_local_storage_refuses_symlinks_out_of_its_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "jobs").symlink_to(outside)
    with pytest.raises(InvalidKeyError, match="leaves the storage directory"):
        LocalStorage(root).put("jobs/x.png", b"x")
    assert list(outside.iterdir()) == []


def test_s3_backend_needs_a_bucket(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="S3_BUCKET is required"):
        build_storage(StorageSettings(backend="s3"), tmp_path)


def test_local_writes_are_fsynced_before_put_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power loss after the job's commit must not leave a committed key pointing at an
    empty or missing file: put() fsyncs the file before renaming it into place, then the
    folder holding the new name, and the parent of every folder it had to create."""
    events: list[tuple[str, int | str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.fstat(fd).st_ino))
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append(("replace", os.stat(src).st_ino))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    store = LocalStorage(tmp_path / "img")
    (tmp_path / "img").mkdir()
    key = job_key(uuid.uuid4(), "1", "grid.png")
    store.put(key, b"png bytes")

    path = tmp_path / "img" / key
    file_ino = path.stat().st_ino
    inode = {
        p: p.stat().st_ino
        for p in [path.parent, path.parent.parent, tmp_path / "img" / "jobs", tmp_path / "img"]
    }
    replace_at = events.index(("replace", file_ino))
    assert ("fsync", file_ino) in events[:replace_at]  # the bytes, before the name
    assert ("fsync", inode[path.parent]) in events[replace_at:]  # the name, after the rename
    # jobs/, jobs/<id>/ and jobs/<id>/1/ were created: each one's entry is fsynced too.
    for made_in in (tmp_path / "img", tmp_path / "img" / "jobs", path.parent.parent):
        assert ("fsync", inode[made_in]) in events[:replace_at]
    assert path.read_bytes() == b"png bytes"
